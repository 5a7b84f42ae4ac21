"""What a scenario is: a plan of the fault (facts on a timeline) plus its answer key.

A scenario never formats log lines. It schedules *facts* (a container OOM-killed, a
Deployment scaled, a migration's DDL) and bends the shared traffic model (arrival rate,
query times, faulty versions). Renderers turn facts into each component's own format,
and the simulation turns the bent model into per-request outcomes, so every layer tells
the same story.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .._catalog import ENDPOINTS
from .._rng import Rng
from .._topology import HIKARI_POOL_SIZE, Pod, Stack

# Facts are addressed to the stream whose component would log them.
FactData = dict[str, Any]

# Share of web-tier requests that reach orders-api: the simulation makes a request a
# static asset with probability 0.36 (_sim.Simulation._arrival and its twin in C).
API_SHARE = 0.64
# A scenario whose incident shows only through some of the requests (a slow query needs
# an order-history request) declares the baseline rate at which, in the worst case its
# plan allows, this many of them are expected while the fault lasts: the chance that
# none comes, leaving the label without a first signal, is then e^-10 < 5e-5.
SURE_REQUESTS = 10.0
# Where a story may begin at difficulty standard or hard, as fractions of the window.
ONSET_RANGE = (0.05, 0.85)


def endpoint_share(*keys: str) -> float:
    """The share of orders-api requests that go to the endpoints ``keys`` (_catalog)."""
    total = sum(e.weight for e in ENDPOINTS)
    return sum(e.weight for e in ENDPOINTS if e.key in keys) / total


def sure_rate(share: float, window_fraction: float, duration_minutes: int) -> float:
    """The baseline rps at which :data:`SURE_REQUESTS` web requests of ``share`` are
    expected within ``window_fraction`` of a ``duration_minutes`` window."""
    return SURE_REQUESTS / (share * window_fraction * duration_minutes * 60.0)


def inside_window(ctx: PlanContext, t_us: int) -> int | None:
    """``t_us`` if the window holds it, else None (a recovery after the window's end
    is not part of the bundle's story)."""
    return t_us if t_us < ctx.window_end_us else None


@dataclass(slots=True)
class Fact:
    t_us: int
    stream: str  # ui | api | db | k8s | mesh
    kind: str
    data: FactData = field(default_factory=dict)


def unchanged(_t: int, *_args: object) -> float:
    """The neutral multiplier: a plan's hooks default to it (the compiled core knows it
    is 1.0 and skips the call)."""
    return 1.0


def no_wait(_t: int, _key: str) -> int:
    """The neutral lock wait: a statement runs as soon as it has its connection (the
    compiled core knows it is 0 and skips the call)."""
    return 0


@dataclass(frozen=True, slots=True)
class ReleaseDefect:
    """What a faulty release throws on the requests it fails: an exception the JVM or
    the JDK raises, with its message as Java 21 words it, and the release's own frames
    above ``OrderService`` (``renderers/api.py`` writes the stack trace). Frames are
    ``(frame, jdk)``: a JDK frame ends ``~[na:na]``, the release's ``~[!/:{version}]``."""

    exception: str  # fully qualified: java.lang.NullPointerException
    message: str
    frames: tuple[tuple[str, bool], ...]
    where: str  # the class of the release that has the bug (the label names it)
    what: str  # the bug in a few words (the label's root cause quotes it)

    @property
    def simple_name(self) -> str:
        return self.exception.rsplit(".", 1)[-1]


# The v0 defect: a null loyalty tier dereferenced in DiscountCalculator (JEP 358's
# helpful NullPointerException message).
NULL_TIER = ReleaseDefect(
    exception="java.lang.NullPointerException",
    message='Cannot invoke "com.example.orders.domain.LoyaltyTier.discountRate()" because the '
    'return value of "com.example.orders.domain.Customer.getLoyaltyTier()" is null',
    frames=(
        (
            "com.example.orders.pricing.DiscountCalculator.discountFor(DiscountCalculator.java:42)",
            False,
        ),
        ("com.example.orders.service.OrderService.priceOrder(OrderService.java:131)", False),
    ),
    where="DiscountCalculator",
    what="unhandled null loyalty tier",
)


@dataclass(slots=True)
class Plan:
    """The fault, as data the simulation and the renderers consume."""

    incident: bool
    onset_us: int | None = None
    peak_us: int | None = None
    recovery_us: int | None = None
    # Traffic multiplier on the arrival rate at time t.
    rate: Callable[[int], float] = unchanged
    # Multiplier on the duration of query ``key`` at time t.
    db_time: Callable[[int, str], float] = unchanged
    # Microseconds a statement of query ``key`` that starts at t (its connection in hand)
    # waits for a lock before it runs: it holds its pooled connection all that time.
    db_wait: Callable[[int, str], int] = no_wait
    # Multiplier on application (CPU) time for a pod at time t (GC pressure).
    cpu_time: Callable[[int, Pod], float] = unchanged
    # Fraction of the max heap still used after a young GC (GC pressure, leaks).
    heap_used: Callable[[int, Pod], float] = lambda _t, _p: 0.38
    # HikariCP maximum-pool-size of every orders-api pod.
    pool_size: int = HIKARI_POOL_SIZE
    # Versions whose create/get paths hit a release's defect, how often, and what the
    # failing requests throw.
    faulty_versions: frozenset[str] = frozenset()
    fault_probability: float = 0.0
    release_defect: ReleaseDefect = NULL_TIER
    facts: list[Fact] = field(default_factory=list)
    # Free-form numbers a label may quote (e.g. the peak multiplier).
    notes: dict[str, Any] = field(default_factory=dict)
    # The story's drawn values by name (versions, names, the onset's share of the
    # window): the label records them, and its texts name them as ``{name}``.
    drawn: dict[str, str] = field(default_factory=dict)

    def add(self, t_us: int, stream: str, kind: str, **data: Any) -> None:
        self.facts.append(Fact(t_us, stream, kind, data))


@dataclass(frozen=True, slots=True)
class PlanContext:
    window_start_us: int
    window_end_us: int
    rps: float
    stack: Stack
    rng: Rng  # the scenario's own world RNG
    difficulty: str = "standard"

    def at(self, fraction: float) -> int:
        """An instant ``fraction`` of the way through the window."""
        span = self.window_end_us - self.window_start_us
        return self.window_start_us + int(span * fraction)

    def onset(self, easy: tuple[float, float], lead_us: int) -> float:
        """Where the story begins, as a fraction of the window.

        ``easy``: the scenario's own narrow range. Otherwise anywhere in
        :data:`ONSET_RANGE` that still leaves ``lead_us`` (what the story needs, from its
        start, to show its cause and symptoms) inside the window.
        """
        if self.difficulty == "easy":
            return self.rng.uniform(*easy)
        span = self.window_end_us - self.window_start_us
        high = max(ONSET_RANGE[0], min(ONSET_RANGE[1], 1.0 - lead_us / span))
        return self.rng.uniform(ONSET_RANGE[0], high)

    def length(self, easy_us: int, low_us: int, high_us: int) -> int:
        """How long a phase of the story lasts: ``easy_us`` at easy, else drawn."""
        if self.difficulty == "easy":
            return easy_us
        return int(self.rng.uniform(low_us, high_us))


@dataclass(frozen=True, slots=True)
class LabelSpec:
    """The parts of the answer key a scenario states outright."""

    root_cause: str
    root_cause_layer: str | None
    root_cause_component: str | None
    fault_type: str
    aliases: tuple[str, ...]
    trigger: str
    blast_radius: tuple[str, ...]
    expected_first_signal: str
    first_signal: str | None  # signal key whose first line is the first signal
    # (order, layer, component, effect, signal keys whose first lines evidence it)
    chain: tuple[tuple[str, str, str, tuple[str, ...]], ...]
    confidence: tuple[float, float]
    # The fault family's vocabulary (``fault_type``): common wordings of this kind of
    # fault, true of every bundle of the scenario whatever its seed, so never a drawn
    # name (a version, index or class). The scorer (rca.eval.matching) reads them to tell
    # which families a free-text answer names. Not written to the label: ``aliases`` are
    # the bundle's own answer key.
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Caption:
    """The scenario's paragraphs in the Snakemake report (reStructuredText), under the
    bundle's timeline plot (``workflow/report/plot_bundle.rst``)."""

    happens: str  # **What happens.**: the story, as the bundle tells it
    look_for: str  # **What to look for.**: how it shows on the plot


@dataclass(frozen=True, slots=True)
class Paraphrase:
    """A report written without the label: the root cause in other words than the
    label's (a title and a summary), citing the first line of ``file`` that holds
    ``signature``. ``tests/eval/test_baselines.py`` checks that it passes the scorer."""

    title: str
    summary: str
    file: str
    signature: str


@dataclass(frozen=True, slots=True)
class Expect:
    """What the tests assert of this scenario's bundles, declared beside its story.

    ``commented_sql`` and ``probe_failures`` hold at the integration tests' request
    (``tests/integration/conftest.py``: seed 42, 30 minutes, 2.5 requests/s).
    """

    # None: nothing to find (the negative control), so no report can name a root cause.
    paraphrase: Paraphrase | None
    # Its PostgreSQL log holds statements with a sqlcommenter traceparent (slow ones, or
    # a duplicate-key conflict: noise at 0.6 % of POST /api/orders, so seed-dependent).
    commented_sql: bool
    # Readiness probes fail: a saturated pod times out, or one is not listening (yet).
    probe_failures: bool
    # Other wordings of the root cause that the root-cause matcher (rca.eval) must accept
    # for this scenario and for no other (tests/eval/test_matching.py); () for no incident.
    matching_paraphrases: tuple[str, ...]


# What a scenario module must declare, beside ``plan`` and ``label``: name -> type.
DECLARATIONS: dict[str, type] = {
    "id": str,
    "title": str,  # one line: `list-scenarios`, the manifest's readers
    "description": str,  # one line: what happens (the README's scenario table)
    "caption": Caption,
    "v0": bool,  # one of the five scenarios of v0, whose bundles are the committed fixtures
    "expect": Expect,
}


class Scenario:
    """Base class; subclasses register themselves by defining ``id``, and must declare
    everything in :data:`DECLARATIONS` (checked here, at import)."""

    id: ClassVar[str]
    title: ClassVar[str]
    description: ClassVar[str]
    caption: ClassVar[Caption]
    v0: ClassVar[bool]
    expect: ClassVar[Expect]
    registry: ClassVar[dict[str, type[Scenario]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "id" in cls.__dict__:
            problems = [
                f"{name} ({kind.__name__})"
                for name, kind in DECLARATIONS.items()
                if not isinstance(getattr(cls, name, None), kind)
            ]
            problems += [
                f"{name} (one non-empty line)"
                for name in ("title", "description")
                if isinstance(getattr(cls, name, None), str)
                and (not getattr(cls, name).strip() or "\n" in getattr(cls, name))
            ]
            if problems:
                raise TypeError(
                    f"scenario {cls.__module__}.{cls.__name__} must declare: {', '.join(problems)}"
                )
            if cls.id in Scenario.registry:
                raise RuntimeError(f"duplicate scenario id {cls.id!r}")
            Scenario.registry[cls.id] = cls

    def plan(self, ctx: PlanContext) -> Plan:
        raise NotImplementedError

    def minimum_rps(self, duration_minutes: int, api_replicas: int) -> float:
        """The lowest baseline rate (requests/s) at which this scenario's incident shows,
        whatever the seed, in such a window; 0.0: any rate the request allows.

        Checked before planning (``_pipeline.plan_for``), so generation, ``preflight``
        and the workflow's config check refuse a lower rate up front, naming it.
        """
        return 0.0

    def label(self) -> LabelSpec:
        raise NotImplementedError
