#!/bin/sh
# cli_finetune.t — llp-finetune end to end on a random-weight tiny model:
# the three data shapes, per-row errors with file:line (exit 3), the job and
# its train_steps rows in the store, llp-jobs show's loss curve, the same
# adapter for the same seed (and thread count), Ctrl-C writes a checkpoint
# and --resume finishes to the same adapter as an uninterrupted run,
# --lora / --lora-merge / lora: in the tools with the adapter in the model
# fingerprint, llp-quantize --lora, llp info ADAPTER, usage errors.
#
# Not for: gradients and the optimizer (tests/train_grad.c), the forward
# pass with adapters (tests/lora_apply.c), learning a task
# (tests/finetune_learns.t).
. "${0%/*}/lib.sh"
F=$BIN/llp-finetune
M=$TMP/tiny.gguf
"$BIN/llp-mkmodel" -q --type Q8_0 "$M"
ok $? "tiny model written"
export LLP_MODEL=$M

# ---- labeled CSV, with bad rows ---------------------------------------------
cat > "$TMP/lab.csv" <<'EOF'
id,text,sentiment
1,a fine kettle,positive
2,a broken kettle,negative
3,this one has no label,
4,a lovely lamp,positive
5,a noisy lamp,meh
6,an awful pan,negative
EOF
"$F" -q -o "$TMP/a.gguf" --labels positive,negative --label-column sentiment --epochs 2 \
    --batch 2 --lr 1e-2 "$TMP/lab.csv" 2> "$TMP/err.txt"
is $? 3 "labeled CSV with bad rows: exit 3 (trained on the good ones)"
grep -q "lab.csv:4: label '' is not one of --labels" "$TMP/err.txt"
ok $? "an empty label is named with file and line"
grep -q "lab.csv:6: label 'meh' is not one of --labels" "$TMP/err.txt"
ok $? "a label not in --labels is named with file and line"
[ -s "$TMP/a.gguf" ] && [ -s "$TMP/a.gguf.ckpt" ]
ok $? "adapter and checkpoint written"
"$BIN/llp" info "$TMP/a.gguf" > "$TMP/info.txt"
grep -q "LoRA adapter" "$TMP/info.txt" && grep -q "rank: *8" "$TMP/info.txt" &&
    grep -q "attn_q, attn_k, attn_v, attn_output" "$TMP/info.txt"
ok $? "llp info describes the adapter (rank 8, q,k,v,o)"
"$BIN/llp" info --json "$TMP/a.gguf" | python3 -c '
import json, sys; d = json.load(sys.stdin)
assert d["adapter"] and d["alpha"] == 16 and d["n_tensors"] == 8, d'
ok $? "llp info --json: alpha 16, 8 tensors"

