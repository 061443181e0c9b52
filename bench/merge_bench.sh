#!/usr/bin/env bash
# bench/merge_bench.sh — what `llp-jobs merge` costs: the wall time and the
# resulting file size of merging 1, 4 and 16 shard stores of 10,000 items
# each (the figures in docs/scale.md). The shard stores are written by
# bench/store_fill.c as a finished llp-summarize run would leave them (a
# ~400-byte summary, a label and a score per item, indexed by FTS5).
#
#   make && bench/merge_bench.sh                  # defaults below
#   ITEMS=10000 SHARDS="1 4 16" REPS=3 SUMMARY_BYTES=400 bench/merge_bench.sh
#
# Prints a Markdown table on stdout; progress goes to stderr. Each merge
# starts from an empty OUT; "again" is merging the same shards into the
# result a second time (adds nothing: the cost of the idempotence checks);
# "into 160k" merges the N shards into an OUT that already holds 160,000
# other items (16 other shards: a store that keeps growing, run after run).
#
# Not for: tests (tests/shard_merge.t checks what merge does, not its speed).
set -euo pipefail
cd "$(dirname "$0")/.."

ITEMS=${ITEMS:-10000}
SHARDS=${SHARDS:-"1 4 16"}
REPS=${REPS:-3}
SUMMARY_BYTES=${SUMMARY_BYTES:-400}
WORK=${WORK:-build/merge_bench}
JOBS=${LLP_BIN:-bin}/llp-jobs
FILL=build/store_fill

[ -x "$JOBS" ] || { echo "merge_bench: $JOBS missing: run make first" >&2; exit 1; }
[ -f build/rel/libllamapipe.a ] || { echo "merge_bench: build/rel/libllamapipe.a missing: run make first" >&2; exit 1; }
if [ ! -x "$FILL" ] || [ bench/store_fill.c -nt "$FILL" ] || [ build/rel/libllamapipe.a -nt "$FILL" ]; then
    cc -std=c11 -D_GNU_SOURCE -O2 -Ilib bench/store_fill.c build/rel/libllamapipe.a \
       -lopenblas -lsqlite3 -lyaml -ljansson -lxxhash -lm -pthread -o "$FILL"
fi

# A private copy of llp-jobs, so that a rebuild of bin/ during the run (make
# in another shell) does not break it halfway.
mkdir -p "$WORK"
cp "$JOBS" "$WORK/llp-jobs"
JOBS=$WORK/llp-jobs

max=0
for n in $SHARDS; do [ "$n" -gt "$max" ] && max=$n; done

# The shard stores, written once and reused while ITEMS and SUMMARY_BYTES
# stay the same: shards 0..max-1 are merged; shards 1000..1015 (other
# record ids) make the 160,000-item store of the "into 160k" column.
SRC="$WORK/shards-$ITEMS-$SUMMARY_BYTES"
mkdir -p "$SRC"
t0=$(date +%s.%N)
written=0
for k in $(seq 0 $((max - 1))) $(seq 1000 1015); do
    if [ ! -s "$SRC/shard-$k.db" ]; then
        written=$((written + 1))
        echo "merge_bench: writing $SRC/shard-$k.db ($ITEMS items)" >&2
        rm -f "$SRC/shard-$k.db.tmp"
        "$FILL" "$SRC/shard-$k.db.tmp" "$k" "$ITEMS" "$SUMMARY_BYTES"
        mv "$SRC/shard-$k.db.tmp" "$SRC/shard-$k.db"
    fi
done
t1=$(date +%s.%N)

secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
size_of() { local s=0 f; for f in "$1" "$1-wal"; do [ -f "$f" ] && s=$((s + $(stat -c %s "$f"))); done; echo "$s"; }
median() { tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
merge_time() {  # OUT SHARD... : seconds of one llp-jobs merge
    local out=$1; shift
    local a b
    a=$(date +%s.%N)
    "$JOBS" -q merge "$out" "$@"
    b=$(date +%s.%N)
    secs "$a" "$b"
}
shard_list() { local k; for k in $(seq 0 $(($1 - 1))); do printf '%s\n' "$SRC/shard-$k.db"; done; }

# 160,000 other items, the starting point of the "into 160k" column.
BASE="$WORK/base160k.db"
rm -f "$BASE" "$BASE-wal" "$BASE-shm"
mapfile -t base_shards < <(for k in $(seq 1000 1015); do printf '%s\n' "$SRC/shard-$k.db"; done)
"$JOBS" -q merge "$BASE" "${base_shards[@]}"

shard_bytes=$(size_of "$SRC/shard-0.db")
echo "Merging shard stores of $ITEMS items each (one shard store: $(mib "$shard_bytes") MiB;"
echo "summary text ~$SUMMARY_BYTES bytes per item). Median of $REPS runs, wall seconds."
echo "Host: $(nproc) CPUs (1-minute load average $(cut -d" " -f1 /proc/loadavg) before the merges), $(awk '/^MemTotal:/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM,"\
     "$(sqlite3 --version | cut -d' ' -f1) (sqlite3 CLI), store on $(df -PT "$WORK" | awk 'NR == 2 { print $2 }');"\
     "$(if [ "$written" -gt 0 ]; then echo "$written shard stores written in $(secs "$t0" "$t1") s."
        else echo "shard stores from an earlier run."; fi)"
echo
echo "| shards | items | merge s | items/s | merged db MiB | again s | into 160k s |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for n in $SHARDS; do
    mapfile -t shards < <(shard_list "$n")
    OUT="$WORK/merged-$n.db"
    times="" again="" into=""
    for _ in $(seq 1 "$REPS"); do
        rm -f "$OUT" "$OUT-wal" "$OUT-shm"
        times="$times $(merge_time "$OUT" "${shards[@]}")"
        again="$again $(merge_time "$OUT" "${shards[@]}")"
        cp "$BASE" "$WORK/into.db"
        into="$into $(merge_time "$WORK/into.db" "${shards[@]}")"
    done
    items=$(sqlite3 "$OUT" 'SELECT count(*) FROM items')
    t=$(echo $times | median)
    echo "| $n | $items | $t | $(awk -v i="$items" -v t="$t" 'BEGIN { printf "%.0f", (t > 0 ? i / t : 0) }') |" \
         "$(mib "$(size_of "$OUT")") | $(echo $again | median) | $(echo $into | median) |"
    echo "merge_bench: $n shards: merge$times; again$again; into 160k$into" >&2
done
rm -f "$WORK/into.db" "$WORK/into.db-wal" "$WORK/into.db-shm"
