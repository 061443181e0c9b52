#!/bin/sh
# cli_quantize_info.t — the command lines of llp-quantize and llp: usage
# errors (exit 2), bad input files (exit 1, message naming the file), the
# summary, `llp info` text and --json fields, `llp help`, `llp --version`,
# dispatch to llp-TOOL, and a model holding a tensor of an unsupported type
# (IQ2_XXS) refused by name through llp info and llp-generate. With the
# shared fixtures: llp info on llama.cpp's Q4_K_M file, and our Q4_K_M of
# fxa-f32 has exactly the tensor types of llama.cpp's.
#
# Not for: the type rules and numeric quality of each target
# (tests/quantize_types.c).
. "${0%/*}/lib.sh"
Q=$BIN/llp-quantize
L=$BIN/llp

"$BIN/llp-mkmodel" --shape tiny --seed 3 "$TMP/tiny.gguf" 2>/dev/null
ok $? "llp-mkmodel writes a tiny F32 model"

# ---- llp-quantize usage errors: exit 2 -----------------------------------
"$Q" >/dev/null 2>"$TMP/err"; is "$?" 2 "no arguments: exit 2"
grep -q "llp-quantize: error: expected IN.gguf OUT.gguf TYPE" "$TMP/err"; ok $? "no arguments: says what is expected"
"$Q" "$TMP/tiny.gguf" "$TMP/o.gguf" >/dev/null 2>&1; is "$?" 2 "two arguments: exit 2"
"$Q" "$TMP/tiny.gguf" "$TMP/o.gguf" Q4_0 extra >/dev/null 2>&1; is "$?" 2 "four arguments: exit 2"
"$Q" "$TMP/tiny.gguf" "$TMP/o.gguf" Q9_9 2>"$TMP/err" >/dev/null; is "$?" 2 "unknown type: exit 2"
grep -q "unknown type 'Q9_9'" "$TMP/err"; ok $? "unknown type: named"
grep -q "Q4_K_M" "$TMP/err"; ok $? "unknown type: the valid types are listed"
"$Q" "$TMP/tiny.gguf" "$TMP/o.gguf" IQ2_XXS 2>/dev/null >/dev/null; is "$?" 2 "a type we cannot produce: exit 2"
"$Q" --bogus "$TMP/tiny.gguf" "$TMP/o.gguf" Q4_0 2>"$TMP/err" >/dev/null; is "$?" 2 "unknown option: exit 2"
grep -q "unknown option '--bogus'" "$TMP/err"; ok $? "unknown option: named"
"$Q" -t 0 "$TMP/tiny.gguf" "$TMP/o.gguf" Q4_0 2>"$TMP/err" >/dev/null; is "$?" 2 "-t 0: exit 2"
"$Q" -t abc "$TMP/tiny.gguf" "$TMP/o.gguf" Q4_0 2>/dev/null >/dev/null; is "$?" 2 "-t abc: exit 2"
"$Q" -t "$TMP/tiny.gguf" 2>/dev/null >/dev/null; is "$?" 2 "-t without enough arguments after it: exit 2"
"$Q" "$TMP/tiny.gguf" "$TMP/tiny.gguf" Q4_0 2>/dev/null >/dev/null; is "$?" 2 "output = input: exit 2"
"$Q" --help >"$TMP/out" 2>&1; is "$?" 0 "--help: exit 0"
grep -q "Usage: llp-quantize" "$TMP/out" && grep -q "Examples:" "$TMP/out" && grep -q "Q5_K_M" "$TMP/out"
ok $? "--help: usage, types and examples"
is "$("$Q" --version)" "llp-quantize (llamapipe) 0.1.0" "--version"

# ---- llp-quantize bad input: exit 1 ---------------------------------------
"$Q" "$TMP/missing.gguf" "$TMP/o.gguf" Q4_0 2>"$TMP/err" >/dev/null; is "$?" 1 "missing input: exit 1"
grep -q "^llp-quantize: error: $TMP/missing.gguf: " "$TMP/err"; ok $? "missing input: 'llp-quantize: error: FILE: ...'"
printf 'not a gguf file at all, just text\n' >"$TMP/junk.gguf"
"$Q" "$TMP/junk.gguf" "$TMP/o.gguf" Q4_0 2>"$TMP/err" >/dev/null; is "$?" 1 "not a GGUF: exit 1"
grep -q "^llp-quantize: error: $TMP/junk.gguf: " "$TMP/err"; ok $? "not a GGUF: message names the file"
head -c 4000 "$TMP/tiny.gguf" >"$TMP/cut.gguf"
"$Q" "$TMP/cut.gguf" "$TMP/o.gguf" Q8_0 2>"$TMP/err" >/dev/null; is "$?" 1 "truncated GGUF: exit 1"
grep -q "runs past the end of the file" "$TMP/err"; ok $? "truncated GGUF: says so"
[ ! -e "$TMP/o.gguf" ]; ok $? "no output file after failures"
"$Q" "$TMP/tiny.gguf" "$TMP/nodir/o.gguf" Q8_0 2>"$TMP/err" >/dev/null; is "$?" 1 "unwritable output: exit 1"
grep -q "$TMP/nodir/o.gguf" "$TMP/err"; ok $? "unwritable output: message names the output"

