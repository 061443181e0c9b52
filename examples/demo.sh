#!/bin/sh
# make demo: run the main jobs of llamapipe on examples/.
#
# With LLP_MODEL pointing at a real GGUF model (say
# llama-2-7b-chat.Q4_K_M.gguf) the output is real. Without one, a small
# random-weight model is written first: every tool runs for real, but what
# it writes is noise.
set -eu
cd "$(dirname "$0")/.."
BIN=${LLP_BIN:-bin}
OUT=${LLP_DEMO_OUT:-build/demo}
mkdir -p "$OUT"
export LLP_DB="$OUT/demo.db"

if [ -n "${LLP_MODEL:-}" ]; then
  MODEL=$LLP_MODEL
  echo "demo: using the model in LLP_MODEL: $MODEL"
else
  MODEL="$OUT/random-small.gguf"
  [ -f "$MODEL" ] || "$BIN/llp-mkmodel" -q --shape small --chat "$MODEL"
  cat <<'NOTE'
demo: no model given, so a small RANDOM-WEIGHT model was written
      (build/demo/random-small.gguf). Everything below runs for real, but the
      words it produces are noise. For real output, point it at a Llama-2 GGUF:
          LLP_MODEL=/path/to/llama-2-7b-chat.Q4_K_M.gguf make demo
NOTE
fi
export LLP_MODEL="$MODEL"

echo
echo "== llp info"
"$BIN/llp" info "$MODEL" 2>/dev/null || true

echo
echo "== llp-tokenize: token ids of two lines"
printf 'Hello world\nThe quick brown fox\n' | "$BIN/llp-tokenize" --no-db

echo
echo "== llp-generate: one prompt, streamed"
"$BIN/llp-generate" -p "Write one sentence about Unix pipes." -n 32 --seed 1

if [ -x "$BIN/llp-classify" ] && [ -f examples/reviews.csv ]; then
  echo
  echo "== llp-classify: sentiment of the first reviews in examples/reviews.csv"
  head -n 11 examples/reviews.csv > "$OUT/reviews-head.csv"
  "$BIN/llp-classify" --labels positive,negative,neutral --column review \
      "$OUT/reviews-head.csv" > "$OUT/labeled.csv"
  head -n 4 "$OUT/labeled.csv"
  echo "   ... all rows in $OUT/labeled.csv"
fi

if [ -x "$BIN/llp-summarize" ] && [ -d examples/docs ]; then
  echo
  echo "== llp-summarize: three documents of examples/docs"
  ls examples/docs | head -n 3 | sed 's|^|examples/docs/|' |
    "$BIN/llp-summarize" --files-from - --max-tokens 24 > "$OUT/summaries.jsonl"
  cut -c1-160 "$OUT/summaries.jsonl"
fi

if [ -x "$BIN/llp-run" ] && [ -f pipelines/sentiment.yaml ]; then
  echo
  echo "== llp-run pipelines/sentiment.yaml (the same first reviews; the shell pipeline it equals:)"
  [ -f "$OUT/reviews-head.csv" ] && export REVIEWS="$OUT/reviews-head.csv"
  OUT="$OUT/sentiment.csv" "$BIN/llp-run" --dry-run pipelines/sentiment.yaml | tail -n 1
  OUT="$OUT/sentiment.csv" "$BIN/llp-run" pipelines/sentiment.yaml
  echo "   ... all rows in $OUT/sentiment.csv"
  if [ -d examples/docs ]; then
    echo
    echo "== llp-run pipelines/summarize.yaml (on three documents of examples/docs)"
    rm -rf "$OUT/docs-head" && mkdir -p "$OUT/docs-head"
    ls examples/docs | head -n 3 | sed 's|^|examples/docs/|' | xargs -I{} cp {} "$OUT/docs-head/"
    DOCS="$OUT/docs-head/" OUT="$OUT/summaries-pipeline.jsonl" "$BIN/llp-run" pipelines/summarize.yaml
    cut -c1-160 "$OUT/summaries-pipeline.jsonl"
  fi
fi

