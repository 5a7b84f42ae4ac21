"""``rca-mock serve``: a real Prometheus answering PromQL over a bundle's metrics.

The bundle's ``metrics_openmetrics.txt`` (the ``metrics`` modality) is backfilled with
Prometheus' own tool, ``promtool tsdb create-blocks-from openmetrics``, into a scratch
directory, and ``prometheus`` is started on that TSDB with no scrape targets. Its HTTP
API (``/api/v1/query_range`` ...) then answers over the incident window as if the
incident were live, for Grafana or an agent's Prometheus tool. The bundle is only read;
the scratch directory goes when the server stops (Ctrl-C).

Needs ``promtool`` and ``prometheus`` on PATH (Debian and Ubuntu: ``apt-get install
prometheus``, which ships both).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .seed._interrupt import Interrupted
from .seed.mock_incident_generator import (
    ALL_STREAM_FILES,
    MANIFEST_FILE,
    GenerationError,
    Manifest,
    existing_bundle,
    require_stream,
)

METRICS_FILE = ALL_STREAM_FILES["metrics"]
TOOLS = ("promtool", "prometheus")
READY_TIMEOUT_S = 60.0
# A bundle's window may lie years back: keep every block whatever its age.
RETENTION = "100y"


def _unusable(message: str) -> GenerationError:
    return GenerationError("INVALID_PARAMETER", message, field="bundle")


def _metrics_of(bundle: Path) -> tuple[Manifest, Path]:
    """The bundle's manifest and metrics file, checked against each other."""
    manifest = Manifest.model_validate_json((existing_bundle(bundle) / MANIFEST_FILE).read_bytes())
    require_stream(manifest, "metrics", bundle)
    path = bundle / METRICS_FILE
    listed = {a.file: a for a in manifest.artifacts}.get(METRICS_FILE)
    if listed is None or not path.is_file() or path.is_symlink():
        raise _unusable(f"{path}: missing (the manifest lists it)")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    if sha != listed.sha256:
        raise _unusable(f"{path}: sha256 differs from the manifest (bundle modified?)")
    return manifest, path


def _tools() -> dict[str, str]:
    found = {t: shutil.which(t) for t in TOOLS}
    missing = [t for t, p in found.items() if p is None]
    if missing:
        raise GenerationError(
            "INVALID_PARAMETER",
            f"serve needs {' and '.join(missing)} on PATH (Debian/Ubuntu: apt-get install "
            "prometheus; elsewhere the release from prometheus.io/download)",
            field="tools",
        )
    return {t: p for t, p in found.items() if p is not None}


def backfill(metrics: Path, tsdb: Path, promtool: str = "promtool") -> str:
    """Write ``metrics`` into a TSDB at ``tsdb`` with promtool; its report (blocks)."""
    run = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(metrics), str(tsdb)],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise GenerationError(
            "GENERATION_FAILED",
            f"promtool could not backfill {metrics}: {run.stderr.strip() or run.stdout.strip()}",
        )
    return run.stdout


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            raise GenerationError(
                "GENERATION_FAILED",
                f"prometheus exited with status {proc.returncode}: " + " | ".join(tail),
            )
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise GenerationError(
                "GENERATION_FAILED", f"prometheus did not become ready in {READY_TIMEOUT_S:g} s"
            )
        time.sleep(0.2)


def serve(
    bundle: Path,
    host: str = "127.0.0.1",
    port: int = 9090,
    announce: Callable[[str], object] = print,
) -> int:
    """Serve ``bundle``'s metrics until interrupted; 0 when stopped by a signal."""
    manifest, metrics = _metrics_of(bundle)
    tools = _tools()
    scratch = Path(tempfile.mkdtemp(prefix="rca-mock-serve-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        tsdb = scratch / "data"
        backfill(metrics, tsdb, tools["promtool"])
        config = scratch / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 15s\n")  # no targets: history only
        log = scratch / "prometheus.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    tools["prometheus"],
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tsdb}",
                    f"--storage.tsdb.retention.time={RETENTION}",
                    f"--web.listen-address={host}:{port}",
                    "--log.level=warn",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        url = f"http://{host}:{port}"
        _wait_ready(url, proc, log)
        query = urllib.parse.urlencode(
            {
                "query": "sum by (response_code) (rate(istio_requests_total[1m]))",
                "start": manifest.window_start,
                "end": manifest.window_end,
                "step": "15s",
            }
        )
        announce(
            f"serving {bundle} ({manifest.window_start} .. {manifest.window_end}) at {url}\n"
            f"  e.g. curl '{url}/api/v1/query_range?{query}'\n"
            f"  scratch TSDB: {tsdb} (removed on exit); Ctrl-C stops"
        )
        sys.stdout.flush()
        proc.wait()
        raise GenerationError("GENERATION_FAILED", f"prometheus stopped (status {proc.returncode})")
    except (Interrupted, KeyboardInterrupt):
        return 0
    finally:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(scratch, ignore_errors=True)


def _serve(ns: argparse.Namespace) -> int:
    return serve(Path(ns.bundle), ns.host, _port(ns.port))


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise GenerationError(
            "INVALID_PARAMETER", f"port={text!r}: allowed: 1..65535", field="port"
        )
    return port


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a bundle's metrics from a real Prometheus (PromQL over the window)",
    )
    p.add_argument("bundle", help="a bundle generated with --modalities logs,metrics")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", default="9090", help="port (default: 9090)")
    p.set_defaults(func=_serve)
