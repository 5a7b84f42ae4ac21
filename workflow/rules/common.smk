# Shared by every rule: the validated configuration, the target lists, and the helper
# functions that give each job its params and code inputs. Rules stay declarative; all
# Python lives here.
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from rca.config import ConfigError, code_inputs, fixture_index, parse_config
from rca.seed.mock_incident_generator import (
    GROUND_TRUTH_FILE,
    MANIFEST_FILE,
    STREAM_FILES,
    STREAMS,
)


wildcard_constraints:
    bundle=r"mock-[0-9a-f]{12}",
    stream="|".join(STREAMS),
    # The rest of a stream's file name after "<stream>_" (ui_events.log, api_logs.log, ...).
    suffix="|".join(
        sorted({name.split("_", 1)[1].replace(".", r"\.") for name in STREAM_FILES.values()})
    ),
    run="run[12]",


# Where the committed fixtures live, relative to the working directory.
FIXTURES = "tests/fixtures/mock_incidents"

# Jobs run `python -m rca...`: make that the interpreter running this Snakemake (the
# project's .venv), not whichever `python` comes first on the caller's PATH. Not resolved:
# .venv/bin/python is a symlink whose target lives outside the virtualenv.
os.environ.update(
    PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)])
)


def _validated_config():
    """Validate the loaded config once, at parse time: a bad file fails before any job."""
    source = ", ".join(str(f) for f in workflow.configfiles) or "the configuration"
    try:
        return parse_config(config, source)
    except ConfigError as exc:
        raise WorkflowError(str(exc)) from None


CONFIG = _validated_config()
BUNDLES = {b.bundle_id: b for b in CONFIG.bundles()}


# ---------------------------------------------------------------------- targets
def stream_files(root):
    """Input patterns for every stream file of bundle {bundle} under root."""
    return [f"{root}/{{bundle}}/{name}" for name in STREAM_FILES.values()]


def bundle_files(root):
    """Every file of every configured bundle under root, plus the index."""
    names = [*STREAM_FILES.values(), GROUND_TRUTH_FILE, MANIFEST_FILE]
    files = [f"{root}/{b}/{name}" for b in sorted(BUNDLES) for name in names]
    return [*files, f"{root}/index.json"]


def fixture_files():
    return bundle_files(FIXTURES)


def regenerated_manifests(run):
    """The last files of a regeneration: every bundle's manifest, and the index."""
    root = f"results/determinism/{run}"
    return [*(f"{root}/{b}/{MANIFEST_FILE}" for b in sorted(BUNDLES)), f"{root}/index.json"]


# ---------------------------------------------------------------------- per-job helpers
def _bundle(wildcards):
    return BUNDLES[wildcards.bundle]


def _stream(wildcards):
    """The stream named by {stream}; refuses file names the library does not use."""
    name = f"{wildcards.stream}_{wildcards.suffix}"
    if STREAM_FILES[wildcards.stream] != name:
        raise WorkflowError(
            f"{name} is not a stream file; stream files are {', '.join(STREAM_FILES.values())}"
        )
    return wildcards.stream


def stream_code(wildcards):
    """Code a stream's bytes depend on: shared core, its scenario, its own renderer."""
    return code_inputs(_bundle(wildcards).scenario, _stream(wildcards))


def bundle_code(wildcards):
    """Code the label and manifest depend on: shared core, the scenario, every renderer."""
    return code_inputs(_bundle(wildcards).scenario)


def stream_request(wildcards):
    """CLI flags of the bundle's request minus the label-only fields (thresholds)."""
    return _bundle(wildcards).cli_args(label_fields=False)


def bundle_request(wildcards):
    """CLI flags of the bundle's whole request."""
    return _bundle(wildcards).cli_args(label_fields=True)


def stream_name(wildcards):
    return _stream(wildcards)


def bundle_dir(wildcards, output):
    return os.path.dirname(output[0])


def index_text(wildcards):
    """The fixture index (bundle id -> scenario, seed, time anchor, path) as JSON text."""
    return fixture_index(BUNDLES.values(), FIXTURES)
