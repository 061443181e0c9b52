#!/bin/sh
# llp-serve --pipeline: POST /pipelines/NAME with JSON records (an array,
# one object, or JSON Lines) or a CSV body answers exactly the bytes llp-run
# writes for the same records; an unknown name is 404; bad records are 400.
. "${0%/*}/lib.sh"
. "${0%/*}/serve_lib.sh"

M="$TMP/m.gguf"
"$BIN/llp-mkmodel" -q --type Q8_0 "$M"; ok $? "a model"
cat > "$TMP/tone.yaml" <<'Y'
version: 1
name: tone
model: ${LLP_MODEL}
input:
  jsonl: ${IN:-in.jsonl}
  column: review
steps:
  - classify:
      labels: [positive, negative]
  - tokenize:
      field: review
output:
  jsonl: ${OUT:-out.jsonl}
Y
cat > "$TMP/tone_csv.yaml" <<'Y'
version: 1
name: tone_csv
model: ${LLP_MODEL}
input:
  csv: ${IN:-in.csv}
  column: review
  id_column: id
steps:
  - classify:
      labels: [positive, negative]
output:
  csv: ${OUT:-out.csv}
Y
export LLP_MODEL="$M"
serve_start a -m "$M" -t 1 --db "$TMP/s.db" --pipeline "$TMP/tone.yaml" --pipeline "$TMP/tone_csv.yaml"; ok $? "llp-serve with two pipelines"

printf '%s\n' '{"id": "r1", "review": "I loved it", "stars": 5}' '{"id": "r2", "review": "Broken on arrival", "stars": 1}' > "$TMP/recs.jsonl"
IN="$TMP/recs.jsonl" OUT="$TMP/run.jsonl" "$BIN/llp-run" -q --no-db "$TMP/tone.yaml"; ok $? "llp-run on the records"
"$PY" -c 'import json,sys; print(json.dumps([json.loads(l) for l in open(sys.argv[1])]))' "$TMP/recs.jsonl" > "$TMP/recs.json"
is "$(http_code "$TMP/p1" -H 'Content-Type: application/json' --data-binary @"$TMP/recs.json" "$URL/pipelines/tone")" 200 "POST /pipelines/tone with a JSON array: 200"
cmp -s "$TMP/p1" "$TMP/run.jsonl"; ok $? "the answer is byte for byte what llp-run wrote"
is "$(http_code "$TMP/p2" -H 'Content-Type: application/x-ndjson' --data-binary @"$TMP/recs.jsonl" "$URL/pipelines/tone")" 200 "JSON Lines body: 200"
cmp -s "$TMP/p2" "$TMP/run.jsonl"; ok $? "... the same bytes"

printf 'id,review\n7,"Great, really"\n8,meh\n' > "$TMP/recs.csv"
IN="$TMP/recs.csv" OUT="$TMP/run.csv" "$BIN/llp-run" -q --no-db "$TMP/tone_csv.yaml"; ok $? "llp-run on the CSV"
curl -s --max-time 60 -D "$TMP/p3.h" -o "$TMP/p3" -H 'Content-Type: text/csv' --data-binary @"$TMP/recs.csv" "$URL/pipelines/tone_csv"
ok $(grep -q '^HTTP/1.1 200' "$TMP/p3.h" && grep -qi '^Content-Type: text/csv' "$TMP/p3.h" && echo 0 || echo 1) "a CSV body: 200, text/csv"
cmp -s "$TMP/p3" "$TMP/run.csv"; ok $? "... byte for byte llp-run's CSV"

is "$(http_code "$TMP/x" -d '[{"review": "x"}]' "$URL/pipelines/nope")" 404 "an unknown pipeline: 404"
is "$(jget "$TMP/x" 'd["error"]["code"]')" not_found "... code not_found"
is "$(http_code "$TMP/x" -d '[1, 2]' "$URL/pipelines/tone")" 400 "records that are not objects: 400"
is "$(http_code "$TMP/x" -d '{"review": "x"' "$URL/pipelines/tone")" 400 "a body that is neither JSON nor JSON Lines: 400"
is "$(http_code "$TMP/x" "$URL/pipelines/tone")" 405 "GET on a pipeline: 405"
serve_stop TERM
is "$SRC" 0 "exit 0"
is "$(sqlite3 "$TMP/s.db" "select count(*) from jobs where tool = 'pipeline:tone'")" 2 "each pipeline request is a pipeline job in the serve's store"
is "$(sqlite3 "$TMP/s.db" "select count(*) from items i join jobs j on i.job_id = j.id where j.tool = 'serve'")" 7 "every request (7) is an item of the serve job"

"$BIN/llp-serve" -m "$M" --no-db --port 0 --pipeline "$TMP/missing.yaml" > /dev/null 2> "$TMP/bad.err"
is "$?" 1 "a pipeline that cannot be read: exit 1"
ok $(grep -q 'missing.yaml' "$TMP/bad.err" && echo 0 || echo 1) "... naming the file"
done_testing
