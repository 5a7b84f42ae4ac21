"""Requests the generator cannot honour are refused up front, naming the range that works.

Issue 17 items 7 and 8: anchors in year 1, 999 or 9999, rps below ~1e-15 and low rps for
the scenarios whose incident shows only through some requests passed validation, then
failed inside generation (exit 1, internal messages) or, worse, wrote a bundle that lies:
``normal_load`` anchored at 1969-12-31T23:45:00Z held 269 readiness-probe failures (the
simulation's pools were "free since the epoch", so busy before it) and was labelled "no
incident". The boundaries tested here are the measured ones (``rca/seed/_models.py``:
EARLIEST_START, LATEST_END, MIN_RPS; each scenario's ``minimum_rps``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from rca.seed import _sim, scenarios
from rca.seed._models import EARLIEST_START, LATEST_END, MIN_RPS, RUNS_PAST_END
from rca.seed._pipeline import simulation_for, window
from rca.seed._sim import Tick
from rca.seed.mock_incident_generator import (
    STREAM_FILES,
    GenerationError,
    generate_bundle,
    make_request,
    preflight,
    validate,
)
from tests.integration.conftest import ROOT, run_cli

QUICK: dict[str, Any] = {"seed": 42, "time_anchor": "2026-11-26T05:00:00Z", "duration_minutes": 15}

# case -> (request flags, the field the error must name)
REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "year 1": ({"scenario": "normal_load", "time_anchor": "0001-01-01T00:00:00Z"}, "time_anchor"),
    "year 999": (
        {"scenario": "normal_load", "time_anchor": "0999-06-01T00:00:00Z"},
        "time_anchor",
    ),
    "year 9999, last hour": (
        {"scenario": "normal_load", "time_anchor": "9999-12-31T22:50:00Z"},
        "time_anchor",
    ),
    "before the epoch": (
        {"scenario": "normal_load", "time_anchor": "1969-12-31T23:45:00Z"},
        "time_anchor",
    ),
    "rps 1e-16": ({"scenario": "normal_load", "rps": 1e-16}, "rps"),
    "slow query at 0.01 rps": ({"scenario": "slow_query_regression", "rps": 0.01}, "rps"),
    "bad rollout at 0.05 rps": ({"scenario": "bad_api_rollout", "rps": 0.05}, "rps"),
}


def _flags(fields: dict[str, Any]) -> list[str]:
    return [a for k, v in fields.items() for a in (f"--{k.replace('_', '-')}", str(v))]


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_the_cli_refuses_before_generating(case: str, tmp_path: Path) -> None:
    fields, field = REFUSED[case]
    out = tmp_path / "out"
    proc = run_cli("generate", *_flags({**QUICK, **fields}), "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"error: INVALID_PARAMETER: {field}="), proc.stderr
    assert "(allowed: " in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() or list(out.iterdir()) == []  # nothing, not even a partial


def _engines() -> list[str]:
    return ["python", "native"] if _sim.native_available() else ["python"]


def _same_bundle_with_both_engines(
    request: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    paths = []
    for engine in _engines():
        monkeypatch.setenv(_sim.ENGINE_ENV, engine)
        paths.append(generate_bundle(request, tmp_path / engine))
    for p in paths:
        assert validate(p) == []
    for name in STREAM_FILES.values():
        assert len({(p / name).read_bytes() for p in paths}) == 1, name
    return paths[0]


def test_a_quiet_window_at_the_epoch_stays_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The earliest allowed window: no pool is busy, no probe fails (item 8)."""
    anchor = EARLIEST_START.isoformat().replace("+00:00", "Z")
    request = {**QUICK, "scenario": "normal_load", "time_anchor": anchor}
    bundle = _same_bundle_with_both_engines(request, tmp_path, monkeypatch)
    truth = json.loads((bundle / "ground_truth.json").read_text())
    herrings = {d["pointer"]["signal"] for d in truth["distractors"]}
    # A red herring's pool blip (an operator's DDL waiting for a lock) may bring both;
    # the quiet pool itself never does.
    if "distractor.pool_blip" not in herrings:
        assert (
            '"Probe failed" probeType="Readiness" pod="shop/'
            not in (bundle / STREAM_FILES["k8s"]).read_text()
        )
        assert "Connection is not available" not in (bundle / STREAM_FILES["api"]).read_text()
    earlier = {**request, "time_anchor": EARLIEST_START - timedelta(microseconds=1)}
    with pytest.raises(GenerationError) as err:
        make_request(**earlier)
    assert (err.value.code, err.value.field) == ("INVALID_PARAMETER", "time_anchor")


