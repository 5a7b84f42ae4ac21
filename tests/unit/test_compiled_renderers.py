"""The compiled sink and request handlers write exactly what the Python reference writes.

``_sink.Sink`` and the renderers' ``request()`` methods are the reference. With the
native engine, a pass writes through their compiled twins, ``_simcore.Sink`` and
``_simcore.RequestHandler`` (ui, mesh, api). The sinks are compared write by write on
scripted input; the handlers are compared with ``request()`` over the torture cases of
test_simcore.py, on values off their fast path, and where they hand work back to Python.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import io
import random
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rca.seed import _pipeline, _sim
from rca.seed._models import STREAM_FILES
from rca.seed._pipeline import PassResult, run_pass, simulation_for, stream_digest, window
from rca.seed._sim import Request
from rca.seed._sink import LineSink, SignalHit, Sink, new_sink
from rca.seed.mock_incident_generator import make_request
from rca.seed.renderers import RENDERERS
from rca.seed.renderers._base import RenderContext, Renderer
from rca.seed.renderers.api import ApiRenderer
from rca.seed.renderers.ui import UiRenderer
from tests.unit.test_simcore import ANCHOR, CASES

needs_core = pytest.mark.skipif(not _sim.native_available(), reason="_simcore not built")
HANDLED = ("ui", "api", "mesh")


# ------------------------------------------------------------------ the sink
class Writes:
    """An output file that remembers each write() call."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        return len(data)


TEXTS = (
    "GET /api/v1/orders 200",
    "ERROR head\n\tat frame one\n\tat frame two",  # a record of three lines
    "caf\u00e9 \u2014 na\u00efve",  # non-ASCII: UTF-8 of two and three bytes
    "emoji \U0001f680 four bytes",
    "",
    "trailing newline inside\n",
)
KEYS = ((), (), (), ("api.npe",), ("api.npe", "api.error_500"), ("mesh.504.UT",), ["ui.502"])


def script(seed: int) -> Iterator[tuple[str, tuple[Any, ...]]]:
    """Entries mostly in time order, some far ahead or behind, ties, and flushes with a
    rising watermark: what renderers do, plus the odd cases."""
    rng = random.Random(seed)
    t = 1_790_000_000_000_000
    for i in range(4000):
        t += rng.randrange(0, 20_000)
        when = t + rng.choice((0, 0, 0, -3_000_000, 90_000_000, rng.randrange(-50_000, 50_000)))
        text = rng.choice(TEXTS) + (f" #{i}" if rng.random() < 0.7 else "")
        rid = rng.choice((None, f"req-{i % 97}"))
        yield "add", (when, text, rng.choice(KEYS), rid)
        if rng.random() < 0.02:
            yield "add", (when, text)  # keys and request id left to their defaults
        if i % 60 == 59:
            yield "flush", (t - rng.randrange(0, 5_000_000),)
    yield "close", ()


def run_script(make: Callable[[Writes], LineSink], seed: int) -> tuple[Any, ...]:
    out = Writes()
    sink = make(out)
    for op, args in script(seed):
        if op == "add":
            sink.add(*args)
        elif op == "flush":
            sink.flush_before(*args)
        else:
            sink.close()
    signals = {k: dataclasses.astuple(v) for k, v in sink.signals.items()}
    return (
        out.chunks,
        sink.sha.hexdigest(),
        sink.bytes,
        sink.lines,
        sink.records,
        list(signals.items()),  # in first-seen order: ground truth iterates it
    )


def compiled_sink(out: Writes) -> LineSink:
    return new_sink("api_logs.log", out, "native")  # type: ignore[arg-type]


def reference_sink(out: Writes) -> LineSink:
    return Sink("api_logs.log", out)  # type: ignore[arg-type]