# ---- the store -----------------------------------------------------------------
steps=$(sqlite3 "$LLP_DB" "SELECT count(*) FROM train_steps t JOIN jobs j ON j.id = t.job_id
                           WHERE j.tool = 'finetune' AND j.status = 'partial'")
is "$steps" 4 "one train_steps row per step (4 good rows, batch 2, 2 epochs)"
is "$(sqlite3 "$LLP_DB" "SELECT count(*) FROM train_steps WHERE loss > 0 AND lr > 0 AND
                         tokens > 0 AND ms > 0")" 4 "each step has loss, lr, tokens, ms"
"$BIN/llp-jobs" show last > "$TMP/show.txt"
grep -q "loss curve (4 steps)" "$TMP/show.txt"
ok $? "llp-jobs show prints the loss curve"

# ---- same seed, same adapter; other seed, other adapter ----------------------------
"$F" -q --no-db -o "$TMP/b.gguf" --labels positive,negative --label-column sentiment \
    --epochs 2 --batch 2 --lr 1e-2 "$TMP/lab.csv" 2>/dev/null
cmp -s "$TMP/a.gguf" "$TMP/b.gguf"
ok $? "the same data, flags and seed give the same adapter bit for bit"
"$F" -q --no-db -t 1 -o "$TMP/b1.gguf" --labels positive,negative --label-column sentiment \
    --epochs 2 --batch 2 --lr 1e-2 "$TMP/lab.csv" 2>/dev/null
cmp -s "$TMP/a.gguf" "$TMP/b1.gguf"
ok $? "... with one thread too"
"$F" -q --no-db --seed 7 -o "$TMP/c.gguf" --labels positive,negative --label-column sentiment \
    --epochs 2 --batch 2 --lr 1e-2 "$TMP/lab.csv" 2>/dev/null
cmp -s "$TMP/a.gguf" "$TMP/c.gguf"
is $? 1 "another seed gives another adapter"

# ---- prompt/completion and chat JSONL ----------------------------------------------
cat > "$TMP/pc.jsonl" <<'EOF'
{"prompt": "Q: two and two?\nA:", "completion": " four"}
{"prompt": "Q: the sky?\nA:", "completion": " blue"}
{"prompt": "no completion here"}
{"prompt": "Q: grass?\nA:", "completion": " green"}
EOF
"$F" --no-db -o "$TMP/pc.gguf" --epochs 3 --batch 1 --lr 1e-2 "$TMP/pc.jsonl" 2> "$TMP/err.txt"
is $? 3 "prompt/completion with a bad row: exit 3"
grep -q "pc.jsonl:3: no string field 'completion'" "$TMP/err.txt"
ok $? "a missing completion is named with file and line"
grep -q "3 sequences" "$TMP/err.txt"
ok $? "three prompt/completion sequences"
cat > "$TMP/chat.jsonl" <<'EOF'
{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Goodbye."}]}
{"messages": [{"role": "user", "content": "Only a question"}]}
{"messages": [{"role": "user", "content": "Colour?"}, {"role": "assistant", "content": "Red."}]}
EOF
"$F" --no-db -o "$TMP/chat.gguf" --epochs 2 --batch 2 --lr 1e-2 "$TMP/chat.jsonl" 2> "$TMP/err.txt"
is $? 3 "chat messages with a bad row: exit 3"
grep -q "chat.jsonl:2: no assistant message to learn" "$TMP/err.txt"
ok $? "a conversation without an assistant turn is named with file and line"
printf '{"prompt": "%s", "completion": " x"}\n' "$(head -c 3000 /dev/zero | tr '\0' a)" > "$TMP/long.jsonl"
"$F" --no-db -o "$TMP/long.gguf" -c 64 "$TMP/long.jsonl" 2> "$TMP/err.txt"
is $? 1 "only rows longer than -c: fatal, nothing to train on"
grep -q "long.jsonl:1: .* tokens, longer than the context (-c 64)" "$TMP/err.txt"
ok $? "a row longer than -c is named with file and line"

# ---- Ctrl-C, checkpoint, --resume -------------------------------------------------
awk 'BEGIN { print "id,text,sentiment";
             for (i = 0; i < 400; i++) printf "%d,review number %d is %s,%s\n", i, i,
               (i % 2 ? "bad" : "good"), (i % 2 ? "negative" : "positive") }' > "$TMP/big.csv"
ARGS="--labels positive,negative --label-column sentiment --epochs 2 --batch 2 --lr 1e-2 -t 1"
"$F" -q --no-db -o "$TMP/full.gguf" $ARGS "$TMP/big.csv"
ok $? "uninterrupted run"
"$F" -q -o "$TMP/int.gguf" $ARGS "$TMP/big.csv" &
pid=$!
sleep 1.5
kill -INT $pid
wait $pid
is $? 130 "SIGINT: exit 130 after writing the checkpoint"
[ -s "$TMP/int.gguf.ckpt" ] && [ ! -e "$TMP/int.gguf" ] && [ ! -e "$TMP/int.gguf.ckpt.tmp" ]
ok $? "checkpoint written whole (no .tmp left), no adapter yet"
is "$(sqlite3 "$LLP_DB" "SELECT status FROM jobs ORDER BY id DESC LIMIT 1")" interrupted \
   "the job is marked interrupted"
"$F" -q -o "$TMP/int.gguf" $ARGS --resume "$TMP/big.csv"
ok $? "--resume finishes"
cmp -s "$TMP/full.gguf" "$TMP/int.gguf"
ok $? "interrupted + resumed equals uninterrupted, bit for bit"
"$F" -q --no-db -o "$TMP/int.gguf" $ARGS --lr 2e-2 --resume "$TMP/big.csv" 2> "$TMP/err.txt"
is $? 1 "--resume with other flags is refused"
grep -q "made with other parameters or data" "$TMP/err.txt"
ok $? "... saying why"

# ---- the adapter in the tools ---------------------------------------------------------
T="--labels positive,negative --label-column sentiment --column text"
printf 'id,text\n1,a fine kettle\n2,a broken kettle\n' > "$TMP/q.csv"
"$BIN/llp-classify" -q --labels positive,negative "$TMP/q.csv" > "$TMP/base.csv"
"$BIN/llp-classify" -q --labels positive,negative --lora "$TMP/full.gguf" "$TMP/q.csv" > "$TMP/fly.csv"
ok $? "llp-classify --lora"
cmp -s "$TMP/base.csv" "$TMP/fly.csv"
is $? 1 "with the adapter the scores differ (not served from the base's cache)"
"$BIN/llp-classify" -q --labels positive,negative --lora "$TMP/full.gguf:0" "$TMP/q.csv" > "$TMP/zero.csv"
is "$(cut -d, -f3- "$TMP/zero.csv")" "$(cut -d, -f3- "$TMP/base.csv")" "scale 0 scores as the base"
fps=$(sqlite3 "$LLP_DB" "SELECT count(DISTINCT model_fp) FROM items WHERE task = 'classify'")
is "$fps" 3 "base, adapter and adapter:0 have three fingerprints in the store"
"$BIN/llp-classify" -q --labels positive,negative --lora "$TMP/full.gguf" --lora-merge \
    "$TMP/q.csv" > "$TMP/merged.csv"
ok $? "--lora-merge"
"$BIN/llp-quantize" -q --lora "$TMP/full.gguf" "$M" "$TMP/merged.gguf" Q8_0
ok $? "llp-quantize --lora writes a merged model"
"$BIN/llp-classify" -q --no-db --labels positive,negative -m "$TMP/merged.gguf" "$TMP/q.csv" > "$TMP/qmerged.csv"
is "$(cut -d, -f3 "$TMP/qmerged.csv")" "$(cut -d, -f3 "$TMP/merged.csv")" \
   "the merged file labels as --lora-merge does"
echo "a line" | "$BIN/llp-generate" -q --no-db -n 8 --temp 0 --out jsonl --lora "$TMP/full.gguf" > "$TMP/gl.jsonl"
ok $? "llp-generate --lora"
echo "a line" | "$BIN/llp-generate" -q --no-db -n 8 --temp 0 --out jsonl > "$TMP/g0.jsonl"
. "${0%/*}/serve_lib.sh"
ok $([ "$(jget "$TMP/gl.jsonl" 'd["completion"]')" != "$(jget "$TMP/g0.jsonl" 'd["completion"]')" ] && echo 0 || echo 1) \
   "llp-generate --lora: the adapter changes the greedy answer"
# llp-serve --lora answers as llp-generate --lora
serve_start a -m "$M" -t 1 --no-db --parallel 2 --lora "$TMP/full.gguf"; ok $? "llp-serve --lora"
is "$(http_code "$TMP/sp" "$URL/predict" -d '{"text": "a line", "max_tokens": 8, "temperature": 0}')" 200 "llp-serve --lora: /predict answers"
is "$(jget "$TMP/sp" 'd["completion"]')" "$(jget "$TMP/gl.jsonl" 'd["completion"]')" \
   "llp-serve --lora: /predict's greedy answer is llp-generate --lora's"
serve_stop TERM
echo "a line" | "$BIN/llp-embed" -q --no-db --lora "$TMP/full.gguf" > /dev/null
ok $? "llp-embed --lora"
echo "a line" | "$BIN/llp-summarize" -q --no-db --lora "$TMP/full.gguf" > /dev/null
ok $? "llp-summarize --lora"
cat > "$TMP/p.yaml" <<EOF
version: 1
model: $M
input:
  csv: $TMP/q.csv
steps:
  - classify:
      labels: [positive, negative]
      lora: $TMP/full.gguf
output:
  csv: $TMP/p.csv
EOF
"$BIN/llp-run" -q "$TMP/p.yaml" 2> "$TMP/err.txt"
ok $? "llp-run with lora: in a step"
is "$(cut -d, -f3- "$TMP/p.csv")" "$(cut -d, -f3- "$TMP/fly.csv")" "the pipeline step scores as llp-classify --lora"
sed 's/      lora: .*/&\n      lora_merge: true/' "$TMP/p.yaml" > "$TMP/pm.yaml"
"$BIN/llp-run" -q "$TMP/pm.yaml" 2> "$TMP/err.txt"
ok $? "llp-run with lora: and lora_merge: true"
is "$(cut -d, -f3 "$TMP/p.csv")" "$(cut -d, -f3 "$TMP/merged.csv")" "the merged step labels as --lora-merge does"
grep -v '      lora: ' "$TMP/pm.yaml" > "$TMP/pm2.yaml"
"$BIN/llp-run" -q "$TMP/pm2.yaml" 2> "$TMP/err.txt"
is "$? $(cat "$TMP/err.txt")" "2 $TMP/pm2.yaml:6:5: classify: --lora-merge: no --lora adapter to merge" \
   "lora_merge: without lora: is refused with the step's position"

# ---- errors ------------------------------------------------------------------------
"$BIN/llp-classify" -q --labels a,b --lora "$TMP/nope.gguf" "$TMP/q.csv" 2> "$TMP/err.txt"
is $? 1 "a missing adapter is fatal"
"$BIN/llp-classify" -q --labels a,b --lora "$M" "$TMP/q.csv" 2> "$TMP/err.txt"
grep -q "not a LoRA adapter" "$TMP/err.txt"
ok $? "a model given as --lora: not a LoRA adapter"
"$BIN/llp-mkmodel" -q --shape small --type Q8_0 "$TMP/small.gguf"
"$BIN/llp-classify" -q --labels a,b -m "$TMP/small.gguf" --lora "$TMP/full.gguf" "$TMP/q.csv" 2> "$TMP/err.txt"
grep -q "is \[64 -> 64\] but the model's is \[256 -> 256\]" "$TMP/err.txt"
ok $? "an adapter for another model: the shapes are named"
"$BIN/llp-classify" -q --labels a,b --lora-merge "$TMP/q.csv" 2> "$TMP/err.txt"
is $? 2 "--lora-merge without --lora: usage error"
"$F" -q "$TMP/lab.csv" 2>/dev/null
is $? 2 "no -o: usage error"
"$F" -q -o "$TMP/x.gguf" --targets q,zz "$TMP/lab.csv" 2> "$TMP/err.txt"
grep -q "unknown matrix 'zz'" "$TMP/err.txt"
ok $? "an unknown --targets name is refused"
"$F" -q -o "$TMP/x.gguf" --shard 0/2 "$TMP/lab.csv" 2>/dev/null
is $? 2 "a record option that means nothing to training is refused"
done_testing
