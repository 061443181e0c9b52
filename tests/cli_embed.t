#!/bin/sh
# cli_embed.t — llp-embed as a filter on a random-weight model it makes with
# llp-mkmodel: fields added, --into, CSV in and out, empty text, truncation
# and --long chunk, the cache on a re-run, collections (one vector per
# distinct text, a re-run adds nothing), --similar (a text's nearest record
# is itself with score 1, best first, -k), and usage errors.
#
# Not for: the vector arithmetic (tests/embed_synth.c) or agreement with
# llama.cpp (tests/embed_vectors.c).
. "${0%/*}/lib.sh"
E=$BIN/llp-embed
M=$TMP/tiny.gguf
"$BIN/llp-mkmodel" -q --shape tiny --seed 5 "$M" 2>/dev/null; ok $? "llp-mkmodel writes a tiny model"
DB=$TMP/e.db
q() { sqlite3 "$DB" "$1"; }
field() { python3 -c 'import json,sys
for l in sys.stdin:
    r=json.loads(l); v=r.get(sys.argv[1]); print(v if not isinstance(v,list) else len(v))' "$1"; }

printf 'red apples\ngreen pears\n\nred apples\n' > "$TMP/in.txt"
out=$("$E" -m "$M" --db "$DB" -q "$TMP/in.txt"); rc=$?
is "$rc" 3 "an empty line fails its record: exit 3"
is "$(printf '%s\n' "$out" | field dim | tr '\n' ' ')" "64 64 None 64 " "dim on every good record"
is "$(printf '%s\n' "$out" | field embedding | tr '\n' ' ')" "64 64 None 64 " "embedding has dim floats"
is "$(printf '%s\n' "$out" | sed -n 3p | field error)" "$TMP/in.txt:3: empty text" "the empty record says why"
e1=$(printf '%s\n' "$out" | sed -n 1p | python3 -c 'import json,sys; print(json.load(sys.stdin)["embedding"])')
e4=$(printf '%s\n' "$out" | sed -n 4p | python3 -c 'import json,sys; print(json.load(sys.stdin)["embedding"])')
is "$e1" "$e4" "the same text twice gives the same vector"
norm=$(printf '%s\n' "$out" | sed -n 1p | python3 -c 'import json,sys,math; print(round(math.sqrt(sum(x*x for x in json.load(sys.stdin)["embedding"])),5))')
is "$norm" "1.0" "l2 by default: unit length"
norm=$(echo 'red apples' | "$E" -m "$M" --no-db --normalize none | python3 -c 'import json,sys,math; print(abs(math.sqrt(sum(x*x for x in json.load(sys.stdin)["embedding"]))-1)>0.01)')
is "$norm" "True" "--normalize none: not unit length"

"$E" -m "$M" --db "$DB" -q "$TMP/in.txt" >/dev/null
is "$(q "select n_items, n_cached, n_failed from jobs order by id desc limit 1")" "4|3|1" "re-run: the three good records come from the cache"

# --into, CSV in and out
printf 'id,review\nr1,"good, really"\nr2,"bad ""value"""\n' > "$TMP/r.csv"
"$E" -m "$M" --no-db --column review --into vec "$TMP/r.csv" > "$TMP/r.out.csv"; ok $? "CSV input runs"
is "$(head -1 "$TMP/r.out.csv")" "id,review,vec,vec_dim,vec_truncated,error" "CSV out: original columns, then vec, vec_dim, vec_truncated, error"
is "$(python3 -c 'import csv,sys,json; r=list(csv.DictReader(open(sys.argv[1]))); print(r[1]["id"], r[1]["review"], len(json.loads(r[1]["vec"])), r[1]["vec_dim"])' "$TMP/r.out.csv")" \
   'r2 bad "value" 64 64' "CSV out: quoting kept, vector as a JSON array"

# long texts
long=$(python3 -c 'print(" ".join("word%d" % i for i in range(200)))')
got=$(echo "$long" | "$E" -m "$M" --no-db -c 32 | field truncated)
is "$got" "True" "-c 32: a long text is truncated: true"
got=$(echo "short" | "$E" -m "$M" --no-db -c 32 | field truncated)
is "$got" "None" "a short text has no truncated field"
got=$(echo "$long" | "$E" -m "$M" --no-db -c 32 --long chunk | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r.get("truncated"), r["chunks"] > 5)')
is "$got" "None True" "--long chunk: several chunks, not truncated"

# collections
printf 'alpha beta\ngamma delta\nepsilon zeta\nalpha beta\neta theta\n' > "$TMP/c.txt"
"$E" -m "$M" --db "$DB" -q --collection fruit "$TMP/c.txt" > /dev/null; ok $? "--collection runs"
is "$(q "select count(*) from embeddings where collection='fruit'")" 4 "one vector per distinct text (5 records, 4 texts)"
is "$(q "select count(distinct content_hash) from embeddings where collection='fruit'")" 4 "keyed by content hash"
"$E" -m "$M" --db "$DB" -q --collection fruit "$TMP/c.txt" > /dev/null
is "$(q "select count(*) from embeddings where collection='fruit'")" 4 "a re-run stores nothing twice"
is "$(q "select n_cached from jobs order by id desc limit 1")" 5 "a re-run computes nothing"
is "$(q "select dim, length(vector) from embeddings where collection='fruit' limit 1")" "64|256" "vectors are dim float32s"

got=$("$E" -m "$M" --db "$DB" --collection fruit --similar 'gamma delta' -k 3)
is "$(printf '%s\n' "$got" | wc -l | tr -d ' ')" 3 "-k 3: three records"
is "$(printf '%s\n' "$got" | head -1 | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["id"], round(r["score"],4))')" "2 1.0" \
   "--similar: a stored text's nearest record is itself, score 1"
is "$(printf '%s\n' "$got" | python3 -c 'import json,sys; s=[json.loads(l)["score"] for l in sys.stdin]; print(s==sorted(s,reverse=True))')" True "best first"
is "$(printf '%s\n' "$got" | head -1 | python3 -c 'import json,sys; r=json.load(sys.stdin); print(list(r), r["text"])')" "['id', 'text', 'score'] gamma delta" \
   "--similar: each hit has its id, the text that was embedded, and the score"
got=$("$E" -m "$M" --db "$DB" --collection fruit --similar 'eta theta' --out text -k 1)
is "$(printf '%s' "$got" | cut -f1)" 5 "--out text: id then score"
is "$(printf '%s' "$got" | cut -f3)" "eta theta" "--out text: then the text"
got=$("$E" -m "$M" --db "$DB" --collection empty --similar 'x' 2>&1 >/dev/null)
is "$got" "llp-embed: note: collection 'empty' has no vectors of this model" "an empty collection: a note, no records"

# usage errors
"$E" -m "$M" --similar x 2>/dev/null; is $? 2 "--similar without --collection: exit 2"
"$E" -m "$M" --pooling max </dev/null 2>"$TMP/err"; is $? 2 "--pooling max: exit 2"
is "$(head -1 "$TMP/err")" "llp-embed: error: --pooling: expected one of mean, cls, last, got 'max'" "names the choices"
"$E" -m "$M" --collection c --similar x "$TMP/c.txt" 2>/dev/null; is $? 2 "--similar with inputs: exit 2"
"$E" --help | grep -q -- '--similar'; ok $? "--help documents --similar"
done_testing
