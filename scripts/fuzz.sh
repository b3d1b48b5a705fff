#!/usr/bin/env bash
# libFuzzer targets for vmreplay (docs/fuzzing.md).
#
#   scripts/fuzz.sh TARGET [SECONDS] [LIBFUZZER-ARGS...]   build TARGET and fuzz it (default 600 s)
#   scripts/fuzz.sh build [TARGET...]                        only build (all targets by default)
#   scripts/fuzz.sh run TARGET FILE...                       run inputs once (reproduce a crash)
#   scripts/fuzz.sh smoke                                    build every target and run each over
#                                                            its seed corpus once (CI: the targets
#                                                            keep compiling and their properties hold)
#   scripts/fuzz.sh list                                     the targets
#
# Targets: text, binary, binary-gzip, lackey, replay, check (Fuzz/Targets/*.swift). Each is built with
# `swiftc -sanitize=fuzzer,address` from the module sources directly (SwiftPM cannot add the
# fuzzer entry point without a target in Package.swift), into .build-fuzz/. The fuzzer's
# working corpus is .build-fuzz/corpus/TARGET, seeded from Fuzz/corpus/TARGET (read only);
# crashes, leaks and timeouts land in .build-fuzz/artifacts/TARGET/. A finding becomes a file
# under Fuzz/regressions/ that FuzzRegressionTests replays (see docs/fuzzing.md).
#
# Environment: FUZZ_OPT (optimisation, default -O).
set -euo pipefail
cd "$(dirname "$0")/.."
B=.build-fuzz
targets=(text binary binary-gzip lackey replay check)
mkdir -p "$B/modules" "$B/obj"

san=(-sanitize=fuzzer,address)
common=(${FUZZ_OPT:--O} -g -parse-as-library -enable-testing -swift-version 5 -package-name vmreplay
        -I "$B/modules" -I Sources/CZlib)

# newer_than OUT SRC...: true when OUT is missing or older than any SRC.
stale() {
    local out=$1; shift
    [ -e "$out" ] || return 0
    for f in "$@"; do [ "$f" -nt "$out" ] && return 0; done
    return 1
}

# module NAME: compiles Sources/NAME/*.swift into one object and a module for the targets.
module() {
    local name=$1
    local srcs=(Sources/"$name"/*.swift)
    local obj="$B/obj/$name.o"
    if stale "$obj" "${srcs[@]}" "$0" || stale "$obj" $(ls "$B"/modules/*.swiftmodule 2>/dev/null | grep -v "/$name.swiftmodule"); then
        echo "fuzz.sh: compiling $name" >&2
        swiftc "${san[@]}" "${common[@]}" -module-name "$name" -wmo -c "${srcs[@]}" -o "$obj" \
            -emit-module -emit-module-path "$B/modules/$name.swiftmodule"
    fi
}

deps_of() {
    case $1 in
        replay|check) echo "X86MMU VMKernel VMTrace VMReplay" ;;
        lackey) echo "VMTrace VMTraceLackey" ;;
        *) echo "VMTrace" ;;
    esac
}

build() {
    local t=$1
    [ -f "Fuzz/Targets/$t.swift" ] || { echo "fuzz.sh: no target '$t' (try: ${targets[*]})" >&2; exit 64; }
    local mods; mods=$(deps_of "$t")
    for m in $mods; do module "$m"; done
    local objs=()
    for m in $mods; do objs+=("$B/obj/$m.o"); done
    local bin="$B/fuzz-$t"
    if stale "$bin" "Fuzz/Targets/$t.swift" Fuzz/Support/*.swift "${objs[@]}"; then
        echo "fuzz.sh: linking $bin" >&2
        swiftc "${san[@]}" "${common[@]}" -module-name "Fuzz_${t//-/_}" \
            "Fuzz/Targets/$t.swift" Fuzz/Support/*.swift "${objs[@]}" -lz -o "$bin" \
            -Xlinker --no-warn-mismatch 2> >(grep -v "Cannot export local symbol" >&2)
    fi
}

# leaks TARGET: the engine's objects form reference cycles by design (Fuzz/Targets/replay.swift);
# unreachable ones (an unmapped device object and its pages) still leak, and the check target
# does not cut them at all: no leak report for the targets that run the engine.
extra=()
leaks() {
    extra=()
    if [ "$1" = replay ] || [ "$1" = check ]; then
        extra=(-detect_leaks=0)
        export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
    fi
}

case "${1:-}" in
    ""|-h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    list) printf '%s\n' "${targets[@]}"; exit 0 ;;
    build)
        shift
        for t in "${@:-${targets[@]}}"; do build "$t"; done
        exit 0 ;;
    run)
        t=$2; shift 2
        build "$t"
        leaks "$t"
        SWIFT_BACKTRACE=enable=no exec "$B/fuzz-$t" -runs=1 ${extra[@]+"${extra[@]}"} "$@" ;;
    smoke)
        for t in "${targets[@]}"; do build "$t"; done
        for t in "${targets[@]}"; do
            leaks "$t"
            mapfile -t seeds < <(find "Fuzz/corpus/$t" -type f | sort)
            start=$(date +%s)
            if ! SWIFT_BACKTRACE=enable=no "$B/fuzz-$t" -runs=1 ${extra[@]+"${extra[@]}"} "${seeds[@]}" \
                    > "$B/smoke-$t.log" 2>&1; then
                tail -n 30 "$B/smoke-$t.log" >&2
                echo "fuzz.sh smoke: $t failed on its seed corpus (log: $B/smoke-$t.log)" >&2
                exit 1
            fi
            echo "fuzz.sh smoke: $t: ${#seeds[@]} seeds ok ($(( $(date +%s) - start )) s)"
        done
        exit 0 ;;
esac

t=$1
seconds=${2:-600}
shift; [ $# -gt 0 ] && shift
build "$t"
mkdir -p "$B/corpus/$t" "$B/artifacts/$t" "Fuzz/corpus/$t"
dict=()
[ -f "Fuzz/dict/$t.dict" ] && dict=(-dict="Fuzz/dict/$t.dict")
maxlen=4096
[ "$t" = lackey ] && maxlen=16384
leaks "$t"
# Swift's own crash backtracer would read wild addresses under ASan after a finding.
export SWIFT_BACKTRACE=enable=no
exec "$B/fuzz-$t" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=4096 -max_len="$maxlen" \
    -print_final_stats=1 -artifact_prefix="$B/artifacts/$t/" ${dict[@]+"${dict[@]}"} ${extra[@]+"${extra[@]}"} "$@" \
    "$B/corpus/$t" "Fuzz/corpus/$t"
