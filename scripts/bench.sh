#!/usr/bin/env bash
# The performance benchmark (release build). Generates once, and caches under bench-cache/, a
# seeded trace of BENCH_ACCESSES (default 100M) accesses with realistic locality, forks and file
# mappings, in the binary gzip form; then times side by side:
#   gzip -dc TRACE > /dev/null          the physical limit: inflating the trace
#   vmreplay replay --decode-only       inflate + parse every event, no simulation
#   vmreplay replay                     the default replay
#   vmreplay sweep (8 prefault values)  one decode, 8 engines
# and then the fault path, as users meet it (traces cached under bench-cache/ too):
#   vmreplay replay of `gen seq-anon --size 8G --stride 4K`   2.1M zero-fill faults
#   scripts/native-fault-loop.c          the same first-touch loop on the real kernel (1 GiB
#                                        mapped and touched once a 4 KiB page, 8 times), built
#                                        with the system C compiler (cc, else gcc, else clang;
#                                        without one the native ratio is skipped, said so)
#   vmreplay replay of `gen fork-server --workers 64 --heap-size 256M`   COW-heavy forks
# with the peak resident memory of each (/usr/bin/time -v), prints every figure the performance
# issues set targets for, each with its target and ok/MISSED, and writes them to bench.json
# (compare with an earlier run's file): the fault-path figures in its "fault_path" object, the
# targets in "targets" (ratios are upper bounds; keys ending _min are lower bounds, _max upper).
#   faults/s        vm.stats.vm.v_vm_faults of the seq-anon replay / its wall seconds
#   x native        those faults/s / the native loop's faults/s (timed inside the C program)
#   B/page          (seq-anon replay's peak RSS - 40 MiB) / its mem.peak_resident_pages
#   traps/s         trap.page_faults of the fork-server replay / its wall seconds
#
# Each command runs BENCH_RUNS times (default 3) and the fastest run counts: on the shared
# 2-core VM this was developed on, the same command's wall time varies by up to 40% from run
# to run (other tenants), and the minimum is the repeatable figure. Peak RSS is the largest.
#
#   scripts/bench.sh                     # 100M accesses, then the fault path
#   BENCH_ACCESSES=10M scripts/bench.sh  # a quicker look
#   BENCH_RUNS=1 scripts/bench.sh        # one run each
#   BENCH_SKIP_MAIN=1 scripts/bench.sh   # the fault path only (bench.json then holds only it)
#   BENCH_SKIP_FAULTS=1 scripts/bench.sh # the 100M trace only, as before
#   BENCH_CC=clang scripts/bench.sh      # the C compiler for the native loop
# BENCH_SEED (default 2026) seeds the 100M trace; BENCH_JSON (default bench.json) names the output.
set -euo pipefail
cd "$(dirname "$0")/.."
accesses=${BENCH_ACCESSES:-100M}
seed=${BENCH_SEED:-2026}
out=${BENCH_JSON:-bench.json}
runs=${BENCH_RUNS:-3}
skip_main=${BENCH_SKIP_MAIN:-0}
skip_faults=${BENCH_SKIP_FAULTS:-0}
if [ "$skip_main" = 1 ] && [ "$skip_faults" = 1 ]; then
    echo "bench: BENCH_SKIP_MAIN=1 and BENCH_SKIP_FAULTS=1 leave nothing to run" >&2
    exit 64
fi
mkdir -p bench-cache
swift build -c release --product vmreplay >/dev/null
bin=.build/release/vmreplay

# cached PATH WHAT GEN-ARGS...: generate PATH with `vmreplay gen GEN-ARGS` unless it exists.
cached() {
    local path=$1 what=$2; shift 2
    if [ ! -f "$path" ]; then
        echo "bench: generating $path ($what; cached for later runs)" >&2
        "$bin" gen "$@" -o "$path"
    fi
}

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

trace="" seq_trace="" fork_trace="" native="" native_cc=""
if [ "$skip_main" != 1 ]; then
    trace=bench-cache/bench-$accesses-$seed.vmt.gz
    cached "$trace" "$accesses accesses, seed $seed" \
        synthetic --accesses "$accesses" --seed "$seed" --processes 4 --forks 4
