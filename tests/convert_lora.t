#!/bin/sh
# tests/convert_lora.t — llp-convert --lora turns a PEFT adapter
# (adapter_config.json, adapter_model.safetensors) into llama.cpp's GGUF
# adapter layout: general.type adapter, adapter.type lora,
# adapter.lora.alpha, "<base tensor>.lora_a" ne [n_in, r] and ".lora_b" ne
# [r, n_out] holding PEFT's bytes exactly (F32 and F16), lora_B of q and k
# with their rows permuted like the base weights; checked against the base
# (a module the base lacks, a shape that does not fit it, a module
# target_modules does not name are refused, leaving no file), and merging
# the GGUF adapter into the GGUF base gives the converted PEFT merge.
#
# The adapters are random, written by tests/hf_export.py lora; its
# lora-check reads both files and compares them tensor by tensor.
#
# Not for: applying adapters in the forward pass (lib/lora.c's tests).
. "${0%/*}/lib.sh"
PY=/usr/bin/python3
EXPORT="$ROOT/tests/hf_export.py"
cd "$TMP" || exit 1

"$BIN/llp-mkmodel" -q --seed 11 base.gguf     # 4 heads, 2 KV heads: K's permutation uses the KV heads
for dtype in F32 F16; do
  $PY "$EXPORT" lora "$TMP/base.gguf" peft-$dtype 4 8 $dtype q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj
  "$BIN/llp-convert" -q --lora peft-$dtype --base base.gguf -o lora-$dtype.gguf 2> err.txt
  ok $? "$dtype: converted"
  [ -s err.txt ] && diag "$(cat err.txt)"
  is "$($PY "$EXPORT" lora-check peft-$dtype lora-$dtype.gguf)" ok \
     "$dtype: metadata, names, ne, types and bytes as PEFT's (q/k lora_B permuted)"
done
is "$($PY "$EXPORT" meta lora-F32.gguf adapter.lora.alpha general.type)" \
   "$(printf 'adapter.lora.alpha=8.0\ngeneral.type="adapter"')" "alpha and type keys"

# only some modules
$PY "$EXPORT" lora "$TMP/base.gguf" peft-qv 2 16 F32 q_proj,v_proj
"$BIN/llp-convert" -q --lora peft-qv --base base.gguf -o lora-qv.gguf
is "$($PY "$EXPORT" lora-check peft-qv lora-qv.gguf)" ok "q_proj,v_proj only: as PEFT's"

# rsLoRA folds sqrt(r) into alpha (scale alpha / sqrt(r) = alpha' / r)
cp -r peft-qv peft-rs
$PY - peft-rs/adapter_config.json <<'EOF'
import json, sys
c = json.load(open(sys.argv[1])); c['use_rslora'] = True; json.dump(c, open(sys.argv[1], 'w'))
EOF
"$BIN/llp-convert" -q --lora peft-rs --base base.gguf -o lora-rs.gguf
is "$($PY "$EXPORT" meta lora-rs.gguf adapter.lora.alpha)" "adapter.lora.alpha=22.627416610717773" \
   "use_rslora: alpha 16 becomes 16 * sqrt(2)"

# the adapter composes with the converted model: merging the GGUF adapter
# into the GGUF base gives what merging the PEFT adapter into the HF model
# (PEFT's merge_and_unload) and converting that gives
$PY "$EXPORT" spm "$ROOT/examples/docs" sp 512 2>/dev/null
$PY "$EXPORT" model base.gguf sp.model hf-base --shards 2
$PY "$EXPORT" lora-merge peft-F32 hf-base hf-merged
"$BIN/llp-convert" -q hf-base -o base-conv.gguf --type F32
"$BIN/llp-convert" -q hf-merged -o merged.gguf --type F32
is "$($PY "$EXPORT" same base.gguf base-conv.gguf)" same "the base round-trips"
is "$($PY "$EXPORT" lora-merge-check base-conv.gguf lora-F32.gguf merged.gguf)" ok \
   "base + GGUF adapter (alpha/r * lora_b lora_a) equals the converted HF merge, every tensor"
is "$($PY "$EXPORT" lora-merge-check base-conv.gguf lora-qv.gguf merged.gguf | cut -c1-9)" "4 merged," \
   "and the check can fail: another adapter does not match"

# ---- refused ---------------------------------------------------------------------
refuse() {  # NAME PEFT_DIR BASE WANT
  "$BIN/llp-convert" -q --lora "$2" --base "$3" -o bad.gguf 2> err.txt
  is "$? $(head -n 1 err.txt)" "1 llp-convert: error: $4" "$1: exit 1 and the message"
  is "$(ls bad.gguf bad.gguf.tmp 2>/dev/null)" "" "$1: no output file left"
}
"$BIN/llp-mkmodel" -q --shape small other.gguf
refuse "another base (shapes differ)" peft-qv other.gguf \
  "peft-qv/adapter_model.safetensors: tensor 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight' has shape [2, 64], but the base tensor 'blk.0.attn_q.weight' (ne [256, 256]) needs [rank, 256]"
cp -r peft-qv peft-narrow
$PY - peft-narrow/adapter_config.json <<'EOF'
import json, sys
c = json.load(open(sys.argv[1])); c['target_modules'] = ['q_proj']; json.dump(c, open(sys.argv[1], 'w'))
EOF
refuse "a module target_modules does not name" peft-narrow base.gguf \
  "peft-narrow/adapter_model.safetensors: tensor 'base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight' belongs to a module target_modules of peft-narrow/adapter_config.json does not name"
cp -r peft-qv peft-dora
$PY - peft-dora/adapter_config.json <<'EOF'
import json, sys
c = json.load(open(sys.argv[1])); c['use_dora'] = True; json.dump(c, open(sys.argv[1], 'w'))
EOF
refuse "DoRA" peft-dora base.gguf "peft-dora/adapter_config.json: use_dora: true is not supported"
mkdir -p peft-none
refuse "no adapter_config.json" peft-none base.gguf \
  "peft-none/adapter_config.json: cannot open (a PEFT adapter directory has adapter_config.json)"
refuse "base is not a GGUF file" peft-qv peft-qv/adapter_config.json \
  "peft-qv/adapter_config.json: bad magic (expected GGUF)"
done_testing
