"""The compiled simulation core emits exactly what the Python simulation emits.

``_sim.py`` is the reference; ``_simcore.c`` ports its main loop. Every case below runs
both engines on the same request and compares the emission streams item by item, every
field of every request, attempt, probe result, fact and tick. The cases are chosen so
that, together, they reach every branch of the port: a coverage test fails if some
outcome, mesh ending or exemplar kind is never compared.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rca.seed import _sim
from rca.seed._errors import GenerationError
from rca.seed._models import STREAM_FILES
from rca.seed._pipeline import simulation_for, window
from rca.seed._sim import Attempt, ProbeResult, Request, Simulation, Tick
from rca.seed._sink import Sink
from rca.seed._timefmt import US
from rca.seed._topology import Container, Stack
from rca.seed.mock_incident_generator import make_request
from rca.seed.renderers._base import RenderContext
from rca.seed.renderers.mesh import MeshFormat, MeshRenderer, native_mesh_formatter
from rca.seed.renderers.ui import UiRenderer, native_ui_formatter
from rca.seed.scenarios import Fact, Plan
from tests.ci import unavailable
from tests.integration.logs import SCENARIOS

ANCHOR = "2026-11-26T05:00:00Z"

needs_core = pytest.mark.skipif(not _sim.native_available(), reason="_simcore not built")


def test_the_compiled_core_is_built() -> None:
    """CI must compare the engines, never fall back silently to Python alone."""
    if not _sim.native_available():
        unavailable("rca.seed._simcore is not built (no C compiler at install time?)")
    assert _sim.resolve_engine("auto") == "native"


# ------------------------------------------------------------------ cases
def churn(stack: Stack, plan: Plan, start_us: int) -> None:
    """From the window's start, every orders-api container lives 25 s, is OOM-killed and
    restarts 4 s later; requests take about a second, so many die mid-flight.

    Far harsher than any scenario: attempts are killed, connects are refused while the
    mesh still lists a dead endpoint, retries die too, and every restart has its own pool.
    """
    plan.cpu_time = lambda _t, _pod: 400.0
    for i, p in enumerate(stack.api_pods):
        first = p.containers[0]
        t = start_us + (7 + 9 * i) * US  # pods die out of step
        runs = [Container(first.start_us, first.ready_us, t, 137, "OOMKilled", 0, "c0", 1)]
        for k in range(1, 80):
            t += 4 * US
            runs.append(Container(t, t + 3 * US, t + 25 * US, 137, "OOMKilled", k, f"c{k}", 1))
            t += 25 * US
        p.containers = runs


def tight_pool(stack: Stack, plan: Plan, start_us: int) -> None:
    """One connection per pod and slow queries: pool timeouts, then retries."""
    del stack, start_us
    plan.pool_size = 1
    plan.db_time = lambda _t, _key: 40.0


Tweak = Callable[[Stack, Plan, int], None]

# (id, scenario, seed, request fields, mesh retry budget or None, tweak)
CASES: list[tuple[str, str, int, dict[str, Any], int | None, Tweak | None]] = [
    *[(f"{s}-{seed}", s, seed, {}, None, None) for s in SCENARIOS for seed in (1, 7)],
    *[
        (
            f"{s}-busy",
            s,
            3,
            {"rps": 12, "noise_profile": "high", "api_replicas": 2, "duration_minutes": 20},
            None,
            None,
        )
        for s in SCENARIOS
    ],
    (
        "quiet-long",
        "slow_query_regression",
        4,
        {"rps": 1, "noise_profile": "low", "duration_minutes": 45, "resolution_seconds": 1},
        None,
        None,
    ),
    ("no-retries-oom", "pod_oom_restart_loop", 1, {"rps": 12}, 0, None),
    ("no-retries-rollout", "bad_api_rollout", 1, {"rps": 12}, 0, None),
    ("churn-1-retry", "normal_load", 2, {"rps": 8, "duration_minutes": 15}, 1, churn),
    ("churn-2-retries", "normal_load", 5, {"rps": 8, "duration_minutes": 15}, None, churn),
    ("tight-pool", "normal_load", 6, {"rps": 6, "duration_minutes": 15}, 1, tight_pool),
]


def simulation(case: str, engine: str) -> Simulation:
    _, scenario, seed, fields, _, tweak = next(c for c in CASES if c[0] == case)
    req = make_request(scenario=scenario, seed=seed, time_anchor=ANCHOR, **fields)
    start, _ = window(req)
    adjust = None if tweak is None else (lambda stack, plan: tweak(stack, plan, start))
    return simulation_for(req, engine, adjust)


def _attempt(a: Attempt) -> tuple[Any, ...]:
    out: list[Any] = []
    for f in dataclasses.fields(Attempt):
        v = getattr(a, f.name)
        if f.name == "pod":
            v = v.name
        elif f.name == "container":
            v = None if v is None else (v.restart_count, v.start_us)
        out.append((f.name, v))
    return tuple(out)


def normalize(e: object) -> tuple[Any, ...]:
    """Every field, with pods, containers and endpoints by name (types checked exactly)."""
    if type(e) is Request:
        out: list[Any] = []
        for f in dataclasses.fields(Request):
            v = getattr(e, f.name)
            if f.name == "attempts":
                v = tuple(_attempt(a) for a in v)
            elif f.name == "endpoint":
                v = None if v is None else v.key
            elif f.name == "params":
                v = tuple(v.items())  # order too: renderers may iterate it
            out.append((f.name, type(v).__name__, v))
        return ("request", *out)
    if type(e) is ProbeResult:
        return ("probe", e.t_us, e.pod.name, e.ok, e.output, e.became)
    if type(e) is Tick:
        return ("tick", e.t_us, e.chunk_start_us)
    if type(e) is Fact:
        return ("fact", e.t_us, e.stream, e.kind, repr(e.data))
    raise AssertionError(f"unexpected emission {e!r}")


def emissions(case: str, engine: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    retries = next(c for c in CASES if c[0] == case)[4]
    with monkeypatch.context() as m:
        if retries is not None:
            m.setattr(_sim, "MESH_RETRY_ATTEMPTS", retries)
        yield from simulation(case, engine).run()


# What the cases must reach between them, or the comparison proves less than it claims.
EXPECTED = {
    "outcome": {
        "ok",
        "not_found",
        "conflict",
        "unauthorized",
        "pool_timeout",
        "npe",
        "killed",
        "refused",
    },
    "mesh_flags": {"-", "URX", "UH", "UT", "UF", "UF,URX", "UC", "UC,URX"},
    "exemplar": {"pool_timeout", "npe", "killed", "slow_query", "uh", "ut"},
    "kind": {"static", "api", "scanner"},
    "probe": {"ready", "not ready", "failed"},
    # late_5xx: a 5xx passed through unretried, as its retry could not start in time.
    "other": {"abandoned", "retried", "transport_failure", "fact", "late_5xx"},
}
_seen: dict[str, set[str]] = {k: set() for k in EXPECTED}


def _record(e: object) -> None:
    if type(e) is Request:
        _seen["kind"].add(e.kind)
        _seen["mesh_flags"].add(e.mesh_flags)
        if e.exemplar:
            _seen["exemplar"].add(e.exemplar)
        if e.transport_failure:
            _seen["other"].add("transport_failure")
        if len(e.attempts) > 1:
            _seen["other"].add("retried")
        if e.mesh_code >= 500 and e.mesh_details == "via_upstream" and e.mesh_flags == "-":
            _seen["other"].add("late_5xx")
        for a in e.attempts:
            _seen["outcome"].add(a.outcome)
            if a.abandoned:
                _seen["other"].add("abandoned")
    elif type(e) is ProbeResult:
        _seen["probe"].add(e.became or ("ok" if e.ok else "failed"))
    elif type(e) is Fact:
        _seen["other"].add("fact")


@needs_core
@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_engines_emit_the_same(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    python = list(emissions(case, "python", monkeypatch))
    native = list(emissions(case, "native", monkeypatch))
    assert len(python) > 1000
    for i, (p, n) in enumerate(zip(python, native, strict=False)):
        np_, nn = normalize(p), normalize(n)
        assert nn == np_, f"emission {i} differs"
        _record(p)
    assert len(native) == len(python)


@needs_core
def test_the_cases_reach_every_branch(monkeypatch: pytest.MonkeyPatch) -> None:
    if not all(_seen.values()):  # run alone: gather what the comparisons would have seen
        for case, *_ in CASES:
            for e in emissions(case, "python", monkeypatch):
                _record(e)
    missing = {k: sorted(v - _seen[k]) for k, v in EXPECTED.items() if v - _seen[k]}
    assert not missing, f"never compared: {missing}"


# ------------------------------------------------------------------ failures
@needs_core
def test_a_failing_scenario_hook_surfaces_from_the_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sim = simulation("normal_load-1", "native")

    def broken(_t: int, _pod: object) -> float:
        raise ZeroDivisionError("scenario bug")

    sim.plan.cpu_time = broken
    with pytest.raises(ZeroDivisionError, match="scenario bug"):
        for _ in sim.run():
            pass


@needs_core
def test_the_core_rejects_a_malformed_config() -> None:
    from rca.seed import _simcore

    config = simulation("normal_load-1", "native")._native_config()
    for key, bad, error in [
        ("mt_state", (1, 2, 3), ValueError),
        ("pool_size", 0, ValueError),
        ("nets", (), ValueError),
        ("pods", [1], TypeError),
        ("retry_attempts", 99, ValueError),
    ]:
        with pytest.raises(error):
            _simcore.Core({**config, key: bad})
    with pytest.raises(KeyError, match="z_table"):
        _simcore.Core({k: v for k, v in config.items() if k != "z_table"})


@needs_core
def test_push_is_only_for_the_set_up() -> None:
    from rca.seed import _simcore

    core = _simcore.Core(simulation("normal_load-1", "native")._native_config())
    with pytest.raises(ValueError, match="kind 7"):
        core.push(0, 7, None)
    with pytest.raises(IndexError):
        core.push(0, _simcore.PROBE, 99)
    next(iter(core))
    with pytest.raises(RuntimeError, match="before iterating"):
        core.push(0, _simcore.FACT, None)


@needs_core
def test_a_core_that_failed_to_initialise_refuses_to_run() -> None:
    """Never initialised, or __init__ raised: the tables are empty (it used to crash)."""
    from rca.seed import _simcore

    bare = _simcore.Core.__new__(_simcore.Core)
    failed = _simcore.Core.__new__(_simcore.Core)
    with pytest.raises(ValueError, match="mt_state"):
        _simcore.Core.__init__(failed, {})
    for core in (bare, failed):
        with pytest.raises(RuntimeError, match="not initialised"):
            next(core)
        with pytest.raises(RuntimeError, match="not initialised"):
            core.push(0, _simcore.FACT, None)
    with pytest.raises(RuntimeError, match="initialised once"):
        _simcore.Core.__init__(failed, {})


@needs_core
@pytest.mark.parametrize("taken", [0, 1, 5000, None])
def test_a_dropped_core_is_freed_with_its_simulation(taken: int | None) -> None:
    """The core and its Simulation form a cycle (rng.random is the bound core.random):
    the collector must free both, whether the core ran out or was dropped half-iterated
    with events, retrying flights and emissions still pending."""
    sim = simulation("churn-2-retries", "native")  # retries pending at any time
    gone = weakref.ref(sim)
    core = sim.run()
    if taken is None:
        for _ in core:
            pass
    else:
        for _ in zip(range(taken), core, strict=False):
            pass
    del sim, core
    gc.collect()
    assert gone() is None


# ------------------------------------------------------------------ choosing an engine
def test_an_unknown_engine_names_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(GenerationError, match=r"engine='fast' \(allowed: auto, native, python\)"):
        _sim.resolve_engine("fast")
    monkeypatch.setenv(_sim.ENGINE_ENV, "c")
    with pytest.raises(GenerationError, match="RCA_SIM_ENGINE='c'") as err:
        _sim.resolve_engine()
    assert err.value.code == "INVALID_PARAMETER"
    assert err.value.field == "RCA_SIM_ENGINE"


def test_native_without_the_core_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sim, "_simcore", None)
    assert _sim.resolve_engine("auto") == "python"
    assert _sim.resolve_engine("python") == "python"
    with pytest.raises(GenerationError, match="not built"):
        _sim.resolve_engine("native")


def test_the_environment_chooses_when_the_caller_does_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(_sim.ENGINE_ENV, "python")
    assert _sim.resolve_engine() == "python"
    assert _sim.resolve_engine("auto") in ("native", "python")  # the argument wins
    monkeypatch.delenv(_sim.ENGINE_ENV)
    expected = "native" if _sim.native_available() else "python"
    assert _sim.resolve_engine() == expected


@needs_core
def test_a_core_built_from_other_source_is_never_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its draws could differ from _sim.py's: auto falls back, native says to rebuild."""
    from rca.seed import _simcore

    assert _sim._stale_core() is None  # this build matches _simcore.c
    monkeypatch.setattr(_simcore, "SOURCE_SHA256", "0" * 64)
    stale = _sim._stale_core()
    assert stale is not None and "built from another version of _simcore.c" in stale
    monkeypatch.setattr(_sim, "STALE_CORE", stale)

    assert not _sim.native_available()
    assert _sim.resolve_engine("auto") == "python"
    with pytest.raises(GenerationError, match=r"another version.*pip install -e"):
        _sim.resolve_engine("native")


