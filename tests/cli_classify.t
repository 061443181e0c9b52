#!/bin/sh
# cli_classify.t — llp-classify as a filter: CSV in (quoted commas, quotes,
# newlines) gives CSV out with every original column in order plus label,
# score and p_<label>; JSONL in gives JSONL out; a ragged row gets an error
# and exit 3; a second run is served from the store's cache; --into renames;
# usage errors exit 2. Runs on a random-weight tiny model it writes.
#
# Not for: the scoring itself (tests/classify_scoring.c).
. "${0%/*}/lib.sh"
C=$BIN/llp-classify
M=$TMP/tiny.gguf
"$BIN/llp-mkmodel" "$M" 2>/dev/null
ok $? "tiny model written"
export LLP_MODEL=$M

# ---- CSV in, CSV out -------------------------------------------------------
printf 'id,product,review,stars\r\n' > "$TMP/in.csv"
printf '1,"Pot, 6 cup","Great, really great",5\r\n' >> "$TMP/in.csv"
printf '2,Lamp,"It said ""bright"" and it was not",1\r\n' >> "$TMP/in.csv"
printf '3,Film,"Slow start.\nGood ending, though.",4\r\n' >> "$TMP/in.csv"
printf '4,Pan,meh,3\r\n' >> "$TMP/in.csv"
"$C" --labels 'positive, negative,neutral' --column review -q "$TMP/in.csv" > "$TMP/out.csv"
ok $? "CSV: exit 0"
python3 - "$TMP/in.csv" "$TMP/out.csv" > "$TMP/check.txt" 2>&1 <<'EOF'
import csv, sys
src = list(csv.reader(open(sys.argv[1], newline='')))
out = list(csv.reader(open(sys.argv[2], newline='')))
labels = ['positive', 'negative', 'neutral']
want = src[0] + ['label', 'score'] + ['p_' + l for l in labels] + ['truncated', 'error']
problems = []
if out[0] != want: problems.append('header %r' % out[0])
if len(out) != len(src): problems.append('%d rows, want %d' % (len(out), len(src)))
for s, o in zip(src[1:], out[1:]):
    if o[:len(s)] != s: problems.append('original columns changed: %r' % o)
    row = dict(zip(out[0], o))
    p = [float(row['p_' + l]) for l in labels]
    if abs(sum(p) - 1) > 1e-6: problems.append('sum %r' % sum(p))
    if row['label'] not in labels: problems.append('label %r' % row['label'])
    elif float(row['score']) != max(p) or p[labels.index(row['label'])] != max(p):
        problems.append('score/argmax %r' % row)
    if row['error'] or row['truncated']: problems.append('error/truncated %r' % row)
print('ok' if not problems else '\n'.join(problems))
EOF
is "$(cat "$TMP/check.txt")" ok "CSV: original columns in order, then label,score,p_*; values kept; probabilities sum to 1; score is the max"

