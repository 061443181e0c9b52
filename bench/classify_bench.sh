#!/bin/sh
# classify_bench.sh — llp-classify throughput on a random-weight 1.1B-shape
# (TinyLlama) Q4_0 model: every row of examples/reviews.csv into three labels
# (positive, negative, neutral), reported as rows per second and unique input
# tokens per second (prompt tokens beyond the prefix shared by every row,
# which is computed once per job), beside the pp128 rate of the same model
# measured by llp-bench just before and just after the run. The target is
# unique tokens/s >= 0.8 x pp128.
#
# Not for: tests (nothing here passes or fails) or llp-embed's throughput
# (bench/embed_bench.sh).
#
#   make && sh bench/classify_bench.sh [THREADS=2] [BATCH_ROWS=16]
# Writes its model and store under build/bench/ and keeps the model for the
# next run (about 640 MB; shared with embed_bench.sh).
set -eu
cd "$(dirname "$0")/.."
THREADS=${1:-2}
ROWS=${2:-16}
OUT=build/bench
mkdir -p "$OUT"
MODEL=$OUT/tl-1.1b-q4_0.gguf
[ -f "$MODEL" ] || bin/llp-mkmodel --shape 1.1b --type Q4_0 "$MODEL" 2>/dev/null
LABELS=positive,negative,neutral

pp128() {
    bin/llp-bench -m "$MODEL" -p 128 -n 0 -t "$THREADS" -r 3 2>/dev/null |
        sed -n 's/^pp .* \([0-9.][0-9.]*\) tok\/s.*/\1/p' | head -1
}

pp_before=$(pp128)
rm -f "$OUT/classify.db" "$OUT/classify.db-wal" "$OUT/classify.db-shm"
start=$(date +%s.%N)
bin/llp-classify -m "$MODEL" -t "$THREADS" -q --batch-rows "$ROWS" --labels "$LABELS" \
    --column review --db "$OUT/classify.db" examples/reviews.csv > "$OUT/classified.csv"
end=$(date +%s.%N)
pp_after=$(pp128)
stats=$(sqlite3 "$OUT/classify.db" \
    "select n_items, n_failed, tokens_in, elapsed_ms from jobs order by id desc limit 1")
labels=$(printf 'positive\nnegative\nneutral\n' |
    bin/llp-tokenize -m "$MODEL" --no-db --no-bos --count -q | tr '\n' ' ')
python3 - "$stats" "$start" "$end" "$pp_before" "$pp_after" "$THREADS" "$ROWS" "$labels" <<'EOF'
import sys
items, failed, tokens, ms = map(int, sys.argv[1].split("|"))
wall = float(sys.argv[3]) - float(sys.argv[2])
pp = [float(x) for x in sys.argv[4:6] if x]
secs = ms / 1000
print("llp-classify, 1.1B Q4_0 (random weights), %s threads, --batch-rows %s, 3 labels"
      % (sys.argv[6], sys.argv[7]))
print("  %d rows (%d failed), %d unique input tokens in %.2f s of the record loop"
      " (%.2f s wall, model load included)" % (items, failed, tokens, secs, wall))
print("  label tokens (positive negative neutral): %s(all but the last are decoded"
      " per row, after its prompt)" % sys.argv[8])
print("  %.3f rows/s, %.2f unique tokens/s" % (items / secs, tokens / secs))
if pp:
    ref = sum(pp) / len(pp)
    print("  pp128 %s tok/s (before, after); ratio %.2f of their mean (target >= 0.8)"
          % (" / ".join("%.2f" % x for x in pp), tokens / secs / ref))
EOF
