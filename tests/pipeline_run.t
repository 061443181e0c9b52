#!/bin/sh
# pipeline_run.t — llp-run running pipelines on a random-weight model made
# here with llp-mkmodel (its labels and summaries are noise; the machinery
# is what is checked): the shipped pipelines/sentiment.yaml and
# pipelines/summarize.yaml against examples/, each giving the same records
# as its equivalent shell pipeline of llp-* binaries (the line --dry-run
# prints, run by sh); a two-step pipeline likewise; the --dry-run text;
# the pipeline job and its child jobs in the store; ${VAR:-default}; and
# --resume after a SIGKILL in the middle of a run finishing with output
# identical to an uninterrupted run's, continuing the same pipeline job.
#
# Not for: validation messages (tests/pipeline_validate.t).
. "${0%/*}/lib.sh"
RUN=$BIN/llp-run
M=$TMP/tiny.gguf
"$BIN/llp-mkmodel" -q --shape tiny --seed 3 "$M" 2>/dev/null; ok $? "llp-mkmodel writes a tiny model"
export LLP_MODEL="$M" PATH="$BIN:$PATH"
unset REVIEWS DOCS OUT
cd "$ROOT" || exit 1

# same_records A B: the same JSON records, ignoring key order.
same_records() {
  python3 - "$1" "$2" <<'EOF'
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
sys.exit(0 if a == b and len(a) > 0 else 1)
EOF
}
# shell_of FILE DB OUT: the equivalent shell pipeline, writing OUT.
shell_of() {
  "$RUN" --dry-run --db "$2" "$1" | tail -1
}

# ---- pipelines/sentiment.yaml over examples/reviews.csv ------------------------
OUT=$TMP/sentiment.csv "$RUN" -q --db "$TMP/run.db" pipelines/sentiment.yaml; is $? 0 "sentiment: exit 0"
rows=$(python3 -c 'import csv,sys; print(len(list(csv.DictReader(open(sys.argv[1])))))' examples/reviews.csv)
is "$(python3 -c 'import csv,sys; r=list(csv.DictReader(open(sys.argv[1]))); print(len(r), ",".join(list(r[0])[-7:]), all(x["label"] in ("positive","negative","neutral") for x in r))' "$TMP/sentiment.csv")" \
   "$rows label,score,p_positive,p_negative,p_neutral,truncated,error True" \
   "sentiment: every review labeled, columns kept, label columns added"
sh -c "$(OUT=$TMP/sentiment-sh.csv shell_of pipelines/sentiment.yaml "$TMP/sh.db") -q" 2>/dev/null
is $? 0 "sentiment: the shell pipeline runs"
cmp -s "$TMP/sentiment.csv" "$TMP/sentiment-sh.csv"; ok $? "sentiment: same records as the shell pipeline (byte for byte)"

q() { sqlite3 "$TMP/run.db" "$1"; }
is "$(q "select tool || ' ' || status || ' ' || n_items from jobs where parent_job is null")" \
   "pipeline:sentiment done $rows" "store: one pipeline job, done, counting the records"
is "$(q "select c.tool || ' ' || c.status || ' ' || c.n_items from jobs c join jobs p on c.parent_job = p.id where p.tool = 'pipeline:sentiment'")" \
   "classify done $rows" "store: the step is a child job of the pipeline job"
is "$(q "select count(*) from items i join jobs j on i.job_id = j.id where j.tool = 'classify'")" "$rows" \
   "store: one item per record under the step's job"
is "$(q "select json_extract(argv, '\$[0]') || ' ' || json_extract(argv, '\$[1]') from jobs where tool = 'classify'")" \
   "llp-classify -m" "store: the step's job records its binary's command line"
is "$(sqlite3 "$TMP/sh.db" "select params_hash from jobs where tool = 'classify'")" \
   "$(q "select params_hash from jobs where tool = 'classify'")" "store: the step's cache key parameters are the binary's"

# ---- pipelines/summarize.yaml over examples/docs/ --------------------------------
# Four of its documents (in DOCS, the pipeline's override), to stay quick.
DOCS=$TMP/docs/
mkdir -p "$DOCS"
if [ -d examples/docs ]; then
  for f in $(ls examples/docs | head -n 4); do cp "examples/docs/$f" "$DOCS"; done
