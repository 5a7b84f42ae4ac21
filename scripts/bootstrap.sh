#!/usr/bin/env bash
# Set up everything the project needs, idempotently and quietly:
#   * .venv with Python >= 3.11 and `-e .[dev]` pinned by requirements/constraints.txt,
#     reinstalled only when pyproject.toml / the constraints / the interpreter change;
#   * the Debian tools the tests run for real (goaccess, pgbadger; chromium renders the
#     Snakemake report; rsync moves files for the storage-plugin test), if missing.
#     Only the tests need them: `make all` sets up the venv alone (--venv-only), so it
#     works as a normal user on a machine without apt, root or sudo.
#
# Usage: scripts/bootstrap.sh              set up (prints nothing when all is in place)
#        scripts/bootstrap.sh --venv-only  only .venv: what building the bundles needs
#        scripts/bootstrap.sh --refreeze   re-resolve the newest versions and rewrite
#                                          requirements/constraints.txt, then set up
# Env:   PYTHON=python3.12   interpreter used to create .venv (default: python3)
#        RCA_SKIP_APT=1      never touch apt (the realtools tests then skip, or fail under CI)
#        RCA_WITH_SLURM=1    also install Debian's slurm-wlm + munge now (the slurm tests
#                            otherwise install them on first use: scripts/local_slurm.sh)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV=.venv
CONSTRAINTS=requirements/constraints.txt
STAMP="$VENV/.bootstrap-stamp"
CORE_UNBUILT="$VENV/.bootstrap-core-unbuilt"  # the last install could not build the core
APT_PACKAGES=(goaccess pgbadger chromium rsync prometheus)  # package name == binary name
PYTHON="${PYTHON:-python3}"

note() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { printf 'bootstrap: ERROR: %s\n' "$*" >&2; exit 1; }

FREEZE_TMP=""
trap '[[ -z "$FREEZE_TMP" ]] || rm -rf "$FREEZE_TMP"' EXIT

# Run a noisy command with its output kept in a log that is shown only on failure.
quietly() {
    local what="$1"; shift
    local log
    log="$(mktemp -t bootstrap.XXXXXX)"
    if ! "$@" >"$log" 2>&1; then
        printf 'bootstrap: ERROR: %s failed; its output:\n' "$what" >&2
        tail -n 60 "$log" >&2
        rm -f "$log"
        exit 1
    fi
    rm -f "$log"
}

python_ok() {  # $1: interpreter; true when it runs and is >= 3.11
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}

venv_ok() {  # a real virtualenv (never pip-install into a system interpreter) on >= 3.11
    [[ -f "$VENV/pyvenv.cfg" && -x "$VENV/bin/python" ]] \
        && python_ok "$VENV/bin/python" \
        && "$VENV/bin/python" -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)' 2>/dev/null
}

# ---------------------------------------------------------------- interpreter / venv
ensure_venv() {
    venv_ok && return
    command -v "$PYTHON" >/dev/null 2>&1 \
        || die "'$PYTHON' not found; install Python >= 3.11 or set PYTHON=/path/to/python3.11+"
    python_ok "$PYTHON" \
        || die "$("$PYTHON" -V 2>&1) is too old: this project needs Python >= 3.11 (set PYTHON=...)"
    if [[ -e "$VENV" ]]; then
        note "recreating $VENV (not a working Python >= 3.11 virtualenv)"
        rm -rf "$VENV"
    fi
    quietly "creating $VENV" "$PYTHON" -m venv "$VENV"
    venv_ok || die "$PYTHON -m venv did not produce a usable virtualenv in $VENV"
}

# ---------------------------------------------------------------- python packages
pip_install() {
    # PIP_* settings from the environment still apply; only chatter is silenced.
    quietly "pip install $*" env PIP_DISABLE_PIP_VERSION_CHECK=1 \
        "$VENV/bin/python" -m pip install --quiet -c "$CONSTRAINTS" "$@"
}

install_stamp() {
    # Anything that should trigger a reinstall when it changes.
    {
        sha256sum pyproject.toml setup.py rca/seed/_simcore.c "$CONSTRAINTS"
        "$VENV/bin/python" -VV
    } | sha256sum | cut -d' ' -f1
}

