"""Traces of the same simulation, as OTLP JSON: one ``ExportTraceServiceRequest`` per line.

That is what the OpenTelemetry Collector's file exporter writes, in the protobuf JSON
mapping (trace and span ids as hex, 64-bit integers as strings, enums as numbers). One
line holds one request's trace, written when it completes, its spans grouped by the
resource that emitted them:

- ``web`` (nginx's OpenTelemetry module): the SERVER span of the request at the edge;
- ``web.shop`` (the web pod's Istio sidecar): the CLIENT span of the call to orders-api,
  tagged with Envoy's ``guid:x-request-id``, the mesh stream's ``request_id``;
- ``orders-api`` (the OpenTelemetry Java agent, one resource per pod): a SERVER span per
  attempt the pod handled, with the span id its log lines print beside the trace id, and
  a CLIENT span for its JDBC statement.

Durations, statuses and retries are the simulation's: a retried request has two server
spans under one sidecar span; an attempt whose container was killed or refused the
connection has none (its spans died with the JVM, or it never arrived). Only the
requests nginx proxies to orders-api are traced; its static files are not.
"""

from __future__ import annotations

import json
from typing import Any

from .._catalog import Endpoint
from .._sim import Attempt, Request
from .._topology import API_FQDN, API_PORT, API_SERVICE, DB_DATABASE, NAMESPACE, SITE_HOST
from ._base import Renderer

SERVER, CLIENT = 2, 3  # opentelemetry.proto.trace.v1.Span.SpanKind
STATUS_ERROR = 2  # Status.StatusCode.STATUS_CODE_ERROR
AGENT_VERSION = "2.16.0"  # opentelemetry-java-instrumentation
NGINX_MODULE_VERSION = "0.1.1"  # nginx-otel
ENVOY_VERSION = "1.34.1"


def _attr(key: str, value: str | int) -> dict[str, Any]:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value}}


def _route(ep: Endpoint) -> str:
    return ep.template.split("?", 1)[0]


def _status(error: bool) -> dict[str, int]:
    return {"code": STATUS_ERROR} if error else {}


