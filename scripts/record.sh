#!/usr/bin/env bash
# Record a real program with Valgrind's Lackey and import it as a vmreplay trace.
#
#   scripts/record.sh [OPTIONS] CMD [ARGS...] -o OUT.vmt.gz
#   scripts/record.sh [OPTIONS] -o OUT.vmt.gz -- CMD [ARGS...]
#
# Options (before CMD):
#   -o FILE          the trace to write (its name picks the format, as for vmreplay convert)
#   --keep-logs DIR  keep the raw logs (Lackey logs + Valgrind's stderr) in DIR
#   --merge          pass --merge to the importer
#   --resident       pass --resident to the importer
#   --accept-partial exit 0 even if some program's log was lost (the trace is written either
#                    way; without this option a partial recording exits 65)
#
# Environment: VMREPLAY (the vmreplay binary), VALGRIND (the valgrind launcher).
# How it works and what it cannot do: docs/recording.md.
set -euo pipefail

me=$(basename "$0")
repo=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "$me: $*" >&2; exit 64; }
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 64; }

out=""
keep=""
import_flags=()
accept_partial=""
while [ $# -gt 0 ]; do
    case "$1" in
        -o) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
        --keep-logs) [ $# -ge 2 ] || usage; keep=$2; shift 2 ;;
        --merge|--resident) import_flags+=("$1"); shift ;;
        --accept-partial) accept_partial=1; shift ;;
        -h|--help) usage ;;
        --) shift; break ;;
        *) break ;;
    esac
