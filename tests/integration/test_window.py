"""Every line of every stream is stamped inside the bundle's window, [start, end).

Issue 17 item 12: ``db_events.log`` ran up to an hour past the end (HikariCP reconnects
and autovacuum runs up to the simulation's last tick, end + 3600 s; checkpoints that
complete after the end), in every bundle, the committed fixtures included; at 20
requests/s the last nginx and Spring lines of requests still open at the end did too.
The stamps are read off the lines the way a responder's tool reads them
(:data:`tests.integration.logs.LINE_STAMPS`).
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rca.seed import scenarios
from rca.seed._sim import native_available
from rca.seed._sink import Sink, new_sink
from rca.seed.mock_incident_generator import STREAM_FILES, generate_bundle
from tests.integration.conftest import ROOT
from tests.integration.logs import LINE_STAMPS, line_stamps, lines_outside_window, parse_rfc3339

FIXTURES = ROOT / "tests" / "fixtures" / "mock_incidents"
ANCHOR = "2026-11-26T05:00:00Z"


def test_every_stream_has_a_stamp_reader() -> None:
    assert set(LINE_STAMPS) == set(STREAM_FILES.values())


def _assert_inside(bundle: Path) -> None:
    assert lines_outside_window(bundle, STREAM_FILES) == {}
    start = parse_rfc3339(ANCHOR)
    for file in STREAM_FILES.values():  # the check read real stamps in every stream
        stamps = list(line_stamps(bundle / file, start))
        assert stamps and stamps[0][0] == 1, file


@pytest.mark.parametrize("rps", [None, 20.0], ids=["default-rps", "rps-20"])
@pytest.mark.parametrize("scenario", scenarios.scenario_ids())
def test_no_line_is_stamped_outside_the_window(
    scenario: str, rps: float | None, tmp_path: Path
) -> None:
    request: dict[str, object] = {"scenario": scenario, "seed": 42, "time_anchor": ANCHOR}
    if rps is not None:
        request["rps"] = rps
    _assert_inside(generate_bundle(request, tmp_path))


@pytest.mark.parametrize("bundle", sorted(p.name for p in FIXTURES.glob("mock-*")))
def test_committed_fixtures_stay_inside_their_window(bundle: str) -> None:
    _assert_inside(FIXTURES / bundle)


@pytest.mark.parametrize("engine", ["python", "native"])
def test_a_sink_drops_entries_outside_its_window(engine: str) -> None:
    if engine == "native" and not native_available():
        pytest.skip("the compiled core is not built")
    out = io.BytesIO()
    sink = new_sink("db_events.log", out, engine, (100, 200))
    assert isinstance(sink, Sink) == (engine == "python")
    for t, text in [(99, "before"), (100, "first"), (150, "kept"), (199, "last"), (200, "end")]:
        sink.add(t, text, (f"key.{text}",))
    sink.close()
    assert out.getvalue() == b"first\nkept\nlast\n"
    assert (sink.lines, sink.records) == (3, 3)
    assert sorted(sink.signals) == ["key.first", "key.kept", "key.last"]
