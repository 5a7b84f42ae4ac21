"""nginx on the web pod: access log (extended combined) and error log, interleaved.

The access format is nginx's ``combined`` plus the three fields production configs add::

    log_format main_ext '$remote_addr - $remote_user [$time_local] "$request" '
                        '$status $body_bytes_sent "$http_referer" "$http_user_agent" '
                        '$request_time $upstream_response_time $request_id';

Both logs go to the container's stdout/stderr, so ``kubectl logs`` shows them merged in
time order. ``$time_local`` is when the request ended; ``$request_id`` is forwarded as
``X-Request-ID`` and becomes Envoy's ``request_id`` and the API's MDC ``requestId``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import _timefmt as tf
from .._sim import Request, resolve_engine
from .._sink import LineSink
from .._topology import SITE_HOST
from ._base import RenderContext, Renderer

ERROR_LOG_DOCROOT = "/usr/share/nginx/html"


# (request, protocol, $time_local) -> the access line, or None: format it here.
UiFormat = Callable[[Request, str, str], str | None]


def native_ui_formatter() -> UiFormat | None:
    """The compiled line formatter when the native engine runs, else None."""
    if resolve_engine() != "native":
        return None
    from .. import _simcore

    return _simcore.UiFormatter(Request)


class UiRenderer(Renderer):
    stream = "ui"

    def __init__(self, ctx: RenderContext, sink: LineSink) -> None:
        super().__init__(ctx, sink)
        self.workers = [29, 30]
        self.reload_at = None
        span = ctx.window_end_us - ctx.window_start_us
        if self.rng.chance(min(0.9, 0.5 * ctx.noise)):
            self.reload_at = ctx.window_start_us + int(span * self.rng.uniform(0.1, 0.9))
        # With the native engine, the compiled formatter writes what line() writes.
        self._fast = native_ui_formatter()

    def _worker(self, r: Request) -> int:
        pids = self.workers
        if self.reload_at is not None and r.t_us >= self.reload_at:
            pids = [41, 42]
        return pids[r.n % 2]

    def compiled_config(self) -> dict[str, Any] | None:
        if self._fast is None:
            return None
        return {"formatter": self._fast, "line": self.line, "fallback": self.request}

    def request(self, r: Request) -> None:
        scanner = r.kind == "scanner"
        proto = "HTTP/1.1" if scanner or self.rng.random() < 0.25 else "HTTP/2.0"
        stamp = tf.nginx_access(r.end_us)
        line = None
        if self._fast is not None:
            line = self._fast(r, proto, stamp)
        if line is None:
            line = self.line(r, proto, stamp)
        keys: tuple[str, ...] = ()
        if r.status >= 500:
            keys = (f"ui.{r.status}",)
            if r.exemplar:
                keys += (f"exemplar.{r.exemplar}.ui",)
        elif r.kind == "scanner":
            keys = ("noise.scanner_404",)
        elif r.upstream_us is not None and r.upstream_us > 2_000_000:
            keys = ("ui.slow",)
            if r.exemplar:
                keys += (f"exemplar.{r.exemplar}.ui",)
        if r.kind == "scanner":
            pid = self._worker(r)
            err = (
                f"{tf.nginx_error(r.end_us)} [error] {pid}#{pid}: *{7000 + r.n} open() "
                f'"{ERROR_LOG_DOCROOT}{r.path.split("?", 1)[0]}" failed (2: No such file or '
                f"directory), client: {r.client_ip}, server: {SITE_HOST}, request: "
                f'"{r.method} {r.path} {proto}", host: "{SITE_HOST}"'
            )
            self.out.add(r.end_us, err, ("noise.nginx_open_failed",), r.request_id)
        self.out.add(r.end_us, line, keys, r.request_id)

    @staticmethod
    def line(r: Request, proto: str, stamp: str) -> str:
        """The access line of ``r``, given its drawn protocol and its ``$time_local``:
        the reference that the compiled ``UiFormatter`` reproduces byte for byte."""
        request_time = (r.end_us - r.t_us) / 1_000_000
        upstream = "-" if r.upstream_us is None else f"{r.upstream_us / 1_000_000:.3f}"
        return (
            f'{r.client_ip} - - [{stamp}] "{r.method} {r.path} {proto}" '
            f'{r.status} {r.body_bytes} "{r.referer}" "{r.user_agent}" '
            f"{request_time:.3f} {upstream} {r.request_id}"
        )

    def background(self, t0_us: int, t1_us: int) -> None:
        t = self.reload_at
        if t is None or not t0_us <= t < t1_us:
            return
        # A config reload (certificate rotation): notices only, nothing is wrong.
        d = tf.nginx_error(t)
        sender = 4000 + self.rng.below(5000)
        old = self.workers
        lines = [
            f"{d} [notice] 1#1: signal 1 (SIGHUP) received from {sender}, reconfiguring",
            f"{d} [notice] 1#1: reconfiguring",
            f'{d} [notice] 1#1: using the "epoll" event method',
            f"{d} [notice] 1#1: start worker processes",
            f"{d} [notice] 1#1: start worker process 41",
            f"{d} [notice] 1#1: start worker process 42",
        ]
        for pid in old:
            lines += [
                f"{d} [notice] {pid}#{pid}: gracefully shutting down",
                f"{d} [notice] {pid}#{pid}: exiting",
                f"{d} [notice] {pid}#{pid}: exit",
            ]
        for pid in old:
            lines += [
                f"{d} [notice] 1#1: signal 17 (SIGCHLD) received from {pid}",
                f"{d} [notice] 1#1: worker process {pid} exited with code 0",
            ]
        for i, text in enumerate(lines):
            keys = ("noise.nginx_reload",) if i == 0 else ()
            self.out.add(t + i, text, keys)
