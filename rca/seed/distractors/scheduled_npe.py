"""A ``@Scheduled`` job of orders-api throws a NullPointerException now and then.

Story: every orders-api pod refreshes its recommendation cache once a minute
(``@Scheduled(fixedDelay = 60000)``). A few products have no category, so some runs
dereference a null and Spring's scheduler logs the exception and runs the job again a
minute later. No request fails: the job runs on the scheduler thread, and the cache
keeps its previous contents. It has done so since long before the window.

Format: Spring's ``TaskUtils.LoggingErrorHandler`` (spring-context
``org/springframework/scheduling/support/TaskUtils.java``) logs
``"Unexpected error occurred in scheduled task"`` at ERROR with the throwable, on the
``scheduling-1`` thread, through the Spring Boot console pattern ``renderers/api.py``
writes; the frames are those of a ``@Scheduled`` method on Spring Framework 6.2 and
Java 21 (``ScheduledMethodRunnable``, ``DelegatingErrorHandlingRunnable``,
``ScheduledThreadPoolExecutor``), helpful NPE message as JEP 358 words it.
"""

from __future__ import annotations

from .._timefmt import US
from ..scenarios import Plan, PlanContext
from ._base import Chance, Distractor, signal_key

KEY = signal_key("scheduled_npe")
LOGGER = "org.springframework.scheduling.support.TaskUtils$LoggingErrorHandler"
CTX_JAR = "~[spring-context-6.2.7.jar!/:6.2.7]"
MESSAGE = (
    'Cannot invoke "com.example.orders.catalog.Category.getSlug()" because the return value '
    'of "com.example.orders.catalog.Product.getCategory()" is null'
)
PERIOD_US = 60 * US


def _trace(version: str) -> list[str]:
    jar = f"~[!/:{version}]"
    frames = [
        "com.example.orders.catalog.RecommendationIndex.bucketFor(RecommendationIndex.java:88) "
        + jar,
        "com.example.orders.catalog.RecommendationCacheRefresher.refresh"
        f"(RecommendationCacheRefresher.java:57) {jar}",
        "java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke"
        "(DirectMethodHandleAccessor.java:103) ~[na:na]",
        "java.base/java.lang.reflect.Method.invoke(Method.java:580) ~[na:na]",
        "org.springframework.scheduling.support.ScheduledMethodRunnable.runInternal"
        f"(ScheduledMethodRunnable.java:130) {CTX_JAR}",
        "org.springframework.scheduling.support.ScheduledMethodRunnable.lambda$run$2"
        f"(ScheduledMethodRunnable.java:124) {CTX_JAR}",
        "io.micrometer.observation.Observation.observe(Observation.java:498) "
        "~[micrometer-observation-1.14.7.jar!/:1.14.7]",
        "org.springframework.scheduling.support.ScheduledMethodRunnable.run"
        f"(ScheduledMethodRunnable.java:124) {CTX_JAR}",
        "org.springframework.scheduling.support.DelegatingErrorHandlingRunnable.run"
        f"(DelegatingErrorHandlingRunnable.java:54) {CTX_JAR}",
        "java.base/java.util.concurrent.Executors$RunnableAdapter.call(Executors.java:572) "
        "~[na:na]",
        "java.base/java.util.concurrent.FutureTask.runAndReset(FutureTask.java:358) ~[na:na]",
        "java.base/java.util.concurrent.ScheduledThreadPoolExecutor$ScheduledFutureTask.run"
        "(ScheduledThreadPoolExecutor.java:305) ~[na:na]",
        "java.base/java.util.concurrent.ThreadPoolExecutor.runWorker"
        "(ThreadPoolExecutor.java:1144) ~[na:na]",
        "java.base/java.util.concurrent.ThreadPoolExecutor$Worker.run"
        "(ThreadPoolExecutor.java:642) ~[na:na]",
        "java.base/java.lang.Thread.run(Thread.java:1583) ~[na:na]",
    ]
    return [f"java.lang.NullPointerException: {MESSAGE}", *(f"\tat {f}" for f in frames)]