@needs_core
@pytest.mark.parametrize("seed", range(4))
def test_the_compiled_sink_writes_what_the_reference_writes(seed: int) -> None:
    compiled = run_script(compiled_sink, seed)
    reference = run_script(reference_sink, seed)

    assert compiled == reference
    chunks, digest, nbytes, lines, records, signals = compiled
    # The script reached what it is for: several writes, multi-line records, signals.
    assert len(chunks) > 3 and lines > records and len(signals) == 4
    assert hashlib.sha256(b"".join(chunks)).hexdigest() == digest
    assert nbytes == sum(map(len, chunks))


@needs_core
def test_the_compiled_sink_rejects_what_it_cannot_write() -> None:
    sink = new_sink("ui_events.log", None, "native")
    with pytest.raises(TypeError, match="text must be a str"):
        sink.add(1, b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sink.add(1.5, "a float instant")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sink.add(1)  # type: ignore[call-arg]
    # A lone surrogate has no UTF-8: both sinks refuse it when they write it.
    for s in (sink, Sink("ui_events.log", None)):
        s.add(5, "broken \ud800 text")
        with pytest.raises(UnicodeEncodeError):
            s.close()


@needs_core
def test_a_sink_in_a_reference_cycle_is_collected() -> None:
    class Out(io.BytesIO):
        sink: Any = None

    out = Out()
    sink = new_sink("mesh_events.jsonl", out, "native")
    out.sink = sink  # out -> sink -> out
    sink.add(1, "pending, never written")
    probe = weakref.ref(out)
    del out, sink
    gc.collect()
    assert probe() is None


# ------------------------------------------------------------------ the handlers
def case_request(case: str) -> Any:
    _, scenario, seed, fields, _, _ = next(c for c in CASES if c[0] == case)
    return make_request(scenario=scenario, seed=seed, time_anchor=ANCHOR, **fields)


def render_case(
    case: str, monkeypatch: pytest.MonkeyPatch, *, compiled: bool
) -> tuple[PassResult, dict[str, bytes]]:
    """run_pass of a test_simcore case, with the handlers or with request() alone."""
    _, _, _, _, retries, tweak = next(c for c in CASES if c[0] == case)
    req = case_request(case)
    start, _ = window(req)
    outputs = {s: io.BytesIO() for s in HANDLED}
    with monkeypatch.context() as m:
        m.setenv(_sim.ENGINE_ENV, "native")
        if retries is not None:
            m.setattr(_sim, "MESH_RETRY_ATTEMPTS", retries)
        if tweak is not None:
            m.setattr(
                _pipeline,
                "simulation_for",
                lambda r, engine=None: simulation_for(
                    r, engine, lambda stack, plan: tweak(stack, plan, start)
                ),
            )
        if not compiled:
            m.setattr(Renderer, "handler", lambda self: self.request)
        result = run_pass(req, HANDLED, outputs)
    return result, {s: b.getvalue() for s, b in outputs.items()}


def signals_of(result: PassResult) -> dict[str, list[tuple[Any, ...]]]:
    return {
        s: [dataclasses.astuple(h) for h in r.signals.values()] for s, r in result.streams.items()
    }


HANDLER_CASES = [
    "bad_api_rollout-1",
    "db_connection_pool_exhaustion-7",
    "pod_oom_restart_loop-busy",
    "slow_query_regression-busy",
    "no-retries-rollout",
    "churn-1-retry",
    "churn-2-retries",
    "tight-pool",
]


@needs_core
@pytest.mark.parametrize("case", HANDLER_CASES)
def test_handlers_write_what_request_writes(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    handed_back: dict[str, int] = {"ui": 0, "mesh": 0, "api": 0}
    originals: dict[str, Callable[..., None]] = {
        "ui": UiRenderer.request,
        "mesh": RENDERERS["mesh"].request,
        "api": ApiRenderer._attempt,
    }

    def counting(stream: str) -> Callable[..., None]:
        def call(self: Any, *args: Any) -> None:
            handed_back[stream] += 1
            originals[stream](self, *args)

        return call

    with monkeypatch.context() as m:
        m.setattr(UiRenderer, "request", counting("ui"))
        m.setattr(RENDERERS["mesh"], "request", counting("mesh"))
        m.setattr(ApiRenderer, "_attempt", counting("api"))
        compiled, compiled_bytes = render_case(case, monkeypatch, compiled=True)
    reference, reference_bytes = render_case(case, monkeypatch, compiled=False)

    for s in HANDLED:
        assert compiled_bytes[s] == reference_bytes[s], f"{case}: {s} differs"
        assert compiled.streams[s] == reference.streams[s]
    assert signals_of(compiled) == signals_of(reference)
    # The handlers did the bulk themselves, and handed back what they must: scanner
    # requests (ui) and every attempt that did not succeed (api).
    api_requests = reference_bytes["mesh"].count(b"\n")
    assert handed_back["mesh"] == 0
    assert 0 < handed_back["ui"] < api_requests
    assert handed_back["api"] < api_requests // 2


@pytest.fixture
def native_ctx() -> Iterator[tuple[RenderContext, list[Request]]]:
    req = case_request("bad_api_rollout-1")
    sim = simulation_for(req, "native")
    start, end = window(req)
    ctx = RenderContext(stream_digest(req), start, end, 1.0, sim.stack, sim.plan)
    requests = [e for e in sim.run() if type(e) is Request]
    yield ctx, requests


def twins(
    stream: str, ctx: RenderContext
) -> tuple[Renderer, Callable[[Request], object], Renderer]:
    """A renderer driven through its compiled handler, and a twin with the same draws."""
    fast = RENDERERS[stream](ctx, new_sink(STREAM_FILES[stream], None, "native"))
    ref = RENDERERS[stream](ctx, new_sink(STREAM_FILES[stream], None, "native"))
    handler = fast.handler()
    assert type(handler).__name__ == "builtin_function_or_method", "not compiled"
    return fast, handler, ref


def odd_variants(r: Request) -> list[Request]:
    """The same request with values the compiled code must hand back to Python."""
    odd_attempts = [
        dataclasses.replace(a, pod=dataclasses.replace(a.pod, name="orders-api-\u00e9t\u00e9"))
        for a in r.attempts
    ]
    return [
        dataclasses.replace(r, path="/api/v1/orders?q=caf\u00e9"),
        dataclasses.replace(r, path='/api/v1/orders?q="quoted"\\'),
        dataclasses.replace(r, client_ip="198.51.100.7\u00e9"),
        dataclasses.replace(r, method="G\u00c9T"),
        dataclasses.replace(r, status=True, mesh_code=True),  # not plain ints
        dataclasses.replace(r, end_us=-5, mesh_start_us=-5),  # before 1970: Python's
        dataclasses.replace(r, exemplar="npe", status=503, mesh_code=503),
        # At and just past the slow thresholds (upstream > 2 s; mesh duration > 2000 ms).
        dataclasses.replace(r, upstream_us=2_000_000, mesh_end_us=r.mesh_start_us + 2_000_999),
        dataclasses.replace(r, upstream_us=2_000_001, mesh_end_us=r.mesh_start_us + 2_001_000),
        dataclasses.replace(r, attempts=odd_attempts),
        dataclasses.replace(r, attempts=[*r.attempts, *r.attempts]),
        dataclasses.replace(r, path="/" + "p" * 12_000),
    ]


@needs_core
@pytest.mark.parametrize("stream", HANDLED)
def test_handlers_hand_odd_values_back_and_match_the_reference(
    stream: str, native_ctx: tuple[RenderContext, list[Request]]
) -> None:
    ctx, requests = native_ctx
    fast, handler, ref = twins(stream, ctx)
    api = [r for r in requests if r.kind == "api" and r.attempts][:40]
    other = [r for r in requests if r.kind != "api"][:40]
    fed = 0
    odd = [v for r in api[:6] for v in odd_variants(r)]
    for e in [*other, *api, *odd]:
        handler(e)
        ref.request(e)
        fed += 1
    fast.out.close()
    ref.out.close()
    assert fed > 100 and fast.out.records > 0
    assert (fast.out.sha.hexdigest(), fast.out.lines) == (ref.out.sha.hexdigest(), ref.out.lines)
    assert [dataclasses.astuple(h) for h in fast.out.signals.values()] == [
        dataclasses.astuple(h) for h in ref.out.signals.values()
    ]


@needs_core
def test_handlers_exist_only_over_the_compiled_sink(
    native_ctx: tuple[RenderContext, list[Request]],
) -> None:
    ctx, _ = native_ctx
    for stream in HANDLED:
        r = RENDERERS[stream](ctx, Sink(STREAM_FILES[stream], None))
        assert r.handler() == r.request  # the Python engine's sink: the reference runs
    for stream in ("db", "k8s"):
        r = RENDERERS[stream](ctx, new_sink(STREAM_FILES[stream], None, "native"))
        assert r.handler() == r.request  # no compiled twin


def _ui_config(ui: UiRenderer) -> dict[str, Any]:
    from rca.seed import _simcore

    return {
        "Request": Request,
        "random": ui.rng.random,
        "sink": ui.out,
        "fallback": ui.request,
        "line": ui.line,
        "formatter": _simcore.UiFormatter(Request),
    }


@needs_core
def test_a_handler_refuses_a_bad_config_by_name(
    native_ctx: tuple[RenderContext, list[Request]],
) -> None:
    from rca.seed import _simcore

    ctx, requests = native_ctx
    ui = UiRenderer(ctx, new_sink(STREAM_FILES["ui"], None, "native"))
    good = _ui_config(ui)
    _simcore.RequestHandler("ui", good)  # accepted as it is
    with pytest.raises(ValueError, match="one of ui, mesh, api"):
        _simcore.RequestHandler("db", good)
    with pytest.raises(KeyError, match="missing sink"):
        _simcore.RequestHandler("ui", {k: v for k, v in good.items() if k != "sink"})
    with pytest.raises(TypeError, match=r"sink: a rca\.seed\._simcore\.Sink expected"):
        _simcore.RequestHandler("ui", good | {"sink": Sink("ui_events.log", None)})
    with pytest.raises(TypeError, match=r"formatter: a rca\.seed\._simcore\.UiFormatter expected"):
        _simcore.RequestHandler("ui", good | {"formatter": object()})
    with pytest.raises(KeyError, match="missing logger"):
        _simcore.RequestHandler("api", good | {"Attempt": _sim.Attempt, "threads": ("a",)})
    # A handler whose (re-)init failed, or that never ran it, refuses every request.
    h = _simcore.RequestHandler("ui", good)
    with pytest.raises(KeyError):
        _simcore.RequestHandler.__init__(h, "ui", {})
    for bad in (h, _simcore.RequestHandler.__new__(_simcore.RequestHandler)):
        with pytest.raises(TypeError, match="Request expected"):
            bad.request(requests[0])


@needs_core
def test_a_renderer_holding_its_handler_is_collected(
    native_ctx: tuple[RenderContext, list[Request]],
) -> None:
    ctx, _ = native_ctx
    r = ApiRenderer(ctx, new_sink(STREAM_FILES["api"], None, "native"))
    r.kept = r.handler()  # type: ignore[attr-defined]  # renderer -> handler -> renderer
    probe = weakref.ref(r)
    del r
    gc.collect()
    assert probe() is None


def test_the_python_engine_writes_through_the_reference_sink(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(_sim.ENGINE_ENV, "python")
    seen: list[type] = []
    original = new_sink

    def spy(file: str, out: Any, engine: str, window: tuple[int, int]) -> LineSink:
        sink = original(file, out, engine, window)
        seen.append(type(sink))
        return sink

    monkeypatch.setattr(_pipeline, "new_sink", spy)
    run_pass(case_request("normal_load-1"), ("ui", "api"))
    assert seen == [Sink, Sink]


def test_signal_hits_are_plain_dataclasses() -> None:
    """The compiled sink builds SignalHit(key, line, text, t, rid, count, last_t) by
    position: the field order is part of its contract."""
    names = [f.name for f in dataclasses.fields(SignalHit)]
    assert names == ["signal", "line", "text", "t_us", "request_id", "count", "last_t_us"]


# ------------------------------------------------------------------ misuse (found by ASan)
@needs_core
def test_misuse_is_an_exception_not_a_crash(
    native_ctx: tuple[RenderContext, list[Request]],
) -> None:
    from rca.seed import _simcore

    ctx, requests = native_ctx
    api_request = next(r for r in requests if r.kind == "api")
    # A request with an unset slot: each handler hands it back; Python names the field.
    for stream in HANDLED:
        _, handler, _ = twins(stream, ctx)
        r = dataclasses.replace(api_request)
        del r.end_us, r.mesh_start_us, r.n
        with pytest.raises(AttributeError):
            handler(r)
    # A sink that never ran __init__.
    bare = _simcore.Sink.__new__(_simcore.Sink)
    bare.add(1, "x")
    with pytest.raises(RuntimeError, match="not initialized"):
        bare.close()
    # A random() outside [0, 1): no index or port is computed from it.
    ui = UiRenderer(ctx, new_sink(STREAM_FILES["ui"], None, "native"))
    for value in (1.0, -0.5, float("nan")):
        h = _simcore.RequestHandler("ui", _ui_config(ui) | {"random": lambda v=value: v})
        with pytest.raises(ValueError, match=r"outside \[0, 1\)"):
            h.request(api_request)
    # Re-initialising a handler from the Python code it runs is refused.
    box: dict[str, Any] = {}

    def reinit() -> float:
        box["handler"].__init__("ui", _ui_config(ui))
        return 0.5

    box["handler"] = _simcore.RequestHandler("ui", _ui_config(ui) | {"random": reinit})
    with pytest.raises(RuntimeError, match="re-initialized during a request"):
        box["handler"].request(api_request)


@needs_core
def test_what_the_compiled_sink_writes_stays_what_was_written() -> None:
    """Each write hands over a bytes the sink no longer touches (no copy, no loan): a
    consumer may keep it, or views of it, and read it later unchanged."""

    class Keeper:
        def __init__(self) -> None:
            self.kept: list[Any] = []

        def write(self, data: Any) -> int:
            self.kept.append(memoryview(data))  # a view, kept past the call
            return len(data)

    out = Keeper()
    sink = new_sink("ui_events.log", out, "native")  # type: ignore[arg-type]
    for i in range(1200):
        sink.add(i, f"line {i}" + "x" * (i % 7) * 300)  # the buffer grows meanwhile
    sink.close()
    del sink
    gc.collect()
    assert len(out.kept) == 3  # 512 + 512 + 176 entries
    expected = "".join(f"line {i}" + "x" * (i % 7) * 300 + "\n" for i in range(1200))
    assert b"".join(bytes(v) for v in out.kept) == expected.encode()

    class Reentrant:
        def write(self, data: Any) -> int:
            sink.flush_before(1 << 62)  # would write out of order
            return len(data)

    sink = new_sink("ui_events.log", Reentrant(), "native")  # type: ignore[arg-type]
    sink.add(1, "x")
    with pytest.raises(RuntimeError, match="flushed from its own write"):
        sink.close()


@needs_core
def test_a_failed_write_leaves_both_sinks_in_the_same_state() -> None:
    class Failing:
        def __init__(self) -> None:
            self.calls = 0

        def write(self, data: bytes) -> int:
            self.calls += 1
            if self.calls == 2:
                raise OSError(28, "No space left on device")
            return len(data)

    states = []
    for sink in (
        new_sink("api_logs.log", Failing(), "native"),  # type: ignore[arg-type]
        Sink("api_logs.log", Failing()),  # type: ignore[arg-type]
    ):
        with pytest.raises(OSError, match="No space left"):
            for op, args in script(5):
                getattr(sink, {"add": "add", "flush": "flush_before", "close": "close"}[op])(*args)
        signals = [dataclasses.astuple(h) for h in sink.signals.values()]
        states.append((sink.bytes, sink.lines, sink.records, signals))
    assert states[0] == states[1]