done
# The trailing form: CMD ARGS... -o OUT (the last two words).
if [ -z "$out" ] && [ $# -ge 3 ] && [ "${*: -2:1}" = "-o" ]; then
    out=${*: -1}
    set -- "${@:1:$#-2}"
fi
[ -n "$out" ] || usage
[ $# -ge 1 ] || usage
case "$out" in /*) ;; -) ;; *) out="$PWD/$out" ;; esac
start_dir=$PWD

# Valgrind: installed, or installed now (Debian/Ubuntu).
valgrind=${VALGRIND:-valgrind}
if ! command -v "$valgrind" >/dev/null 2>&1; then
    echo "$me: valgrind not found; installing it with apt-get" >&2
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get install -y valgrind >&2 || { echo "$me: cannot install valgrind" >&2; exit 69; }
fi

# vmreplay: $VMREPLAY, this checkout's release build, one on PATH that can import, or a release
# build made now.
vmreplay=${VMREPLAY:-}
if [ -z "$vmreplay" ]; then
    if [ -x "$repo/.build/release/vmreplay" ]; then
        vmreplay="$repo/.build/release/vmreplay"
    elif command -v vmreplay >/dev/null 2>&1 && vmreplay import lackey --help >/dev/null 2>&1; then
        vmreplay=$(command -v vmreplay)
    else
        echo "$me: building vmreplay (swift build -c release)" >&2
        (cd "$repo" && swift build -c release --product vmreplay >&2)
        vmreplay="$repo/.build/release/vmreplay"
    fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmrecord.XXXXXX")
reader=""
watcher=""
cleanup() {
    if [ -n "$reader" ]; then kill "$reader" 2>/dev/null || true; fi
    if [ -n "$watcher" ]; then kill "$watcher" 2>/dev/null || true; fi
    if [ -n "$keep" ]; then
        mkdir -p "$keep" && cp -p "$tmp"/*.log "$tmp"/*.txt "$keep"/ 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# Logs go to $tmp/lk.PID.N.log. A forked child reopens its own file (lk.CHILD.2.log) and, once it
# execs, the new program writes lk.CHILD.1.log: nothing is lost. Valgrind reuses a pid's name
# after an exec, though, so the first process's log is a named pipe whose reader appends every
# program the first process runs to one file (docs/recording.md).
mkfifo "$tmp/go.fifo"
(
    mkfifo "$tmp/lk.$BASHPID.1.log"
    read -r _ < "$tmp/go.fifo"
    exec "$valgrind" --tool=lackey --trace-mem=yes --trace-syscalls=yes --trace-children=yes \
        --vgdb=no -d --log-file="$tmp/lk.%p.%n.log" "$@" 2> "$tmp/valgrind-stderr.txt"
) &
root=$!
exec 3> "$tmp/go.fifo"          # returns once the subshell has made its pipe and waits
fifo="$tmp/lk.$root.1.log"
# The reader holds the pipe open for writing too, so it sees no end of file between the
# programs (at an exec the old Valgrind closes the pipe before the new one opens it); it stops
# at the end marker written once the first process is gone.
marker='@@vmrecord-end-of-log@@'
( exec 5<> "$fifo"; sed -n "/^$marker\$/q;p" <&5 > "$tmp/root.log" ) &
reader=$!

# Every other process that execs twice (a `#!/usr/bin/env bash` script run by a forked child:
# env, then bash) would have its second program reopen, and truncate, lk.PID.1.log. The
# watcher renames each new lk.PID.1.log as soon as it appears (the Valgrind that writes it
# keeps its descriptor), so the next exec makes a fresh file. Names carry a sequence number,
# so the programs of one pid sort in the order they ran. Valgrind takes far longer to start a
# program than the 5 ms between two looks; a log that is lost all the same is reported by the
# importer and makes this script exit 65.
seq_file="$tmp/exec-seq"
rename_exec_logs() {
    local f n
    n=$(cat "$seq_file" 2>/dev/null || echo 0)
    for f in "$tmp"/lk.*.1.log; do
        [ -f "$f" ] && [ ! -p "$f" ] || continue
        n=$((n + 1))
        mv -n "$f" "${f%.1.log}.x$(printf '%06d' "$n").log" || true
    done
    echo "$n" > "$seq_file"
}
mkfifo "$tmp/tick.fifo"
(
    exec 6<> "$tmp/tick.fifo"
    # VMRECORD_NO_RENAME=1 turns the watcher off (the tests use it to lose a log on purpose).
    [ -z "${VMRECORD_NO_RENAME:-}" ] || exit 0
    while :; do
        rename_exec_logs
        read -r -t 0.005 -u 6 _ || true
    done
) &
watcher=$!
echo go >&3
exec 3>&-

status=0
wait "$root" || status=$?
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
watcher=""
rename_exec_logs
printf '\n%s\n' "$marker" > "$fifo"
wait "$reader" || true
reader=""
rm -f "$fifo" "$tmp/go.fifo" "$tmp/tick.fifo"
mv "$tmp/root.log" "$fifo"

# The program's own standard error went to the same file as Valgrind's debug output.
grep -av -E '^--[0-9]+:[0-9]+:' "$tmp/valgrind-stderr.txt" >&2 || true
if ! grep -q -m1 -a -E '^==[0-9]+== Command: ' "$fifo"; then
    echo "$me: valgrind did not run the program (exit status $status)" >&2
    exit $(( status != 0 ? status : 70 ))
fi
if [ "$status" -ne 0 ]; then
    echo "$me: note: the program exited with status $status" >&2
fi

# Byte order keeps a pid's renamed programs in the order they ran.
logs=()
while IFS= read -r f; do logs+=("$tmp/$f"); done < <(cd "$tmp" && LC_ALL=C ls -1 lk.*.log | LC_ALL=C sort)
import_status=0
"$vmreplay" import lackey "${logs[@]}" --layout "$tmp/valgrind-stderr.txt" --cwd "$start_dir" \
    ${import_flags[@]+"${import_flags[@]}"} -o "$out" 2> "$tmp/import-stderr.txt" || import_status=$?
cat "$tmp/import-stderr.txt" >&2
[ "$import_status" -eq 0 ] || exit "$import_status"
if grep -q '^vmreplay: warning: partial recording' "$tmp/import-stderr.txt"; then
    if [ -z "$accept_partial" ]; then
        echo "$me: the recording is partial: some program's log was lost (above); $out was written," \
             "but this exits 65 unless --accept-partial is given" >&2
        exit 65
    fi
    echo "$me: note: partial recording accepted (--accept-partial)" >&2
fi