# ---- the store: a second run is served from the cache ------------------------
"$C" --labels positive,negative,neutral --column review -q "$TMP/in.csv" > "$TMP/out2.csv"
ok $? "second run: exit 0"
cmp -s "$TMP/out.csv" "$TMP/out2.csv"; ok $? "second run: identical output"
if [ -x "$BIN/llp-jobs" ]; then
  cached=$("$BIN/llp-jobs" list --out jsonl | python3 -c "
import json, sys
jobs = [json.loads(l) for l in sys.stdin if l.strip()]
j = max(jobs, key=lambda j: j['id'])
print(j['tool'], j['n_items'], j['n_cached'])")
else
  cached=$(sqlite3 "$LLP_DB" "SELECT tool, n_items, n_cached FROM jobs ORDER BY id DESC LIMIT 1" | tr '|' ' ')
fi
is "$cached" "classify 4 4" "second run: all 4 rows cached (labels spaced differently, same job)"
"$C" --labels positive,negative --column review -q "$TMP/in.csv" > /dev/null
n=$(sqlite3 "$LLP_DB" "SELECT n_cached FROM jobs ORDER BY id DESC LIMIT 1" 2>/dev/null || echo 0)
is "$n" 0 "other labels: nothing cached"

# ---- JSONL in, JSONL out -----------------------------------------------------
printf '%s\n' '{"id":"a","text":"good food, slow service","lang":"en"}' \
              '{"id":"b","text":"ok \"fine\"","n":[1,2]}' > "$TMP/in.jsonl"
"$C" --labels yes,no --no-db -q "$TMP/in.jsonl" > "$TMP/out.jsonl"
ok $? "JSONL: exit 0"
got=$(python3 -c "
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print(list(r)[:6], r['label'] in ('yes', 'no'), abs(r['p_yes'] + r['p_no'] - 1) < 1e-6)
" "$TMP/out.jsonl")
is "$got" "$(printf "%s\n%s" "['id', 'text', 'lang', 'label', 'score', 'p_yes'] True True" \
                            "['id', 'text', 'n', 'label', 'score', 'p_yes'] True True")" \
   "JSONL: input fields first and untouched, then label, score, p_*"
got=$(printf 'so so\n' | "$C" --labels yes,no --no-db --into verdict -q --out jsonl | python3 -c "
import json, sys; print(sorted(json.loads(sys.stdin.readline())))")
is "$got" "['id', 'text', 'verdict', 'verdict_p_no', 'verdict_p_yes', 'verdict_score']" "--into renames the added fields"

# ---- bad rows ---------------------------------------------------------------
printf 'id,review\n1,fine\n2,too,many\n3,\n4,great\n' > "$TMP/bad.csv"
(cd "$TMP" && "$C" --labels a,b --column review --no-db -q bad.csv > bad.out 2>/dev/null)
is $? 3 "a ragged row and an empty text: exit 3"
got=$(python3 -c "
import csv, sys
for r in csv.DictReader(open(sys.argv[1], newline='')):
    print(r['id'], bool(r['label']), r['error'])
" "$TMP/bad.out")
is "$got" "$(printf '1 True \n2 False %s\n3 False %s\n4 True ' "bad.csv:3: row has 3 fields, header has 2" "bad.csv:4: empty text")" \
   "failed rows carry an error naming the line; the others are labeled"

# ---- few-shot examples and templates --------------------------------------
printf 'text,label\n"loved it, really",a\nhated it,b\n' > "$TMP/shots.csv"
"$C" --labels a,b --examples "$TMP/shots.csv" --no-db -q "$TMP/in.jsonl" > /dev/null
ok $? "--examples: runs"
printf 'text,label\nloved it,c\n' > "$TMP/badshots.csv"
err=$("$C" --labels a,b --examples "$TMP/badshots.csv" --no-db -q "$TMP/in.jsonl" 2>&1 >/dev/null)
is "$?:$err" "1:llp-classify: error: --examples: $TMP/badshots.csv:2: label 'c' is not one of --labels" \
   "--examples: an unknown label is fatal, naming file and line"
printf 'Is this good? {labels}\nAnswer:' > "$TMP/notext.txt"
"$C" --labels a,b --prompt-file "$TMP/notext.txt" --no-db < "$TMP/in.jsonl" > /dev/null 2>&1
is $? 2 "--prompt-file without {text}: exit 2"
printf 'Is this good? {text}\nAnswer ({labels}):' > "$TMP/tmpl.txt"
"$C" --labels a,b --prompt-file "$TMP/tmpl.txt" --no-db -q < "$TMP/in.jsonl" > /dev/null
ok $? "--prompt-file with {text}: runs"
"$C" --labels a,b --prompt-file "$TMP/missing.txt" --no-db < "$TMP/in.jsonl" > /dev/null 2>&1
is $? 1 "--prompt-file missing: exit 1"

# ---- usage -------------------------------------------------------------------
err=$("$C" --no-db < "$TMP/in.jsonl" 2>&1 >/dev/null)
is "$?" 2 "--labels missing: exit 2"
case $err in *"--labels is required"*) ok 0 "--labels missing: says so";; *) ok 1 "--labels missing: says so ($err)";; esac
"$C" --labels only --no-db < "$TMP/in.jsonl" > /dev/null 2>&1; is $? 2 "one label: exit 2"
"$C" --labels a,a --no-db < "$TMP/in.jsonl" > /dev/null 2>&1; is $? 2 "duplicate labels: exit 2"
"$C" --labels a,,b --no-db < "$TMP/in.jsonl" > /dev/null 2>&1; is $? 2 "empty label: exit 2"
"$C" --labels a,b --batch-rows 0 --no-db < "$TMP/in.jsonl" > /dev/null 2>&1; is $? 2 "--batch-rows 0: exit 2"
out=$("$C" --help); ok $? "--help: exit 0"
case $out in *"--labels"*"Examples:"*) ok 0 "--help: options and examples";; *) ok 1 "--help: options and examples";; esac
done_testing
