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
connection has none (its spans died with the JVM, or it never arrived), nor has one the
sidecar gave up on that ended after the window (exported after the capture). Only the
requests nginx proxies to orders-api are traced; its static files are not.
"""

from __future__ import annotations

import json
from typing import Any

from .._catalog import Endpoint
from .._sim import Attempt, Request
from .._sink import LineSink
from .._topology import API_FQDN, API_PORT, API_SERVICE, DB_DATABASE, NAMESPACE, SITE_HOST, Pod
from ._base import RenderContext, Renderer
from .mesh import _agent, _s

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


def _sattr(key: str, text: str) -> str:
    """A string attribute, its value already JSON (quoted and escaped)."""
    return f'{{"key":"{key}","value":{{"stringValue":{text}}}}}'


def _iattr(key: str, value: int) -> str:
    return f'{{"key":"{key}","value":{{"intValue":"{value}"}}}}'


def _resource_head(attributes: list[dict[str, Any]], scope: str, version: str) -> str:
    """The JSON of a resource up to its first scope's spans (constant per emitter)."""
    head = json.dumps({"attributes": attributes}, separators=(",", ":"))
    return (
        f'{{"resource":{head},"scopeSpans":[{{"scope":{{"name":"{scope}",'
        f'"version":"{version}"}},"spans":['
    )


SERVER_ADDRESS = _sattr("server.address", _s(SITE_HOST))
UPSTREAM_CLUSTER = _sattr("upstream_cluster", _s(f"outbound|{API_PORT}||{API_FQDN}"))
JDBC_SYSTEM = (
    f"{_sattr('db.system.name', _s('postgresql'))},{_sattr('db.namespace', _s(DB_DATABASE))}"
)
JDBC_SERVER = f"{_sattr('server.address', _s('orders-db'))},{_iattr('server.port', 5432)}"
STATUS_OK = "{}"
STATUS_FAILED = f'{{"code":{STATUS_ERROR}}}'


