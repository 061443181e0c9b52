#!/bin/sh
# tests/convert_fixtures.t — llp-convert against the shared reference
# fixtures: the Llama-2 vocabulary written as a SentencePiece tokenizer.model
# (which the sentencepiece package reads, giving llama.cpp's reference ids)
# converts to exactly the fixture's tokenizer.ggml.* keys and the reference
# ids; the fixture models (made by llama.cpp), exported to Hugging Face
# directories and converted back, are byte for byte the same and pass
# check-logits against llama.cpp's reference logits.
#
# Not for: self-contained round trips (tests/convert_roundtrip.t).
. "${0%/*}/lib.sh"
need_fixture models/llama-spm-vocab.gguf
PY=/usr/bin/python3
EXPORT="$ROOT/tests/hf_export.py"
CHECK="$FIX/../tools/check-logits"
cd "$TMP" || exit 1

# ---- the Llama-2 vocabulary ---------------------------------------------------
$PY "$EXPORT" spm-from-gguf "$FIX/models/llama-spm-vocab.gguf" llama.model
$PY "$EXPORT" vectors "$FIX/vectors/tokenizer/llama-spm.inp" n.txt > vectors.jsonl
sed 's/^ //' "$FIX/vectors/tokenizer/llama-spm.out" | head -n "$(cat n.txt)" > want.txt
$PY - <<'EOF' > spm.txt
import json, sentencepiece as spm
sp = spm.SentencePieceProcessor(model_file='llama.model')
for line in open('vectors.jsonl'):
    print(' '.join(map(str, sp.encode(json.loads(line)['text']))))
EOF
is "$(cat spm.txt)" "$(cat want.txt)" "sentencepiece reads the written tokenizer.model and gives the reference ids ($(cat n.txt) strings)"

$PY "$EXPORT" tiny hf-llama ok --vocab 32000 --spm llama.model
"$BIN/llp-convert" -q hf-llama -o llama.gguf; ok $? "a 32000-piece directory converts"
is "$($PY "$EXPORT" meta-same "$FIX/models/llama-spm-vocab.gguf" llama.gguf tokenizer.)" same \
   "every tokenizer.* key equals the fixture's (pieces, scores, types, special ids, flags)"
got=$("$BIN/llp-tokenize" -m llama.gguf --no-bos --in jsonl --out jsonl --no-db vectors.jsonl |
      $PY -c 'import json, sys; [print(" ".join(map(str, json.loads(l)["tokens"]))) for l in sys.stdin]')
is "$got" "$(cat want.txt)" "the converted vocabulary gives the reference ids"

# ---- llama.cpp's fixture models ------------------------------------------------
ref_run() {  # MODEL NAME: run the conformance hook with NAME's reference prompt
  set -- "$1" "$2" $($PY -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(",".join(map(str, d["prompt_ids"])), len(d["greedy_ids"]), ",".join(map(str, d["greedy_ids"])))
' "$FIX/vectors/logits/$2.json")
  greedy=$("$BIN/llp-generate" -m "$1" --prompt-ids "$(echo "$3" | tr , ' ')" -n "$4" --temp 0 \
           --print-ids --logits-out "$2.f32" --no-db 2>/dev/null)
  want_ids=$(echo "$5" | tr , ' ')
}
for name in fxa-f32 fxa-f16 fxa-bf16; do
  $PY "$EXPORT" spm-from-gguf "$FIX/models/$name.gguf" $name.model
  $PY "$EXPORT" model "$FIX/models/$name.gguf" $name.model hf-$name --shards 2
  "$BIN/llp-convert" -q hf-$name -o $name.gguf; ok $? "$name: converted"
  is "$($PY "$EXPORT" same "$FIX/models/$name.gguf" $name.gguf)" same "$name: tensors equal llama.cpp's file byte for byte"
  is "$($PY "$EXPORT" meta-same "$FIX/models/$name.gguf" $name.gguf tokenizer.)" same "$name: vocabulary equal"
  ref_run $name.gguf $name
  verdict=$($PY "$CHECK" "$FIX/vectors/logits/$name.json" $name.f32 2>&1)
  case "$verdict" in ok*) ok 0 "$name: $verdict" ;; *) ok 1 "$name: $verdict" ;; esac
  is "$greedy" "$want_ids" "$name: greedy ids equal the reference"
done
"$BIN/llp-quantize" -q "$FIX/models/fxa-f32.gguf" q4km.gguf Q4_K_M
"$BIN/llp-convert" -q hf-fxa-f32 -o conv-q4km.gguf --type Q4_K_M
is "$($PY "$EXPORT" same q4km.gguf conv-q4km.gguf)" same "Q4_K_M from the HF directory equals llp-quantize of the fixture"
done_testing
