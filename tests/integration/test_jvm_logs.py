"""The JVM and Spring Boot lines obey the JVM and Spring Boot (issue 15, items 2, 4 and 8).

- A restarted container is a new JVM: its unified GC log (``-Xlog:gc``) numbers
  collections from ``GC(0)`` again and starts with a small committed heap (the default
  ``-XX:InitialRAMPercentage``), not with the dead JVM's counter and warm heap.
- Within one JVM the numbers go up by one, and each line is a possible heap state:
  after <= before <= committed <= -Xmx.
- HikariCP's housekeeper warns of thread starvation only for a run more than 1.5 x its
  30 s period after the previous one, and prints the delta the way
  ``ClockSource.elapsedDisplayString`` does (HikariCP ``util/ClockSource.java``).
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from rca.seed.mock_incident_generator import generate_bundle
from rca.seed.renderers.api import HEAP_MAX_MB, hikari_elapsed
from tests.integration.conftest import request_for
from tests.integration.logs import SCENARIOS, Bundle

_POD = re.compile(r"^\[pod/(?P<pod>[^/\]]+)/")
_GC = re.compile(
    r"\]\[info\]\[gc\] GC\((?P<n>\d+)\) .*? (?P<before>\d+)M->(?P<after>\d+)M\((?P<committed>\d+)M\)"
)
_JVM_START = "Starting OrdersApiApplication v"
_HOUSEKEEPER = re.compile(
    r"Thread starvation or clock leap detected \(housekeeper delta=(?P<d>[^)]*)\)"
)
_UNITS = {
    "d": 86_400 * 10**9,
    "h": 3_600 * 10**9,
    "m": 60 * 10**9,
    "s": 10**9,
    "ms": 10**6,
    "µs": 10**3,
    "ns": 1,
}
_ELAPSED = re.compile(
    r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?(?:(\d+)µs)?(?:(\d+)ns)?$"
)
# A new JVM's first collections happen while the heap is still near its initial size.
FRESH_HEAP_MB = 64


def _elapsed_ns(text: str) -> int:
    m = _ELAPSED.match(text)
    assert m is not None and text, f"not an elapsedDisplayString: {text!r}"
    return sum(int(v) * unit for v, unit in zip(m.groups(), _UNITS.values(), strict=True) if v)


@pytest.fixture(scope="module")
def busy_oom(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """The restart loop at 20 requests/s: more restarts, more GC pressure."""
    out = tmp_path_factory.mktemp("busy")
    return Bundle(
        "pod_oom_restart_loop", generate_bundle(request_for("pod_oom_restart_loop", rps=20.0), out)
    )


def _gc_runs(bundle: Bundle) -> dict[str, list[list[tuple[int, int, int, int]]]]:
    """Pod -> JVM runs in log order -> (n, before, after, committed) of each GC line."""
    runs: dict[str, list[list[tuple[int, int, int, int]]]] = defaultdict(lambda: [[]])
    for line in bundle.lines("api_logs.log"):
        pod = _POD.match(line)
        if pod is None:
            continue
        if _JVM_START in line:
            runs[pod["pod"]].append([])
        elif (gc := _GC.search(line)) is not None:
            runs[pod["pod"]][-1].append(
                (int(gc["n"]), int(gc["before"]), int(gc["after"]), int(gc["committed"]))
            )
    return runs


def _check_gc(bundle: Bundle) -> int:
    restarts = 0
    for pod, runs in _gc_runs(bundle).items():
        for i, run in enumerate(runs):
            if not run:
                continue
            numbers = [n for n, *_ in run]
            assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), (pod, numbers)
            if i > 0:  # this JVM started inside the window
                restarts += 1
                assert numbers[0] == 0, f"{pod}: a new JVM's first GC is GC({numbers[0]})"
                assert run[0][3] <= FRESH_HEAP_MB, f"{pod}: a new JVM starts with {run[0][3]}M"
            committed = [c for *_, c in run]
            assert committed == sorted(committed), f"{pod}: G1 shrank the heap it committed"
            for n, before, after, c in run:
                assert after <= before <= c <= HEAP_MAX_MB, (pod, n, before, after, c)
    return restarts


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_gc_numbering_and_heap_belong_to_one_jvm(bundles: dict[str, Bundle], scenario: str) -> None:
    _check_gc(bundles[scenario])


def test_every_restart_starts_a_new_gc_log(bundles: dict[str, Bundle], busy_oom: Bundle) -> None:
    # The restart loop restarts containers at both rates: the check above is not vacuous.
    assert _check_gc(bundles["pod_oom_restart_loop"]) >= 2
    assert _check_gc(busy_oom) >= 2


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_housekeeper_warnings_mean_a_late_run(bundles: dict[str, Bundle], scenario: str) -> None:
    for line in bundles[scenario].lines("api_logs.log"):
        if (m := _HOUSEKEEPER.search(line)) is not None:
            # HikariPool.HouseKeeper.run: now > previous + 3 * 30 s / 2
            assert _elapsed_ns(m["d"]) > 45 * 10**9, line


@pytest.mark.parametrize(
    ("ns", "text"),
    [  # as HikariCP prints them (ClockSource.elapsedDisplayString0)
        (73_050_252_185, "1m13s50ms252µs185ns"),
        (51_020_282_452, "51s20ms282µs452ns"),
        (157_062_102_798_806, "1d19h37m42s102ms798µs806ns"),
        (45_000_000_000, "45s"),
        (-1_500, "-1µs500ns"),
    ],
)
def test_hikari_elapsed_matches_hikaricp(ns: int, text: str) -> None:
    assert hikari_elapsed(ns) == text


# What a Spring Boot 3.5 application with Spring Data JPA (Hibernate 6.6), HikariCP,
# Tomcat and Actuator prints from "Starting" to "Started", in this order (the end of the
# logger's name, which Logback's %logger{39} abbreviates from the left : the message's
# start), as in its own start-up log; other lines may come in between.
SPRING_BOOT_STARTUP = [
    ("OrdersApiApplication", "Starting OrdersApiApplication v"),
    ("OrdersApiApplication", "The following 1 profile is active"),
    ("RepositoryConfigurationDelegate", "Bootstrapping Spring Data JPA repositories"),
    ("RepositoryConfigurationDelegate", "Finished Spring Data repository scanning in "),
    ("TomcatWebServer", "Tomcat initialized with port 8080"),
    ("StandardService", "Starting service [Tomcat]"),
    ("StandardEngine", "Starting Servlet engine: [Apache Tomcat/"),
    ("[Tomcat].[localhost].[/]", "Initializing Spring embedded WebApplicationContext"),
    ("ServletWebServerApplicationContext", "Root WebApplicationContext: initialization"),
    ("LogHelper", "HHH000204: Processing PersistenceUnitInfo"),
    ("hibernate.Version", "HHH000412: Hibernate ORM core version"),
    ("RegionFactoryInitiator", "HHH000026: Second-level cache disabled"),
    ("SpringPersistenceUnitInfo", "No LoadTimeWeaver setup"),
    ("HikariDataSource", "HikariPool-1 - Starting..."),
    ("HikariPool", "HikariPool-1 - Added connection "),
    ("HikariDataSource", "HikariPool-1 - Start completed."),
    ("JtaPlatformInitiator", "HHH000489: No JTA platform available"),
    ("LocalContainerEntityManagerFactoryBean", "Initialized JPA EntityManagerFactory"),
    ("QueryEnhancerFactory", "Hibernate is in classpath"),
    ("JpaWebConfiguration", "spring.jpa.open-in-view is enabled"),
    ("EndpointLinksResolver", "Exposing 3 endpoints beneath base path"),
    ("TomcatWebServer", "Tomcat started on port 8080"),
    ("OrdersApiApplication", "Started OrdersApiApplication in "),
]
_LOGGER_MSG = re.compile(
    r" --- \[[^\]]*\] \[[^\]]*\] (?:\[[^\]]*\] )?(?P<logger>.{40}) : (?P<msg>.*)$"
)


def test_every_jvm_start_prints_spring_boots_startup_in_order(bundles: dict[str, Bundle]) -> None:
    starts = 0
    by_pod: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for line in bundles["pod_oom_restart_loop"].lines("api_logs.log"):
        who, entry = _POD.match(line), _LOGGER_MSG.search(line)
        if who is not None and entry is not None and entry["logger"].strip():
            by_pod[who["pod"]].append((entry["logger"].strip(), entry["msg"]))
    for pod, entries in by_pod.items():
        for i, (_, msg) in enumerate(entries):
            if not msg.startswith(SPRING_BOOT_STARTUP[0][1]):
                continue
            starts += 1
            found = iter(entries[i:])
            for logger, prefix in SPRING_BOOT_STARTUP:
                # the next entry with this logger and message, after the previous one
                assert any(lg.endswith(logger) and m.startswith(prefix) for lg, m in found), (
                    f"{pod}: start-up line {logger} : {prefix}... missing or out of order"
                )
    assert starts >= 2


def test_a_failed_validation_is_logged_by_pool_base(bundles: dict[str, Bundle]) -> None:
    # HikariCP pool/PoolBase.java isConnectionDead: LOGGER of PoolBase.class.
    seen = 0
    for b in bundles.values():
        for line in b.lines("api_logs.log"):
            if "Failed to validate connection" in line:
                seen += 1
                assert "com.zaxxer.hikari.pool.PoolBase" in line, line
    assert seen, "no validation warning in any bundle: the check ran on nothing"


_CONSOLE = re.compile(
    r"^\[pod/[^\]]+\] \d{4}-\d\d-\d\dT[\d:.]+Z +[A-Z]+ 1 --- \[orders-api\] \[.{15}\] "
)
_CORRELATION = re.compile(r"\[(?:[0-9a-f]{32},[0-9a-f]{16},[0-9a-f]{32}|,,)\] ")


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_console_line_carries_the_correlation_block(
    bundles: dict[str, Bundle], scenario: str
) -> None:
    # logging.pattern.correlation is part of Spring Boot's console pattern: a line logged
    # outside a request prints it with empty MDC values, "[,,] ".
    seen = {"with": 0, "without": 0}
    for line in bundles[scenario].lines("api_logs.log"):
        head = _CONSOLE.match(line)
        if head is None:
            continue
        block = _CORRELATION.match(line, head.end())
        assert block is not None, line
        seen["without" if block[0] == "[,,] " else "with"] += 1
    assert seen["with"] and seen["without"], seen
