"""What every stream renderer shares: its context, its sink, its own RNG."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._rng import IdSource, Rng
from .._sim import ProbeResult, Request, native_available
from .._sink import LineSink
from .._topology import Stack
from ..scenarios import Fact, Plan


@dataclass(frozen=True, slots=True)
class RenderContext:
    key: str  # the request's stream digest (rca.seed._pipeline.stream_digest)
    window_start_us: int
    window_end_us: int
    noise: float  # 0.4 / 1.0 / 2.5
    stack: Stack
    plan: Plan


class Renderer:
    """Turns simulation emissions into lines of one component's log format.

    Subclasses override the hooks they need; each draws stream-local detail only from
    ``self.rng``, seeded from (the request's stream digest, stream), so rendering one stream alone
    gives the same bytes as rendering the whole bundle.
    """

    stream: str = ""

    def __init__(self, ctx: RenderContext, sink: LineSink) -> None:
        self.ctx = ctx
        self.out = sink
        self.rng = Rng(ctx.key, self.stream)
        self.ids = IdSource(ctx.key, "ids")

    def span_id(self, request_n: int, attempt: int) -> str:
        """The orders-api server span of one attempt (shared by api and db)."""
        return self.ids.hex("span", request_n * 8 + attempt, 8)

    def request(self, r: Request) -> None:
        """A finished request."""

    def handler(self) -> Callable[[Request], object]:
        """What the pass calls for each finished request: ``request``, or its compiled
        twin, ``_simcore.RequestHandler(self.stream, ...).request`` (the same draws and
        lines), when this renderer has one and writes to the compiled sink (the native
        engine). The twin hands back to the Python code in ``config["fallback"]``
        whatever it does not render itself."""
        config = self.compiled_config()
        if config is None or not native_available():
            return self.request
        from .. import _simcore

        if not isinstance(self.out, _simcore.Sink):
            return self.request
        config |= {"Request": Request, "random": self.rng.random, "sink": self.out}
        return _simcore.RequestHandler(self.stream, config).request

    def compiled_config(self) -> dict[str, Any] | None:
        """What this renderer's compiled twin needs besides the request class, the
        generator and the sink; None: it has none."""
        return None

    def fact(self, f: Fact) -> None:
        """A scheduled fact addressed to any stream (ignore the others')."""

    def probe(self, p: ProbeResult) -> None:
        """A readiness probe that failed or flipped readiness."""

    def tick(self, t_us: int) -> None:
        """The sim clock reached ``t_us``; lines before it are about to be written."""

    def background(self, t0_us: int, t1_us: int) -> None:
        """Stream-local noise for ``[t0, t1)``; called once per chunk, at its start."""

    def finish(self) -> None:
        """The simulation is over; write what could only be written at the end (a
        file ordered by series rather than by time)."""