# ---- llp-quantize runs ------------------------------------------------------
"$Q" -t 2 "$TMP/tiny.gguf" "$TMP/q8.gguf" Q8_0 >"$TMP/out" 2>"$TMP/err"; is "$?" 0 "Q8_0: exit 0"
is "$(wc -c <"$TMP/out" | tr -d ' ')" 0 "nothing on stdout"
grep -q "^\[ 1/21\] output.weight" "$TMP/err"; ok $? "a progress line per tensor"
grep -q "wrote $TMP/q8.gguf as Q8_0: 21 tensors (16 converted, 5 copied)" "$TMP/err"; ok $? "summary line"
grep -Eq "^  Q8_0 +16 tensors" "$TMP/err" && grep -Eq "^  F32 +5 tensors" "$TMP/err"; ok $? "summary: tensors per type"
grep -q "weights: .* -> .*bits per weight" "$TMP/err"; ok $? "summary: bytes before and after"
"$Q" -q "$TMP/tiny.gguf" "$TMP/q4.gguf" q4_0 >"$TMP/out" 2>"$TMP/err"; is "$?" 0 "-q, lower-case type: exit 0"
is "$(cat "$TMP/out" "$TMP/err" | wc -c | tr -d ' ')" 0 "-q: silent"
"$Q" -q "$TMP/q4.gguf" "$TMP/q8b.gguf" Q8_0 2>"$TMP/err" >/dev/null; is "$?" 1 "requantizing: refused (exit 1)"
grep -q "already quantized (Q4_0).*--allow-requantize" "$TMP/err"; ok $? "requantizing: names the tensor type and the flag"
"$Q" -q --allow-requantize "$TMP/q4.gguf" "$TMP/q8b.gguf" Q8_0 2>/dev/null; is "$?" 0 "--allow-requantize: exit 0"
"$Q" -q "$TMP/q4.gguf" "$TMP/q4b.gguf" Q4_0 2>/dev/null; is "$?" 0 "same type again: tensors copied, no requantizing"
cmp -s "$TMP/q4.gguf" "$TMP/q4b.gguf"; ok $? "same type again: byte-identical file"
"$BIN/llp-generate" -m "$TMP/q4.gguf" --prompt-ids "1 2" -n 1 --no-db >/dev/null 2>"$TMP/err"
ok $? "the quantized model runs in llp-generate"