else
  diag "examples/docs/ absent: summarizing documents made here"
  printf 'Bread needs flour, water and salt.\n\nKnead it, let it rise, bake it.\n' > "$DOCS/bread.md"
  printf 'The river ran past the quiet house.\n' > "$DOCS/river.txt"
fi
export DOCS
OUT=$TMP/summaries.jsonl "$RUN" -q --db "$TMP/run.db" pipelines/summarize.yaml; is $? 0 "summarize: exit 0"
n_docs=$(find "$DOCS" -type f ! -name '.*' | wc -l)
is "$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(len(r), all(isinstance(x["summary"], str) and x["levels"] >= 1 for x in r))' "$TMP/summaries.jsonl")" \
   "$n_docs True" "summarize: one summary per document"
sh -c "$(OUT=$TMP/summaries-sh.jsonl shell_of pipelines/summarize.yaml "$TMP/sh.db") -q" 2>/dev/null
is $? 0 "summarize: the shell pipeline runs"
same_records "$TMP/summaries.jsonl" "$TMP/summaries-sh.jsonl"; ok $? "summarize: same records as the shell pipeline"
unset DOCS

# ---- two steps: classify, then summarize what it labeled ---------------------------
python3 - "$TMP/few.csv" <<'EOF'
import csv, sys
rows = list(csv.reader(open("examples/reviews.csv", newline="")))
csv.writer(open(sys.argv[1], "w", newline="")).writerows(rows[:25])
EOF
cat > "$TMP/two.yaml" <<EOF
version: 1
name: reviews
model: \${LLP_MODEL}
input:
  csv: $TMP/few.csv
  column: review
  id_column: id
steps:
  - classify:
      labels: [positive, negative, neutral]
  - summarize:
      max_tokens: 24
      into: gist
output:
  jsonl: \${OUT:-$TMP/two.jsonl}
EOF
"$RUN" -q --db "$TMP/two.db" "$TMP/two.yaml"; is $? 0 "two steps: exit 0"
is "$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(len(r), sorted(set(k for k in r[0] if k in ("label","gist","gist_chunks","gist_levels","review"))))' "$TMP/two.jsonl")" \
   "24 ['gist', 'gist_chunks', 'gist_levels', 'label', 'review']" "two steps: each record carries both steps' fields"
sh -c "$(OUT=$TMP/two-sh.jsonl shell_of "$TMP/two.yaml" "$TMP/two-sh.db") -q" 2>/dev/null
is $? 0 "two steps: the shell pipeline runs"
same_records "$TMP/two.jsonl" "$TMP/two-sh.jsonl"; ok $? "two steps: same records as the shell pipeline"
is "$(sqlite3 "$TMP/two.db" "select group_concat(tool, ' ') from (select c.tool from jobs c join jobs p on c.parent_job = p.id where p.tool = 'pipeline:reviews' order by c.id)")" \
   "classify summarize" "two steps: two child jobs, in order"
is "$(sqlite3 "$TMP/two.db" "select tokens_in = (select sum(tokens_in) from jobs where parent_job = p.id) from jobs p where tool = 'pipeline:reviews'")" \
   "1" "two steps: the pipeline job sums its steps' tokens"

# ---- --dry-run ------------------------------------------------------------------------
want="pipeline: sentiment (pipelines/sentiment.yaml), 1 step
input: csv examples/reviews.csv, text from 'review', ids from 'id'
step 1: classify (model $M) --labels positive,negative,neutral
output: csv out/sentiment.csv
store: runs.db
shell:
llp-classify -m $M --db runs.db --labels positive,negative,neutral --column review --id-column id --out csv examples/reviews.csv > out/sentiment.csv"
is "$("$RUN" --dry-run --db runs.db pipelines/sentiment.yaml)" "$want" "--dry-run: the plan and the shell pipeline"
[ ! -e runs.db ] && [ ! -e out/sentiment.csv ]; ok $? "--dry-run: runs nothing, writes nothing"
is "$(REVIEWS=other.csv OUT=o.csv "$RUN" --dry-run --no-db -t 2 --shard 1/3 pipelines/sentiment.yaml | tail -1)" \
   "llp-classify -m $M -t 2 --no-db --labels positive,negative,neutral --column review --id-column id --shard 1/3 --out csv other.csv > o.csv" \
   "\${VAR:-default}: the variable when set; -t, --no-db and --shard reach the steps"

