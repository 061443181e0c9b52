#!/bin/sh
# cli_tokenize.t — llp-tokenize as a filter: lines and JSONL in, ids out,
# --pieces, --count, --decode round trips, --no-bos, --into, exit codes and
# error messages. Runs on a tiny vocabulary this script writes byte by byte
# (always) and on the Llama-2 vocabulary fixture (when present; required
# under CI=true).
#
# Not for: tokenizer rules in depth (tests/tokenizer_*.c).
. "${0%/*}/lib.sh"
T=$BIN/llp-tokenize

# ---- a tiny GGUF vocabulary, written with printf ---------------------------
# No subshells in the loops (they cost milliseconds each): octal escapes come
# from shell arithmetic, and LC_ALL=C makes ${#s} a byte count.
LC_ALL=C; export LC_ALL
le() { # le BYTES VALUE: little-endian integer
  n=$1 v=$2 i=0
  while [ $i -lt "$n" ]; do
    x=$(( (v >> (8 * i)) & 255 ))
    printf "\\$(( x >> 6 ))$(( (x >> 3) & 7 ))$(( x & 7 ))"
    i=$((i + 1))
  done
}
gstr() { le 8 ${#1}; printf %s "$1"; }   # u64 length, bytes
# write_vocab FILE MODEL: <unk> <s> </s>, 256 byte tokens, then
# ▁ a b ab ▁a ▁ab with scores making "ab" -> ▁ab.
write_vocab() {
  {
    printf GGUF; le 4 3; le 8 0; le 8 6
    gstr tokenizer.ggml.model; le 4 8; gstr "$2"
    gstr tokenizer.ggml.tokens; le 4 9; le 4 8; le 8 265
    gstr '<unk>'; gstr '<s>'; gstr '</s>'
    b=0
    while [ $b -lt 256 ]; do le 8 6; printf '<0x%02X>' $b; b=$((b + 1)); done
    gstr '▁'; gstr a; gstr b; gstr ab; gstr '▁a'; gstr '▁ab'
    gstr tokenizer.ggml.token_type; le 4 9; le 4 5; le 8 265
    le 4 2; le 4 3; le 4 3
    b=0
    while [ $b -lt 256 ]; do le 4 6; b=$((b + 1)); done
    for x in 1 1 1 1 1 1; do le 4 $x; done
    # f32 bit patterns: 0, then -4 -5 -5 -2 -3 -1
    gstr tokenizer.ggml.scores; le 4 9; le 4 6; le 8 265
    b=0
    while [ $b -lt 259 ]; do le 4 0; b=$((b + 1)); done
    for x in 3229614080 3231711232 3231711232 3221225472 3225419776 3212836864; do le 4 $x; done
    gstr tokenizer.ggml.bos_token_id; le 4 4; le 4 1
    gstr tokenizer.ggml.eos_token_id; le 4 4; le 4 2
  } > "$1"
}
TINY=$TMP/tiny.gguf
write_vocab "$TINY" llama
write_vocab "$TMP/gpt2.gguf" gpt2

# ids: <s>=1, <0xXX>=3+XX, ▁=259 a=260 b=261 ab=262 ▁a=263 ▁ab=264
got=$(printf 'ab ab\nba\nxy\n' | "$T" -m "$TINY" --out text); ok $? "tiny vocabulary: runs"
is "$got" "$(printf '1 264 264\n1 259 261 260\n1 259 123 124')" "tiny vocabulary: merges, byte fallback, BOS"
got=$(printf 'ab\n' | LLP_MODEL=$TINY "$T" --out text --no-bos); is "$got" "264" "LLP_MODEL names the model; --no-bos"
got=$(printf '1 264 264\n1 259 261 260\n' | "$T" -m "$TINY" --decode)
is "$got" "$(printf 'ab ab\nba')" "tiny vocabulary: --decode"

got=$(echo hi | "$T" -m "$TMP/gpt2.gguf" 2>&1 >/dev/null); rc=$?
is "$rc" 1 "unsupported tokenizer: exit 1"
is "$got" "llp-tokenize: error: $TMP/gpt2.gguf: tokenizer model 'gpt2' is not supported (tokenizer.ggml.model)" \
   "unsupported tokenizer: message names file and key"

got=$(echo hi | "$T" -m "$TMP/missing.gguf" 2>&1 >/dev/null); rc=$?
is "$rc" 1 "missing model file: exit 1"
case $got in "llp-tokenize: error: $TMP/missing.gguf"*) ok 0 "missing model file: message";; *) diag "$got"; ok 1 "missing model file: message";; esac
got=$(echo hi | env -u LLP_MODEL "$T" 2>&1 >/dev/null); rc=$?
is "$rc" 1 "no model at all: exit 1"
case $got in "llp-tokenize: error: "*) ok 0 "no model at all: message";; *) diag "$got"; ok 1 "no model at all: message";; esac

"$T" -m "$TINY" --bogus </dev/null >/dev/null 2>&1; is $? 2 "unknown flag: exit 2"
"$T" -m "$TINY" --decode --count </dev/null >/dev/null 2>&1; is $? 2 "--decode with --count: exit 2"
out=$("$T" --help); rc=$?
is "$rc" 0 "--help: exit 0"
case $out in *Examples:*llp-tokenize*) ok 0 "--help has examples";; *) ok 1 "--help has examples";; esac
"$T" --version | grep -q '^llp-tokenize'; ok $? "--version"

