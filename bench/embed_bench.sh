#!/bin/sh
# embed_bench.sh — llp-embed throughput on a random-weight 1.1B-shape (TinyLlama)
# Q4_0 model with 2 threads: every review of examples/reviews.csv (or, when
# it is absent, every paragraph of examples/docs/), reported as rows per
# second and input tokens per second, beside the pp128 rate of the same model
# (bench/pp_bench.c, or llp-bench when it exists).
#
# Not for: tests (nothing here passes or fails) or classify's throughput.
#
#   make && sh bench/embed_bench.sh [THREADS=2]
# Writes its model and store under build/bench/ and keeps the model for the
# next run (about 640 MB).
set -eu
cd "$(dirname "$0")/.."
THREADS=${1:-2}
OUT=build/bench
mkdir -p "$OUT"
MODEL=$OUT/tl-1.1b-q4_0.gguf
[ -f "$MODEL" ] || bin/llp-mkmodel -q --shape 1.1b --type Q4_0 "$MODEL"

# the input: one text per record, as JSONL
if [ -f examples/reviews.csv ]; then
    python3 -c 'import csv,json,sys
for r in csv.DictReader(open("examples/reviews.csv", newline="")):
    print(json.dumps({"id": r["id"], "text": r["review"]}))' > "$OUT/texts.jsonl"
    what="reviews of examples/reviews.csv"
else
    python3 -c 'import glob,json
n = 0
for p in sorted(glob.glob("examples/docs/*")):
    for para in open(p, encoding="utf-8").read().split("\n\n"):
        if para.strip():
            n += 1
            print(json.dumps({"id": str(n), "text": para.strip()}))' > "$OUT/texts.jsonl"
    what="paragraphs of examples/docs"
fi
rows=$(wc -l < "$OUT/texts.jsonl" | tr -d ' ')

# pp128 of the same model
if [ -x bin/llp-bench ]; then
    pp=$(bin/llp-bench -m "$MODEL" -p 128 -n 0 -t "$THREADS" -r 3 2>/dev/null | grep -i pp | head -1)
else
    cc -std=c11 -D_GNU_SOURCE -O2 -Ilib -pthread bench/pp_bench.c build/rel/libllamapipe.a \
        -lopenblas -lsqlite3 -lyaml -ljansson -lxxhash -lm -o "$OUT/pp_bench"
    pp=$("$OUT/pp_bench" "$MODEL" 128 "$THREADS" 3)
fi

# embed everything once (fresh store: nothing cached); the store's job row
# has the tokens and the elapsed time
rm -f "$OUT/embed.db" "$OUT/embed.db-wal" "$OUT/embed.db-shm"
# user + system CPU seconds of the run, so that a busy machine can be
# allowed for (tokens per CPU-second, as pp_bench prints)
cpu=$(python3 -c 'import resource,subprocess,sys
subprocess.run(sys.argv[1:], check=True, stdout=open(sys.argv[-1] + ".out", "w"))
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.2f" % (r.ru_utime + r.ru_stime))' bin/llp-embed -m "$MODEL" -t "$THREADS" -q --db "$OUT/embed.db" "$OUT/texts.jsonl")
stats=$(sqlite3 "$OUT/embed.db" "select n_items, tokens_in, elapsed_ms from jobs order by id desc limit 1")
python3 - "$stats" "$cpu" "$rows" "$what" "$pp" "$THREADS" <<'EOF'
import sys
items, tokens, ms = map(int, sys.argv[1].split("|"))
cpu = float(sys.argv[2])
print("llp-embed, 1.1B Q4_0 (random weights), %s threads, %s %s" % (sys.argv[6], sys.argv[3], sys.argv[4]))
print("  %d rows, %d tokens (BOS included) in %.2f s of the record loop" % (items, tokens, ms / 1000))
print("  %.2f rows/s, %.1f tokens/s; %.1f tokens per CPU-second (model load included)"
      % (items / (ms / 1000), tokens / (ms / 1000), tokens / cpu))
print("  reference: " + sys.argv[5])
EOF