# ---- --resume after SIGKILL ----------------------------------------------------------------
python3 - "$TMP/more.csv" <<'EOF'
import csv, sys
rows = list(csv.reader(open("examples/reviews.csv", newline="")))
csv.writer(open(sys.argv[1], "w", newline="")).writerows(rows[:61])
EOF
sed -e "s|few.csv|more.csv|" "$TMP/two.yaml" > "$TMP/more.yaml"
# (with a store of its own: llp-summarize reuses the summaries of chunks
# it has seen, so a run with a store is what a resumed run is compared to)
OUT=$TMP/whole.jsonl "$RUN" -q --db "$TMP/whole.db" "$TMP/more.yaml"; is $? 0 "resume: an uninterrupted run"
OUT=$TMP/killed.jsonl "$RUN" -q --db "$TMP/kill.db" "$TMP/more.yaml" & pid=$!
done_items=0; i=0
while [ $i -lt 600 ]; do
  # records only: each summarized record also stores its chunks' summaries
  # (task summarize-chunk), which a resumed run reuses but does not count
  done_items=$(sqlite3 "$TMP/kill.db" "select count(*) from items i join jobs j on i.job_id = j.id where j.tool = 'summarize' and i.task = 'summarize'" 2>/dev/null || echo 0)
  [ "${done_items:-0}" -ge 16 ] && break
  sleep 0.05; i=$((i+1))
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
[ "${done_items:-0}" -ge 16 ]; ok $? "resume: killed in the summarize step after $done_items records"
[ ! -e "$TMP/killed.jsonl" ]; ok $? "resume: a killed run leaves no output file"
OUT=$TMP/killed.jsonl "$RUN" -q --resume --db "$TMP/kill.db" "$TMP/more.yaml"; is $? 0 "resume: --resume exits 0"
cmp -s "$TMP/whole.jsonl" "$TMP/killed.jsonl"; ok $? "resume: output identical to the uninterrupted run's"
k() { sqlite3 "$TMP/kill.db" "$1"; }
is "$(k "select count(*) || ' ' || max(status) from jobs where tool = 'pipeline:reviews'")" "1 done" \
   "resume: the interrupted pipeline job itself is continued and finished"
[ "$(k "select n_cached from jobs where tool = 'summarize' order by id desc limit 1")" -ge 16 ]
ok $? "resume: finished records were not recomputed"
is "$(k "select count(*) from jobs where parent_job = (select id from jobs where tool = 'pipeline:reviews')")" "4" \
   "resume: the steps of both runs are children of the one pipeline job"
OUT=$TMP/again.jsonl "$RUN" --resume --db "$TMP/kill.db" "$TMP/more.yaml" 2> "$TMP/err.txt"; is $? 0 "resume: with nothing to resume, a new run"
is "$(cat "$TMP/err.txt")" "llp-run: note: nothing to resume for pipeline 'reviews'; starting a new run" \
   "resume: says so"

# ---- command line ------------------------------------------------------------------------------
"$RUN" --resume --no-db pipelines/sentiment.yaml 2>/dev/null; is $? 2 "--resume with --no-db: usage error"
"$RUN" 2>/dev/null; is $? 2 "no file: usage error"
"$RUN" --help | grep -q -- '--dry-run'; ok $? "--help lists the options"
is "$("$RUN" --version)" "llp-run (llamapipe) $("$BIN/llp-classify" --version | sed 's/.* //')" "--version"

# ---- CSV from stdin --------------------------------------------------------------
printf 'version: 1\ninput:\n  stdin: csv\n  column: review\nsteps: [tokenize]\noutput: {jsonl: %s}\n' "$TMP/stdin.jsonl" > "$TMP/stdin_csv.yaml"
printf 'id,review,stars\n7,"good, really",5\n8,bad,1\n' | "$RUN" -q --no-db "$TMP/stdin_csv.yaml"; is $? 0 "stdin: csv: exit 0"
is "$(python3 -c 'import json,sys; print([(r["id"], r["review"], r["stars"], r["n_tokens"] > 0) for r in map(json.loads, open(sys.argv[1]))])' "$TMP/stdin.jsonl")" \
   "[('7', 'good, really', '5', True), ('8', 'bad', '1', True)]" "stdin: csv: every row read as CSV, columns kept"

done_testing
