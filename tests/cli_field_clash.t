#!/bin/sh
# cli_field_clash.t — a tool's added fields never replace an input field
# (issue 17 item 1). When the first record already has a field the tool
# adds (a gold-labelled CSV's own `label` and `score`), the run is refused
# as a usage error (exit 2) that names the input, the field and --into,
# before anything is written or stored; a later record with such a field
# fails alone (exit 3) and keeps its value; --into keeps both; --out text
# writes only the tool's output, so nothing can clash there.
#
# Not for: --into naming itself (cli_tokenize.t, cli_classify.t).
. "${0%/*}/lib.sh"
M=$TMP/tiny.gguf
"$BIN/llp-mkmodel" -q "$M"; ok $? "tiny model written"
export LLP_MODEL=$M
cd "$TMP" || exit 1
printf 'id,text,label,score\n1,a fine film,positive,1\n2,a dull film,negative,0\n' > gold.csv

# ---- refused up front ------------------------------------------------------
"$BIN/llp-classify" --labels positive,negative gold.csv > out.csv 2> err.txt; rc=$?
is "$rc" 2 "classify of a CSV with its own label column: exit 2"
is "$(head -1 err.txt)" "llp-classify: error: gold.csv:2: input field 'label' is also a field llp-classify adds; pass --into NAME to give the added fields other names" "the message names the file, the field and --into"
is "$(sed -n 2p err.txt)" "Try 'llp-classify --help'." "as a usage error"
is "$(wc -c < out.csv | tr -d ' ')" 0 "nothing written, not even a header"
n=$(sqlite3 "$LLP_DB" 'SELECT count(*) FROM jobs' 2>/dev/null || echo 0)
is "$n" 0 "no job started in the store"

printf 'id,text,score\n1,a fine film,0.5\n' > score.csv
"$BIN/llp-classify" --labels positive,negative score.csv > /dev/null 2> err.txt; rc=$?
is "$rc" 2 "a score column alone clashes too (every added field, not just the first)"
case $(head -1 err.txt) in *"input field 'score'"*) ok 0 "and names score";; *) ok 1 "and names score";; esac

printf '{"id":"x","text":"hello","tokens":"mine"}\n' > tok.jsonl
"$BIN/llp-tokenize" tok.jsonl > out.jsonl 2> err.txt; rc=$?
is "$rc" 2 "tokenize of JSONL with its own tokens field: exit 2"
is "$(head -1 err.txt)" "llp-tokenize: error: tok.jsonl:1: input field 'tokens' is also a field llp-tokenize adds; pass --into NAME to give the added fields other names" "JSONL: the message names the line"
printf '{"id":"x","text":"hello","n_tokens":7}\n' | "$BIN/llp-tokenize" --count --out jsonl > /dev/null 2>&1
is $? 2 "tokenize --count --out jsonl: n_tokens clashes"
printf '{"id":"d","text":"hello world","summary":"my own"}\n' > sum.jsonl
"$BIN/llp-summarize" --max-tokens 16 sum.jsonl > /dev/null 2>&1; is $? 2 "summarize: summary clashes"
printf '{"id":"e","text":"hello","embedding":[1,2]}\n' | "$BIN/llp-embed" > /dev/null 2>&1
is $? 2 "embed: embedding clashes"
printf '{"id":"g","text":"hello","completion":"mine"}\n' | "$BIN/llp-generate" -n 2 > /dev/null 2>&1
is $? 2 "generate: completion clashes"
printf '{"id":"g","text":"hello","stop":"mine"}\n' | "$BIN/llp-generate" -n 2 > /dev/null 2>&1
is $? 2 "generate: a secondary field (stop) clashes"
"$BIN/llp-tokenize" tok.jsonl --into tk > /dev/null 2>&1; ok $? "tokenize --into tk: accepted"
echo '{"id":"d","tokens":[1,2],"text":"mine"}' | "$BIN/llp-tokenize" --decode --out jsonl > out.jsonl 2> err.txt
is $? 2 "tokenize --decode --out jsonl over a record with text: exit 2"
is "$(wc -c < out.jsonl | tr -d ' ')" 0 "--decode: nothing written"
got=$(echo '{"id":"d","tokens":[1,2],"text":"mine"}' | "$BIN/llp-tokenize" --decode --into back --out jsonl)
case $got in *'"text":"mine"'*'"back":'*) ok 0 "--decode --into keeps the input text";; *) diag "$got"; ok 1 "--decode --into keeps the input text";; esac

# ---- --into keeps both ----------------------------------------------------------
"$BIN/llp-classify" --labels positive,negative --into pred gold.csv > out.csv; rc=$?
is "$rc" 0 "--into pred: exit 0"
is "$(head -1 out.csv)" "id,text,label,score,pred,pred_score,pred_p_positive,pred_p_negative,pred_truncated,error" "--into pred: gold columns kept, ours beside them"
is "$(cut -d, -f3,4 out.csv | tail -2 | tr '\n' ' ')" "positive,1 negative,0 " "the gold values are unchanged"

# ---- --out text: nothing to replace ------------------------------------------------
"$BIN/llp-classify" --labels positive,negative --out text gold.csv > out.txt; rc=$?
is "$rc" 0 "--out text over the gold CSV: exit 0 (only our fields are written)"
is "$(wc -l < out.txt | tr -d ' ')" 2 "two lines"

# ---- a later record clashes: that record fails, the rest is done --------------------
printf '{"id":"1","text":"one"}\n{"id":"2","text":"two","tokens":"keep me"}\n{"id":"3","text":"three"}\n' > later.jsonl
"$BIN/llp-tokenize" later.jsonl > out.jsonl; rc=$?
is "$rc" 3 "a clash in a later record: exit 3"
is "$(wc -l < out.jsonl | tr -d ' ')" 3 "every record written"
is "$(sed -n 2p out.jsonl)" '{"id":"2","text":"two","tokens":"keep me","error":"later.jsonl:2: input field '"'tokens'"' is also a field llp-tokenize adds; pass --into NAME to give the added fields other names"}' "the clashing record keeps its value and says why"
case $(sed -n 3p out.jsonl) in *'"n_tokens":'*) ok 0 "the records after it are computed";; *) ok 1 "the records after it are computed";; esac

# A later CSV file whose header has the clashing column.
printf 'id,text\n1,one\n' > a.csv
printf 'id,text,n_tokens\n2,two,9\n' > b.csv
"$BIN/llp-tokenize" a.csv b.csv > out.csv; rc=$?
is "$rc" 3 "a later CSV file with a clashing column: exit 3"
grep -q "b.csv:2: input field 'n_tokens'" out.csv; ok $? "its rows fail with the field named"

done_testing
