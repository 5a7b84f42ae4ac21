#!/usr/bin/env bash
# A throw-away single-node SLURM cluster on this machine (localhost only), for the tests
# marked `slurm` (tests/workflow/test_slurm.py) and for trying the Slurm profile by hand.
#
# Usage: scripts/local_slurm.sh install      install Debian's slurm-wlm + munge if missing
#        scripts/local_slurm.sh start DIR    install if missing, write DIR/slurm.conf, start
#                                            munged, slurmctld and slurmd with every socket,
#                                            pid, log and state file under DIR, wait until
#                                            `sinfo` shows the node idle; prints the line
#                                            `SLURM_CONF=DIR/slurm.conf` (export it to use
#                                            sbatch/sinfo/snakemake --executor slurm)
#        scripts/local_slurm.sh stop DIR     stop the daemons started in DIR (by their pid
#                                            files, nothing else) and leave DIR for reading
#
# Needs root (the daemons run as root, SlurmUser=root) and, to install, apt-get.
# Everything lives in DIR (a private munge key and socket, state, logs, free TCP ports
# picked at start) but one link: /etc/slurm/slurm.conf -> DIR/slurm.conf. Snakemake's
# job-step plugin runs each job under `srun` with every SLURM_* variable but the job's
# identity removed (SLURM_CONF too), so srun inside a job reads the standard path, as on
# a real cluster node. Hence one local cluster per machine at a time: `start` refuses
# while another one's slurmctld runs, and refuses (exit 3) when /etc/slurm/slurm.conf
# is a real file (this machine belongs to a cluster: leave it alone). `stop` removes
# the link if it still points into DIR.
# Exit status: 0 ok; 3 cannot run here (not root, no apt-get, RCA_SKIP_APT=1 with the
# packages missing, a real /etc/slurm/slurm.conf); 1 anything else (another local
# cluster is running, a daemon did not come up: see DIR/*.log).
# Env: RCA_SKIP_APT=1   never install (exit 3 when the packages are missing)
#      SLURM_START_TIMEOUT=60   seconds to wait for the node to become idle
set -euo pipefail

PACKAGES=(slurm-wlm munge)
BINARIES=(munged mungekey slurmctld slurmd sinfo sbatch squeue scontrol)

note() { printf 'local_slurm: %s\n' "$*" >&2; }
die() { printf 'local_slurm: ERROR: %s\n' "$1" >&2; exit "${2:-1}"; }
cannot() { die "$1" 3; }

missing_binaries() {
    local b
    for b in "${BINARIES[@]}"; do
        command -v "$b" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$b" \
            >/dev/null 2>&1 || printf '%s\n' "$b"
    done
}

