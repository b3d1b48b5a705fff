#!/usr/bin/env bash
# A sweep over a corpus run as a Slurm job array: task i runs shard i+1 of N
# (--array=0-(N-1), $SLURM_ARRAY_TASK_ID), and a merge job that depends on the whole array
# (--dependency=afterok) joins the parts into the result, byte for byte what the one-process
# sweep prints.
#
#   scripts/sweep-slurm.sh [-n SHARDS] [-o RESULT] [--plot FILE.svg] [--wait] SWEEP-ARGS...
#   scripts/sweep-slurm.sh -n 64 -o study.csv traces/ -s vm.prefault_pages=0..64:x2 --format csv
#
# Paths must be the same on every node (the job runs in this directory): vmreplay, the traces,
# and the work directory ($SWEEP_WORKDIR, default ./vmreplay-sweep.JOB under this directory)
# where the parts, the job scripts and the logs go. Extra sbatch options (partition, time,
# memory, account) go in $SBATCH_ARGS, e.g. SBATCH_ARGS='-p short -t 30 --mem-per-cpu=2G'.
# $SWEEP_JOBS sets each task's --jobs (default 1: one CPU per task).
# --wait blocks until the merge job ends and exits with its status; otherwise the script
# prints the two job ids and returns.
set -euo pipefail
shards=4
output=""
plot=""
wait=""
while [ $# -gt 0 ]; do
    case "$1" in
        -n) shards=$2; shift 2 ;;
        -o) output=$2; shift 2 ;;
        --plot) plot=$2; shift 2 ;;
        --wait) wait=--wait; shift ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
    esac
done
[ $# -gt 0 ] || { echo "sweep-slurm.sh: give the sweep's traces and -s settings (--help)" >&2; exit 64; }
[ -n "$output" ] || { echo "sweep-slurm.sh: -o RESULT is required (the merge job writes it)" >&2; exit 64; }
command -v sbatch >/dev/null || { echo "sweep-slurm.sh: sbatch not found (Slurm client)" >&2; exit 69; }
bin=${VMREPLAY:-$(command -v vmreplay || echo "$(cd "$(dirname "$0")/.." && pwd)/.build/release/vmreplay")}
work=${SWEEP_WORKDIR:-$PWD/vmreplay-sweep.$$}
mkdir -p "$work"
rm -f "$work"/part-*.jsonl
case "$output" in /*) ;; *) output=$PWD/$output ;; esac
case "$plot" in /*|"") ;; *) plot=$PWD/$plot ;; esac
# The job scripts, with every argument quoted for the shell.
{
    echo '#!/bin/bash'
    echo 'set -euo pipefail'
    printf 'exec %q sweep' "$bin"; printf ' %q' "$@"
    printf ' --jobs %q --shard "$((SLURM_ARRAY_TASK_ID + 1))/%q" -o %q/part-"$SLURM_ARRAY_TASK_ID".jsonl\n' \
        "${SWEEP_JOBS:-1}" "$shards" "$work"
} > "$work/shard.sh"
{
    echo '#!/bin/bash'
    echo 'set -euo pipefail'
    printf 'exec %q merge %q/part-*.jsonl -o %q' "$bin" "$work" "$output"
    [ -z "$plot" ] || printf ' --plot %q' "$plot"
    echo
} > "$work/merge.sh"
chmod +x "$work/shard.sh" "$work/merge.sh"
# shellcheck disable=SC2086  # SBATCH_ARGS is a list of options
array=$(sbatch --parsable ${SBATCH_ARGS:-} --job-name=vmreplay-shard --chdir="$PWD" \
    --array="0-$((shards - 1))" --cpus-per-task="${SWEEP_JOBS:-1}" \
    --output="$work/shard-%a.log" "$work/shard.sh")
array=${array%%;*}
# shellcheck disable=SC2086
merge=$(sbatch --parsable ${SBATCH_ARGS:-} --job-name=vmreplay-merge --chdir="$PWD" \
    --dependency="afterok:$array" --kill-on-invalid-dep=yes \
    --output="$work/merge.log" $wait "$work/merge.sh") || {
    status=$?
    echo "sweep-slurm.sh: the merge job failed (exit $status); logs in $work" >&2
    cat "$work/merge.log" >&2 2>/dev/null || true
    exit $status
}
merge=${merge%%;*}
echo "sweep-slurm.sh: shards: job array $array ($shards tasks); merge: job $merge -> $output (work: $work)" >&2
if [ -n "$wait" ]; then
    # A merge cancelled because a shard failed never ran, and sbatch --wait still exits 0.
    state=$(scontrol show job -o "$merge" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 || true)
    if [ "$state" != COMPLETED ]; then
        echo "sweep-slurm.sh: the merge job ended ${state:-in an unknown state}; a shard failed? logs in $work:" >&2
        for log in "$work"/shard-*.log; do
            [ -s "$log" ] && { echo "--- $log" >&2; tail -n 5 "$log" >&2; }
        done
        exit 1
    fi
fi
