#!/bin/sh
# tests/errors_catalogue.t — every row of the table in docs/errors.md, run as
# written: the command runs in a scratch directory holding the bad inputs
# made below, and its exit code and message (the first line of stderr, or
# the `error` field of the first failed record) must be exactly what the
# document says. The document is the test's data, so the two cannot drift.
#
# Not for: faults of the environment (full disk, signals, closed pipes:
# tests/faults.t) or the reader's and GGUF parser's detailed cases
# (tests/records_*.c, tests/gguf_malformed.c).
. "${0%/*}/lib.sh"
DOC="$ROOT/docs/errors.md"
W="$TMP/w"
mkdir -p "$W"
cd "$W" || exit 1
unset LLP_MODEL LLP_UNSET_FOR_TEST

# ---- the bad inputs the table names ---------------------------------------
"$BIN/llp-mkmodel" -q tiny.gguf; ok $? "a random tiny model is written"
python3 - <<'PY'
import struct
def s(x):
    b = x.encode()
    return struct.pack('<Q', len(b)) + b
def kv_str(k, v): return s(k) + struct.pack('<I', 8) + s(v)
def kv_u32(k, v): return s(k) + struct.pack('<II', 4, v)
def kv_strs(k, vs): return s(k) + struct.pack('<IIQ', 9, 8, len(vs)) + b''.join(s(v) for v in vs)
def gguf(kvs, tensors, data=b'', version=3, align=32):
    out = b'GGUF' + struct.pack('<IQQ', version, len(tensors), len(kvs)) + b''.join(kvs)
    for name, ne, typ, off in tensors:
        out += s(name) + struct.pack('<I', len(ne)) + b''.join(struct.pack('<Q', n) for n in ne)
        out += struct.pack('<IQ', typ, off)
    return out + b'\0' * ((-len(out)) % align) + data
vocab = [kv_str('tokenizer.ggml.model', 'llama'),
         kv_strs('tokenizer.ggml.tokens', ['<unk>', '<s>', '</s>', 'a', 'b', 'ab'])]
files = {
    'vocab.gguf': gguf(vocab, []),
    'bad-magic.gguf': b'GGUX' + gguf(vocab, [])[4:],
    'v1.gguf': b'GGUF' + struct.pack('<IQQ', 1, 0, 0),
    'big-endian.gguf': b'GGUF' + struct.pack('>IQQ', 3, 0, 0),
    'iq2_xxs.gguf': gguf(vocab, [('blk.0.attn_q.weight', [256], 16, 0)], b'\0' * 66),
    'type99.gguf': gguf(vocab, [('w', [32], 99, 0)], b'\0' * 128),
    'gpt2.gguf': gguf([kv_str('tokenizer.ggml.model', 'gpt2'), kv_strs('tokenizer.ggml.tokens', ['a'])], []),
    'no-vocab.gguf': gguf([kv_str('general.architecture', 'llama')], []),
    'past-end.gguf': gguf(vocab, [('token_embd.weight', [64, 6], 0, 0)], b'\0' * 100),
    'misaligned.gguf': gguf(vocab, [('w', [4], 0, 3)], b'\0' * 64),
    'align48.gguf': gguf([kv_u32('general.alignment', 48)] + vocab, []),
}
files['truncated.gguf'] = files['vocab.gguf'][:100]
for name, data in files.items():
    open(name, 'wb').write(data)
PY
ok $? "the malformed GGUF files are written"
: > empty.gguf
mkdir -p model-dir.gguf
printf 'hello\n' > hello.txt
printf 'caf\351 \377\376 na\303\257ve\n' > latin1.txt
printf 'id,text,extra\n1,fine,x\n2,short\n' > ragged.csv
# malformed CSV and TSV
printf 'id,text\n1,"never closed\n2,ok\n' > unclosed.csv
printf 'id,text\n1,say "hi"\n' > stray-quote.csv
printf 'id\ttext\n1\t"hi" there\n' > after-quote.tsv
{ printf 'id,text\n1,"'; head -c 16777300 /dev/zero | tr '\0' a; printf '\n2,ok\n'; } > long.csv
python3 -c 'print("text"); print(",".join(["x"] * 65537)); print("ok")' > wide.csv
printf 'id,te"xt\n1,a\n' > bad-header.csv
printf 'id,review\n1,good\n' > reviews.csv
printf '{"id":"1","text":"ok"}\n{"id":"2","text":"broken\n' > broken.jsonl
printf '{"id":"1","text":"ok"}\n[1,2,3]\n' > array.jsonl
printf '{"id":"1","text":""}\n' > empty-text.jsonl
printf '{"id":"1","text":" \\t"}\n' > blank.jsonl
printf '{"id":"1","body":"x"}\n{"id":"2","text":"no body"}\n' > fields.jsonl
ln -sf loop loop
# Hugging Face directories for llp-convert, one defect each (Debian's python3 with numpy)
for kind in no-field heads arch rope-scaling shape dtype missing truncated overlap header-len gpt2-json unigram; do
  /usr/bin/python3 "$ROOT/tests/hf_export.py" tiny hf-$kind $kind || ok 1 "hf-$kind is written"
