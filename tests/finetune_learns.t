#!/bin/sh
# finetune_learns.t — llp-finetune really learns a task: a random-weight
# tiny model (Q8_0) labels the 240 rows of examples/sentiment_test.csv at
# chance (at most 60% right); after a LoRA adapter is trained on the 400
# disjoint rows of examples/sentiment_train.csv (5 epochs, about 15 s on
# two cores), llp-classify --lora gets at least 90% of them right. The
# adapter and llp-classify agree by construction: the training rows are
# rendered with llp-classify's prompt (here a short --prompt-file) and the
# loss is on the label's tokens.
#
# Not for: the gradients (tests/train_grad.c) or the command line
# (tests/cli_finetune.t). The full case with timings: bench/finetune_bench.sh.
. "${0%/*}/lib.sh"
M=$TMP/tiny.gguf
"$BIN/llp-mkmodel" -q --type Q8_0 "$M"
ok $? "tiny model written"
printf 'Review: {text}\nSentiment:' > "$TMP/prompt.txt"
C="-m $M --no-db -q -t 2 --labels positive,negative --column review --prompt-file $TMP/prompt.txt"
acc() {
    python3 -c '
import csv, sys
r = list(csv.DictReader(open(sys.argv[1])))
print(round(100 * sum(x["label"] == x["sentiment"] for x in r) / len(r), 1), len(r))' "$1"
}
python3 -c '
import csv
a = {r["review"] for r in csv.DictReader(open("'"$ROOT"'/examples/sentiment_train.csv"))}
b = {r["review"] for r in csv.DictReader(open("'"$ROOT"'/examples/sentiment_test.csv"))}
assert len(a) == 400 and len(b) == 240 and not a & b'
ok $? "train (400 rows) and test (240 rows) share no text"

"$BIN/llp-classify" $C "$ROOT/examples/sentiment_test.csv" > "$TMP/base.csv"
set -- $(acc "$TMP/base.csv")
diag "base accuracy: $1% of $2"
[ "$2" = 240 ] && awk "BEGIN { exit !($1 <= 60) }"
ok $? "the base is near chance: $1% <= 60%"

start=$(date +%s)
"$BIN/llp-finetune" $C -o "$TMP/sentiment.gguf" --label-column sentiment \
    --targets q,k,v,o,gate,up,down --epochs 5 --batch 4 --lr 5e-3 \
    "$ROOT/examples/sentiment_train.csv"
ok $? "llp-finetune trains an adapter"
diag "training took $(( $(date +%s) - start )) s"

"$BIN/llp-classify" $C --lora "$TMP/sentiment.gguf" "$ROOT/examples/sentiment_test.csv" \
    > "$TMP/tuned.csv"
set -- $(acc "$TMP/tuned.csv")
diag "adapter accuracy: $1% of $2"
[ "$2" = 240 ] && awk "BEGIN { exit !($1 >= 90) }"
ok $? "with the adapter, llp-classify labels the unseen rows: $1% >= 90%"
done_testing
