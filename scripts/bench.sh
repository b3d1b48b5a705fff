#!/usr/bin/env bash
# The performance benchmark (release build). Generates once, and caches under bench-cache/, a
# seeded trace of BENCH_ACCESSES (default 100M) accesses with realistic locality, forks and file
# mappings, in the binary gzip form; then times side by side:
#   gzip -dc TRACE > /dev/null          the physical limit: inflating the trace
#   vmreplay replay --decode-only       inflate + parse every event, no simulation
#   vmreplay replay                     the default replay
#   vmreplay sweep (8 prefault values)  one decode, 8 engines
# with the peak resident memory of each (/usr/bin/time -v), prints the ratios the performance
# issue sets targets for, and writes them to bench.json (compare with an earlier run's file).
#
# Each command runs BENCH_RUNS times (default 3) and the fastest run counts: on the shared
# 2-core VM this was developed on, the same command's wall time varies by up to 40% from run
# to run (other tenants), and the minimum is the repeatable figure. Peak RSS is the largest.
#
#   scripts/bench.sh                     # 100M accesses
#   BENCH_ACCESSES=10M scripts/bench.sh  # a quicker look
#   BENCH_RUNS=1 scripts/bench.sh        # one run each
set -euo pipefail
cd "$(dirname "$0")/.."
accesses=${BENCH_ACCESSES:-100M}
seed=${BENCH_SEED:-2026}
out=${BENCH_JSON:-bench.json}
runs=${BENCH_RUNS:-3}
mkdir -p bench-cache
swift build -c release --product vmreplay >/dev/null
bin=.build/release/vmreplay
trace=bench-cache/bench-$accesses-$seed.vmt.gz
if [ ! -f "$trace" ]; then
    echo "bench: generating $trace ($accesses accesses, seed $seed; cached for later runs)" >&2
    "$bin" gen synthetic --accesses "$accesses" --seed "$seed" --processes 4 --forks 4 -o "$trace"
fi

# run NAME CMD...: the best wall seconds and the largest peak RSS (KiB) of $runs runs of CMD,
# its stdout discarded.
run() {
    local name=$1; shift
    local log; log=$(mktemp)
    local best="" maxrss=0 i wall rss
    for ((i = 0; i < runs; i++)); do
        /usr/bin/time -v -o "$log" "$@" >/dev/null
        wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$log")
        rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
        if [ -z "$best" ] || awk -v a="$wall" -v b="$best" 'BEGIN {exit !(a < b)}'; then best=$wall; fi
        if [ "$rss" -gt "$maxrss" ]; then maxrss=$rss; fi
    done
    rm -f "$log"
    echo "$name $best $maxrss"
}

results=$(
    run gzip sh -c "gzip -dc '$trace' > /dev/null"
    run decode "$bin" replay "$trace" --decode-only --no-progress
    run replay "$bin" replay "$trace" --format sysctl --no-progress -o bench-cache/replay.txt
    run sweep "$bin" sweep "$trace" -s vm.prefault_pages=0,1,2,4,8,16,32,64 --format csv --no-progress
)
BENCH_RESULTS="$results" BENCH_RUNS="$runs" python3 - "$trace" "$out" bench-cache/replay.txt <<'PY'
import json, sys, os
trace, out, report = sys.argv[1:4]
rows = {}
for line in os.environ["BENCH_RESULTS"].split("\n"):
    if line.strip():
        name, wall, rss = line.split()
        rows[name] = {"wall_seconds": float(wall), "peak_rss_kib": int(rss)}
rep = dict(l.split(": ", 1) for l in open(report).read().splitlines() if ": " in l)
accesses = int(rep["replay.accesses"]); resident = int(rep["mem.peak_resident_pages"])
ratios = {
    "decode_vs_gzip": rows["decode"]["wall_seconds"] / rows["gzip"]["wall_seconds"],
    "replay_vs_decode": rows["replay"]["wall_seconds"] / rows["decode"]["wall_seconds"],
    "sweep8_vs_replay": rows["sweep"]["wall_seconds"] / rows["replay"]["wall_seconds"],
}
rss_budget_kib = (40 * 2**20 + 128 * resident) / 1024
result = {
    "trace": os.path.basename(trace), "trace_bytes": os.path.getsize(trace),
    "accesses": accesses, "peak_resident_pages": resident,
    "best_of": int(os.environ["BENCH_RUNS"]), "runs": rows, "ratios": ratios,
    "replay_accesses_per_second": accesses / rows["replay"]["wall_seconds"],
    "replay_rss_budget_kib": rss_budget_kib,
    "targets": {"decode_vs_gzip": 1.0, "replay_vs_decode": 1.5, "sweep8_vs_replay": 3.0},
}
json.dump(result, open(out, "w"), indent=2)
print(f"trace: {trace} ({result['trace_bytes']/1e6:.1f} MB, {accesses:,} accesses)")
print(f"{'run':8} {'wall s':>8} {'peak RSS MiB':>13}")
for k, v in rows.items():
    print(f"{k:8} {v['wall_seconds']:8.2f} {v['peak_rss_kib']/1024:13.1f}")
def verdict(name, value, target):
    return f"{name:18} {value:6.2f}  (target <= {target})  {'ok' if value <= target else 'MISSED'}"
print(verdict("decode / gzip", ratios["decode_vs_gzip"], 1.0))
print(verdict("replay / decode", ratios["replay_vs_decode"], 1.5))
print(verdict("sweep8 / replay", ratios["sweep8_vs_replay"], 3.0))
rss = rows["replay"]["peak_rss_kib"]
print(f"replay peak RSS {rss/1024:.1f} MiB (budget {rss_budget_kib/1024:.1f} MiB = 40 MiB + 128 B x {resident:,} resident pages)  {'ok' if rss <= rss_budget_kib else 'MISSED'}")
print(f"replay speed: {result['replay_accesses_per_second']/1e6:.1f} M accesses/s")
print(f"wrote {out}")
PY
