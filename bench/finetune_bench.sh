#!/bin/sh
# finetune_bench.sh — llp-finetune, measured two ways.
#
# 1. It learns: a LoRA adapter trained on examples/sentiment_train.csv (400
#    rows) over a random-weight tiny Q8_0 model; llp-classify's accuracy on
#    the 240 disjoint rows of examples/sentiment_test.csv, for the base and
#    with --lora, the training time and tokens/s.
# 2. Speed on the 1.1B shape (TinyLlama: dim 2048, 22 layers, GQA 32/4,
#    ffn 5632) in Q4_0: rank 8 on q,k,v,o, 256-token sequences, THREADS
#    threads; training tokens/s and the share of the time in the forward
#    pass, the backward pass and the optimizer (llp-finetune's own timers).
#
# Not for: tests (tests/finetune_learns.t checks a smaller case) — nothing
# here passes or fails except that the sentiment accuracy is printed
# against the target (>= 90%).
#
#   make && sh bench/finetune_bench.sh [THREADS=2] [STEPS_1B=4]
# Writes under build/bench/ and keeps the 1.1B model for the next run
# (about 640 MB).
set -eu
cd "$(dirname "$0")/.."
THREADS=${1:-2}
STEPS_1B=${2:-4}
OUT=build/bench
mkdir -p "$OUT"

acc() {   # acc LABELED.csv: "correct/total pct"
    python3 -c '
import csv, sys
r = list(csv.DictReader(open(sys.argv[1])))
ok = sum(x["label"] == x["sentiment"] for x in r)
print("%d/%d %.1f%%" % (ok, len(r), 100.0 * ok / len(r)))' "$1"
}

# ---- 1. sentiment ---------------------------------------------------------------
TINY=$OUT/ft-tiny-q8_0.gguf
[ -f "$TINY" ] || bin/llp-mkmodel -q --shape tiny --type Q8_0 "$TINY"
printf 'Review: {text}\nSentiment:' > "$OUT/ft-prompt.txt"
C="--labels positive,negative --column review --prompt-file $OUT/ft-prompt.txt"
bin/llp-classify -q --no-db -m "$TINY" -t "$THREADS" $C examples/sentiment_test.csv \
    > "$OUT/ft-base.csv"
start=$(date +%s.%N)
bin/llp-finetune --no-db -m "$TINY" -t "$THREADS" -o "$OUT/ft-sentiment.gguf" $C \
    --label-column sentiment --targets q,k,v,o,gate,up,down --epochs 6 --batch 4 --lr 5e-3 \
    examples/sentiment_train.csv 2> "$OUT/ft-train.log" || [ $? = 3 ]
end=$(date +%s.%N)
bin/llp-classify -q --no-db -m "$TINY" -t "$THREADS" --lora "$OUT/ft-sentiment.gguf" $C \
    examples/sentiment_test.csv > "$OUT/ft-tuned.csv"
echo "sentiment (tiny Q8_0, 400 train rows, 240 test rows, $THREADS threads):"
echo "  base accuracy:    $(acc "$OUT/ft-base.csv")"
echo "  adapter accuracy: $(acc "$OUT/ft-tuned.csv")   (target >= 90%)"
echo "  training:         $(awk "BEGIN { printf \"%.1f s\", $end - $start }");" \
     "$(sed -n 's/.*steps in [0-9.]* s, \([0-9.]*\) tok\/s.*/\1 tok\/s/p' "$OUT/ft-train.log")"
sed -n 's/.*note: wrote [^:]*: /  /p' "$OUT/ft-train.log"

# ---- 2. the 1.1B shape ---------------------------------------------------------------
BIG=$OUT/tl-1.1b-q4_0.gguf
[ -f "$BIG" ] || bin/llp-mkmodel -q --shape 1.1b --type Q4_0 "$BIG"
# prompt/completion rows of 256 tokens: the synthetic vocabulary spells
# these words a few letters per token; the length is checked below
python3 - "$OUT/ft-256.jsonl" <<'EOF'
import json, random, sys
rng = random.Random(5)
words = ["river", "stone", "quiet", "market", "lantern", "copper", "meadow", "signal",
         "harbor", "velvet", "orbit", "candle", "timber", "echo", "saddle", "glacier"]
with open(sys.argv[1], "w") as f:
    for i in range(8):
        text = " ".join(rng.choice(words) for _ in range(200))
        f.write(json.dumps({"prompt": "Write:", "completion": text}) + "\n")
EOF
# cut each row to 256 tokens (BOS + prompt + completion + EOS; one token of
# margin: the prompt and completion are tokenized apart in training)
python3 - "$OUT/ft-256.jsonl" "$BIG" <<'EOF'
import json, subprocess, sys
path, model = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(path)]
out = []
for r in rows:
    words = r["completion"].split(" ")
    lo, hi = 1, len(words)
    def count(n):
        text = "Write: " + " ".join(words[:n])
        p = subprocess.run(["bin/llp-tokenize", "-q", "--no-db", "-m", model, "--count"],
                           input=text, capture_output=True, text=True)
        return int(p.stdout.split()[0])
    while lo < hi:              # most words with BOS + prompt + completion + EOS <= 256
        mid = (lo + hi + 1) // 2
        if count(mid) + 1 <= 255: lo = mid
        else: hi = mid - 1
    r["completion"] = " " + " ".join(words[:lo])
    out.append(r)
with open(path, "w") as f:
    for r in out: f.write(json.dumps(r) + "\n")
EOF
bin/llp-finetune --no-db -m "$BIG" -t "$THREADS" -o "$OUT/ft-1.1b.gguf" --rank 8 \
    --targets q,k,v,o --batch 1 --epochs 1 --max-steps "$STEPS_1B" -c 256 --lr 1e-4 \
    "$OUT/ft-256.jsonl" 2> "$OUT/ft-1.1b.log" || [ $? = 3 ]
echo "1.1B shape (Q4_0, rank 8 on q,k,v,o, $THREADS threads, $STEPS_1B sequences):"
grep -v 'note: wrote' "$OUT/ft-1.1b.log" | sed 's/^llp-finetune: /  /'
sed -n 's/.*note: wrote [^:]*: /  /p' "$OUT/ft-1.1b.log"
