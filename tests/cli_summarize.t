#!/bin/sh
# cli_summarize.t — llp-summarize on a random-weight model (made here with
# llp-mkmodel; its summaries are noise, the machinery is what is checked):
# a directory recursed, stdin as one document, --files-from; a long
# document with -c 256 map-reduced through at least three levels of
# combining, its tree of summaries in the store checked (levels, counts per
# level, children listed once each, leaf byte ranges, the root is the summary);
# a re-run served from the cache; an edited document recomputed while its
# unchanged chunks are reused; Ctrl-C inside a long document keeps its
# finished summaries and the rerun reuses them; --progress counts documents;
# --prompt-file; errors and exit codes.
#
# Not for: the splitter and the tree logic in depth (tests/summarize_tree.c).
. "${0%/*}/lib.sh"
S=$BIN/llp-summarize
M=$TMP/tiny.gguf
DB=$TMP/s.db
"$BIN/llp-mkmodel" -q --shape tiny --seed 5 "$M" 2>/dev/null; ok $? "llp-mkmodel writes a tiny model"
q() { sqlite3 "$DB" "$1"; }

mkdir -p "$TMP/docs/sub/deep"
printf 'A short note about bread.\n\nFlour, water, salt.\n' > "$TMP/docs/a.txt"
printf '# Title\n\nOne paragraph of markdown.\n' > "$TMP/docs/sub/b.md"
python3 - "$TMP/docs/sub/deep/long.txt" <<'EOF'
import random, sys
random.seed(7)
words = "the river ran past a quiet house while light fell on the long road and night came slowly over every hill".split()
paras = []
for p in range(24):
    sents = [" ".join(random.choice(words) for _ in range(random.randint(6, 14))).capitalize() + "."
             for _ in range(random.randint(3, 5))]
    paras.append(" ".join(sents))
open(sys.argv[1], "w").write("\n\n".join(paras) + "\n")
EOF
cd "$TMP" || exit 1
run() { "$S" -m "$M" --db "$DB" -q -c 256 --max-tokens 48 "$@"; }

run docs > out1.jsonl; is $? 0 "a directory: exit 0"
is "$(python3 -c 'import json,sys; print(" ".join(json.loads(l)["id"] for l in open(sys.argv[1])))' out1.jsonl)" \
   "docs/a.txt docs/sub/b.md docs/sub/deep/long.txt" "recursed, in sorted order, one record per file"
is "$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(r[0]["chunks"], r[0]["levels"], type(r[0]["summary"]).__name__)' out1.jsonl)" \
   "1 1 str" "a short document: one chunk, one level, a summary"

# the long document's tree, as recorded in the store
cat > check.py <<'EOF'
import json, sqlite3, sys
db, doc, path = sys.argv[1], sys.argv[2], sys.argv[3]
rec = [json.loads(l) for l in open("out1.jsonl") if json.loads(l)["id"] == doc][0]
con = sqlite3.connect(db)
job = con.execute("select max(job_id) from items where task='summarize-chunk' and json_extract(output,'$.document')=?", (doc,)).fetchone()[0]
rows = con.execute("select record_id, output from items where task='summarize-chunk' and job_id=? and json_extract(output,'$.document')=? order by id", (job, doc)).fetchall()
nodes = {rid: json.loads(o) for rid, o in rows}
levels = max(n["level"] for n in nodes.values())
per = [sum(1 for n in nodes.values() if n["level"] == l) for l in range(1, levels + 1)]
problems = []
# links go downwards only (a node is written before its parent exists):
# every node but the root is listed by exactly one node of the level above
listed = {}
for rid, n in nodes.items():
    if rid != "%s#L%d.%d" % (doc, n["level"], n["index"]): problems.append("id " + rid)
    if "parent" in n: problems.append("a parent field in " + rid)
    for c in n.get("children", []):
        if nodes.get(c, {}).get("level") != n["level"] - 1: problems.append("child of " + rid)
        listed[c] = listed.get(c, 0) + 1
for rid, n in nodes.items():
    if listed.get(rid, 0) != (0 if n["level"] == levels else 1): problems.append("parent of " + rid)
data = open(path, "rb").read()
leaves = sorted((n for n in nodes.values() if n["level"] == 1), key=lambda n: n["index"])
end = 0
for n in leaves:
    if n["start"] < end or n["end"] <= n["start"] or n["end"] > len(data): problems.append("range %d" % n["index"])
    end = n["end"]
root = [n for n in nodes.values() if n["level"] == levels]
print("levels=%d chunks=%d per_level=%s shrinking=%s roots=%d root_is_summary=%s record_levels=%d record_chunks=%d problems=%s" % (
    levels, len(leaves), "/".join(map(str, per)), all(per[i + 1] < per[i] for i in range(len(per) - 1)),
    len(root), root[0]["summary"] == rec["summary"], rec["levels"], rec["chunks"], problems[:3]))
