#!/bin/sh
# bench/mem_growth.sh — resident memory over a long classify run (issue 8,
# item 5): runs llp-classify on N records, samples VmRSS from
# /proc/PID/status every 0.2 s, and compares the memory after warm-up with
# the memory at the end. A leak per record shows up as steady growth.
#
# Not for: speed (llp-bench) or memory of the model itself (that is the
# file's size plus the KV cache, and belongs to the warm-up).
#
#   bench/mem_growth.sh [-b BIN] [-m MODEL] [-n RECORDS] [-c CTX] [-d DIR] [-s]
#
# -s runs without the store (--no-db), to tell the engine's memory from
# SQLite's page cache, which grows with the store up to its 2 MB limit.
# Without -m it writes a random tiny model (llp-mkmodel). Prints one line:
#   records N samples S seconds T warm KB end KB peak KB growth P%
# where warm is the highest sample of the second quarter of the run (the
# first quarter is warm-up: loading, first allocations, SQLite's page cache),
# end the highest of the last quarter, growth = (end - warm) / warm.
# Exits 0 when growth <= 5%, 1 when above, 2 when the run itself failed.
set -u
BIN=bin MODEL="" N=2000 CTX="" DIR="" STORE=1
while getopts b:m:n:c:d:s o; do
  case $o in
    b) BIN=$OPTARG;; m) MODEL=$OPTARG;; n) N=$OPTARG;; c) CTX=$OPTARG;; d) DIR=$OPTARG;; s) STORE=0;;
    *) echo "usage: $0 [-b BIN] [-m MODEL] [-n RECORDS] [-c CTX] [-d DIR] [-s]" >&2; exit 2;;
  esac
done
own_dir=""
if [ -z "$DIR" ]; then DIR=$(mktemp -d); own_dir=$DIR; fi
trap '[ -n "$own_dir" ] && rm -rf "$own_dir"' EXIT
if [ -z "$MODEL" ]; then
  MODEL="$DIR/tiny.gguf"
  "$BIN/llp-mkmodel" -q "$MODEL" || exit 2
fi

# Reviews of 5 to 40 words from a small word list: lengths vary, so buffers
# that grow to the longest record seen are exercised, not just reused.
python3 - "$N" > "$DIR/reviews.txt" <<'PY'
import random, sys
random.seed(1)
words = 'good bad great awful fine terrible service food price slow quick friendly rude clean dirty'.split()
for i in range(int(sys.argv[1])):
    print('review %d: ' % i + ' '.join(random.choice(words) for _ in range(random.randint(5, 40))))
PY

start=$(date +%s.%N)
"$BIN/llp-classify" -m "$MODEL" ${CTX:+-c "$CTX"} --labels positive,negative,neutral \
    $(if [ $STORE = 1 ]; then echo --db "$DIR/mem.db"; else echo --no-db; fi) < "$DIR/reviews.txt" > "$DIR/out.jsonl" 2> "$DIR/err.txt" &
pid=$!
: > "$DIR/rss.txt"
while kill -0 "$pid" 2>/dev/null; do
  awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null >> "$DIR/rss.txt"
  sleep 0.2
done
wait "$pid"
rc=$?
end=$(date +%s.%N)
lines=$(wc -l < "$DIR/out.jsonl")
if [ "$rc" -ne 0 ] || [ "$lines" -ne "$N" ]; then
  echo "mem_growth: llp-classify exited $rc with $lines of $N records: $(head -n 1 "$DIR/err.txt")" >&2
  exit 2
fi

python3 - "$DIR/rss.txt" "$N" "$start" "$end" <<'PY'
import sys
rss = [int(x) for x in open(sys.argv[1]).read().split()]
n, t = int(sys.argv[2]), float(sys.argv[4]) - float(sys.argv[3])
if len(rss) < 8:
    print("mem_growth: only %d samples; the run is too short to judge" % len(rss), file=sys.stderr)
    sys.exit(2)
q = len(rss) // 4
warm, end, peak = max(rss[q:2 * q]), max(rss[3 * q:]), max(rss[q:])
growth = 100.0 * (end - warm) / warm
print("records %d samples %d seconds %.1f warm %d KB end %d KB peak %d KB growth %.2f%%"
      % (n, len(rss), t, warm, end, peak, growth))
sys.exit(0 if growth <= 5.0 else 1)
PY