done
# added fields that clash with input fields
printf 'id,text,label\n1,fine,pos\n' > gold.csv
printf '{"id":"1","text":"one"}\n{"id":"2","text":"two","tokens":[1]}\n' > clash-later.jsonl
# pipelines (llp-run)
printf 'version: 1\ninput: {stdin: true}\nsteps: [\n' > syntax.yaml
printf 'version: 2\ninput: {stdin: true}\nsteps:\n  - tokenize: {}\n' > version2.yaml
printf 'version: 1\nmodel: tiny.gguf\ninput: {stdin: true}\nsteps:\n  - frobnicate: {}\n' > tool.yaml
printf 'version: 1\nmodel: tiny.gguf\ninput:\n  stdin: true\nsteps:\n  - classify:\n      lables: [a, b]\n' > typo.yaml
printf 'version: 1\nmodel: tiny.gguf\ninput: {stdin: true}\nsteps:\n  - tokenize: {}\n  - summarize: {max_tokens: -3}\n' > bad-value.yaml
printf 'version: 1\nmodel: tiny.gguf\ninput: {stdin: true}\n' > no-steps.yaml
printf 'version: 1\nmodel: tiny.gguf\ninput: {stdin: true}\nsteps:\n  - classify: {}\n' > no-labels.yaml
printf 'version: 1\nmodel: ${LLP_UNSET_FOR_TEST}\ninput: {stdin: true}\nsteps:\n  - tokenize: {}\n' > env.yaml
printf 'version: 1\nmodel: tiny.gguf\ninput: {csv: missing.csv}\nsteps:\n  - tokenize: {}\n' > missing-input.yaml
printf 'version: 1\ninput: {stdin: true}\nsteps:\n  - tokenize: {}\n' > no-model.yaml
printf 'version: 1\nmodel: tiny.gguf\ninput: {csv: reviews.csv, column: review}\nsteps: [tokenize]\noutput: {jsonl: model-dir.gguf}\n' > out-dir.yaml
printf 'version: 1\nmodel: tiny.gguf\ninput: {csv: reviews.csv, column: review}\nsteps: [tokenize]\noutput: {jsonl: hello.txt/out.jsonl}\n' > out-under-file.yaml
mkdir -p ro
if mount -t tmpfs -o ro,size=64k tmpfs ro 2>/dev/null; then
  mounted=1
  trap 'umount "$W/ro" 2>/dev/null; rm -rf "$TMP"' EXIT
else
  mounted=0
  if [ "${CI:-}" = true ]; then ok 1 "mount a read-only tmpfs (CI=true requires it)"; fi
fi

# llp-finetune and adapters
printf 'id,text,gold\n1,fine,pos\n2,so so,meh\n3,bad,neg\n' > ft-labels.csv
printf '{"prompt": "Q: hi?\\nA:", "completion": " hello"}\n{"prompt": "Q: no answer"}\n' > ft-pc.jsonl
printf '{"prompt": "Q: hi?\\nA:", "completion": " hello"}\n' > ft-ok.jsonl
printf '{"prompt": "Q: what is the longest river of the continent?\\nA:", "completion": " the one"}\n' > ft-long.jsonl
"$BIN/llp-mkmodel" -q --shape small small.gguf &&
  "$BIN/llp-finetune" -q --no-db -m small.gguf -o small-lora.gguf --max-steps 1 ft-ok.jsonl
ok $? "an adapter of another model (small) is written"

# ---- the table --------------------------------------------------------------
python3 - "$DOC" > rows.tsv <<'PY'
import sys
rows = []
for line in open(sys.argv[1], encoding='utf-8'):
    cells = [c.strip() for c in line.strip().strip('|').split(' | ')]
    if len(cells) != 6 or not cells[0].isdigit():
        continue
    num, what, cmd, code, where, msg = cells
    unq = lambda c: c[1:-1] if c.startswith('`') and c.endswith('`') else c
    print('\t'.join([num, unq(cmd), code, where, unq(msg)]))
PY
n_rows=$(wc -l < rows.tsv)
[ "$n_rows" -ge 30 ]; ok $? "docs/errors.md lists at least 30 bad inputs ($n_rows)"

PATH="$BIN:$PATH"; export PATH
tab=$(printf '\t')
while IFS="$tab" read -r num cmd code where msg; do
  case "$cmd" in *" ro/"*)
    if [ "$mounted" = 0 ]; then echo "ok $((T_N+1)) # SKIP row $num: no read-only mount"; T_N=$((T_N+1)); continue; fi;;
  esac
  sh -c "$cmd" > out.txt 2> err.txt < /dev/null
  rc=$?
  if [ "$where" = record ]; then
    got=$(python3 -c '
import json, sys
for line in open("out.txt"):
    r = json.loads(line)
    if r.get("error"):
        print(r["error"]); break' 2>&1)
  else
    got=$(head -n 1 err.txt)
    [ -s err.txt ] || got="(none)"
  fi
  is "$rc $got" "$code $msg" "row $num: $cmd"
done < rows.tsv
done_testing