install_packages() {
    export PATH="$PATH:/usr/sbin:/sbin"
    [[ -z "$(missing_binaries)" ]] && return 0
    [[ "${RCA_SKIP_APT:-}" == 1 ]] \
        && cannot "RCA_SKIP_APT=1 and SLURM is not installed (apt-get install ${PACKAGES[*]})"
    [[ "$(id -u)" == 0 ]] || cannot "SLURM is not installed and installing it needs root"
    command -v apt-get >/dev/null 2>&1 \
        || cannot "SLURM is not installed and there is no apt-get (install ${PACKAGES[*]})"
    note "installing Debian packages: ${PACKAGES[*]}"
    local log
    log="$(mktemp -t local_slurm-apt.XXXXXX)"
    # Another apt-get may hold the dpkg lock (a concurrent bootstrap): wait for it. Refresh
    # the package lists only when the packages are unknown (a fresh machine).
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -q)
    if ! apt-cache show slurmctld >/dev/null 2>&1; then
        "${apt[@]}" update >"$log" 2>&1 || { tail -n 40 "$log" >&2; die "apt-get update failed"; }
    fi
    # The packages' own init scripts must not start system-wide daemons: policy-rc.d says
    # no for the length of the install (only when the machine has none of its own).
    local policy=/usr/sbin/policy-rc.d added_policy=0
    if [[ ! -e "$policy" ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && added_policy=1
    fi
    local rc=0
    "${apt[@]}" install -y --no-install-recommends "${PACKAGES[@]}" >"$log" 2>&1 || rc=$?
    ((added_policy)) && rm -f "$policy"
    if ((rc)); then
        tail -n 40 "$log" >&2
        rm -f "$log"
        die "apt-get install ${PACKAGES[*]} failed"
    fi
    rm -f "$log"
    local still
    still="$(missing_binaries | tr '\n' ' ')"
    [[ -z "$still" ]] || die "still missing after apt-get install: $still"
}

free_port() {
    python3 - <<'EOF'
import socket
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
EOF
}

pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

ETC_CONF=/etc/slurm/slurm.conf

claim_etc_conf() {  # $1: DIR; link /etc/slurm/slurm.conf to DIR/slurm.conf
    local dir="$1" target
    if [[ -L "$ETC_CONF" ]]; then
        target="$(readlink "$ETC_CONF")"
        if [[ "$target" != "$dir/slurm.conf" ]]; then
            if pid_alive "$(dirname "$target")/slurmctld.pid"; then
                die "another local cluster runs in $(dirname "$target") (stop it: $0 stop $(dirname "$target"))"
            fi
            grep -q '^# Written by scripts/local_slurm.sh' "$target" 2>/dev/null \
                || [[ ! -e "$target" ]] \
                || cannot "$ETC_CONF links to $target, not a local_slurm.sh config: leaving it alone"
            rm -f "$ETC_CONF"  # left by a cluster that was never stopped
        fi
    elif [[ -e "$ETC_CONF" ]]; then
        cannot "this machine has its own $ETC_CONF (part of a real cluster?): leaving it alone"
    fi
    mkdir -p "$(dirname "$ETC_CONF")"
    ln -sfn "$dir/slurm.conf" "$ETC_CONF"
}

release_etc_conf() {  # $1: DIR
    if [[ -L "$ETC_CONF" && "$(readlink "$ETC_CONF")" == "$1/slurm.conf" ]]; then
        rm -f "$ETC_CONF"
    fi
}

wait_for() {  # $1: seconds, $2: what, rest: command that succeeds when ready
    local limit="$1" what="$2"
    shift 2
    local deadline=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.2
    done
}

node_idle() {
    [[ "$(sinfo -h -N -n "$NODE" -o %T 2>/dev/null)" == idle ]]
}

start() {
    local dir="$1"
    [[ "$(id -u)" == 0 ]] || cannot "the local SLURM daemons run as root (SlurmUser=root)"
    install_packages
    export PATH="$PATH:/usr/sbin:/sbin"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    chmod 700 "$dir"
    if pid_alive "$dir/slurmctld.pid" || pid_alive "$dir/slurmd.pid"; then
        die "daemons from an earlier start are still running in $dir (stop them first)"
    fi
    # Refuse early (before any daemon starts) if the standard config path is taken.
    [[ ! -e "$ETC_CONF" || -L "$ETC_CONF" ]] \
        || cannot "this machine has its own $ETC_CONF (part of a real cluster?): leaving it alone"
    mkdir -p "$dir/munge" "$dir/state" "$dir/spool"
    # A start that fails half-way stops what it started.
    STARTED=0
    trap '((STARTED)) || stop "$dir"' EXIT
    chmod 700 "$dir/munge"

    # munge: a private key and socket, so a system munged (if any) is left alone.
    [[ -f "$dir/munge/munge.key" ]] || mungekey --create --keyfile="$dir/munge/munge.key"
    chmod 600 "$dir/munge/munge.key"
    munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
        --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" \
        --seed-file="$dir/munge/munged.seed" \
        || die "munged did not start (see $dir/munged.log)"
    wait_for 10 munged test -S "$dir/munge/munge.socket" || die "munged socket never appeared"

    # The node as slurmd sees this machine: real hostname, CPUs, cores and memory.
    NODE="$(hostname -s)"
    local node_line mem
    node_line="$(slurmd -C | head -n 1)"
    [[ "$node_line" == NodeName=* ]] || die "slurmd -C printed no node line: $node_line"
    mem="$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node_line")"
    # Keep some memory for the OS; SLURM refuses a node claiming more than it has.
    node_line="$(sed "s/^NodeName=[^ ]*/NodeName=$NODE/; s/RealMemory=[0-9]*/RealMemory=$((mem * 9 / 10))/" <<<"$node_line")"

    cat >"$dir/slurm.conf" <<EOF
# Written by scripts/local_slurm.sh: a single-node cluster on $NODE, state under $dir.
ClusterName=rca-local
SlurmctldHost=$NODE
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups (containers often have none to give): plain process tracking.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# Finished jobs stay visible to squeue for 10 minutes (no accounting database here).
MinJobAge=600
KillWait=5
InactiveLimit=0
$node_line State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF="$dir/slurm.conf"
    claim_etc_conf "$dir"

    slurmctld -f "$SLURM_CONF" -i || die "slurmctld did not start (see $dir/slurmctld.log)"
    wait_for 20 slurmctld scontrol ping \
        || die "slurmctld does not answer (see $dir/slurmctld.log)"
    slurmd -f "$SLURM_CONF" -N "$NODE" || die "slurmd did not start (see $dir/slurmd.log)"
    if ! wait_for "${SLURM_START_TIMEOUT:-60}" "node idle" node_idle; then
        sinfo -N -l >&2 || true
        tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
        die "node $NODE never became idle"
    fi
    STARTED=1
    note "node $NODE idle ($dir)"
    printf 'SLURM_CONF=%s\n' "$SLURM_CONF"
}

stop_pid() {  # $1: pid file, $2: name
    local pidfile="$1" pid i
    [[ -f "$pidfile" ]] || return 0
    pid="$(cat "$pidfile")"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            note "$2 ($pid) ignored SIGTERM; sending SIGKILL"
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pidfile"
}

stop() {
    local dir="$1"
    [[ -d "$dir" ]] || return 0
    # slurmd first (it kills the jobs it runs), then the controller, then munge.
    stop_pid "$dir/slurmd.pid" slurmd
    stop_pid "$dir/slurmctld.pid" slurmctld
    stop_pid "$dir/munged.pid" munged
    release_etc_conf "$dir"
}

case "${1:-}" in
    install) install_packages ;;
    start) [[ $# == 2 ]] || die "usage: $0 start DIR"; start "$2" ;;
    stop) [[ $# == 2 ]] || die "usage: $0 stop DIR"; stop "$2" ;;
    -h | --help) sed -n '2,29p' "$0" ;;
    *) die "usage: $0 install | start DIR | stop DIR (try --help)" ;;
esac