# Whitespace is text, and an empty text is no tokens (BOS only when BOS is on).
got=$(printf 'ab\n\nab\n' | "$T" -m "$TINY" --count --no-db); rc=$?
is "$rc" 0 "an empty line is a record like any other: exit 0"
is "$(echo "$got" | tr '\n' ' ')" "2 1 2 " "it counts BOS alone"
got=$(printf '\n' | "$T" -m "$TINY" --no-bos --out jsonl --no-db); rc=$?
is "$rc" 0 "an empty text with --no-bos: exit 0"
is "$got" '{"id":"1","text":"","tokens":[],"n_tokens":0}' "it tokenizes to [] with n_tokens 0"
printf '{"id":"a","text":" "}\n{"id":"b","text":"\\t\\n"}\n{"id":"c","text":""}\n' > "$TMP/ws.jsonl"
got=$("$T" -m "$TINY" --no-db --out jsonl "$TMP/ws.jsonl"); rc=$?
is "$rc" 0 "whitespace-only JSONL texts: exit 0"
case $got in *'"error"'*) diag "$got"; ok 1 "no whitespace-only text is an error";; *) ok 0 "no whitespace-only text is an error";; esac

# ---- the Llama-2 vocabulary -----------------------------------------------
if [ ! -e "$FIX/models/llama-spm-vocab.gguf" ]; then
  if [ "${CI:-}" = true ]; then ok 1 "fixture models/llama-spm-vocab.gguf missing and CI=true requires it"; fi
  diag "Llama-2 vocabulary fixture absent: its checks skipped"
  done_testing; exit
fi
M=$FIX/models/llama-spm-vocab.gguf

got=$(printf 'Hello world\n Hello world\n' | "$T" -m "$M" --out text)
is "$got" "$(printf '1 15043 3186\n1 29871 15043 3186')" "lines in, ids out"
got=$(printf 'Hello world\n' | "$T" -m "$M")
is "$got" '{"id":"1","text":"Hello world","tokens":[1,15043,3186],"n_tokens":3}' "lines in, JSONL out by default"
got=$(printf 'Hello world\n' | "$T" -m "$M" --no-bos --out text); is "$got" "15043 3186" "--no-bos"
got=$(printf '{"text":" "}\n{"text":"\\t\\n"}\n{"text":""}\n' | "$T" -m "$M" --no-bos --out text); rc=$?
is "$rc" 0 "whitespace-only and empty texts tokenize: exit 0"
is "$got" "$(printf '259\n29871 12 13\n')" "' ' is [259], '\\t\\n' is [29871, 12, 13], '' is []"
got=$(printf '{"text":""}\n' | "$T" -m "$M" --out text); is "$got" "1" "an empty text with BOS on is [BOS]"

got=$(echo '{"id":"a","text":"Hello world","keep":{"x":[1,"y"]},"n":2.5}' | "$T" -m "$M" --in jsonl --out jsonl)
is "$got" '{"id":"a","text":"Hello world","keep":{"x":[1,"y"]},"n":2.5,"tokens":[1,15043,3186],"n_tokens":3}' \
   "JSONL in and out: other fields pass through"
got=$(echo '{"id":"b","body":"Hello"}' | "$T" -m "$M" --field body)
is "$got" '{"id":"b","body":"Hello","tokens":[1,15043],"n_tokens":2}' "--field picks the text field"
got=$(echo '{"id":"c","text":"Hello world"}' | "$T" -m "$M" --pieces)
is "$got" '{"id":"c","text":"Hello world","tokens":[1,15043,3186],"n_tokens":3,"pieces":["<s>","▁Hello","▁world"]}' "--pieces"
got=$(printf 'Hello world\n' | "$T" -m "$M" --pieces --out text)
is "$got" "$(printf '1 15043 3186\t<s> ▁Hello ▁world')" "--pieces with --out text"
got=$(printf 'Hello world\na\n' | "$T" -m "$M" --count); is "$got" "$(printf '3\n2')" "--count prints counts only"
got=$(printf 'Hello world\n' | "$T" -m "$M" --count --out jsonl)
is "$got" '{"id":"1","text":"Hello world","n_tokens":3}' "--count with --out jsonl adds only n_tokens"
got=$(printf 'Hello\n' | "$T" -m "$M" --into tk)
is "$got" '{"id":"1","text":"Hello","tk":[1,15043],"tk_n_tokens":2}' "--into renames the added fields"

printf 'Hello world\n  two  spaces \ntabs\tand ünïcödé 🚀\nx\n' > "$TMP/in.txt"
"$T" -m "$M" "$TMP/in.txt" > "$TMP/tok.jsonl"; ok $? "tokenize a file"
"$T" -m "$M" --decode < "$TMP/tok.jsonl" > "$TMP/back.txt"; ok $? "decode the JSONL tokens field"
cmp -s "$TMP/in.txt" "$TMP/back.txt"; ok $? "--decode round trip through JSONL"
"$T" -m "$M" --out text < "$TMP/in.txt" | "$T" -m "$M" --decode > "$TMP/back2.txt"
cmp -s "$TMP/in.txt" "$TMP/back2.txt"; ok $? "--decode round trip through lines of ids"
got=$(echo '{"id":"d","tokens":[1,15043,3186],"x":1}' | "$T" -m "$M" --decode --out jsonl)
is "$got" '{"id":"d","tokens":[1,15043,3186],"x":1,"text":"Hello world"}' "--decode --out jsonl adds text"
got=$(echo '1 99999' | "$T" -m "$M" --decode); rc=$?
is "$rc" 3 "--decode of an id outside the vocabulary: exit 3"
case $got in *"token 99999 (position 2) is not in the vocabulary of 32000"*) ok 0 "and the record says which";; *) diag "$got"; ok 1 "and the record says which";; esac

done_testing
