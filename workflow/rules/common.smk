# Shared by every rule: the validated configuration, the target lists, and the helper
# functions that give each job its params and code inputs. Rules stay declarative; all
# Python lives here.
import os
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from rca.config import (
    BUNDLE_ID_RE,
    ConfigError,
    code_inputs,
    fixture_index,
    parse_config,
    request_text,
    write_if_changed,
)
from rca.seed import scenarios
from rca.seed.mock_incident_generator import (
    ALL_STREAM_FILES,
    GROUND_TRUTH_FILE,
    MANIFEST_FILE,
)


wildcard_constraints:
    bundle=BUNDLE_ID_RE.removeprefix("^").removesuffix("$"),
    stream="|".join(ALL_STREAM_FILES),
    # The rest of a stream's file name after "<stream>_" (ui_events.log, api_logs.log, ...).
    suffix="|".join(
        sorted({name.split("_", 1)[1].replace(".", r"\.") for name in ALL_STREAM_FILES.values()})
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


# Keys given with `--config KEY=VALUE` that choose what to build (suites.smk), not part of
# config/scenarios.yaml: left out of its validation.
RUN_OPTIONS = ("suite",)


def _validated_config():
    """Validate the loaded config once, at parse time: a bad file fails before any job."""
    source = ", ".join(str(f) for f in workflow.configfiles) or "the configuration"
    try:
        return parse_config({k: v for k, v in config.items() if k not in RUN_OPTIONS}, source)
    except ConfigError as exc:
        raise WorkflowError(str(exc)) from None


CONFIG = _validated_config()
BUNDLES = {b.bundle_id: b for b in CONFIG.bundles()}


# ---------------------------------------------------------------------- request files
# Each bundle's request, written here at parse time and only when its text changes, so a
# file's mtime is the time its request last changed. Jobs take them as inputs: a config
# edit then re-runs the jobs it affects by modification time alone, also in a fresh clone
# with no .snakemake/ records (params changes are detected only through those records).
# Stream jobs take the request without the label-only fields, so a threshold edit leaves
# the streams alone. local(): written by every Snakemake that parses the workflow, never
# stored remotely (a default storage provider, e.g. on Kubernetes).
REQUESTS = "results/requests"
STREAM_REQUEST = local(f"{REQUESTS}/{{bundle}}/streams.json")
BUNDLE_REQUEST = local(f"{REQUESTS}/{{bundle}}/bundle.json")
# The fixture index's text: its job re-runs (and prunes superseded bundles) when it changes.
INDEX_REQUEST = local(f"{REQUESTS}/fixture_index.json")


def _write_request_files():
    for bundle in BUNDLES.values():
        wildcards = {"bundle": bundle.bundle_id}
        write_if_changed(
            STREAM_REQUEST.format(**wildcards), request_text(bundle, label_fields=False)
        )
        write_if_changed(BUNDLE_REQUEST.format(**wildcards), request_text(bundle, label_fields=True))
    write_if_changed(INDEX_REQUEST, fixture_index(BUNDLES.values(), FIXTURES))


_write_request_files()


# ---------------------------------------------------------------------- targets
def _stream_names(bundle_id):
    """The stream files of a bundle: its request's modalities say which."""
    return [ALL_STREAM_FILES[s] for s in BUNDLES[bundle_id].request.streams()]


def stream_files(root):
    """An input function: every stream file of bundle {bundle} under root ({run} too)."""

    def files(wildcards):
        where = root.format(**dict(wildcards.items()))
        return [f"{where}/{wildcards.bundle}/{name}" for name in _stream_names(wildcards.bundle)]

    return files


def bundle_files(root):
    """Every file of every configured bundle under root, plus the index."""
    files = [
        f"{root}/{b}/{name}"
        for b in sorted(BUNDLES)
        for name in [*_stream_names(b), GROUND_TRUTH_FILE, MANIFEST_FILE]
    ]
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
    if ALL_STREAM_FILES[wildcards.stream] != name:
        raise WorkflowError(
            f"{name} is not a stream file; stream files are {', '.join(ALL_STREAM_FILES.values())}"
        )
    return wildcards.stream


def _local(paths):
    """Source files as local inputs: the code is part of the checkout (or the job's
    container image), never fetched from a default storage provider."""
    return [local(p) for p in paths]


def stream_code(wildcards):
    """Code a stream's bytes depend on: shared core, its scenario, its own renderer."""
    return _local(code_inputs(_bundle(wildcards).scenario, _stream(wildcards)))


def bundle_code(wildcards):
    """Code the label and manifest depend on: shared core, the scenario, every renderer."""
    return _local(code_inputs(_bundle(wildcards).scenario))


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


def configured_bundles(wildcards):
    """Ids of every configured bundle: the index job removes other bundle directories."""
    return sorted(BUNDLES)


def bundle_id_pattern(wildcards):
    """What a bundle directory's name looks like (a function: params strings are formatted)."""
    return BUNDLE_ID_RE


# ---------------------------------------------------------------------- plots (report.smk)
def _viz_code():
    """The plotting code a timeline's pixels depend on (rca/viz/*.py)."""
    import rca.viz

    cwd = Path.cwd()
    files = sorted(Path(rca.viz.__file__).parent.glob("*.py"))
    return _local(str(p.relative_to(cwd)) if p.is_relative_to(cwd) else str(p) for p in files)


PLOT_CODE = _viz_code()


def plot_files():
    """Every configured bundle's timeline (results/, git-ignored; never in the fixtures)."""
    return [f"results/plots/{b}.png" for b in sorted(BUNDLES)]


def bundle_scenario(wildcards):
    """The scenario of bundle {bundle}: the report's subcategory and caption selector."""
    return _bundle(wildcards).scenario


def caption_happens(wildcards):
    """The report caption's "what happens", declared by the bundle's scenario module."""
    return scenarios.get(bundle_scenario(wildcards)).caption.happens


def caption_look_for(wildcards):
    """The report caption's "what to look for", declared by the scenario module."""
    return scenarios.get(bundle_scenario(wildcards)).caption.look_for


def plot_labels(wildcards):
    """The columns of the report's result table."""
    return {"bundle": wildcards.bundle, "scenario": bundle_scenario(wildcards)}


def plot_bundle_dir(wildcards, input):
    """The fixture directory a plot is drawn from."""
    return os.path.dirname(input.manifest)


# ---------------------------------------------------------------------- suites (suites.smk)
# config/suites.yaml is read only when a suite job is planned (input functions below), so
# the fixture targets never depend on it. `--config suite=NAME` picks the `suite` target's
# suite; any declared suite can also be asked for by its files (results/suites/NAME/...).
import functools
import json

from rca.suites import (
    BUNDLE_FILES as SUITE_BUNDLE_FILES,
    DEFAULT_SUITE,
    DEFAULT_SUITES_FILE,
    NOISE_PROFILES,
    SUITES_ROOT,
    load_suites,
)

SUITE = str(config.get("suite", DEFAULT_SUITE))
SUITES_FILE = str(DEFAULT_SUITES_FILE)


@functools.cache
def _suites():
    try:
        return load_suites(SUITES_FILE)
    except ConfigError as exc:
        raise WorkflowError(str(exc)) from None


@functools.cache
def _suite_bundles(name):
    """(noise profile, bundle id) -> SuiteBundle of suite `name`, in suite order."""
    suites = _suites()
    if name not in suites.suites:
        raise WorkflowError(
            f"suite={name!r} is not declared in {SUITES_FILE}; declared suites: "
            f"{', '.join(suites.suites)} (choose one with --config suite=NAME)"
        )
    return {(b.noise_profile, b.bundle_id): b for b in suites.bundles(name)}


def _suite_bundle(wildcards):
    bundles = _suite_bundles(wildcards.suite)
    key = (wildcards.noise, wildcards.bundle)
    if key not in bundles:
        raise WorkflowError(
            f"{SUITES_ROOT}/{wildcards.suite}/{wildcards.noise}/{wildcards.bundle} is not a "
            f"bundle of suite {wildcards.suite} (list them: python -m rca.suites "
            f"{SUITES_FILE} {wildcards.suite})"
        )
    return bundles[key]


# Named with --config suite=NAME: check the file and the name now, before any job runs.
if "suite" in config:
    _suite_bundles(SUITE)


def suite_bundle_files():
    """Output patterns of one suite bundle: every file of the bundle directory."""
    root = f"{SUITES_ROOT}/{{suite}}/{{noise}}/{{bundle}}"
    return [f"{root}/{name}" for name in SUITE_BUNDLE_FILES]


def suite_target(wildcards):
    """The `suite` target: the index of the suite chosen with --config suite=NAME."""
    _suite_bundles(SUITE)  # an undeclared suite fails here, naming the declared ones
    return [f"{SUITES_ROOT}/{SUITE}/index.csv", f"{SUITES_ROOT}/{SUITE}/index.json"]


def suite_manifests(wildcards):
    """Every bundle of suite {suite}, by its manifest (written last, with the rest)."""
    return [f"{b.path}/{MANIFEST_FILE}" for b in _suite_bundles(wildcards.suite).values()]


def suite_bundle_code(wildcards):
    """Code the whole bundle depends on: shared core, its scenario, every renderer."""
    return _local(code_inputs(_suite_bundle(wildcards).scenario))


def suite_bundle_request(wildcards):
    """CLI flags of the bundle's whole request (scenario, seed, noise profile included)."""
    return _suite_bundle(wildcards).cli_args()


def suite_bundle_parent(wildcards):
    """The generator's --out: it writes <parent>/<bundle id>/."""
    return _suite_bundle(wildcards).parent


def suite_index_spec(wildcards):
    """JSON text: the suite's name, description and its bundles' identities, in order."""
    suite = _suites().suites[wildcards.suite]
    entries = [b.identity() for b in _suite_bundles(wildcards.suite).values()]
    doc = {"suite": wildcards.suite, "description": suite.description, "bundles": entries}
    return json.dumps(doc, sort_keys=True)
