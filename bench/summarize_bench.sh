#!/bin/sh
# summarize_bench.sh — end to end, many sequences against one: llp-summarize
# over examples/docs/ and llp-generate over 64 prompts, each run once with
# --parallel 1 and once with the default (or the N given), on a
# random-weight 1.1B-shape (TinyLlama) Q4_0 model. Reports wall time,
# documents (prompts) per minute, tokens in and out, the speed-up, and
# where the time went: the -v "time:" line of each run (prompt and
# generation passes, sampling, each level of the summary tree, the store,
# the rest) and the job's own counters from the store.
#
# Targets (issue 13): summarize at least 1.5x faster end to end than
# --parallel 1, generate at least 3x.
#
# Not for: tests (nothing here passes or fails) or raw kernel rates
# (llp-bench --parallel 1,4,8,16).
#
#   make && sh bench/summarize_bench.sh [THREADS=2] [PARALLEL=default] [CTX=2048]
# Writes its model and stores under build/bench/ and keeps the model for the
# next run (about 640 MB; shared with the other benches).
set -eu
cd "$(dirname "$0")/.."
THREADS=${1:-2}
PAR=${2:-}
CTX=${3:-2048}
OUT=build/bench
mkdir -p "$OUT"
MODEL=$OUT/tl-1.1b-q4_0.gguf
[ -f "$MODEL" ] || bin/llp-mkmodel --shape 1.1b --type Q4_0 "$MODEL" 2>/dev/null
if [ -n "$PAR" ]; then DEF="--parallel $PAR"; else DEF=""; fi

# 64 prompts of varied lengths: the first 1 to 12 lines of each document
PROMPTS=$OUT/prompts.jsonl
python3 - "$PROMPTS" examples/docs/* <<'EOF'
import json, sys
out, docs = sys.argv[1], sys.argv[2:]
lines = []
for d in sorted(docs):
    lines += [l.strip() for l in open(d, encoding="utf-8") if l.strip()]
with open(out, "w") as f:
    at = 0
    for i in range(64):
        k = 1 + (i * 7) % 12
        f.write(json.dumps({"id": "p%02d" % i, "prompt": " ".join(lines[at:at + k])}) + "\n")
        at = (at + k) % max(1, len(lines) - 12)
EOF

# run NAME INPUT TOOL ARGS...: one timed run into its own store, INPUT on
# stdin (/dev/null for none); prints
# "wall|items|failed|tokens_in|tokens_out|elapsed_ms" and keeps the -v line
run() {
    name=$1; input=$2; shift 2
    db=$OUT/sumbench-$name.db
    rm -f "$db" "$db-wal" "$db-shm"
    start=$(date +%s.%N)
    "$@" -m "$MODEL" -t "$THREADS" -c "$CTX" --db "$db" --no-cache -v > "$OUT/sumbench-$name.out" \
        2> "$OUT/sumbench-$name.err" < "$input"
    end=$(date +%s.%N)
    stats=$(sqlite3 "$db" "select n_items, n_failed, tokens_in, tokens_out, elapsed_ms from jobs order by id desc limit 1")
    echo "$(awk "BEGIN { print $end - $start }")|$stats"
}

# llp-generate reads records on stdin (its arguments are prompts)
s1=$(run sum1 /dev/null bin/llp-summarize --parallel 1 --max-tokens 64 examples/docs)
sN=$(run sumN /dev/null bin/llp-summarize $DEF --max-tokens 64 examples/docs)
g1=$(run gen1 "$PROMPTS" bin/llp-generate --parallel 1 -n 128 --temp 0 --out jsonl)
gN=$(run genN "$PROMPTS" bin/llp-generate $DEF -n 128 --temp 0 --out jsonl)

same_sum=$(cmp -s "$OUT/sumbench-sum1.out" "$OUT/sumbench-sumN.out" && echo yes || echo NO)
same_gen=$(cmp -s "$OUT/sumbench-gen1.out" "$OUT/sumbench-genN.out" && echo yes || echo NO)
python3 - "$THREADS" "$CTX" "$s1" "$sN" "$g1" "$gN" "$same_sum" "$same_gen" "$OUT" <<'EOF'
import re, sys
threads, ctx = sys.argv[1], sys.argv[2]
runs = dict(zip(["sum1", "sumN", "gen1", "genN"], sys.argv[3:7]))
same = {"sum": sys.argv[7], "gen": sys.argv[8]}
out = sys.argv[9]
def parse(v):
    wall, items, failed, tin, tout, ms = v.split("|")
    return float(wall), int(items), int(failed), int(tin), int(tout), int(ms)
def notes(name):
    err = open("%s/sumbench-%s.err" % (out, name), encoding="utf-8").read()
    par = re.search(r"--parallel (\d+): ", err)
    tline = [l for l in err.splitlines() if ": note: time: " in l]
    return (par.group(1) if par else "?"), (tline[-1].split(": note: ", 1)[1] if tline else "")
print("1.1B Q4_0 (random weights), %s threads, -c %s" % (threads, ctx))
for kind, what, unit in (("sum", "llp-summarize examples/docs/, --max-tokens 64", "documents"),
                         ("gen", "llp-generate over 64 prompts, -n 128 --temp 0", "prompts")):
    print("\n" + what)
    walls = {}
    for tag in ("1", "N"):
        name = kind + tag
        wall, items, failed, tin, tout, ms = parse(runs[name])
        par, tline = notes(name)
        walls[tag] = wall
        print("  --parallel %-3s %7.1f s wall (%.1f s in the record loop), %d %s (%d failed), "
              "%.1f %s/min, %d tokens in, %d out" % (par, wall, ms / 1000, items, unit, failed,
              items / wall * 60, unit, tin, tout))
        print("      %s" % tline)
    print("  speed-up %.2fx end to end; outputs byte-identical: %s" % (walls["1"] / walls["N"], same[kind]))
EOF