# ------------------------------------------------------------------ mesh line formatter
SECOND = "2026-11-26T05:07:09"


def _mesh(case: str) -> tuple[MeshRenderer, MeshFormat]:
    sim = simulation(case, "native")
    ctx = RenderContext("mesh-test", sim.start, sim.end, 1.0, sim.stack, sim.plan)
    renderer = MeshRenderer(ctx, Sink(STREAM_FILES["mesh"], None))
    fast = native_mesh_formatter(renderer.web_ip, renderer.downstream_local)
    assert fast is not None
    return renderer, fast


@needs_core
def test_mesh_lines_from_c_equal_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: set[str] = set()
    for case in ("bad_api_rollout-1", "pod_oom_restart_loop-busy", "churn-1-retry"):
        renderer, fast = _mesh(case)
        for e in emissions(case, "native", monkeypatch):
            if type(e) is Request and e.kind == "api":
                for local, remote in ((33000 + e.n % 28000, 60999), (0, 33000)):
                    line = fast(e, local, remote, SECOND)
                    assert line == renderer.line(e, local, remote, SECOND), case
                seen.add(e.mesh_flags)
                seen.add("host" if e.upstream_host else "no host")
                seen.add("service time" if e.upstream_service_ms is not None else "no time")
                seen.add("failure" if e.transport_failure else "no failure")
    expected = {"-", "URX", "UH", "UT", "UF,URX", "UC,URX"}
    expected |= {"host", "no host", "service time", "no time", "failure", "no failure"}
    assert expected <= seen, f"never compared: {sorted(expected - seen)}"


