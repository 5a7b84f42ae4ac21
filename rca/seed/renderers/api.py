"""orders-api: Spring Boot 3.5 on Tomcat with HikariCP 6, as ``kubectl logs --prefix``.

Each line is ``[pod/<pod>/orders-api] `` followed by Spring Boot's default console
pattern with one setting changed, the correlation block::

    logging.pattern.correlation=[%X{traceId:-},%X{spanId:-},%X{requestId:-}]

so a request line carries the trace id (also in the SQL comments PostgreSQL logs), the
attempt's span id, and the ``X-Request-ID`` nginx set (also Envoy's ``request_id``). The
pattern is part of every line, so a line logged outside a request (start-up, scheduled
jobs, the pool's housekeeper) prints it with empty values: ``[,,] ``.
Stack traces follow their ERROR line as continuation lines, as Logback writes them; JVM
unified GC logging (``-Xlog:gc:stdout:time,level,tags``) shares stdout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import _timefmt as tf
from .._sim import Attempt, Request
from .._sink import LineSink
from .._topology import Container, Pod
from ..scenarios import Fact
from ._base import RenderContext, Renderer
from ._logback import logger_field, thread_field

APP = "orders-api"
L_ACCESS = "com.example.orders.web.AccessLogFilter"
L_SQL = "org.hibernate.engine.jdbc.spi.SqlExceptionHelper"
L_DISPATCH = "org.apache.catalina.core.ContainerBase.[Tomcat].[localhost].[/].[dispatcherServlet]"
L_RESOLVER = (
    "org.springframework.web.servlet.mvc.method.annotation.ExceptionHandlerExceptionResolver"
)
L_APP = "com.example.orders.OrdersApiApplication"
L_HIKARI_DS = "com.zaxxer.hikari.HikariDataSource"
L_HIKARI_POOL = "com.zaxxer.hikari.pool.HikariPool"
L_SWEEPER = "com.example.orders.jobs.AbandonedCartSweeper"
L_TOMCAT = "org.springframework.boot.web.embedded.tomcat.TomcatWebServer"
# logging.pattern.correlation with no MDC values (outside any request).
NO_CORRELATION = "[,,] "
L_REPOSITORIES = "org.springframework.data.repository.config.RepositoryConfigurationDelegate"
# HikariCP logs a failed connection validation from PoolBase.isConnectionDead
# (HikariCP pool/PoolBase.java), not from HikariPool.
L_POOL_BASE = "com.zaxxer.hikari.pool.PoolBase"

TOMCAT_THREADS = 24  # the request threads a line may name (server.tomcat.threads.max)
# Their %15.15t fields, by thread number - 1 (for the compiled handler).
THREADS = tuple(thread_field(f"http-nio-8080-exec-{k}") for k in range(1, TOMCAT_THREADS + 1))
HEAP_MAX_MB = 576  # -XX:MaxRAMPercentage=75 of the 768 Mi limit
# The JVM's default -XX:InitialRAMPercentage=1.5625 of the 768 Mi limit, in G1's 1 MB
# regions (HotSpot gc_globals.hpp; G1 sizes regions at 1 MB below a 2 GB heap).
INITIAL_HEAP_MB = 12
BASE_USED = 0.38
STEADY_GC_GAP_S = 30.0  # young collections at normal load, on a warm JVM
WARM_UP_S = 90.0  # a new JVM's live set grows to its steady size over about this long


def hikari_elapsed(ns: int) -> str:
    """A duration as HikariCP's ``ClockSource.elapsedDisplayString`` prints it: each
    non-zero unit from days down to nanoseconds, e.g. ``1m13s50ms252µs185ns``."""
    out = "-" if ns < 0 else ""
    ns = abs(ns)
    for unit_ns, name in _HIKARI_UNITS:
        if ns >= unit_ns:
            out += f"{ns // unit_ns}{name}"
            ns %= unit_ns
    return out


_HIKARI_UNITS = (
    (86_400_000_000_000, "d"),
    (3_600_000_000_000, "h"),
    (60_000_000_000, "m"),
    (1_000_000_000, "s"),
    (1_000_000, "ms"),
    (1_000, "\u00b5s"),
    (1, "ns"),
)


@dataclass(slots=True)
class _Jvm:
    """One JVM's GC log state: the next collection's number, the committed heap."""

    n: int
    committed_mb: int
    next_us: int


HIKARI_JAR = "~[HikariCP-6.3.0.jar!/:na]"

_POOL_FRAMES = (
    f"com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:710) {HIKARI_JAR}",
    f"com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:189) {HIKARI_JAR}",
    f"com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:147) {HIKARI_JAR}",
    f"com.zaxxer.hikari.HikariDataSource.getConnection(HikariDataSource.java:99) {HIKARI_JAR}",
    "org.hibernate.engine.jdbc.connections.internal.DatasourceConnectionProviderImpl"
    ".getConnection(DatasourceConnectionProviderImpl.java:122) "
    "~[hibernate-core-6.6.15.Final.jar!/:6.6.15.Final]",
    "org.hibernate.internal.NonContextualJdbcConnectionAccess.obtainConnection"
    "(NonContextualJdbcConnectionAccess.java:46) ~[hibernate-core-6.6.15.Final.jar!/:6.6.15.Final]",
    "org.hibernate.resource.jdbc.internal.LogicalConnectionManagedImpl.acquireConnectionIfNeeded"
    "(LogicalConnectionManagedImpl.java:126) ~[hibernate-core-6.6.15.Final.jar!/:6.6.15.Final]",
    "org.springframework.orm.jpa.JpaTransactionManager.doBegin(JpaTransactionManager.java:420) "
    "~[spring-orm-6.2.7.jar!/:6.2.7]",
)
_WEB_FRAMES = (
    "org.springframework.web.servlet.DispatcherServlet.doDispatch(DispatcherServlet.java:1089) "
    "~[spring-webmvc-6.2.7.jar!/:6.2.7]",
    "org.springframework.web.servlet.FrameworkServlet.processRequest(FrameworkServlet.java:1014) "
    "~[spring-webmvc-6.2.7.jar!/:6.2.7]",
    "jakarta.servlet.http.HttpServlet.service(HttpServlet.java:658) "
    "~[tomcat-embed-core-10.1.41.jar!/:na]",
    "org.apache.catalina.core.ApplicationFilterChain.doFilter(ApplicationFilterChain.java:140) "
    "~[tomcat-embed-core-10.1.41.jar!/:na]",
    "org.apache.tomcat.util.threads.ThreadPoolExecutor$Worker.run(ThreadPoolExecutor.java:659) "
    "~[tomcat-embed-core-10.1.41.jar!/:na]",
    "java.base/java.lang.Thread.run(Thread.java:1583) ~[na:na]",
)
_CONTROLLER = {
    "list_orders": ("OrderController", "listOrders", "OrderService", "findByCustomer", 58),
    "get_order": ("OrderController", "getOrder", "OrderService", "getOrder", 74),
    "create_order": ("OrderController", "createOrder", "OrderService", "createOrder", 118),
    "list_products": ("ProductController", "listProducts", "ProductService", "byCategory", 41),
    "get_customer": ("CustomerController", "me", "CustomerService", "current", 33),
}


class ApiRenderer(Renderer):
    stream = "api"

    def __init__(self, ctx: RenderContext, sink: LineSink) -> None:
        super().__init__(ctx, sink)
        self._jvms: dict[tuple[str, int], _Jvm] = {}

    # ------------------------------------------------------------------ helpers
    def _line(
        self,
        pod: Pod,
        t_us: int,
        level: str,
        thread: str,
        logger: str,
        msg: str,
        corr: str = NO_CORRELATION,
    ) -> str:
        return (
            f"[pod/{pod.name}/{APP}] {tf.spring(t_us)} {level:>5} 1 --- [{APP}] "
            f"[{thread_field(thread)}] {corr}{logger_field(logger)} : {msg}"
        )

    def _cont(self, pod: Pod, lines: list[str]) -> str:
        prefix = f"[pod/{pod.name}/{APP}] "
        return "\n".join(prefix + ln for ln in lines)

    # ------------------------------------------------------------------ requests
    def compiled_config(self) -> dict[str, Any] | None:
        # The compiled twin renders the successful attempts (nearly all of them) and
        # hands every other attempt to _attempt, before drawing anything for it.
        return {
            "Attempt": Attempt,
            "fallback": self._attempt,
            "ids_key": self.ids.key,
            "threads": THREADS,
            "logger": logger_field(L_ACCESS),
            "app": APP,
        }

    def request(self, r: Request) -> None:
        if r.kind != "api":
            return
        for i, a in enumerate(r.attempts):
            if a.outcome in ("killed", "refused"):
                continue
            self._attempt(r, i, a)

    def _attempt(self, r: Request, i: int, a: Attempt) -> None:
        ep = r.endpoint
        assert ep is not None
        pod = a.pod
        thread = f"http-nio-8080-exec-{1 + int(self.rng.random() * TOMCAT_THREADS)}"
        corr = f"[{r.trace_id},{self.span_id(r.n, i)},{r.request_id}] "
        rid = r.request_id
        ex = (f"exemplar.{r.exemplar}.api",) if r.exemplar else ()
        path = r.path
        if a.outcome != "ok":
            jar = f"~[!/:{pod.version}]"
            ctrl, action, svc, svc_method, line_no = _CONTROLLER[ep.key]
        if a.outcome == "pool_timeout":
            waited = a.pool_wait_us // 1000
            size = self.ctx.plan.pool_size
            msg = (
                f"HikariPool-1 - Connection is not available, request timed out after {waited}ms "
                f"(total={size}, active={size}, idle=0, "
                f"waiting={a.pool_waiting})"
            )
            t = a.end_us - 900
            self.out.add(
                t,
                self._line(pod, t, "WARN", thread, L_SQL, "SQL Error: 0, SQLState: null", corr),
                (),
                rid,
            )
            self.out.add(
                t,
                self._line(pod, t, "ERROR", thread, L_SQL, msg, corr),
                ("api.hikari_timeout", *ex),
                rid,
            )
            head = self._line(
                pod,
                t + 400,
                "ERROR",
                thread,
                L_DISPATCH,
                "Servlet.service() for servlet [dispatcherServlet] in context with path [] "
                "threw exception [Request processing failed: org.springframework.transaction."
                "CannotCreateTransactionException: Could not open JPA EntityManager for "
                "transaction] with root cause",
                corr,
            )
            trace = ["", f"java.sql.SQLTransientConnectionException: {msg}"]
            trace += [f"\tat {f}" for f in _POOL_FRAMES]
            trace += [
                f"\tat com.example.orders.service.{svc}.{svc_method}({svc}.java:{line_no}) {jar}",
                f"\tat com.example.orders.web.{ctrl}.{action}({ctrl}.java:{line_no - 17}) {jar}",
            ]
            trace += [f"\tat {f}" for f in _WEB_FRAMES]
            self.out.add(
                t + 400,
                head + "\n" + self._cont(pod, trace),
                ("api.error_500", "api.stacktrace"),
                rid,
            )
        elif a.outcome == "npe":  # the faulty release's defect (an NPE in v0)
            defect = self.ctx.plan.release_defect
            t = a.end_us - 300
            head = self._line(
                pod,
                t,
                "ERROR",
                thread,
                L_DISPATCH,
                "Servlet.service() for servlet [dispatcherServlet] in context with path [] "
                f"threw exception [Request processing failed: {defect.exception}: "
                f"{defect.message}] with root cause",
                corr,
            )
            trace = ["", f"{defect.exception}: {defect.message}"]
            trace += [f"\tat {f} {'~[na:na]' if jdk else jar}" for f, jdk in defect.frames]
            trace += [
                f"\tat com.example.orders.service.{svc}.{svc_method}({svc}.java:{line_no}) {jar}",
                f"\tat com.example.orders.web.{ctrl}.{action}({ctrl}.java:{line_no - 17}) {jar}",
            ]
            trace += [f"\tat {f}" for f in _WEB_FRAMES]
            self.out.add(
                t,
                head + "\n" + self._cont(pod, trace),
                ("api.npe", "api.error_500", "api.stacktrace", *ex),
                rid,
            )
        elif a.outcome == "not_found":
            order = r.params.get("order", "0")
            t = a.end_us - 200
            self.out.add(
                t,
                self._line(
                    pod,
                    t,
                    "WARN",
                    thread,
                    L_RESOLVER,
                    f"Resolved [com.example.orders.web.OrderNotFoundException: Order {order} not found]",
                    corr,
                ),
                ("noise.order_not_found",),
                rid,
            )
        elif a.outcome == "conflict":
            t = a.end_us - 500
            key = self.ids.hex("idem", r.n, 8)
            self.out.add(
                t,
                self._line(pod, t, "WARN", thread, L_SQL, "SQL Error: 0, SQLState: 23505", corr),
                (),
                rid,
            )
            self.out.add(
                t,
                self._line(
                    pod,
                    t,
                    "ERROR",
                    thread,
                    L_SQL,
                    "ERROR: duplicate key value violates unique constraint "
                    f'"orders_idempotency_key_key"\n[pod/{pod.name}/{APP}]   Detail: Key '
                    f"(idempotency_key)=({key}) already exists.",
                    corr,
                ),
                ("noise.api_duplicate_key",),
                rid,
            )
        elapsed = (a.end_us - a.start_us) // 1000
        keys: tuple[str, ...] = ()
        if a.status >= 500:
            keys = ("api.access_5xx", *ex)
        elif elapsed >= 2000:
            keys = ("api.slow_request", *ex)
        elif ex:
            keys = ex
        self.out.add(
            a.end_us,
            self._line(
                pod,
                a.end_us,
                "INFO",
                thread,
                L_ACCESS,
                f"{r.method} {path} -> {a.status} in {elapsed} ms",
                corr,
            ),
            keys,
            rid,
        )

    # ------------------------------------------------------------------ facts
    def fact(self, f: Fact) -> None:
        if f.stream != "api":
            return
        pod: Pod = f.data["pod"]
        t = f.t_us
        if f.kind == "startup":
            self._startup(pod, t, f.data["version"], f.data["ready_us"])
        elif f.kind == "shutdown":
            self._shutdown(pod, t)
        elif f.kind == "app_log":
            # A line of the application's own (not a request's), with its stack trace
            # as continuation lines: all drawn by the plan (rca/seed/distractors).
            d = f.data
            text = self._line(pod, t, d["level"], d["thread"], d["logger"], d["message"])
            trace = d.get("trace", ())
            if trace:
                text += "\n" + self._cont(pod, ["", *trace])
            self.out.add(t, text, tuple(d.get("signals", ())))

    def _startup(self, pod: Pod, t: int, version: str, ready_us: int) -> None:
        boot = ready_us - t
        main = "main"
        steps = [
            (
                0.00,
                "INFO",
                L_APP,
                f"Starting OrdersApiApplication v{version} using Java 21.0.7 "
                "with PID 1 (/app/orders-api.jar started by app in /app)",
            ),
            (0.01, "INFO", L_APP, 'The following 1 profile is active: "prod"'),
            (
                0.12,
                "INFO",
                L_REPOSITORIES,
                "Bootstrapping Spring Data JPA repositories in DEFAULT mode.",
            ),
            (
                0.16,
                "INFO",
                L_REPOSITORIES,
                f"Finished Spring Data repository scanning in {int(boot * 0.04 / 1000)} ms. "
                "Found 3 JPA repository interfaces.",
            ),
            (
                0.28,
                "INFO",
                L_TOMCAT,
                "Tomcat initialized with port 8080 (http)",
            ),
            (0.29, "INFO", "org.apache.catalina.core.StandardService", "Starting service [Tomcat]"),
            (
                0.29,
                "INFO",
                "org.apache.catalina.core.StandardEngine",
                "Starting Servlet engine: [Apache Tomcat/10.1.41]",
            ),
            (
                0.33,
                "INFO",
                "org.apache.catalina.core.ContainerBase.[Tomcat].[localhost].[/]",
                "Initializing Spring embedded WebApplicationContext",
            ),
            (
                0.34,
                "INFO",
                "org.springframework.boot.web.servlet.context.ServletWebServerApplicationContext",
                "Root WebApplicationContext: initialization completed in "
                f"{int(boot * 0.33 / 1000)} ms",
            ),
            (
                0.44,
                "INFO",
                "org.hibernate.jpa.internal.util.LogHelper",
                "HHH000204: Processing PersistenceUnitInfo [name: default]",
            ),
            (
                0.45,
                "INFO",
                "org.hibernate.Version",
                "HHH000412: Hibernate ORM core version 6.6.15.Final",
            ),
            (
                0.46,
                "INFO",
                "org.hibernate.cache.internal.RegionFactoryInitiator",
                "HHH000026: Second-level cache disabled",
            ),
            (
                0.49,
                "INFO",
                "org.springframework.orm.jpa.persistenceunit.SpringPersistenceUnitInfo",
                "No LoadTimeWeaver setup: ignoring JPA class transformer",
            ),
            (0.50, "INFO", L_HIKARI_DS, "HikariPool-1 - Starting..."),
            (
                0.56,
                "INFO",
                L_HIKARI_POOL,
                "HikariPool-1 - Added connection "
                f"org.postgresql.jdbc.PgConnection@{self.rng.hexstr(8).lstrip('0') or '1'}",
            ),
            (0.56, "INFO", L_HIKARI_DS, "HikariPool-1 - Start completed."),
            (
                0.66,
                "INFO",
                "org.hibernate.engine.transaction.jta.platform.internal.JtaPlatformInitiator",
                "HHH000489: No JTA platform available (set 'hibernate.transaction.jta.platform' "
                "to enable JTA platform integration)",
            ),
            (
                0.70,
                "INFO",
                "org.springframework.orm.jpa.LocalContainerEntityManagerFactoryBean",
                "Initialized JPA EntityManagerFactory for persistence unit 'default'",
            ),
            (
                0.74,
                "INFO",
                "org.springframework.data.jpa.repository.query.QueryEnhancerFactory",
                "Hibernate is in classpath; If applicable, HQL parser will be used.",
            ),
            (
                0.80,
                "WARN",
                "org.springframework.boot.autoconfigure.orm.jpa.JpaBaseConfiguration$JpaWebConfiguration",
                "spring.jpa.open-in-view is enabled by default. Therefore, database queries may be "
                "performed during view rendering. Explicitly configure spring.jpa.open-in-view to "
                "disable this warning",
            ),
            (
                0.90,
                "INFO",
                "org.springframework.boot.actuate.endpoint.web.EndpointLinksResolver",
                "Exposing 3 endpoints beneath base path '/actuator'",
            ),
            (
                0.95,
                "INFO",
                L_TOMCAT,
                "Tomcat started on port 8080 (http) with context path '/'",
            ),
            (
                0.96,
                "INFO",
                L_APP,
                f"Started OrdersApiApplication in {boot * 0.96 / 1e6:.3f} "
                f"seconds (process running for {boot * 0.96 / 1e6 + 0.7:.3f})",
            ),
        ]
        for i, (frac, level, logger, msg) in enumerate(steps):
            ts = t + int(boot * frac) + i
            keys = ("noise.open_in_view",) if "open-in-view" in msg else ()
            if i == 0:
                keys = ("api.startup",)
            self.out.add(ts, self._line(pod, ts, level, main, logger, msg), keys)

    def _shutdown(self, pod: Pod, t: int) -> None:
        hook = "SpringApplicationShutdownHook"
        lines = [
            (
                0,
                hook,
                "org.springframework.boot.web.embedded.tomcat.GracefulShutdown",
                "Commencing graceful shutdown. Waiting for active requests to complete",
            ),
            (
                120_000,
                "tomcat-shutdown",
                "org.springframework.boot.web.embedded.tomcat.GracefulShutdown",
                "Graceful shutdown complete",
            ),
            (
                140_000,
                hook,
                "org.springframework.orm.jpa.LocalContainerEntityManagerFactoryBean",
                "Closing JPA EntityManagerFactory for persistence unit 'default'",
            ),
            (150_000, hook, L_HIKARI_DS, "HikariPool-1 - Shutdown initiated..."),
            (180_000, hook, L_HIKARI_DS, "HikariPool-1 - Shutdown completed."),
        ]
        for dt, thread, logger, msg in lines:
            self.out.add(
                t + dt,
                self._line(pod, t + dt, "INFO", thread, logger, msg),
                ("api.shutdown",) if dt == 0 else (),
            )

    # ------------------------------------------------------------------ GC
    def _jvm(self, pod: Pod, c: Container, t0_us: int) -> _Jvm:
        """The GC state of the JVM that container run ``c`` is: a restarted container
        is a new JVM, whose unified GC log starts again at ``GC(0)`` with a small heap."""
        key = (pod.name, c.start_us)
        jvm = self._jvms.get(key)
        if jvm is None:
            rng = self.rng
            if c.start_us < self.ctx.window_start_us:
                # Up since before the window: as many collections as its uptime holds at
                # the steady rhythm, and a heap long grown to its maximum.
                uptime_s = (t0_us - c.start_us) / 1e6
                jvm = _Jvm(
                    n=int(uptime_s / STEADY_GC_GAP_S * rng.uniform(0.85, 1.15)),
                    committed_mb=HEAP_MAX_MB,
                    next_us=t0_us + rng.below(20_000_000),
                )
            else:
                # GC(0) comes during Spring's start-up, which allocates fast into the
                # small initial heap.
                jvm = _Jvm(0, INITIAL_HEAP_MB, c.start_us + rng.between(700_000, 1_900_000))
            self._jvms[key] = jvm
        return jvm

    def _gc(self, t0_us: int, t1_us: int) -> None:
        """JVM GC log lines from each live container; pressure follows plan.heap_used.

        The live set after a collection is ``heap_used`` of the maximum heap (ramping up
        from a few MB while a new JVM warms up); G1 commits heap as the live set and the
        young generation need it (``-Xlog:gc`` prints the committed size in brackets).
        """
        rng = self.rng
        heap = HEAP_MAX_MB
        for pod in self.ctx.stack.api_pods:
            for c in pod.containers:
                end = t1_us if c.end_us is None else min(t1_us, c.end_us)
                if c.start_us >= end or (c.end_us is not None and c.end_us <= t0_us):
                    continue
                jvm = self._jvm(pod, c, t0_us)
                t = jvm.next_us
                while t < end:
                    used = self.ctx.plan.heap_used(t, pod)
                    warm = min(1.0, 0.06 + 0.94 * (t - c.start_us) / (WARM_UP_S * 1e6))
                    after = min(
                        heap - 1, max(4, int(heap * used * warm + rng.uniform(-6, 6) * warm))
                    )
                    young = int(heap * rng.uniform(0.18, 0.3) * (1.02 - used)) + 20
                    young = max(3, min(young, int(max(jvm.committed_mb, after) * 0.6)))
                    before = min(heap, after + young)
                    if used > 0.9:
                        ms = rng.uniform(380, 1400) * (used - 0.85) * 8
                        what, key = "Pause Full (G1 Compaction Pause)", "api.gc_full"
                        before = min(heap, after + rng.between(1, 9))
                    else:
                        ms = (
                            rng.uniform(6, 30) * (1 + 4 * max(0.0, used - 0.7)) * (0.3 + 0.7 * warm)
                        )
                        what, key = "Pause Young (Normal) (G1 Evacuation Pause)", "api.gc_young"
                    # G1 expands the heap it has committed, never past -Xmx, in 2 MB steps.
                    grown = -(-int(before * 1.4) // 2) * 2
                    jvm.committed_mb = min(heap, max(jvm.committed_mb, grown))
                    text = (
                        f"[pod/{pod.name}/{APP}] [{tf.jvm_unified(t)}][info][gc] GC({jvm.n}) "
                        f"{what} {before}M->{after}M({jvm.committed_mb}M) {ms:.3f}ms"
                    )
                    jvm.n += 1
                    self.out.add(t, text, (key,))
                    gap = STEADY_GC_GAP_S * (1.0 - used) / (1.0 - BASE_USED) if used < 0.98 else 1.5
                    if warm < 1.0:  # start-up: a young generation still small fills sooner
                        gap *= min(1.0, young / (heap * 0.18 * (1.02 - BASE_USED) + 20))
                    t += int(max(1.5 if warm >= 1.0 else 0.4, gap * rng.uniform(0.6, 1.4)) * 1e6)
                jvm.next_us = t

    # ------------------------------------------------------------------ noise
    def background(self, t0_us: int, t1_us: int) -> None:
        rng = self.rng
        self._gc(t0_us, t1_us)
        pods = [p for p in self.ctx.stack.api_pods if p.ready_at(t0_us)]
        if not pods:
            return
        # A scheduled job on one pod every five minutes: routine INFO.
        minute = t0_us // 60_000_000
        if minute % 5 == 0:
            pod = pods[0]
            t = t0_us + rng.below(2_000_000)
            self.out.add(
                t,
                self._line(
                    pod,
                    t,
                    "INFO",
                    "scheduling-1",
                    L_SWEEPER,
                    f"Swept {rng.between(3, 40)} abandoned carts older than PT24H",
                ),
            )
        # Benign pool warnings: a stale connection retired, a short clock leap.
        if rng.chance(0.05 * self.ctx.noise):
            pod = rng.pick(pods)
            t = t0_us + rng.below(60_000_000)
            msg = (
                "HikariPool-1 - Failed to validate connection org.postgresql.jdbc.PgConnection@"
                f"{rng.hexstr(8)} (This connection has been closed.). Possibly consider using a "
                "shorter maxLifetime value."
            )
            self.out.add(
                t,
                self._line(pod, t, "WARN", "http-nio-8080-exec-3", L_POOL_BASE, msg),
                ("noise.hikari_validate",),
            )
        if rng.chance(0.03 * self.ctx.noise):
            pod = rng.pick(pods)
            t = t0_us + rng.below(60_000_000)
            # A run more than 1.5 x the 30 s housekeeping period after the last one (a
            # node or VM stall; HikariCP HikariPool.HouseKeeper.run), the delta printed by
            # ClockSource.elapsedDisplayString down to the nanosecond.
            delta_ns = rng.between(46_000_000_000, 75_000_000_000)
            msg = (
                "HikariPool-1 - Thread starvation or clock leap detected (housekeeper "
                f"delta={hikari_elapsed(delta_ns)})."
            )
            self.out.add(
                t,
                self._line(pod, t, "WARN", "HikariPool-1:housekeeper", L_HIKARI_POOL, msg),
                ("noise.housekeeper",),
            )