POLL_US = 5 * US
RELAY_MESSAGE = (
    'Cannot invoke "com.example.orders.outbox.OrderEvent.orderId()" because the return '
    'value of "com.example.orders.outbox.OutboxRecord.event()" is null'
)


def _relay_trace(version: str) -> list[str]:
    """The relay's NPE: its own two frames, then the same scheduler frames."""
    jar = f"~[!/:{version}]"
    own = [
        f"\tat com.example.orders.outbox.OutboxRelay.toMessage(OutboxRelay.java:112) {jar}",
        f"\tat com.example.orders.outbox.OutboxRelay.relayPending(OutboxRelay.java:73) {jar}",
    ]
    scheduler = _trace(version)[3:]  # from DirectMethodHandleAccessor.invoke down
    return [f"java.lang.NullPointerException: {RELAY_MESSAGE}", *own, *scheduler]


class ScheduledNpe(Distractor):
    id = "scheduled_npe"
    title = "A scheduled cache refresh in orders-api throws a NullPointerException now and then"
    imitates = "bad_deployment"
    probability = Chance(standard=0.45, hard=0.85)
    why_not_root_cause = (
        "the NullPointerException is thrown by a @Scheduled background job "
        "(RecommendationCacheRefresher, thread scheduling-1) at a steady low rate since "
        "before the window, on every version: no request fails and no 5xx follows it"
    )
    signal_keys = (KEY,)

    def plan(self, ctx: PlanContext, plan: Plan) -> None:
        rng = ctx.rng
        # The share of runs that meet a product without a category: how many such
        # products the catalogue holds changes the rate, not the fact that it is steady.
        failing = rng.uniform(0.06, 0.15) if ctx.difficulty != "hard" else rng.uniform(0.2, 0.45)
        for pod in list(ctx.stack.api_pods):
            # fixedDelay: the next run is a minute after the previous one ended.
            t = ctx.window_start_us + rng.below(PERIOD_US)
            while t < ctx.window_end_us:
                run_us = int(rng.uniform(0.08, 0.4) * US)
                fails = rng.chance(failing)
                if fails and pod.ready_at(t) and pod.ready_at(t + run_us):
                    c = pod.alive_at(t)
                    assert c is not None
                    plan.add(
                        t + run_us,
                        "api",
                        "app_log",
                        pod=pod,
                        level="ERROR",
                        thread="scheduling-1",
                        logger=LOGGER,
                        message="Unexpected error occurred in scheduled task",
                        trace=_trace(pod.version),
                        signals=[KEY],
                    )
                t += run_us + PERIOD_US
        if ctx.difficulty == "hard" and rng.chance(0.5):
            self._poison_message(ctx, plan)

    def _poison_message(self, ctx: PlanContext, plan: Plan) -> None:
        """An outbox relay (``@Scheduled(fixedDelay = 5000)``, run by one pod at a time
        under a ShedLock lock) meets an event row without its payload and fails on every
        run until someone deletes the row: loud (hundreds of NPEs), steady since before
        the window, and no request is touched."""
        rng = ctx.rng
        pods = [p for p in ctx.stack.api_pods if p.ready_at(ctx.window_start_us)]
        if not pods:
            return
        pod = rng.pick(pods)
        cleared = ctx.at(rng.uniform(0.6, 1.2))  # past the end: nobody noticed in time
        t = ctx.window_start_us + rng.below(POLL_US)
        while t < min(cleared, ctx.window_end_us):
            run_us = int(rng.uniform(0.004, 0.03) * US)
            if pod.ready_at(t) and pod.ready_at(t + run_us):
                plan.add(
                    t + run_us,
                    "api",
                    "app_log",
                    pod=pod,
                    level="ERROR",
                    thread=f"scheduling-{rng.between(1, 2)}",
                    logger=LOGGER,
                    message="Unexpected error occurred in scheduled task",
                    trace=_relay_trace(pod.version),
                    signals=[KEY],
                )
            t += run_us + POLL_US