@needs_core
def test_mesh_formatter_escapes_like_json_and_hands_back_what_it_cannot_write() -> None:
    renderer, fast = _mesh("normal_load-1")
    sim = simulation("normal_load-1", "native")
    r = next(e for e in sim.run() if type(e) is Request and e.kind == "api")

    escaped: dict[str, Any] = {
        "path": '/api/v1/orders?q="x"\\y\u00e9\x01',
        "user_agent": "Mozilla/5.0 (Linux; \u00e9t\u00e9) \x7f",
    }
    for field, value in escaped.items():
        odd = dataclasses.replace(r, **{field: value})
        line = fast(odd, 40000, 50000, SECOND)
        assert line is not None
        assert line == renderer.line(odd, 40000, 50000, SECOND)
        assert json.loads(line)[field] == value

    # Off the fast path: non-ASCII where the reference writes a value as it is, numbers
    # that are not plain ints, a line longer than the formatter's buffer.
    off_path: list[tuple[str, Any]] = [
        ("client_ip", "192.0.2.7\u00e9"),
        ("mesh_details", "via_upstr\u00e9am"),
        ("mesh_code", True),
        ("request_bytes", 1.5),
        ("path", "/" + "a" * 9000),
    ]
    for field, value in off_path:
        odd = dataclasses.replace(r, **{field: value})
        assert fast(odd, 40000, 50000, SECOND) is None, field

    with pytest.raises(TypeError, match="Request expected"):
        fast(object(), 1, 2, SECOND)  # type: ignore[arg-type]