if [ -x "$BIN/llp-serve" ] && command -v curl >/dev/null; then
  echo
  echo "== llp-serve: the model behind HTTP on a free loopback port"
  rm -f "$OUT/serve.port"
  "$BIN/llp-serve" -q --host 127.0.0.1 --port 0 --port-file "$OUT/serve.port" --parallel 2 &
  SERVE_PID=$!
  i=0
  while [ ! -s "$OUT/serve.port" ] && [ $i -lt 300 ] && kill -0 "$SERVE_PID" 2>/dev/null; do sleep 0.1; i=$((i+1)); done
  if [ -s "$OUT/serve.port" ]; then
    URL="http://127.0.0.1:$(cat "$OUT/serve.port")"
    echo "   listening on $URL"
    echo "-- curl $URL/predict -d '{\"text\": \"Unix pipes are\", \"max_tokens\": 24}'"
    curl -s --max-time 120 "$URL/predict" -d '{"text": "Unix pipes are", "max_tokens": 24, "seed": 1}'
    echo "-- curl $URL/v1/chat/completions (OpenAI-style)"
    curl -s --max-time 120 "$URL/v1/chat/completions" \
      -d '{"messages": [{"role": "user", "content": "Name one Unix tool."}], "max_tokens": 24, "seed": 1}'
    kill -TERM "$SERVE_PID"
    wait "$SERVE_PID" || true
    echo "-- the items they left in the store (the serve job)"
    SERVE_JOB=$(sqlite3 "$LLP_DB" "select max(id) from jobs where tool = 'serve'" 2>/dev/null || true)
    if [ -n "$SERVE_JOB" ]; then
      "$BIN/llp-jobs" export "$SERVE_JOB" | cut -c1-200
    fi
  else
    echo "   llp-serve did not start"
    kill "$SERVE_PID" 2>/dev/null || true
  fi
fi

if [ -x "$BIN/llp-finetune" ] && [ -f examples/sentiment_train.csv ]; then
  echo
  echo "== llp-finetune: teach a model sentiment (LoRA), then llp-classify --lora"
  # Always on a tiny random model of its own: it starts knowing nothing, so
  # what it gets right afterwards it learned here (a few seconds).
  TINY="$OUT/random-tiny-q8_0.gguf"
  [ -f "$TINY" ] || "$BIN/llp-mkmodel" -q --type Q8_0 "$TINY"
  printf 'Review: {text}\nSentiment:' > "$OUT/sentiment-prompt.txt"
  C="-m $TINY --labels positive,negative --column review --prompt-file $OUT/sentiment-prompt.txt"
  accuracy() {
    python3 -c 'import csv, sys
r = list(csv.DictReader(open(sys.argv[1])))
print("%d of %d test rows right (%.0f%%)" % (sum(x["label"] == x["sentiment"] for x in r), len(r),
      100.0 * sum(x["label"] == x["sentiment"] for x in r) / len(r)))' "$1"
  }
  "$BIN/llp-classify" -q $C examples/sentiment_test.csv > "$OUT/sentiment-before.csv"
  echo "   before: $(accuracy "$OUT/sentiment-before.csv")"
  "$BIN/llp-finetune" $C -o "$OUT/sentiment.gguf" --label-column sentiment \
      --targets q,k,v,o,gate,up,down --epochs 5 --batch 4 --lr 5e-3 examples/sentiment_train.csv
  "$BIN/llp-classify" -q $C --lora "$OUT/sentiment.gguf" examples/sentiment_test.csv \
      > "$OUT/sentiment-after.csv"
  echo "   after:  $(accuracy "$OUT/sentiment-after.csv")"
  echo "   (trained on examples/sentiment_train.csv, tested on the disjoint"
  echo "    examples/sentiment_test.csv; the adapter: $OUT/sentiment.gguf)"
  "$BIN/llp" info "$OUT/sentiment.gguf" | sed 's/^/   /'
fi

echo
echo "== the store: jobs recorded in $LLP_DB"
if [ -x "$BIN/llp-jobs" ]; then "$BIN/llp-jobs" list; else sqlite3 "$LLP_DB" 'select id, tool, status, n_items from jobs'; fi