class TracesRenderer(Renderer):
    """Writes each line from JSON fragments (the resources are constant per emitter,
    the attribute values escaped once): the bytes ``json.dumps`` of the same objects
    would give, at a fraction of the cost."""

    stream = "traces"

    def __init__(self, ctx: RenderContext, sink: LineSink) -> None:
        super().__init__(ctx, sink)
        web = ctx.stack.web_pod
        self._web_head = _resource_head(
            [
                _attr("service.name", "web"),
                _attr("service.namespace", NAMESPACE),
                _attr("k8s.pod.name", web.name),
            ],
            "nginx",
            NGINX_MODULE_VERSION,
        )
        self._envoy_head = _resource_head(
            [_attr("service.name", f"web.{NAMESPACE}"), _attr("k8s.pod.name", web.name)],
            "envoy",
            ENVOY_VERSION,
        )
        self._pod_heads: dict[str, str] = {}
        self._jdbc_scope = (
            f'{{"scope":{{"name":"io.opentelemetry.jdbc","version":"{AGENT_VERSION}"}},"spans":['
        )
        self._sql: dict[str, tuple[str, str]] = {}  # query key -> (operation, escaped SQL)
        # Per endpoint: (server span name, its method and route attributes), escaped once.
        self._endpoint: dict[str, tuple[str, str]] = {}

    def _span_of(self, kind: str, n: int) -> str:
        return self.ids.hex(f"trace-{kind}", n, 8)

    def _endpoint_parts(self, r: Request) -> tuple[str, str]:
        assert r.endpoint is not None
        parts = self._endpoint.get(r.endpoint.key)
        if parts is None:
            route = _route(r.endpoint)
            parts = self._endpoint[r.endpoint.key] = (
                _s(f"{r.method} {route}"),
                f"{_sattr('http.request.method', _s(r.method))},{_sattr('http.route', _s(route))}",
            )
        return parts

    def _pod_head(self, pod: Pod) -> str:
        head = self._pod_heads.get(pod.name)
        if head is None:
            head = self._pod_heads[pod.name] = _resource_head(
                [
                    _attr("service.name", API_SERVICE),
                    _attr("service.namespace", NAMESPACE),
                    _attr("service.version", pod.version),
                    _attr("k8s.pod.name", pod.name),
                    _attr("k8s.node.name", pod.node),
                    _attr("telemetry.sdk.language", "java"),
                    _attr("telemetry.sdk.name", "opentelemetry"),
                ],
                "io.opentelemetry.tomcat-10.0",
                AGENT_VERSION,
            )
        return head

    def request(self, r: Request) -> None:
        if r.kind != "api" or r.endpoint is None:
            return
        # One digest for the two edge spans (nginx's and the sidecar's).
        ids = self.ids.hex("trace-edge", r.n, 16)
        edge, proxy = ids[:16], ids[16:]
        trace = r.trace_id
        path = _s(r.path.split("?", 1)[0])
        method = r.method
        nginx = (
            f'{{"traceId":"{trace}","spanId":"{edge}","name":"{method} /api","kind":{SERVER},'
            f'"startTimeUnixNano":"{r.t_us}000","endTimeUnixNano":"{r.end_us}000",'
            '"attributes":['
            f"{_sattr('http.request.method', _s(method))},{_sattr('url.path', path)},"
            f"{SERVER_ADDRESS},"
            f"{_sattr('client.address', _s(r.client_ip))},"
            f"{_sattr('user_agent.original', _agent(r.user_agent))},"
            f"{_iattr('http.response.status_code', r.status)}],"
            f'"status":{STATUS_FAILED if r.status >= 500 else STATUS_OK}}}'
        )
        failed = r.mesh_code >= 500 or r.mesh_code == 0
        envoy = (
            f'{{"traceId":"{trace}","spanId":"{proxy}","parentSpanId":"{edge}",'
            f'"name":"{API_FQDN}:{API_PORT}/*","kind":{CLIENT},'
            f'"startTimeUnixNano":"{r.mesh_start_us}000","endTimeUnixNano":"{r.mesh_end_us}000",'
            '"attributes":['
            f"{_sattr('http.method', _s(method))},"
            f"{_sattr('http.url', _s(f'http://{API_FQDN}:{API_PORT}{r.path}'))},"
            f'{{"key":"http.status_code","value":{{"stringValue":"{r.mesh_code}"}}}},'
            f'{{"key":"response_flags","value":{{"stringValue":"{r.mesh_flags}"}}}},'
            f"{UPSTREAM_CLUSTER},"
            f'{{"key":"guid:x-request-id","value":{{"stringValue":"{r.request_id}"}}}}],'
            f'"status":{STATUS_FAILED if failed else STATUS_OK}}}'
        )
        parts = [f"{self._web_head}{nginx}]}}]}}", f"{self._envoy_head}{envoy}]}}]}}"]
        for i, a in enumerate(r.attempts):
            if a.outcome == "killed" or a.outcome == "refused":
                continue  # the JVM died with its spans, or the request never reached it
            if a.end_us >= self.ctx.window_end_us:
                continue  # it outlived the call (504 UT) and ended after the capture
            parts.append(self._attempt(r, i, a, proxy, path))
        self.out.add(r.end_us, '{"resourceSpans":[' + ",".join(parts) + "]}", (), r.request_id)

    def _attempt(self, r: Request, i: int, a: Attempt, parent: str, path: str) -> str:
        assert r.endpoint is not None
        server = self.span_id(r.n, i)  # what the api stream prints
        failed = a.status >= 500
        error = f",{_sattr('error.type', _s(self._error(a)))}" if failed else ""
        name, method_route = self._endpoint_parts(r)
        span = (
            f'{{"traceId":"{r.trace_id}","spanId":"{server}","parentSpanId":"{parent}",'
            f'"name":{name},"kind":{SERVER},'
            f'"startTimeUnixNano":"{a.start_us}000","endTimeUnixNano":"{a.end_us}000",'
            '"attributes":['
            f"{method_route},{_sattr('url.path', path)},"
            f"{_iattr('http.response.status_code', a.status)}{error}],"
            f'"status":{STATUS_FAILED if failed else STATUS_OK}}}'
        )
        text = f"{self._pod_head(a.pod)}{span}]}}"
        if a.db_start_us:
            q = r.endpoint.query
            sql = self._sql.get(q.key)
            if sql is None:
                sql = self._sql[q.key] = (q.sql.split(" ", 1)[0].upper(), _s(q.sql))
            operation, statement = sql
            jdbc = (
                f'{{"traceId":"{r.trace_id}","spanId":"{self._span_of("jdbc", r.n * 8 + i)}",'
                f'"parentSpanId":"{server}","name":"{operation} {DB_DATABASE}","kind":{CLIENT},'
                f'"startTimeUnixNano":"{a.db_start_us}000",'
                f'"endTimeUnixNano":"{a.db_start_us + a.db_us}000",'
                '"attributes":['
                f"{JDBC_SYSTEM},{_sattr('db.operation.name', _s(operation))},"
                f"{_sattr('db.query.text', statement)},{JDBC_SERVER}],"
                f'"status":{STATUS_OK}}}'
            )
            text += f",{self._jdbc_scope}{jdbc}]}}"
        return text + "]}"

    def _error(self, a: Attempt) -> str:
        if a.outcome == "pool_timeout":
            return "org.springframework.transaction.CannotCreateTransactionException"
        if a.outcome == "npe":
            return self.ctx.plan.release_defect.exception
        return str(a.status)