@needs_core
def test_times_too_far_apart_for_int64_fall_back() -> None:
    """end - start of two int64 values can overflow int64: the renderers format those."""
    _, mesh = _mesh("normal_load-1")
    ui = native_ui_formatter()
    assert ui is not None
    r = next(e for e in simulation("normal_load-1", "native").run() if type(e) is Request)
    top = (1 << 63) - 1
    far = dataclasses.replace(r, t_us=-1, end_us=top, mesh_start_us=-1, mesh_end_us=top)
    assert mesh(far, 40000, 50000, SECOND) is None
    assert ui(far, "HTTP/1.1", STAMP) is None


@dataclasses.dataclass(slots=True)
class Partial:
    """A slotted class with some of the fields the formatters read, not all."""

    client_ip: str
    mesh_bytes_sent: int
    method: str
    request_bytes: int


@needs_core
def test_a_formatter_whose_init_failed_refuses_every_request() -> None:
    """A failed (re-)init must not leave the class of one call with offsets of another."""
    from rca.seed import _simcore

    ui = _simcore.UiFormatter(Request)
    mesh = _simcore.MeshFormatter(
        {
            "Request": Request,
            "escape": json.dumps,
            "authority": "orders-api:8080",
            "upstream_cluster": "outbound|8080||orders-api",
            "web_ip": "10.0.0.1",
            "downstream_local": "10.0.0.2:8080",
        }
    )
    with pytest.raises(TypeError, match="not an object slot"):
        _simcore.UiFormatter.__init__(ui, Partial)
    with pytest.raises(TypeError, match="not an object slot"):
        _simcore.MeshFormatter.__init__(mesh, {"Request": Partial, "escape": json.dumps})
    p = Partial("192.0.2.7", 2, "GET", 1)
    bare = _simcore.UiFormatter.__new__(_simcore.UiFormatter)
    for fmt in (ui, bare):
        with pytest.raises(TypeError, match="Request expected"):
            fmt(p, "HTTP/1.1", STAMP)
    with pytest.raises(TypeError, match="Request expected"):
        mesh(p, 1, 2, SECOND)