EOF
got=$(python3 check.py "$DB" docs/sub/deep/long.txt docs/sub/deep/long.txt)
diag "$got"
lv=$(printf %s "$got" | sed 's/^levels=\([0-9]*\).*/\1/')
ok "$([ "$lv" -ge 4 ]; echo $?)" "-c 256: the long document takes at least three levels of combining ($lv levels)"
case $got in *"shrinking=True roots=1 root_is_summary=True"*) ok 0 "each level has fewer nodes; one root, whose summary is the record's";; *) ok 1 "each level has fewer nodes; one root, whose summary is the record's";; esac
case $got in *"record_levels=$lv "*) ok 0 "the record's levels match the store";; *) ok 1 "the record's levels match the store";; esac
ch=$(printf %s "$got" | sed 's/.*chunks=\([0-9]*\) .*/\1/')
case $got in *"record_chunks=$ch "*) ok 0 "the record's chunks count the level-1 items ($ch)";; *) ok 1 "the record's chunks count the level-1 items";; esac
case $got in *"problems=[]") ok 0 "ids, children and leaf byte ranges are consistent";; *) ok 1 "ids, children and leaf byte ranges are consistent";; esac
is "$(q "select count(*) from items where task='summarize-chunk' and record_id like 'docs/a.txt#%'")" 1 "a short document has one node, docs/a.txt#L1.1"

# re-runs: unchanged documents come from the cache; an edited one is redone
run docs > out2.jsonl
is "$(q "select n_items, n_cached from jobs order by id desc limit 1")" "3|3" "a re-run reuses all three documents"
cmp -s out1.jsonl out2.jsonl; ok $? "and writes the same records"
python3 - docs/sub/deep/long.txt <<'EOF'
import sys
p = sys.argv[1]
t = open(p).read().rstrip("\n")
open(p, "w").write(t + " The end came suddenly.\n")
EOF
run docs > out3.jsonl
is "$(q "select n_items, n_cached from jobs order by id desc limit 1")" "3|2" "after an edit, only the edited document is recomputed"
job=$(q "select max(id) from jobs")
reused=$(q "select count(*) from items where job_id=$job and task='summarize-chunk' and cached=1 and json_extract(output,'\$.level')=1")
leaves=$(q "select count(*) from items where job_id=$job and task='summarize-chunk' and json_extract(output,'\$.level')=1")
ok "$([ "$reused" -ge $((leaves - 2)) ] && [ "$leaves" -gt 1 ]; echo $?)" "its unchanged chunks are reused ($reused of $leaves)"

# Ctrl-C inside one long document: every finished summary is already
# committed, the job is marked interrupted, and the rerun reuses them and
# writes what an uninterrupted run writes
python3 - big.txt <<'PY'
import random, sys
random.seed(11)
words = "a small boat crossed the bay at dawn and the gulls followed it past the old stone pier".split()
paras = [" ".join(" ".join(random.choice(words) for _ in range(random.randint(6, 14))).capitalize() + "."
                  for _ in range(random.randint(3, 5))) for p in range(120)]
open(sys.argv[1], "w").write("\n\n".join(paras) + "\n")
PY
IDB=$TMP/interrupt.db
nodes() { n=$(sqlite3 "$IDB" "select count(*) from items where task='summarize-chunk' ${1:-}" 2>/dev/null); echo "${n:-0}"; }
"$S" -m "$M" --db "$IDB" -c 256 --max-tokens 48 big.txt > int1.jsonl 2> int1.err &
pid=$!
# wait (at most a minute) until ten summaries are committed
i=0
while [ $i -lt 1200 ] && [ "$(nodes)" -lt 10 ]; do sleep 0.05; i=$((i + 1)); done
kill -INT $pid; wait $pid; rc=$?
is "$rc" 130 "SIGINT inside a long document: exit 130"
is "$(cat int1.err)" "llp-summarize: interrupted: finishing the current step and saving finished work; press Ctrl-C again to stop at once" \
   "the first Ctrl-C says it is finishing the step and how to stop at once"
is "$(sqlite3 "$IDB" "select status, n_items from jobs")" "interrupted|0" "the job is marked interrupted; the document is not finished"
is "$(wc -c < int1.jsonl | tr -d ' ')" 0 "the unfinished document is not written"
kept=$(nodes "and job_id = 1")
ok "$([ "$kept" -ge 10 ]; echo $?)" "the summaries finished before the signal are committed ($kept)"
total=$(nodes)
"$S" -m "$M" --db "$IDB" -q -c 256 --max-tokens 48 big.txt > int2.jsonl; is $? 0 "the rerun exits 0"
is "$(nodes "and job_id = 2 and cached = 1")" "$kept" "the rerun reuses every committed summary ($kept)"
computed=$(nodes "and job_id = 2 and cached = 0")
all=$(nodes "and job_id = 2")
is "$((computed + kept))" "$all" "and computes only the rest ($computed of $all)"
"$S" -m "$M" --no-db -q -c 256 --max-tokens 48 big.txt > int3.jsonl
cmp -s int2.jsonl int3.jsonl; ok $? "the rerun writes what an uninterrupted run writes"
is "$(sqlite3 "$IDB" "select status from jobs where id = 2")" "done" "the rerun's job is done"

