#!/bin/sh
# llp-generate end to end on a self-made random model: prompt sources,
# record fields, seeds, stop strings, chat wrapping, streaming, the store.
. "${0%/*}/lib.sh"
M="$TMP/tiny.gguf"
"$BIN/llp-mkmodel" -q "$M"; ok $? "a random model is written"
G="$BIN/llp-generate"

# seeds: same seed, same bytes; another seed, other bytes
a=$("$G" -m "$M" -p "Hello world" -n 24 --seed 7 --temp 0.9 --no-db | od -An -tx1)
b=$("$G" -m "$M" -p "Hello world" -n 24 --seed 7 --temp 0.9 --no-db | od -An -tx1)
c=$("$G" -m "$M" -p "Hello world" -n 24 --seed 8 --temp 0.9 --no-db | od -An -tx1)
is "$a" "$b" "the same seed gives the same bytes"
[ "$a" != "$c" ]; ok $? "another seed gives other bytes"
g1=$("$G" -m "$M" -p "Hello" -n 10 --temp 0 --seed 1 --no-db | od -An -tx1)
g2=$("$G" -m "$M" -p "Hello" -n 10 --temp 0 --seed 2 --no-db | od -An -tx1)
is "$g1" "$g2" "greedy output does not depend on the seed"

# JSONL records: prompt or text field, fields passed through, added fields
out=$(printf '{"id":"a","prompt":"one two","keep":[1,2]}\n{"id":"b","text":"three"}\n' |
      "$G" -m "$M" -n 6 --temp 0 --no-db)
is "$(echo "$out" | wc -l | tr -d ' ')" 2 "two JSONL records in, two out"
echo "$out" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
a, b = rows
assert a["id"] == "a" and a["keep"] == [1, 2] and a["prompt"] == "one two"
for r in rows:
    assert isinstance(r["completion"], str)
    assert r["tokens_out"] == 6 and r["tokens_in"] > 1 and r["stop"] == "length", r
assert list(a)[:3] == ["id", "prompt", "keep"]
'; ok $? "JSONL: prompt/text fields read, other fields kept in order, completion/tokens_in/tokens_out/stop added"

# plain lines on stdin: one record per line
n=$(printf 'alpha\nbeta\ngamma\n' | "$G" -m "$M" -n 3 --temp 0 --no-db | wc -l)
is "$n" 3 "stdin lines: one record per line"

# positional arguments are prompts
n=$("$G" -m "$M" -n 3 --temp 0 --no-db "first prompt" "second prompt" | wc -l)
is "$n" 2 "positional arguments are prompts"

# a stop string ends the completion before it: take a greedy completion and
# stop at a piece of it
full=$("$G" -m "$M" -p "Hello" -n 24 --temp 0 --no-db --out jsonl |
       python3 -c 'import json,sys; print(json.load(sys.stdin)["completion"])')