# ---- llp info ---------------------------------------------------------------
"$L" info "$TMP/q4.gguf" >"$TMP/info" 2>"$TMP/err"; is "$?" 0 "llp info: exit 0"
grep -q "^architecture: *llama" "$TMP/info"; ok $? "info: architecture"
grep -q "^shape: *dim 64, layers 2, heads 4, kv heads 2, head dim 16, ffn 192, vocab 512" "$TMP/info"
ok $? "info: shape"
grep -q "^file type: *Q4_0 (2)" "$TMP/info"; ok $? "info: file type from general.file_type"
grep -q "^parameters: " "$TMP/info" && grep -q "^context length: *256" "$TMP/info" && grep -q "^rope base: *10000" "$TMP/info"
ok $? "info: parameters, context length, RoPE base"
grep -Eq "^  Q4_0 +15 tensors" "$TMP/info" && grep -Eq "^  Q8_0 +1 tensors" "$TMP/info"
ok $? "info: tensors per weight type (64-wide rows: output.weight Q6_K falls back to Q8_0)"
grep -q "^tokenizer: *llama, 512 tokens, BOS 1 '<s>', EOS 2 '</s>'" "$TMP/info"; ok $? "info: tokenizer summary"
grep -q "^chat template: *no" "$TMP/info"; ok $? "info: chat template"
grep -q "^gguf: *version 3, alignment 32" "$TMP/info"; ok $? "info: GGUF version and alignment"
"$L" info --json "$TMP/q4.gguf" >"$TMP/json" 2>"$TMP/err"; is "$?" 0 "llp info --json: exit 0"
is "$(wc -l <"$TMP/json" | tr -d ' ')" 1 "--json: one line"
python3 -c 'import json,sys; json.load(sys.stdin)' <"$TMP/json"; ok $? "--json: valid JSON"
got=$(python3 -c '
import json,sys
d=json.load(sys.stdin)
t=d["tokenizer"]
w={x["type"]:x["n_tensors"] for x in d["weights"]}
print(d["architecture"], d["dim"], d["n_layers"], d["n_heads"], d["n_heads_kv"], d["head_dim"],
      d["ffn_dim"], d["n_vocab"], d["file_type"]["name"], d["file_type"]["id"], d["n_tensors"],
      d["context_length"], int(d["rope_base"]), t["model"], t["n_vocab"], t["bos"]["id"],
      t["bos"]["piece"], t["eos"]["id"], d["chat_template"], d["gguf_version"], d["alignment"],
      w["Q4_0"], w["Q8_0"], w["F32"], d["n_params"] > 0, 4 < d["bits_per_weight"] < 6)' <"$TMP/json")
is "$got" "llama 64 2 4 2 16 192 512 Q4_0 2 21 256 10000 llama 512 1 <s> 2 False 3 32 15 1 5 True True" "--json: fields"
LLP_MODEL="$TMP/q4.gguf" "$L" info >/dev/null 2>&1; is "$?" 0 "llp info takes LLP_MODEL"
"$BIN/llp-mkmodel" --shape tiny --chat --tied "$TMP/chat.gguf" 2>/dev/null
"$L" info --json "$TMP/chat.gguf" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["chat_template"], d["output_tied"])' >"$TMP/out"
is "$(cat "$TMP/out")" "True True" "--json: chat template present, tied output"
env -u LLP_MODEL "$L" info >/dev/null 2>"$TMP/err"; is "$?" 2 "llp info without a model: exit 2"
"$L" info a.gguf b.gguf >/dev/null 2>&1; is "$?" 2 "llp info with two models: exit 2"
"$L" info --frob "$TMP/q4.gguf" >/dev/null 2>&1; is "$?" 2 "llp info unknown option: exit 2"
"$L" info "$TMP/missing.gguf" >/dev/null 2>"$TMP/err"; is "$?" 1 "llp info on a missing file: exit 1"
grep -q "^llp: error: $TMP/missing.gguf: " "$TMP/err"; ok $? "llp info on a missing file: message names it"
"$L" info --help | grep -q "Usage: llp info"; ok $? "llp info --help"

# ---- llp: help, version, dispatch ------------------------------------------
"$L" help >"$TMP/out"; is "$?" 0 "llp help: exit 0"
for t in tokenize embed generate summarize classify run jobs bench quantize info; do
  grep -Eq "^  $t +[a-z]" "$TMP/out" || { diag "llp help lacks $t"; false; } || break
done
ok $? "llp help lists every tool with a description"
grep -Eq "^  quantize +[^(]*$" "$TMP/out"; ok $? "llp help: a built tool is not marked missing"
"$L" --help >/dev/null; is "$?" 0 "llp --help: exit 0"
is "$("$L" --version)" "llp (llamapipe) 0.1.0" "llp --version"
"$L" >/dev/null 2>&1; is "$?" 2 "llp alone: exit 2"
"$L" tokenize --help >"$TMP/out" 2>&1; is "$?" 0 "llp tokenize --help: exit 0"
grep -q "Usage: llp-tokenize" "$TMP/out"; ok $? "llp tokenize runs llp-tokenize"
is "$("$L" quantize --version)" "llp-quantize (llamapipe) 0.1.0" "llp quantize --version runs llp-quantize"
"$L" quantize >/dev/null 2>&1; is "$?" 2 "llp passes the tool's exit status through"
"$L" help quantize | grep -q "Usage: llp-quantize"; ok $? "llp help TOOL prints the tool's --help"
printf '#!/bin/sh\necho "from PATH: $*"\n' >"$TMP/llp-zzpathtool"; chmod +x "$TMP/llp-zzpathtool"
is "$(PATH="$TMP:$PATH" "$L" zzpathtool a 'b c')" "from PATH: a b c" "a tool not next to llp is found in PATH"
"$L" nosuchtool >/dev/null 2>"$TMP/err"; is "$?" 2 "unknown tool: exit 2"
grep -q "unknown tool 'nosuchtool'" "$TMP/err"; ok $? "unknown tool: named"
"$L" '../etc' >/dev/null 2>&1; is "$?" 2 "a tool name with a slash is refused"
mkdir -p "$TMP/elsewhere"; ln -s "$L" "$TMP/elsewhere/llp"
is "$("$TMP/elsewhere/llp" quantize --version)" "llp-quantize (llamapipe) 0.1.0" "through a symlink: tools found next to the real binary"