class TracesRenderer(Renderer):
    stream = "traces"

    def _span_of(self, kind: str, n: int) -> str:
        return self.ids.hex(f"trace-{kind}", n, 8)

    def request(self, r: Request) -> None:
        if r.kind != "api" or r.endpoint is None:
            return
        ep = r.endpoint
        route = _route(ep)
        edge = self._span_of("nginx", r.n)
        proxy = self._span_of("envoy", r.n)
        path = r.path.split("?", 1)[0]
        web = self.ctx.stack.web_pod
        resources: list[dict[str, Any]] = [
            self._resource(
                [
                    _attr("service.name", "web"),
                    _attr("service.namespace", NAMESPACE),
                    _attr("k8s.pod.name", web.name),
                ],
                (
                    "nginx",
                    NGINX_MODULE_VERSION,
                    [
                        {
                            "traceId": r.trace_id,
                            "spanId": edge,
                            "name": f"{r.method} /api",
                            "kind": SERVER,
                            "startTimeUnixNano": str(r.t_us * 1000),
                            "endTimeUnixNano": str(r.end_us * 1000),
                            "attributes": [
                                _attr("http.request.method", r.method),
                                _attr("url.path", path),
                                _attr("server.address", SITE_HOST),
                                _attr("client.address", r.client_ip),
                                _attr("user_agent.original", r.user_agent),
                                _attr("http.response.status_code", r.status),
                            ],
                            "status": _status(r.status >= 500),
                        }
                    ],
                ),
            ),
            self._resource(
                [
                    _attr("service.name", f"web.{NAMESPACE}"),
                    _attr("k8s.pod.name", web.name),
                ],
                (
                    "envoy",
                    ENVOY_VERSION,
                    [
                        {
                            "traceId": r.trace_id,
                            "spanId": proxy,
                            "parentSpanId": edge,
                            "name": f"{API_FQDN}:{API_PORT}/*",
                            "kind": CLIENT,
                            "startTimeUnixNano": str(r.mesh_start_us * 1000),
                            "endTimeUnixNano": str(r.mesh_end_us * 1000),
                            "attributes": [
                                _attr("http.method", r.method),
                                _attr("http.url", f"http://{API_FQDN}:{API_PORT}{r.path}"),
                                _attr("http.status_code", str(r.mesh_code)),
                                _attr("response_flags", r.mesh_flags),
                                _attr("upstream_cluster", f"outbound|{API_PORT}||{API_FQDN}"),
                                _attr("guid:x-request-id", r.request_id),
                            ],
                            "status": _status(r.mesh_code >= 500 or r.mesh_code == 0),
                        }
                    ],
                ),
            ),
        ]
        for i, a in enumerate(r.attempts):
            if a.outcome == "killed" or a.outcome == "refused":
                continue  # the JVM died with its spans, or the request never reached it
            resources.append(self._attempt(r, i, a, route, proxy))
        line = json.dumps({"resourceSpans": resources}, separators=(",", ":"))
        self.out.add(r.end_us, line, (), r.request_id)

    def _attempt(self, r: Request, i: int, a: Attempt, route: str, parent: str) -> dict[str, Any]:
        assert r.endpoint is not None
        server = self.span_id(r.n, i)  # what the api stream prints
        failed = a.status >= 500
        jdbc: list[dict[str, Any]] = []
        spans: list[dict[str, Any]] = [
            {
                "traceId": r.trace_id,
                "spanId": server,
                "parentSpanId": parent,
                "name": f"{r.method} {route}",
                "kind": SERVER,
                "startTimeUnixNano": str(a.start_us * 1000),
                "endTimeUnixNano": str(a.end_us * 1000),
                "attributes": [
                    _attr("http.request.method", r.method),
                    _attr("http.route", route),
                    _attr("url.path", r.path.split("?", 1)[0]),
                    _attr("http.response.status_code", a.status),
                    *([_attr("error.type", self._error(a))] if failed else []),
                ],
                "status": _status(failed),
            }
        ]
        if a.db_start_us:
            q = r.endpoint.query
            operation = q.sql.split(" ", 1)[0].upper()
            jdbc.append(
                {
                    "traceId": r.trace_id,
                    "spanId": self._span_of("jdbc", r.n * 8 + i),
                    "parentSpanId": server,
                    "name": f"{operation} {DB_DATABASE}",
                    "kind": CLIENT,
                    "startTimeUnixNano": str(a.db_start_us * 1000),
                    "endTimeUnixNano": str((a.db_start_us + a.db_us) * 1000),
                    "attributes": [
                        _attr("db.system.name", "postgresql"),
                        _attr("db.namespace", DB_DATABASE),
                        _attr("db.operation.name", operation),
                        _attr("db.query.text", q.sql),
                        _attr("server.address", "orders-db"),
                        _attr("server.port", 5432),
                    ],
                    "status": {},
                }
            )
        pod = a.pod
        return self._resource(
            [
                _attr("service.name", API_SERVICE),
                _attr("service.namespace", NAMESPACE),
                _attr("service.version", pod.version),
                _attr("k8s.pod.name", pod.name),
                _attr("k8s.node.name", pod.node),
                _attr("telemetry.sdk.language", "java"),
                _attr("telemetry.sdk.name", "opentelemetry"),
            ],
            ("io.opentelemetry.tomcat-10.0", AGENT_VERSION, spans),
            ("io.opentelemetry.jdbc", AGENT_VERSION, jdbc),
        )

    def _error(self, a: Attempt) -> str:
        if a.outcome == "pool_timeout":
            return "org.springframework.transaction.CannotCreateTransactionException"
        if a.outcome == "npe":
            return self.ctx.plan.release_defect.exception
        return str(a.status)

    @staticmethod
    def _resource(
        attributes: list[dict[str, Any]], *scopes: tuple[str, str, list[dict[str, Any]]]
    ) -> dict[str, Any]:
        return {
            "resource": {"attributes": attributes},
            "scopeSpans": [
                {"scope": {"name": name, "version": version}, "spans": spans}
                for name, version, spans in scopes
                if spans
            ],
        }