stop=$(printf %s "$full" | python3 -c 'import sys; s=sys.stdin.read(); print(s[8:11] if len(s) > 11 else s[-2:])')
cut=$("$G" -m "$M" -p "Hello" -n 24 --temp 0 --no-db --out jsonl --stop "$stop" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print(r["stop"]); print(r["completion"])')
is "$(echo "$cut" | head -1)" "stop-string" "a stop string ends generation (stop: stop-string)"
python3 - "$full" "$stop" "$(echo "$cut" | tail -n +2)" <<'PY'
import sys
full, stop, cut = sys.argv[1:]
sys.exit(0 if full.startswith(cut) and stop not in cut and full[len(cut):].startswith(stop) else 1)
PY
ok $? "the completion is the text before the stop string"

# the streamed text of a single prompt equals the record's completion
# (the stream carries the model's raw bytes; the JSON record the same text
# with invalid UTF-8 replaced by U+FFFD, so compare after that replacement)
streamed=$("$G" -m "$M" -p "Hello" -n 24 --temp 0 --no-db |
           python3 -c 'import sys; sys.stdout.write(sys.stdin.buffer.read().decode("utf-8", "replace"))')
is "$streamed" "$full" "a single prompt streams the same text as its record"

# chat: --chat wraps the prompt (more prompt tokens), --system adds more
t0=$("$G" -m "$M" -p "Hi" -n 1 --temp 0 --no-db --out jsonl | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_in"])')
t1=$("$G" -m "$M" -p "Hi" -n 1 --temp 0 --no-db --out jsonl --chat | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_in"])')
t2=$("$G" -m "$M" -p "Hi" -n 1 --temp 0 --no-db --out jsonl --chat --system "Be brief" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_in"])')
[ "$t1" -gt "$t0" ] && [ "$t2" -gt "$t1" ]; ok $? "--chat and --system wrap the prompt ($t0 < $t1 < $t2 tokens)"
CM="$TMP/chat.gguf"; "$BIN/llp-mkmodel" -q --chat "$CM"
t3=$("$G" -m "$CM" -p "Hi" -n 1 --temp 0 --no-db --out jsonl | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_in"])')
t4=$("$G" -m "$CM" -p "Hi" -n 1 --temp 0 --no-db --out jsonl --no-chat | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_in"])')
[ "$t3" -gt "$t4" ]; ok $? "a model with a chat template is wrapped by default, --no-chat turns it off"

# the store: a job with its items; a second run is served from the cache
printf 'x y\nz w\n' > "$TMP/p.txt"
"$G" -m "$M" -n 4 --temp 0 --db "$TMP/s.db" < "$TMP/p.txt" > "$TMP/r1"
"$G" -m "$M" -n 4 --temp 0 --db "$TMP/s.db" < "$TMP/p.txt" > "$TMP/r2"
is "$(cat "$TMP/r2")" "$(cat "$TMP/r1")" "a re-run gives the same records"
cached=$(sqlite3 "$TMP/s.db" "select n_cached from jobs order by id desc limit 1")
is "$cached" 2 "a re-run is served from the cache"

# errors
"$G" -m "$TMP/missing.gguf" -p x --no-db 2>"$TMP/err"; rc=$?
is "$rc" 1 "a missing model exits 1"
grep -q "^llp-generate: error: .*missing.gguf" "$TMP/err"; ok $? "the message names the model file"
"$G" -m "$M" --top-k abc -p x --no-db 2>"$TMP/err"; is $? 2 "a bad flag value exits 2"
"$G" -m "$M" --prompt-ids "1 99999" -n 1 --no-db 2>"$TMP/err"; rc=$?
is "$rc" 1 "an out-of-range prompt id exits 1"
grep -q "out of range" "$TMP/err"; ok $? "and says the id is out of range"
printf '\n' | "$G" -m "$M" -n 2 --no-db >"$TMP/o" 2>/dev/null; is $? 3 "an empty prompt fails its record (exit 3)"
grep -q '"error"' "$TMP/o"; ok $? "the failed record carries an error field"
# a prompt longer than the context keeps its end and leaves room for -n
long=$(python3 -c 'print(" ".join("w%d" % i for i in range(200)))')
out=$("$G" -m "$M" -c 32 -n 8 --temp 0 --no-db --out jsonl -p "$long" 2>"$TMP/cut.err"); rc=$?
is "$rc" 0 "a long prompt: exit 0"
is "$(printf '%s' "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["tokens_in"], r["tokens_out"], r.get("truncated"))')" \
   "24 8 True" "-c 32 -n 8: the prompt keeps 24 tokens, 8 are generated, truncated"
case $(cat "$TMP/cut.err") in "llp-generate: warning: argument 1: prompt of "*" tokens cut to 24 (its start dropped) to leave 8 of the 32-token context for the completion") ok 0 "stderr says what was cut";;
  *) diag "$(cat "$TMP/cut.err")"; ok 1 "stderr says what was cut";; esac
out=$("$G" -m "$M" -c 32 -n -1 --temp 0 --no-db -q --out jsonl -p "$long" 2>"$TMP/cut.err")
is "$(printf '%s' "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["tokens_in"], r.get("truncated"))')" \
   "24 True" "-n -1: a quarter of the context is left to generate"
is "$(cat "$TMP/cut.err")" "" "-q: no warning"
out=$("$G" -m "$M" -c 32 -n 100 --temp 0 --no-db -q --out jsonl -p "$long")
is "$(printf '%s' "$out" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["tokens_in"], r["tokens_out"])')" \
   "16 16" "-n past the context: the prompt keeps its last 16 tokens"

done_testing