# ---- unsupported tensor type: refused at load, by name ---------------------
# Patch blk.0.attn_q.weight's type in the tensor table to 16 (IQ2_XXS).
python3 - "$TMP/q4.gguf" "$TMP/iq2.gguf" <<'EOF'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
pos = 4 + 4 + 8 + 8
n_tensors, n_kv = struct.unpack_from('<qq', b, 8)
def skip_value(t, pos):
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    if t in sizes: return pos + sizes[t]
    if t == 8: return pos + 8 + struct.unpack_from('<Q', b, pos)[0]
    et, n = struct.unpack_from('<IQ', b, pos); pos += 12
    for _ in range(n): pos = skip_value(et, pos)
    return pos
for _ in range(n_kv):
    pos += 8 + struct.unpack_from('<Q', b, pos)[0]
    t = struct.unpack_from('<I', b, pos)[0]; pos += 4
    pos = skip_value(t, pos)
for _ in range(n_tensors):
    n = struct.unpack_from('<Q', b, pos)[0]; name = bytes(b[pos + 8:pos + 8 + n]); pos += 8 + n
    nd = struct.unpack_from('<I', b, pos)[0]; pos += 4 + 8 * nd
    if name == b'blk.0.attn_q.weight': struct.pack_into('<I', b, pos, 16)
    pos += 4 + 8
open(sys.argv[2], 'wb').write(b)
EOF
"$L" info "$TMP/iq2.gguf" >/dev/null 2>"$TMP/err"; is "$?" 1 "IQ2_XXS tensor: llp info exits 1"
grep -q "^llp: error: $TMP/iq2.gguf: tensor 'blk.0.attn_q.weight' has type IQ2_XXS" "$TMP/err"
ok $? "IQ2_XXS tensor: llp info names the tensor and the type"
"$BIN/llp-generate" -m "$TMP/iq2.gguf" --prompt-ids "1 2" -n 1 --no-db >/dev/null 2>"$TMP/err"
is "$?" 1 "IQ2_XXS tensor: llp-generate exits 1"
grep -q "^llp-generate: error: .*blk.0.attn_q.weight.*IQ2_XXS" "$TMP/err"; ok $? "IQ2_XXS tensor: llp-generate names the tensor and the type"
"$Q" "$TMP/iq2.gguf" "$TMP/o2.gguf" Q8_0 >/dev/null 2>"$TMP/err"; is "$?" 1 "IQ2_XXS tensor: llp-quantize exits 1"
grep -q "blk.0.attn_q.weight.*IQ2_XXS" "$TMP/err"; ok $? "IQ2_XXS tensor: llp-quantize names the tensor and the type"

# ---- shared fixtures: llama.cpp's own files --------------------------------
if [ -e "$FIX/models/fxa-q4_k_m.gguf" ]; then
  "$L" info "$FIX/models/fxa-q4_k_m.gguf" >"$TMP/info"; is "$?" 0 "fxa-q4_k_m: llp info exit 0"
  grep -q "^file type: *Q4_K_M (15)" "$TMP/info"; ok $? "fxa-q4_k_m: file type Q4_K_M"
  grep -Eq "^  Q4_K +13 tensors" "$TMP/info" && grep -Eq "^  Q6_K +3 tensors" "$TMP/info" && grep -Eq "^  F32 +5 tensors" "$TMP/info"
  ok $? "fxa-q4_k_m: Q4_K and Q6_K tensors counted"
  types() { "$L" info --json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["weights"])'; }
  for t in Q2_K Q3_K_M Q4_K_M Q5_K_M Q6_K Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 F16 BF16; do
    lc=$(printf %s "$t" | tr A-Z a-z)
    "$Q" -q "$FIX/models/fxa-f32.gguf" "$TMP/fx-$lc.gguf" "$t"
    is "$(types "$TMP/fx-$lc.gguf")" "$(types "$FIX/models/fxa-$lc.gguf")" "fxa-f32 -> $t: tensors and bytes per type as llama.cpp's fxa-$lc"
  done
  cmp -s "$TMP/fx-f16.gguf" "$FIX/models/fxa-f16.gguf"; ok $? "fxa-f32 -> F16 is byte-identical to llama.cpp's"
  cmp -s "$TMP/fx-bf16.gguf" "$FIX/models/fxa-bf16.gguf"; ok $? "fxa-f32 -> BF16 is byte-identical to llama.cpp's"
else
  diag "shared fixtures absent: llama.cpp comparisons skipped"
  [ "${CI:-}" = true ] && ok 1 "fixtures required under CI=true"
fi
done_testing