def test_the_latest_window_ends_an_hour_before_year_10000(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    latest = LATEST_END - timedelta(minutes=QUICK["duration_minutes"])
    request = {**QUICK, "scenario": "normal_load", "time_anchor": latest, "rps": 0.5}
    _same_bundle_with_both_engines(request, tmp_path, monkeypatch)
    later = {**request, "time_anchor": latest + timedelta(microseconds=1)}
    with pytest.raises(GenerationError) as err:
        make_request(**later)
    assert (err.value.code, err.value.field) == ("INVALID_PARAMETER", "time_anchor")


def test_the_lowest_rate_works_on_both_engines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = {**QUICK, "scenario": "normal_load", "rps": MIN_RPS}
    _same_bundle_with_both_engines(request, tmp_path, monkeypatch)


MINIMUM_SCENARIOS = [s for s in scenarios.scenario_ids() if scenarios.get(s).minimum_rps(15, 3) > 0]


@pytest.mark.parametrize("scenario", MINIMUM_SCENARIOS)
def test_at_its_declared_minimum_rate_a_scenario_shows_its_incident(
    scenario: str, tmp_path: Path
) -> None:
    """The rate the error message offers works for every seed tried (12 at 15 minutes,
    the shortest window; at a tenth of it most seeds had no first signal)."""
    below = {**QUICK, "scenario": scenario, "rps": 0.01}
    with pytest.raises(GenerationError) as err:
        preflight(make_request(**below))
    assert (err.value.code, err.value.field) == ("INVALID_PARAMETER", "rps")
    offered = float(str(err.value).split("(allowed: ", 1)[1].split("..", 1)[0])
    for seed in range(12):
        path = generate_bundle({**below, "rps": offered, "seed": seed}, tmp_path)
        assert validate(path) == [], (seed, validate(path))


def test_a_config_with_such_an_entry_fails_the_config_check(tmp_path: Path) -> None:
    config = yaml.safe_load((ROOT / ".test" / "config" / "scenarios.yaml").read_text())
    config["defaults"]["time_anchor"] = "0999-06-01T00:00:00Z"
    config["scenarios"]["bad_api_rollout"] = {"rps": 0.05}
    path = tmp_path / "scenarios.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = subprocess.run(
        [sys.executable, "-m", "rca.config", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout
    assert "defaults.time_anchor: time_anchor=0999-06-01T00:00:00Z" in proc.stderr
    config["defaults"]["time_anchor"] = "2026-11-26T05:00:00Z"
    path.write_text(yaml.safe_dump(config))
    proc = subprocess.run(
        [sys.executable, "-m", "rca.config", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout
    assert "scenarios.bad_api_rollout.rps: rps=0.05: too little traffic" in proc.stderr


@pytest.mark.parametrize("engine", _engines())
def test_the_simulation_runs_exactly_as_far_past_the_end_as_declared(engine: str) -> None:
    """LATEST_END leaves RUNS_PAST_END for the simulation's last tick: keep them equal."""
    req = make_request(**QUICK, scenario="normal_load", rps=0.5)
    *_, last = simulation_for(req, engine).run()
    _, end = window(req)
    assert isinstance(last, Tick)
    assert last.t_us == end + RUNS_PAST_END // timedelta(microseconds=1)