@needs_core
def test_the_mesh_renderer_formats_itself_what_c_hands_back() -> None:
    renderer, _ = _mesh("normal_load-1")
    sim = simulation("normal_load-1", "native")
    r = next(e for e in sim.run() if type(e) is Request and e.kind == "api")
    odd = dataclasses.replace(r, client_ip="192.0.2.7\u00e9")

    renderer.request(odd)

    assert isinstance(renderer.out, Sink)
    (entry,) = renderer.out._pending
    assert entry[2].endswith('"x_forwarded_for":"192.0.2.7\u00e9"}')
    assert json.loads(entry[2])["x_forwarded_for"] == "192.0.2.7\u00e9"


def test_templates_split_for_the_core_only_when_plain() -> None:
    assert _sim._template_parts("/api/v1/orders/{order}?page={page}") == (
        ("/api/v1/orders/", "order"),
        ("?page=", "page"),
    )
    assert _sim._template_parts("/health") == (("/health", None),)
    assert _sim._template_parts("/o/{order:08d}") is None  # a format spec: format_map
    assert _sim._template_parts("/o/{order!r}") is None


@needs_core
def test_paths_left_to_format_map_are_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no template split (the core's fallback), every path still matches."""
    python = [normalize(e) for e in emissions("normal_load-7", "python", monkeypatch)]
    monkeypatch.setattr(_sim, "_template_parts", lambda _template: None)
    native = [normalize(e) for e in emissions("normal_load-7", "native", monkeypatch)]
    assert native == python


# ------------------------------------------------------------------ ui line formatter
STAMP = "26/Nov/2026:05:07:09 +0000"


@needs_core
def test_ui_lines_from_c_equal_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = native_ui_formatter()
    assert fast is not None
    kinds: set[str] = set()
    for case in ("bad_api_rollout-1", "pod_oom_restart_loop-busy", "churn-1-retry"):
        for e in emissions(case, "native", monkeypatch):
            if type(e) is Request:
                for proto in ("HTTP/1.1", "HTTP/2.0"):
                    assert fast(e, proto, STAMP) == UiRenderer.line(e, proto, STAMP), case
                kinds.add(e.kind)
                kinds.add("upstream" if e.upstream_us is not None else "no upstream")
    assert kinds == {"static", "api", "scanner", "upstream", "no upstream"}


@needs_core
def test_ui_times_round_like_python_and_odd_values_fall_back() -> None:
    fast = native_ui_formatter()
    assert fast is not None
    sim = simulation("normal_load-1", "native")
    r = next(e for e in sim.run() if type(e) is Request and e.kind == "api")
    # Half-millisecond ties and their neighbours, zero, negatives, big values: the
    # quotient's binary value decides the rounding, as in f"{x:.3f}".
    for d in (0, 1, 499, 500, 501, 1500, 2500, 999_500, 1_000_500, -1500, 12_345_678_901):
        for upstream in (None, d, -d, d // 3):
            odd = dataclasses.replace(r, end_us=r.t_us + d, upstream_us=upstream)
            assert fast(odd, "HTTP/2.0", STAMP) == UiRenderer.line(odd, "HTTP/2.0", STAMP)

    off_path: list[tuple[str, Any]] = [
        ("path", "/caf\u00e9"),
        ("user_agent", "Mozilla/5.0 \u00e9"),
        ("status", 200.0),
        ("upstream_us", 1 << 60),
        ("referer", "x" * 9000),
    ]
    for field, value in off_path:
        odd = dataclasses.replace(r, **{field: value})
        assert fast(odd, "HTTP/1.1", STAMP) is None, field
    with pytest.raises(TypeError, match="Request expected"):
        fast(object(), "HTTP/1.1", STAMP)  # type: ignore[arg-type]
