"""orders-api: Spring Boot 3.5 on Tomcat with HikariCP 6, as ``kubectl logs --prefix``.

Each line is ``[pod/<pod>/orders-api] `` followed by Spring Boot's default console
pattern with one setting changed, the correlation block::

    logging.pattern.correlation=[%X{traceId:-},%X{spanId:-},%X{requestId:-}]

so a request line carries the trace id (also in the SQL comments PostgreSQL logs), the
attempt's span id, and the ``X-Request-ID`` nginx set (also Envoy's ``request_id``).
Stack traces follow their ERROR line as continuation lines, as Logback writes them; JVM
unified GC logging (``-Xlog:gc:stdout:time,level,tags``) shares stdout.
"""

from __future__ import annotations

from typing import Any

from .. import _timefmt as tf
from .._sim import Attempt, Request
from .._sink import LineSink
from .._topology import Pod
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

TOMCAT_THREADS = 24  # the request threads a line may name (server.tomcat.threads.max)
# Their %15.15t fields, by thread number - 1 (for the compiled handler).
THREADS = tuple(thread_field(f"http-nio-8080-exec-{k}") for k in range(1, TOMCAT_THREADS + 1))
HEAP_MAX_MB = 576  # -XX:MaxRAMPercentage=75 of the 768 Mi limit
BASE_USED = 0.38
HIKARI_JAR = "~[HikariCP-6.3.0.jar!/:na]"
APP_JAR = "~[!/:1.8.2]"

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
NPE_MESSAGE = (
    'Cannot invoke "com.example.orders.domain.LoyaltyTier.discountRate()" because the return '
    'value of "com.example.orders.domain.Customer.getLoyaltyTier()" is null'
)


class ApiRenderer(Renderer):
    stream = "api"

    def __init__(self, ctx: RenderContext, sink: LineSink) -> None:
        super().__init__(ctx, sink)
        self._gc_n: dict[str, int] = {}
        self._next_gc: dict[str, int] = {}

    # ------------------------------------------------------------------ helpers
    def _line(
        self, pod: Pod, t_us: int, level: str, thread: str, logger: str, msg: str, corr: str = ""
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
        elif a.outcome == "npe":
            t = a.end_us - 300
            head = self._line(
                pod,
                t,
                "ERROR",
                thread,
                L_DISPATCH,
                "Servlet.service() for servlet [dispatcherServlet] in context with path [] "
                "threw exception [Request processing failed: java.lang.NullPointerException: "
                f"{NPE_MESSAGE}] with root cause",
                corr,
            )
            trace = [
                "",
                f"java.lang.NullPointerException: {NPE_MESSAGE}",
                "\tat com.example.orders.pricing.DiscountCalculator.discountFor"
                f"(DiscountCalculator.java:42) {jar}",
                f"\tat com.example.orders.service.OrderService.priceOrder(OrderService.java:131) {jar}",
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
    def _gc(self, t0_us: int, t1_us: int) -> None:
        """JVM GC log lines from each live container; pressure follows plan.heap_used."""
        rng = self.rng
        heap = HEAP_MAX_MB
        for pod in self.ctx.stack.api_pods:
            t = self._next_gc.get(pod.name, t0_us + rng.below(20_000_000))
            while t < t1_us:
                c = pod.alive_at(t)
                if c is not None and t >= c.start_us + 3_000_000:
                    used = self.ctx.plan.heap_used(t, pod)
                    after = int(heap * used + rng.uniform(-6, 6))
                    before = min(
                        heap, after + int(heap * rng.uniform(0.18, 0.3) * (1.02 - used)) + 20
                    )
                    n = self._gc_n.get(pod.name, 1200 + rng.below(800)) + 1
                    self._gc_n[pod.name] = n
                    if used > 0.9:
                        ms = rng.uniform(380, 1400) * (used - 0.85) * 8
                        what, key = "Pause Full (G1 Compaction Pause)", "api.gc_full"
                        before = min(heap, after + rng.between(1, 9))
                    else:
                        ms = rng.uniform(6, 30) * (1 + 4 * max(0.0, used - 0.7))
                        what, key = "Pause Young (Normal) (G1 Evacuation Pause)", "api.gc_young"
                    text = (
                        f"[pod/{pod.name}/{APP}] [{tf.jvm_unified(t)}][info][gc] GC({n}) "
                        f"{what} {before}M->{after}M({heap}M) {ms:.3f}ms"
                    )
                    self.out.add(t, text, (key,))
                    if used > 0.9 and ms > 1000:
                        delta = int(ms) + rng.between(30_000, 60_000)
                        ts = t + int(ms * 1000) + rng.below(500_000)
                        msg = (
                            "HikariPool-1 - Thread starvation or clock leap detected "
                            f"(housekeeper delta={delta // 1000}s{delta % 1000}ms)."
                        )
                        self.out.add(
                            ts,
                            self._line(
                                pod, ts, "WARN", "HikariPool-1:housekeeper", L_HIKARI_POOL, msg
                            ),
                            ("api.housekeeper_gc",),
                        )
                    gap = 30.0 * (1.0 - used) / (1.0 - BASE_USED) if used < 0.98 else 1.5
                    t += int(max(1.5, gap * rng.uniform(0.6, 1.4)) * 1_000_000)
                else:
                    t += 5_000_000
            self._next_gc[pod.name] = t

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
                self._line(pod, t, "WARN", "http-nio-8080-exec-3", L_HIKARI_POOL, msg),
                ("noise.hikari_validate",),
            )
        if rng.chance(0.03 * self.ctx.noise):
            pod = rng.pick(pods)
            t = t0_us + rng.below(60_000_000)
            delta = rng.between(61_000, 75_000)
            msg = (
                "HikariPool-1 - Thread starvation or clock leap detected (housekeeper "
                f"delta={delta // 60_000}m{(delta % 60_000) // 1000}s{delta % 1000}ms)."
            )
            self.out.add(
                t,
                self._line(pod, t, "WARN", "HikariPool-1:housekeeper", L_HIKARI_POOL, msg),
                ("noise.housekeeper",),
            )
