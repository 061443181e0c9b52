#!/bin/sh
# tests/convert_bad_input.t — llp-convert refuses every class of bad Hugging
# Face input with exit 1, one message naming the file and the field or
# tensor, and no output file (neither OUT nor OUT.tmp) left behind: config
# fields missing or contradictory, model_type not llama, unsupported rope
# scaling, tensors of the wrong shape or dtype, missing or extra tensors, a
# truncated shard, safetensors headers that lie about offsets or length,
# unsupported tokenizers, a failure in the middle of writing (a NaN met
# while quantizing) and a SIGINT in the middle; index.json and shards that
# disagree.
#
# The directories are made by tests/hf_export.py tiny (a 1-layer model of
# dim 32 with a hand-encoded SentencePiece model), one defect each.
#
# Not for: the catalogue of exact messages (docs/errors.md rows, run by
# tests/errors_catalogue.t) or good input (tests/convert_roundtrip.t).
. "${0%/*}/lib.sh"
PY=/usr/bin/python3
EXPORT="$ROOT/tests/hf_export.py"
cd "$TMP" || exit 1

$PY "$EXPORT" tiny hf-ok
"$BIN/llp-convert" -q hf-ok -o ok.gguf --type Q8_0; ok $? "the undamaged tiny directory converts"

# KIND  TYPE  the expected message (after "llp-convert: error: ")
while IFS='|' read -r kind type want; do
  $PY "$EXPORT" tiny hf-$kind $kind
  "$BIN/llp-convert" -q hf-$kind -o out.gguf --type $type 2> err.txt
  rc=$?
  is "$rc $(head -n 1 err.txt)" "1 llp-convert: error: $want" "$kind: exit 1 and the message"
  is "$(wc -l < err.txt | tr -d ' ')" 1 "$kind: one line on stderr"
  is "$(ls out.gguf out.gguf.tmp 2>/dev/null)" "" "$kind: no output file left"
done <<'EOF'
no-field|F32|hf-no-field/config.json: hidden_size: missing (a Llama config.json has it)
heads|F32|hf-heads/config.json: hidden_size: 33 is not a multiple of num_attention_heads 2
kv-heads|F32|hf-kv-heads/config.json: num_key_value_heads: 3 does not divide num_attention_heads 2
arch|F32|hf-arch/config.json: model_type: 'mistral' is not supported (llp-convert converts llama models)
rope-scaling|F32|hf-rope-scaling/config.json: rope_scaling.type: 'yarn' scaling is not supported (linear only)
unigram|F32|hf-unigram/tokenizer.model: SentencePiece model type UNIGRAM is not supported: Llama vocabularies are BPE (trainer_spec.model_type)
bad-spm|F32|hf-bad-spm/tokenizer.model: malformed protobuf (not a SentencePiece model?)
gpt2-json|F32|hf-gpt2-json/tokenizer.json: pre_tokenizer: a byte-level BPE vocabulary (GPT-2 style, as in Llama 3) is not supported; llamapipe reads SentencePiece-style vocabularies
shape|F32|hf-shape/model.safetensors: tensor 'model.layers.0.self_attn.q_proj.weight' has shape [32, 6], but config.json implies [32, 32]
dtype|F32|hf-dtype/model.safetensors: tensor 'model.norm.weight' has dtype I64; llp-convert reads F32, F16 and BF16 tensors only
missing|F32|hf-missing: tensor 'model.layers.0.mlp.down_proj.weight' is missing (config.json: num_hidden_layers 1, tie_word_embeddings false)
extra|F32|hf-extra/model.safetensors: tensor 'model.layers.0.mlp.bias' is not part of a Llama model of this config.json (no GGUF name for it)
truncated|F32|hf-truncated/model.safetensors: tensor 'model.layers.0.mlp.down_proj.weight' (data_offsets [35200, 43392]) ends past the end of the file (data is 43292 bytes): truncated?
overlap|F32|hf-overlap/model.safetensors: tensor 'model.norm.weight' (data_offsets [1008, 1136]) overlaps the tensor before it
past-end|F32|hf-past-end/model.safetensors: tensor 'model.layers.0.mlp.up_proj.weight' has data_offsets [27008, 1083776] (1056768 bytes), but its shape and dtype need 8192 bytes
header-len|F32|hf-header-len/model.safetensors: header length 1099511627776 is past the end of the file (44680 bytes)
nan|Q8_0|hf-nan/model.safetensors: tensor 'model.layers.0.mlp.up_proj.weight' has a value that is not finite (row 2); it cannot be quantized to Q8_0
EOF

# shard sets: the index must match the shards, shard names must be plain
"$BIN/llp-mkmodel" -q tiny.gguf
$PY "$EXPORT" spm "$ROOT/examples/docs" sp 512 2>/dev/null
$PY "$EXPORT" model tiny.gguf sp.model hf-sharded --shards 2
for case in wrong-shard slash unlisted dup-no-index; do
  rm -rf hf-$case && cp -r hf-sharded hf-$case
  $PY - hf-$case $case <<'PYEOF'
