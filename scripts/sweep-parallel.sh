#!/usr/bin/env bash
# A sweep over a corpus run through GNU parallel (Debian package `parallel`): one shard per job,
# then `vmreplay merge`. The result is byte for byte what the one-process sweep prints.
#
#   scripts/sweep-parallel.sh [-n SHARDS] [-j SLOTS] [-o RESULT] [--plot FILE.svg] SWEEP-ARGS...
#   scripts/sweep-parallel.sh -n 32 -o study.csv traces/ -s vm.prefault_pages=0..64:x2 --format csv
#
# SLOTS (shards running at once) defaults to the number of cores, SHARDS to 4 x SLOTS: shards
# are cut by trace size, but a trace's cost per byte varies (fork-heavy traces cost 10x more),
# so more shards than slots let parallel even the load out. Each shard replays with --jobs 1.
# Options for parallel itself go in $PARALLEL, which parallel reads: to spread the shards over
# ssh hosts that see the same paths (vmreplay and the traces, e.g. on NFS), with -j per host:
#   PARALLEL='--sshlogin 8/host1,8/host2 --workdir .' scripts/sweep-parallel.sh -n 64 ...
# The shards' partial results come back on standard output (over ssh too) and are merged here.
# $VMREPLAY names the binary (default: vmreplay on the PATH, else this checkout's release build).
set -euo pipefail
slots=$(nproc)
shards=""
output=""
plot=""
while [ $# -gt 0 ]; do
    case "$1" in
        -n) shards=$2; shift 2 ;;
        -j) slots=$2; shift 2 ;;
        -o) output=$2; shift 2 ;;
        --plot) plot=$2; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
    esac
done
shards=${shards:-$((4 * slots))}
[ $# -gt 0 ] || { echo "sweep-parallel.sh: give the sweep's traces and -s settings (--help)" >&2; exit 64; }
command -v parallel >/dev/null || { echo "sweep-parallel.sh: GNU parallel is not installed (apt-get install parallel)" >&2; exit 69; }
bin=${VMREPLAY:-$(command -v vmreplay || echo "$(cd "$(dirname "$0")/.." && pwd)/.build/release/vmreplay")}
# parallel runs a job with $SHELL where it cannot tell the shell itself (its worker on an ssh
# host, when the --ssh command passes the environment on): with SHELL unset (cron, CI) such a
# job never starts and parallel still exits 0 with no output.
export SHELL="${SHELL:-/bin/sh}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# -q quotes the command for the shell (remote ones too); --halt stops at the first failed shard.
seq 1 "$shards" | parallel -q --will-cite --halt now,fail=1 -j "$slots" \
    "$bin" sweep "$@" --jobs 1 --shard "{}/$shards" > "$work/parts.jsonl"
"$bin" merge "$work/parts.jsonl" ${output:+-o "$output"} ${plot:+--plot "$plot"}
