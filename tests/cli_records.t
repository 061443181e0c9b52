#!/bin/sh
# cli_records.t — the record layer through real tools: malformed CSV on
# stdin is reported per row with exit 3 and no row absorbed; the store holds
# the good rows; CSV output keeps every field of JSONL records with
# different fields (files: all collected; stdin: a field the first record
# lacks fails its record by name); bytes that are not UTF-8 and CRLF in
# quotes come back as they went in.
#
# Not for: the CSV grammar in depth (tests/records_csv*.c).
. "${0%/*}/lib.sh"
T=$BIN/llp-tokenize
M=$TMP/tiny.gguf
"$BIN/llp-mkmodel" "$M" 2>/dev/null
ok $? "tiny model written"
export LLP_MODEL=$M

# ---- malformed CSV: each bad row is a failed record, the others run --------
printf 'id,text\n1,"unterminated\n2,ok\n3,fine\n' | "$T" --in csv -q > "$TMP/out.csv" 2> "$TMP/err"
is "$?" 3 "unclosed quote on stdin: exit 3 (a failed record), not 0"
is "$(cut -d, -f1 "$TMP/out.csv" | head -1)" "id" "CSV out with a header"
is "$(grep -c '^[123],' "$TMP/out.csv")" 3 "three rows out: none swallowed by the open quote"
grep -q '^1,,,,stdin:2: quoted field 2 is never closed (the input ends inside it)$' "$TMP/out.csv"
ok $? "the bad row names stdin and the line where it starts"
grep -q '^2,ok,"\[' "$TMP/out.csv" && grep -q '^3,fine,"\[' "$TMP/out.csv"
ok $? "the rows after it are tokenized"
is "$("$BIN/llp-jobs" export last 2>/dev/null | grep -c '"n_tokens"')" 2 "the store holds the two good rows"

printf 'id,text\n1,say "hi"\n2,"a" b\n3,good\n' > "$TMP/quotes.csv"
"$T" -q --out jsonl "$TMP/quotes.csv" > "$TMP/q.jsonl"
is "$?" 3 "quote inside an unquoted field, text after a closing quote: exit 3"
grep -q 'quotes.csv:2: quote inside unquoted field 2' "$TMP/q.jsonl"
ok $? "stray quote: named with file and line"
grep -q 'quotes.csv:3: text after the closing quote of field 2' "$TMP/q.jsonl"
ok $? "text after the closing quote: named with file and line"
grep -q '"id":"3","text":"good","tokens"' "$TMP/q.jsonl"
ok $? "the good row after them is tokenized"

printf 'id\ttext\n1\tsay "hi"\n' | "$T" -q --in tsv > /dev/null
is "$?" 0 "TSV: a quote inside a field is text"

printf 'id,te"xt\n1,a\n' > "$TMP/head.csv"
"$T" -q "$TMP/head.csv" > /dev/null 2> "$TMP/err"
is "$?" 1 "malformed header: fatal"
grep -q 'head.csv:1: header: quote inside unquoted field 2' "$TMP/err"
ok $? "malformed header: file and line named"

# ---- CSV output keeps every field ------------------------------------------
printf '{"id":"a","text":"x"}\n{"id":"b","text":"y","lang":"fr"}\n' > "$TMP/mixed.jsonl"
"$T" -q --out csv "$TMP/mixed.jsonl" > "$TMP/mixed.csv"
is "$?" 0 "JSONL file with different fields, CSV out: exit 0"
is "$(head -1 "$TMP/mixed.csv")" "id,text,lang,tokens,n_tokens,error" "the header has every field"
grep -q '^b,y,fr,' "$TMP/mixed.csv"
ok $? "the later record's own field is written"

printf 'id,text\n1,a\n' > "$TMP/h1.csv"
printf 'id,text,stars\n2,b,5\n' > "$TMP/h2.csv"
"$T" -q "$TMP/h1.csv" "$TMP/h2.csv" > "$TMP/h.csv"
is "$(head -1 "$TMP/h.csv")" "id,text,stars,tokens,n_tokens,error" "two CSV headers: their union"
grep -q '^2,b,5,' "$TMP/h.csv"
ok $? "the second file's extra column is written"

"$T" -q --out csv < "$TMP/mixed.jsonl" > "$TMP/stdin.csv"
is "$?" 3 "JSONL on stdin with a field the first record lacks: exit 3"
grep -q "^b,y,,,\"stdin:2: field 'lang' is not among the CSV columns" "$TMP/stdin.csv"
ok $? "the record names the field rather than lose it"

# ---- bytes pass through ----------------------------------------------------
printf 'id,text,note\n1,"caf\351\r\nau lait",na\357ve\n' > "$TMP/bytes.csv"
"$T" -q "$TMP/bytes.csv" > "$TMP/bytes.out"
printf 'id,text,note,tokens,n_tokens,error\n' > "$TMP/want"
printf '1,"caf\351\r\nau lait",na\357ve,' >> "$TMP/want"
head -c "$(wc -c < "$TMP/want")" "$TMP/bytes.out" | cmp -s - "$TMP/want"
ok $? "CSV out: Latin-1 bytes and CRLF in quotes as they came in"
"$T" -q --out jsonl "$TMP/bytes.csv" | python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); sys.exit(0 if r["note"]=="na\ufffdve" and r["text"]=="caf\ufffd\r\nau lait" else 1)'
ok $? "JSONL out: valid JSON with U+FFFD"

done_testing
