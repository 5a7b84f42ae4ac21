"""Istio sidecar of the web pod: outbound access log, JSON encoding.

One object per request nginx proxied to ``orders-api``, with exactly the 24 keys of
Istio's default JSON format (``EnvoyJSONLogFormatIstio``), keys sorted as current Envoy
writes them. Types follow real logs: numbers for codes, bytes and duration; the
``upstream_service_time`` header as a string; unset values as ``null``. The line is
written when the stream completes, so lines are ordered by completion, not start.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from .. import _timefmt as tf
from .._sim import Request, resolve_engine
from .._sink import LineSink
from .._timefmt import US
from .._topology import API_FQDN, API_PORT
from ._base import RenderContext, Renderer

UPSTREAM_CLUSTER = f"outbound|{API_PORT}||{API_FQDN}"
# (request, local port, remote port, start second) -> the line, or None: format it here.
MeshFormat = Callable[[Request, int, int, str], str | None]
AUTHORITY = f"{API_FQDN}:{API_PORT}"


_SAFE = frozenset(
    " !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~"
)


@lru_cache(maxsize=64)
def _agent(value: str) -> str:
    """User agents repeat: escape each distinct one once."""
    return _s(value)


def _s(value: str | None) -> str:
    """A JSON value: null, or a string (escaped only when it needs escaping)."""
    if value is None:
        return "null"
    if _SAFE.issuperset(value):
        return f'"{value}"'
    return json.dumps(value)


def native_mesh_formatter(web_ip: str, downstream_local: str) -> MeshFormat | None:
    """The compiled line formatter when the native engine runs, else None."""
    if resolve_engine() != "native":
        return None
    from .. import _simcore

    return _simcore.MeshFormatter(
        {
            "Request": Request,
            "escape": _s,
            "authority": AUTHORITY,
            "upstream_cluster": UPSTREAM_CLUSTER,
            "web_ip": web_ip,
            "downstream_local": downstream_local,
        }
    )


class MeshRenderer(Renderer):
    stream = "mesh"

    def __init__(self, ctx: RenderContext, sink: LineSink) -> None:
        super().__init__(ctx, sink)
        self.web_ip = ctx.stack.web_pod.ip
        self.downstream_local = f"{ctx.stack.api_cluster_ip}:{API_PORT}"
        # %START_TIME% up to the second, for the second of the last line (lines come in
        # time order, so consecutive lines mostly share it).
        self._sec = -1
        self._sec_text = ""
        # With the native engine, the compiled formatter writes what line() writes.
        self._fast = native_mesh_formatter(self.web_ip, self.downstream_local)

    def compiled_config(self) -> dict[str, Any] | None:
        if self._fast is None:
            return None
        return {"formatter": self._fast, "line": self.line, "fallback": self.request}

    def request(self, r: Request) -> None:
        if r.kind != "api":
            return
        random = self.rng.random
        start_us = r.mesh_start_us
        if start_us // US != self._sec:
            self._sec = start_us // US
            self._sec_text = tf.iso_seconds(start_us)
        local_port = 0 if r.upstream_host is None else 33000 + int(random() * 28000)
        remote_port = 33000 + int(random() * 28000)
        line = None
        if self._fast is not None:
            line = self._fast(r, local_port, remote_port, self._sec_text)
        if line is None:
            line = self.line(r, local_port, remote_port, self._sec_text)
        keys: tuple[str, ...] = ()
        if r.mesh_code >= 500:
            keys = (f"mesh.{r.mesh_code}.{r.mesh_flags}",)
        elif r.mesh_end_us - start_us >= 2_001_000:  # duration > 2000 ms
            keys = ("mesh.slow",)
        # Evidence keys only on lines that show a symptom: a quick 200 after a retry
        # looks like any other 200.
        if keys and len(r.attempts) > 1:
            keys += ("mesh.retried",)
        if keys and r.exemplar:
            keys += (f"exemplar.{r.exemplar}.mesh",)
        self.out.add(r.mesh_end_us, line, keys, r.request_id)

    def line(self, r: Request, local_port: int, remote_port: int, second: str) -> str:
        """The line of ``r``, given its two drawn ports and its start second's text: the
        reference that the compiled ``MeshFormatter`` reproduces byte for byte."""
        web_ip = self.web_ip
        start_us = r.mesh_start_us
        duration = max(0, (r.mesh_end_us - start_us) // 1000)
        if r.upstream_host is None:
            host = upstream_local = "null"
        else:
            host = f'"{r.upstream_host}"'
            upstream_local = f'"{web_ip}:{local_port}"'
        ust = "null" if r.upstream_service_ms is None else f'"{r.upstream_service_ms}"'
        failure = "null" if r.transport_failure is None else f'"{r.transport_failure}"'
        return (
            "{"
            f'"authority":"{AUTHORITY}",'
            f'"bytes_received":{r.request_bytes},'
            f'"bytes_sent":{r.mesh_bytes_sent},'
            '"connection_termination_details":null,'
            f'"downstream_local_address":"{self.downstream_local}",'
            f'"downstream_remote_address":"{web_ip}:{remote_port}",'
            f'"duration":{duration},'
            f'"method":"{r.method}",'
            f'"path":{_s(r.path)},'
            '"protocol":"HTTP/1.1",'
            f'"request_id":"{r.request_id}",'
            '"requested_server_name":null,'
            f'"response_code":{r.mesh_code},'
            f'"response_code_details":"{r.mesh_details}",'
            f'"response_flags":"{r.mesh_flags}",'
            '"route_name":"default",'
            f'"start_time":"{second}.{(start_us % US) // 1000:03d}Z",'
            f'"upstream_cluster":"{UPSTREAM_CLUSTER}",'
            f'"upstream_host":{host},'
            f'"upstream_local_address":{upstream_local},'
            f'"upstream_service_time":{ust},'
            f'"upstream_transport_failure_reason":{failure},'
            f'"user_agent":{_agent(r.user_agent)},'
            f'"x_forwarded_for":"{r.client_ip}"'
            "}"
        )