fi
if [ "$skip_faults" != 1 ]; then
    seq_trace=bench-cache/seq-anon-8G-4K.vmt.gz
    fork_trace=bench-cache/fork-server-64w-256M.vmt.gz
    cached "$seq_trace" "8 GiB first touch, one page in 4 KiB" seq-anon --size 8G --stride 4K
    cached "$fork_trace" "64 workers, 256 MiB heap" fork-server --workers 64 --heap-size 256M
    for candidate in ${BENCH_CC:-cc gcc clang}; do
        if command -v "$candidate" >/dev/null; then native_cc=$candidate; break; fi
    done
    if [ -z "$native_cc" ]; then
        echo "bench: no C compiler (${BENCH_CC:-cc, gcc or clang}): the native fault loop and its ratio are skipped" >&2
    elif ! "$native_cc" -O2 -o bench-cache/native-fault-loop scripts/native-fault-loop.c; then
        echo "bench: $native_cc could not build scripts/native-fault-loop.c: the native ratio is skipped" >&2
        native_cc=""
    fi
fi

results=$(
    if [ -n "$trace" ]; then
        run gzip sh -c "gzip -dc '$trace' > /dev/null"
        run decode "$bin" replay "$trace" --decode-only --no-progress
        run replay "$bin" replay "$trace" --format sysctl --no-progress -o bench-cache/replay.txt
        run sweep "$bin" sweep "$trace" -s vm.prefault_pages=0,1,2,4,8,16,32,64 --format csv --no-progress
    fi
    if [ -n "$seq_trace" ]; then
        run seq-anon "$bin" replay "$seq_trace" --format sysctl --no-progress -o bench-cache/seq-anon.txt
        run fork-server "$bin" replay "$fork_trace" --format sysctl --no-progress -o bench-cache/fork-server.txt
    fi
)
if [ -n "$native_cc" ]; then native=$(bench-cache/native-fault-loop "$runs"); fi

BENCH_RESULTS="$results" BENCH_RUNS="$runs" BENCH_NATIVE="$native" BENCH_NATIVE_CC="$native_cc" \
    python3 - "$out" "$trace" "$seq_trace" "$fork_trace" <<'PY'
import json, sys, os
out, trace, seq_trace, fork_trace = sys.argv[1:5]
MIB = 2**20
rows = {}
for line in os.environ["BENCH_RESULTS"].split("\n"):
    if line.strip():
        name, wall, rss = line.split()
        rows[name] = {"wall_seconds": float(wall), "peak_rss_kib": int(rss)}
def report(path):
    return dict(l.split(": ", 1) for l in open(path).read().splitlines() if ": " in l)
def check(name, shown, ok, target):
    return f"{name:22} {shown:>10}  (target {target})  {'ok' if ok else 'MISSED'}"
result, targets, lines = {"best_of": int(os.environ["BENCH_RUNS"])}, {}, []

if trace:
    rep = report("bench-cache/replay.txt")
    accesses = int(rep["replay.accesses"]); resident = int(rep["mem.peak_resident_pages"])
    main = {k: rows[k] for k in ("gzip", "decode", "replay", "sweep")}
    wall = {k: v["wall_seconds"] for k, v in main.items()}
    ratios = {
        "decode_vs_gzip": wall["decode"] / wall["gzip"],
        "replay_vs_gzip": wall["replay"] / wall["gzip"],
        "replay_vs_decode": wall["replay"] / wall["decode"],
        "sweep8_vs_replay": wall["sweep"] / wall["replay"],
    }
    rss_budget_kib = (40 * MIB + 128 * resident) / 1024
    targets.update({"decode_vs_gzip": 1.0, "replay_vs_gzip": 1.0, "sweep8_vs_replay": 2.5})
    result.update({
        "trace": os.path.basename(trace), "trace_bytes": os.path.getsize(trace),
        "accesses": accesses, "peak_resident_pages": resident, "runs": main, "ratios": ratios,
        "replay_accesses_per_second": accesses / wall["replay"],
        "replay_rss_budget_kib": rss_budget_kib,
    })
    lines.append(f"trace: {trace} ({result['trace_bytes']/1e6:.1f} MB, {accesses:,} accesses)")
    for key, name in (("decode_vs_gzip", "decode / gzip"), ("replay_vs_gzip", "replay / gzip"),
                      ("sweep8_vs_replay", "sweep8 / replay")):
        lines.append(check(name, f"{ratios[key]:.2f}", ratios[key] <= targets[key], f"<= {targets[key]}"))
    lines.append(f"{'replay / decode':22} {ratios['replay_vs_decode']:10.2f}  (for the record; issue 13 targets replay / gzip instead)")
    rss = main["replay"]["peak_rss_kib"]
    lines.append(f"replay peak RSS {rss/1024:.1f} MiB (budget {rss_budget_kib/1024:.1f} MiB = 40 MiB + 128 B x {resident:,} resident pages)  {'ok' if rss <= rss_budget_kib else 'MISSED'}")
    lines.append(f"replay speed: {result['replay_accesses_per_second']/1e6:.1f} M accesses/s")