# --progress counts documents (one here), and into a file writes lines
"$S" -m "$M" --no-db --progress -c 256 --max-tokens 48 docs/sub/deep/long.txt 2> prog.txt > /dev/null
case $(cat prog.txt) in *"llp-summarize: 1/1 100%"*) ok 0 "--progress on one long document: 1/1";; *) diag "$(cat prog.txt)"; ok 1 "--progress on one long document: 1/1";; esac
ok "$(grep -q "$(printf '\r')" prog.txt; [ $? -ne 0 ]; echo $?)" "--progress into a file: no \\r redraws"
is "$(head -1 prog.txt | cut -d' ' -f1-3)" "llp-summarize: note: --parallel" "progress first says how many documents run together"
is "$(sed -n 2p prog.txt | cut -d' ' -f1-3)" "llp-summarize: 0/1 0%" "then: nothing done yet, one document to do"

# other inputs
got=$(printf 'Line one.\nLine two.\n\nA second paragraph.\n' | "$S" -m "$M" --no-db -q | python3 -c 'import json,sys; r=[json.loads(l) for l in sys.stdin]; print(len(r), r[0]["id"], r[0]["chunks"])')
is "$got" "1 stdin 1" "all of stdin is one document"
got=$(printf 'docs/a.txt\ndocs/sub/b.md\n' | "$S" -m "$M" --no-db -q --files-from - | wc -l | tr -d ' ')
is "$got" 2 "--files-from -: one record per named file"
a=$("$S" -m "$M" --no-db -q docs/a.txt); b=$("$S" -m "$M" --no-db -q docs/a.txt)
is "$a" "$b" "greedy by default: the same summary twice"

printf 'Summarize: {text}\nSummary:' > tmpl.txt
"$S" -m "$M" --db "$DB" -q --prompt-file tmpl.txt docs/a.txt > /dev/null; is $? 0 "--prompt-file with {text} runs"
is "$(q "select json_extract(params,'\$.prompt') from jobs order by id desc limit 1")" "Summarize: {text}
Summary:" "the template is part of the job's parameters"
printf 'no placeholder' > bad.txt
got=$("$S" -m "$M" --no-db -q --prompt-file bad.txt docs/a.txt 2>&1); rc=$?
is "$rc" 2 "--prompt-file without {text}: usage error, exit 2"
is "$(printf '%s\n' "$got" | head -1)" "llp-summarize: error: bad.txt: the prompt template must contain {text} exactly once (found 0)" "and says why"
: > empty.txt
"$S" -m "$M" --no-db -q empty.txt > e.jsonl; is $? 3 "an empty document: exit 3"
is "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"])' e.jsonl)" "empty.txt: empty text" "its record carries the error"
got=$("$S" -m "$M" --no-db -q -c 32 docs/a.txt 2>&1); is $? 1 "-c 32: exit 1"
case $got in "llp-summarize: error: context of 32 tokens is too small for the prompt"*) ok 0 "names the context and the prompt";; *) diag "$got"; ok 1 "names the context and the prompt";; esac
"$S" -m "$M" --max-tokens 0 docs/a.txt 2>/dev/null; is $? 2 "--max-tokens 0: usage error"
got=$("$S" -m "$M" --max-tokens 8 docs/a.txt 2>&1); is $? 2 "--max-tokens 8 (below the 16-token floor): usage error"
case $got in *"--max-tokens: must be between 16 and"*) ok 0 "names the floor";; *) diag "$got"; ok 1 "names the floor";; esac
"$S" --help | grep -q -- '--prompt-file'; ok $? "--help documents --prompt-file"
# -v: where the time went, its token counts those of the job
"$BIN/llp-summarize" -m "$M" --db "$TMP/time.db" -v --max-tokens 16 -c 256 --parallel 3 \
    "$ROOT/examples/docs/the-clockmaker.txt" "$ROOT/examples/docs/haiku.txt" > /dev/null 2> "$TMP/time.err"
ok $? "llp-summarize -v"
line=$(grep ': note: time: ' "$TMP/time.err")
ok $([ -n "$line" ] && echo 0 || echo 1) "-v ends with a time: line"
job=$(sqlite3 "$TMP/time.db" "select tokens_in, tokens_out from jobs order by id desc limit 1")
is "$(printf '%s\n' "$line" | python3 -c '
import re, sys
l = sys.stdin.read()
p = int(re.search(r"prompts [0-9.]+ s for (\d+) tokens", l).group(1))
lv = re.findall(r"level \d\+?: [0-9.]+ s for \d+ nodes? \((\d+) tokens in, (\d+) out\)", l)
print("%d|%d %s" % (sum(int(a) for a, b in lv), sum(int(b) for a, b in lv), p == sum(int(a) for a, b in lv)))')" \
   "$job True" "the time: line's levels add up to the job's tokens, and to its prompt rows"
done_testing
