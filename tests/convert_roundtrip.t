#!/bin/sh
# tests/convert_roundtrip.t — llp-convert of a Hugging Face directory made
# from a project model gives that model back: every tensor equal byte for
# byte (F32, F16, BF16; sharded and single-file; tied and untied), the same
# logits, a quantized type equal to llp-quantize's, and a vocabulary whose
# ids equal the sentencepiece package's (from tokenizer.model, and from a
# tokenizer.json-only directory).
#
# The directories are written by tests/hf_export.py with Debian's python3,
# python3-numpy and python3-sentencepiece (the Q/K rows put back in the
# Hugging Face rotary layout; a SentencePiece BPE model trained at test
# time on examples/docs).
#
# Not for: bad input (tests/convert_bad_input.t) or adapters
# (tests/convert_lora.t).
. "${0%/*}/lib.sh"
PY=/usr/bin/python3
EXPORT="$ROOT/tests/hf_export.py"
cd "$TMP" || exit 1

$PY "$EXPORT" rope-check > rope.txt 2>&1
is "$(cat rope.txt)" ok "llama.cpp's Q/K permutation turns HF's rotate_half RoPE into adjacent-pair RoPE"

$PY "$EXPORT" spm "$ROOT/examples/docs" sp 512 2> spm.err
ok $? "a 512-piece SentencePiece BPE model is trained on examples/docs"

prompt="1 300 301 302 17 99"
logits() {  # MODEL OUT: the conformance hook's logits
  "$BIN/llp-generate" -m "$1" --prompt-ids "$prompt" -n 4 --temp 0 --print-ids --logits-out "$2" --no-db 2>/dev/null
}

for type in F32 F16 BF16; do
  "$BIN/llp-mkmodel" -q --type $type --seed 7 src-$type.gguf
  $PY "$EXPORT" model src-$type.gguf sp.model hf-$type --shards 2
  ok $? "$type: a sharded Hugging Face directory is written"
  "$BIN/llp-convert" -q hf-$type -o out-$type.gguf --type $type 2> err.txt
  ok $? "$type: llp-convert exits 0"
  [ -s err.txt ] && diag "$(cat err.txt)"
  is "$($PY "$EXPORT" same src-$type.gguf out-$type.gguf)" same "$type: every tensor equal byte for byte"
  ids_a=$(logits src-$type.gguf a.f32); ids_b=$(logits out-$type.gguf b.f32)
  cmp -s a.f32 b.f32; ok $? "$type: the same logits, bit for bit"
  is "$ids_b" "$ids_a" "$type: the same greedy ids"
done

# default type: the source's own (F16 stays F16, nothing rounded)
"$BIN/llp-convert" -q hf-F16 -o default.gguf
is "$($PY "$EXPORT" meta default.gguf general.file_type)" "general.file_type=1" "no --type: F16 source gives an F16 file"
is "$($PY "$EXPORT" same src-F16.gguf default.gguf)" same "no --type: tensors equal to the source"
# a BF16 source converted to F32 is exact too
"$BIN/llp-convert" -q hf-BF16 -o bf16-as-f32.gguf --type F32
"$BIN/llp-generate" -m bf16-as-f32.gguf --prompt-ids "$prompt" -n 4 --temp 0 --logits-out c.f32 --no-db >/dev/null 2>&1
logits src-BF16.gguf a.f32 >/dev/null
cmp -s a.f32 c.f32; ok $? "BF16 -> F32: the same logits (the widening is exact)"

# one file, no index; tied embeddings
"$BIN/llp-mkmodel" -q --tied --seed 3 tied.gguf
$PY "$EXPORT" model tied.gguf sp.model hf-tied --shards 1 --tied
[ ! -e hf-tied/model.safetensors.index.json ]; ok $? "tied: a single shard without index.json"
"$BIN/llp-convert" -q hf-tied -o tied-out.gguf --type F32
ok $? "tied: converted"
is "$($PY "$EXPORT" same tied.gguf tied-out.gguf)" same "tied: no output.weight, every tensor equal"
logits tied.gguf a.f32 >/dev/null; logits tied-out.gguf b.f32 >/dev/null
cmp -s a.f32 b.f32; ok $? "tied: the same logits"

# quantized: the same bytes as llp-quantize of the source (rows of 256 for K-quants)
"$BIN/llp-mkmodel" -q --shape small --seed 5 small.gguf
$PY "$EXPORT" model small.gguf sp.model hf-small --shards 3
for q in Q8_0 Q4_K_M Q6_K; do
  "$BIN/llp-quantize" -q small.gguf small-$q.gguf $q
  "$BIN/llp-convert" -q hf-small -o conv-$q.gguf --type $q
  ok $? "$q: converted"
  is "$($PY "$EXPORT" same small-$q.gguf conv-$q.gguf)" same "$q: tensors equal llp-quantize's, byte for byte"