ensure_python_deps() {
    [[ -f "$CONSTRAINTS" ]] || die "$CONSTRAINTS is missing (regenerate: $0 --refreeze)"
    local want
    want="$(install_stamp)"
    if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
        # Same inputs; still make sure the entry points were not deleted by hand.
        local tool ok=1
        for tool in pytest ruff mypy snakemake rca-mock; do
            [[ -x "$VENV/bin/$tool" ]] || ok=0
        done
        # The compiled core is built in place (rca/seed/*.so): rebuild it if it went
        # missing (git clean) after the last install built it. An install that could not
        # build it (no working compiler) is not retried on every run: the Python engine
        # writes the same bytes.
        if [[ ! -f "$CORE_UNBUILT" ]] && ! core_built; then
            ok=0
        fi
        ((ok)) && return
    fi
    note "installing Python packages into $VENV (pinned by $CONSTRAINTS)"
    pip_install pip setuptools wheel
    # No build isolation: build with the pinned setuptools already in the venv,
    # not whatever version an isolated build env would fetch today.
    pip_install --no-build-isolation -e '.[dev]'
    printf '%s\n' "$want" >"$STAMP"
    if core_built; then
        rm -f "$CORE_UNBUILT"
    else
        touch "$CORE_UNBUILT"
        note "the compiled simulation core was not built (no working C compiler?); the" \
            "Python engine runs instead (same bytes, about 2x slower). To retry after" \
            "installing one: rm $CORE_UNBUILT && make env"
    fi
}

core_built() {  # the extension imports and matches its source (not stale)
    "$VENV/bin/python" -c 'import sys, rca.seed._sim as s; sys.exit(not s.native_available())' \
        2>/dev/null
}

# ---------------------------------------------------------------- Debian tools
ensure_apt_tools() {
    local missing=() pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        command -v "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    if [[ "${RCA_SKIP_APT:-}" == 1 ]]; then
        note "RCA_SKIP_APT=1: not installing ${missing[*]} (tests marked realtools will skip)"
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 \
        || die "missing ${missing[*]} and no apt-get here; install them by hand or set RCA_SKIP_APT=1"
    local sudo=()
    if [[ "$(id -u)" != 0 ]]; then
        command -v sudo >/dev/null 2>&1 \
            || die "missing ${missing[*]}; need root or sudo to apt-get install them"
        sudo=(sudo)
    fi
    note "installing Debian packages: ${missing[*]}"
    quietly "apt-get update" "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    quietly "apt-get install ${missing[*]}" "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}"
    for pkg in "${missing[@]}"; do
        command -v "$pkg" >/dev/null 2>&1 || die "$pkg still not on PATH after apt-get install"
    done
}

# ---------------------------------------------------------------- --refreeze
refreeze() {
    { command -v "$PYTHON" >/dev/null 2>&1 && python_ok "$PYTHON"; } \
        || die "--refreeze needs Python >= 3.11 as '$PYTHON'"
    local tmp
    tmp="$(mktemp -d -t rca-freeze.XXXXXX)"
    FREEZE_TMP="$tmp"
    note "resolving the newest versions in a scratch venv"
    quietly "creating scratch venv" "$PYTHON" -m venv "$tmp/venv"
    quietly "upgrading pip" "$tmp/venv/bin/python" -m pip install -q -U pip setuptools wheel
    quietly "installing .[dev]" "$tmp/venv/bin/python" -m pip install -q -e '.[dev]'
    mkdir -p "$(dirname "$CONSTRAINTS")"
    {
        echo "# Exact pins for everything in .venv (pip freeze --all --exclude-editable of a fresh"
        echo "# Python $("$tmp/venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])') venv after: pip install -U pip setuptools wheel && pip install -e '.[dev]')."
        echo "# Regenerate: scripts/bootstrap.sh --refreeze"
        "$tmp/venv/bin/python" -m pip freeze --all --exclude-editable --disable-pip-version-check
    } >"$CONSTRAINTS.new"
    mv "$CONSTRAINTS.new" "$CONSTRAINTS"
    note "wrote $CONSTRAINTS"
}

VENV_ONLY=0
for arg in "$@"; do
    case "$arg" in
        --venv-only) VENV_ONLY=1 ;;
        --refreeze) ;;
        -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
        *) die "unknown argument: $arg (try --help)" ;;
    esac
done
for arg in "$@"; do
    [[ "$arg" == --refreeze ]] && refreeze
done

ensure_venv
ensure_python_deps
((VENV_ONLY)) && exit 0
ensure_apt_tools
if [[ "${RCA_WITH_SLURM:-}" == 1 && "${RCA_SKIP_APT:-}" != 1 ]]; then
    bash scripts/local_slurm.sh install
fi