import json, os, sys
d, case = sys.argv[1], sys.argv[2]
p = os.path.join(d, 'model.safetensors.index.json')
ix = json.load(open(p))
wm = ix['weight_map']
if case == 'wrong-shard': wm['model.norm.weight'] = 'model-00001-of-00002.safetensors' if wm['model.norm.weight'].startswith('model-00002') else 'model-00002-of-00002.safetensors'
if case == 'slash': wm['model.norm.weight'] = '../elsewhere.safetensors'
if case == 'unlisted': del wm['model.norm.weight']
json.dump(ix, open(p, 'w'))
if case == 'dup-no-index':
    os.remove(p)
    import shutil; shutil.copy(os.path.join(d, 'model-00001-of-00002.safetensors'), os.path.join(d, 'copy.safetensors'))
PYEOF
  "$BIN/llp-convert" -q hf-$case -o out.gguf 2> err.txt
  echo "$? $(cat err.txt)" > got-$case.txt
  is "$(ls out.gguf out.gguf.tmp 2>/dev/null)" "" "$case: no output file left"
done
norm_shard=$($PY -c 'import json; print(json.load(open("hf-sharded/model.safetensors.index.json"))["weight_map"]["model.norm.weight"])')
other=model-00001-of-00002.safetensors; [ "$norm_shard" = "$other" ] && other=model-00002-of-00002.safetensors
is "$(cat got-wrong-shard.txt)" "1 llp-convert: error: hf-wrong-shard/model.safetensors.index.json: weight_map puts tensor 'model.norm.weight' in hf-wrong-shard/$other, which has no such tensor" "index naming the wrong shard"
is "$(cat got-slash.txt)" "1 llp-convert: error: hf-slash/model.safetensors.index.json: shard name '../elsewhere.safetensors' for tensor 'model.norm.weight' is not a plain file name (weight_map)" "index with a path for a shard name"
is "$(cat got-unlisted.txt)" "1 llp-convert: error: hf-unlisted/$norm_shard: tensor 'model.norm.weight' of hf-unlisted/$norm_shard is not in the weight_map of hf-unlisted/model.safetensors.index.json" "a shard tensor the index does not list"
case "$(cat got-dup-no-index.txt)" in
  "1 llp-convert: error: hf-dup-no-index/"*"is also in hf-dup-no-index/"*) ok 0 "no index: a tensor in two shards is refused" ;;
  *) ok 1 "no index: a tensor in two shards is refused"; diag "$(cat got-dup-no-index.txt)" ;;
esac

# a failure in the middle leaves an existing OUT untouched
cp ok.gguf keep.gguf
"$BIN/llp-convert" -q hf-nan -o keep.gguf --type Q8_0 2>/dev/null
cmp -s ok.gguf keep.gguf; ok $? "a failed conversion leaves an older OUT as it was"
[ ! -e keep.gguf.tmp ]; ok $? "and no keep.gguf.tmp"

# a directory that is not there, no safetensors, an unwritable output
"$BIN/llp-convert" -q nowhere -o out.gguf 2> err.txt
is "$? $(cat err.txt)" "1 llp-convert: error: nowhere/config.json: cannot open (a Hugging Face model directory has config.json)" "no such directory"
mkdir -p hf-empty && cp hf-ok/config.json hf-ok/tokenizer.model hf-empty/
"$BIN/llp-convert" -q hf-empty -o out.gguf 2> err.txt
is "$? $(cat err.txt)" "1 llp-convert: error: hf-empty: no *.safetensors files (and no model.safetensors.index.json)" "no safetensors"
"$BIN/llp-convert" -q hf-ok -o no/such/dir/out.gguf 2> err.txt
is "$? $(cat err.txt)" "1 llp-convert: error: no/such/dir/out.gguf: cannot create no/such/dir/out.gguf.tmp: No such file or directory" "output directory missing"

# stopped by a signal in the middle: no OUT, no OUT.tmp (a 230 MB directory
# whose Q4_K_M conversion takes seconds, interrupted after one)
$PY "$ROOT/tests/hf_export.py" spm "$ROOT/examples/docs" sp 512 2>/dev/null
$PY "$ROOT/bench/hf_shape.py" hf-medium sp.model medium
"$BIN/llp-convert" -q -t 1 hf-medium -o medium.gguf --type Q4_K_M &
pid=$!
sleep 1
kill -INT $pid
wait $pid
is "$?" 130 "SIGINT in the middle: the conversion stops (130)"
is "$(ls medium.gguf medium.gguf.tmp 2>/dev/null)" "" "SIGINT in the middle: no output file left"

# usage errors are exit 2
"$BIN/llp-convert" hf-ok 2>/dev/null; is $? 2 "no -o: usage error"
"$BIN/llp-convert" hf-ok -o x.gguf --type Q9_9 2>/dev/null; is $? 2 "unknown --type: usage error"
"$BIN/llp-convert" --lora hf-ok -o x.gguf 2>/dev/null; is $? 2 "--lora without --base: usage error"
done_testing