done
is "$($PY "$EXPORT" meta conv-Q4_K_M.gguf general.file_type general.architecture llama.block_count)" \
   "$(printf 'general.file_type=15\ngeneral.architecture="llama"\nllama.block_count=2')" "Q4_K_M: file type and llama keys"

# ---- the vocabulary ------------------------------------------------------------
cat > strs.json <<'EOF'
["Hello world", " leading space", "  runs of   spaces\tand\ttabs  ", "emoji 🙂🚀 and a family 👩‍👩‍👧",
 "日本語のテキスト", "中文文本和한국어", "bytes \u0007\u001b fallback ©®™ Ωmega ﷽", "digits 1234567890",
 "\n\nnew lines\n", "x", "<s> looks special but is text", "trailing   "]
EOF
$PY "$EXPORT" spm-ids sp.model < strs.json > want.txt
$PY -c 'import json; [print(json.dumps({"id": str(i), "text": s})) for i, s in enumerate(json.load(open("strs.json")))]' > strs.jsonl
toks() {  # MODEL: one line of ids per string
  "$BIN/llp-tokenize" -m "$1" --in jsonl --out jsonl --no-db strs.jsonl |
    $PY -c 'import json, sys; [print(" ".join(map(str, json.loads(l)["tokens"]))) for l in sys.stdin]'
}
is "$(toks out-F32.gguf)" "$(cat want.txt)" "tokenizer.model: ids equal sentencepiece's on emoji, CJK, whitespace runs, byte fallback"
grep -q ' 1[0-9] \| [3-9] \|^1 [3-9] ' want.txt; ok $? "the strings do exercise byte-fallback tokens"
is "$($PY "$EXPORT" meta out-F32.gguf tokenizer.ggml.bos_token_id tokenizer.ggml.eos_token_id tokenizer.ggml.add_bos_token tokenizer.ggml.add_space_prefix tokenizer.ggml.model)" \
   "$(printf 'tokenizer.ggml.bos_token_id=1\ntokenizer.ggml.eos_token_id=2\ntokenizer.ggml.add_bos_token=true\ntokenizer.ggml.add_space_prefix=true\ntokenizer.ggml.model="llama"')" \
   "special ids and flags from tokenizer_config.json and the model"
$PY "$EXPORT" meta out-F32.gguf tokenizer.chat_template | grep -q 'INST'; ok $? "the chat template from tokenizer_config.json"

# tokenizer.json only (no tokenizer.model): scores from the merge ranks
cp -r hf-F32 hf-json && rm hf-json/tokenizer.model
$PY "$EXPORT" tokjson sp.model hf-json
"$BIN/llp-convert" -q hf-json -o json.gguf 2> err.txt
ok $? "a tokenizer.json-only directory converts"
[ -s err.txt ] && diag "$(cat err.txt)"
is "$(toks json.gguf)" "$(cat want.txt)" "tokenizer.json: ids equal sentencepiece's on the same strings"
is "$($PY "$EXPORT" same src-F32.gguf json.gguf)" same "tokenizer.json directory: tensors equal"

# a vocabulary smaller than vocab_size is padded with unused pieces
$PY "$EXPORT" spm "$ROOT/examples/docs" sp500 500 2> spm.err
$PY "$EXPORT" model src-F32.gguf sp500.model hf-pad --shards 1
$PY - hf-pad/tokenizer_config.json <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c['added_tokens_decoder'] = {'0': {'content': '<unk>', 'special': True},
                             '500': {'content': '<|im_start|>', 'special': True},
                             '501': {'content': 'Acme', 'special': False}}
json.dump(c, open(sys.argv[1], 'w'))
EOF
"$BIN/llp-convert" -q hf-pad -o pad.gguf
ok $? "500 pieces and 2 added tokens for a vocab_size of 512: converted"
is "$(printf '<|im_start|>Acme' | "$BIN/llp-tokenize" -m pad.gguf --special --no-bos --out text --no-db)" \
   "500 501" "added tokens: control (special) at 500, user-defined at 501, cut out of text"
is "$($PY "$EXPORT" meta pad.gguf llama.vocab_size)" "llama.vocab_size=512" "llama.vocab_size is config.json's"
is "$($PY "$EXPORT" vocab-tail pad.gguf 502)" "512 [PAD502] [PAD511] 5" \
   "the 10 missing pieces are unused [PAD<id>] tokens"
done_testing