if seq_trace:
    seq, fork = rows["seq-anon"], rows["fork-server"]
    srep, frep = report("bench-cache/seq-anon.txt"), report("bench-cache/fork-server.txt")
    faults = int(srep["vm.stats.vm.v_vm_faults"]); resident = int(srep["mem.peak_resident_pages"])
    faults_per_second = faults / seq["wall_seconds"]
    bytes_per_page = (seq["peak_rss_kib"] * 1024 - 40 * MIB) / resident
    traps = int(frep["trap.page_faults"])
    traps_per_second = traps / fork["wall_seconds"]
    native, native_cc = os.environ["BENCH_NATIVE"], os.environ["BENCH_NATIVE_CC"]
    if native:
        native = {k: float(v) for k, v in (f.split("=") for f in native.split())}
        native = {"compiler": native_cc, "faults": int(native["faults"]),
                  "wall_seconds": native["seconds"], "minflt": int(native["minflt"]),
                  "faults_per_second": native["faults_per_second"]}
        vs_native = faults_per_second / native["faults_per_second"]
    else:
        native = {"skipped": "no C compiler could build scripts/native-fault-loop.c"}
        vs_native = None
    targets.update({"seq_anon_faults_per_second_min": 5e6, "seq_anon_vs_native_min": 12.0,
                    "bytes_per_resident_page_max": 96.0, "fork_server_traps_per_second_min": 2e6})
    result["fault_path"] = {
        "seq_anon": {
            "trace": os.path.basename(seq_trace), "trace_bytes": os.path.getsize(seq_trace),
            **seq, "accesses": int(srep["replay.accesses"]), "v_vm_faults": faults,
            "v_zfod": int(srep["vm.stats.vm.v_zfod"]), "peak_resident_pages": resident,
            "faults_per_second": faults_per_second, "bytes_per_resident_page": bytes_per_page,
        },
        "native": native, "seq_anon_vs_native": vs_native,
        "fork_server": {
            "trace": os.path.basename(fork_trace), "trace_bytes": os.path.getsize(fork_trace),
            **fork, "accesses": int(frep["replay.accesses"]), "trap_page_faults": traps,
            "v_vm_faults": int(frep["vm.stats.vm.v_vm_faults"]),
            "v_cow_faults": int(frep["vm.stats.vm.v_cow_faults"]),
            "traps_per_second": traps_per_second,
        },
    }
    t = targets
    lines.append(f"seq-anon 8G/4K: {faults:,} v_vm_faults ({int(srep['vm.stats.vm.v_zfod']):,} zero-fill), {resident:,} peak resident pages")
    lines.append(check("faults/s", f"{faults_per_second/1e6:.2f}M", faults_per_second >= t["seq_anon_faults_per_second_min"], ">= 5M"))
    if vs_native is None:
        lines.append(f"{'x native loop':22} {'skipped':>10}  (target >= 12; the native loop was not built)")
    else:
        lines.append(f"native loop ({native_cc} -O2): {native['faults']:,} faults in {native['wall_seconds']:.3f} s = {native['faults_per_second']/1e6:.2f}M faults/s (minflt {native['minflt']:,})")
        lines.append(check("x native loop", f"{vs_native:.2f}", vs_native >= t["seq_anon_vs_native_min"], ">= 12"))
    lines.append(check("B / resident page", f"{bytes_per_page:.1f}", bytes_per_page <= t["bytes_per_resident_page_max"], "<= 96, above 40 MiB"))
    fp = result["fault_path"]["fork_server"]
    lines.append(f"fork-server 64w/256M: {traps:,} traps, {fp['v_cow_faults']:,} v_cow_faults, {fp['v_vm_faults']:,} v_vm_faults")
    lines.append(check("traps/s", f"{traps_per_second/1e6:.2f}M", traps_per_second >= t["fork_server_traps_per_second_min"], ">= 2M"))

result["targets"] = targets
json.dump(result, open(out, "w"), indent=2)
print(f"{'run':12} {'wall s':>8} {'peak RSS MiB':>13}")
for k, v in rows.items():
    print(f"{k:12} {v['wall_seconds']:8.2f} {v['peak_rss_kib']/1024:13.1f}")
print("\n".join(lines))
print(f"wrote {out}")
PY
