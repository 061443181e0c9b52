#!/bin/sh
# tests/cli_options_used.t — every binary takes exactly the common options its
# --help lists (the others are refused as unknown, none accepted and then
# ignored); a run that samples without --seed draws one, records it and says
# it with -v; float settings are stored as they were given.
#
# Not for: the values each option accepts (tests/cli_options.c) or what the
# tools do with them (tests/cli_*.t).
. "${0%/*}/lib.sh"
cd "$TMP" || exit 1
M="$TMP/tiny.gguf"
"$BIN/llp-mkmodel" -q "$M"; ok $? "a random model is written"
printf 'hello\n' > hello.txt

# ---- the common options a tool's --help lists are the ones it takes --------
# Every common option, from a tool that takes them all; then, per tool: an
# option its help lists parses (with --help last, a valued option at the end
# of the line reports a missing value, never "unknown"), one it does not list
# is refused as unknown (exit 2).
common_opts() { sed -n '/^Common options:/,/^$/p' | grep -o -- '--[a-z][a-z-]*' | sort -u; }
all=$("$BIN/llp-generate" --help | common_opts)
[ "$(printf '%s\n' "$all" | wc -l)" -ge 25 ]; ok $? "llp-generate lists every common option ($(printf '%s\n' "$all" | wc -l))"
for tool in llp-tokenize llp-embed llp-classify llp-summarize llp-generate llp-bench llp-mkmodel llp-convert; do
  listed=$("$BIN/$tool" --help | grep -o -- '--[a-z][a-z-]*' | sort -u)   # its own options too
  bad=""
  for opt in $all; do
    case "$opt" in --help|--version) continue;; esac
    "$BIN/$tool" --help "$opt" > /dev/null 2> err.txt; rc=$?
    if printf '%s\n' "$listed" | grep -qx -- "$opt"; then
      grep -q "unknown" err.txt && bad="$bad $opt(listed,refused)"
    else
      { [ "$rc" = 2 ] && grep -q "unknown or ambiguous option '$opt'" err.txt; } || bad="$bad $opt(unlisted,accepted)"
    fi
  done
  is "$bad" "" "$tool: takes exactly the common options its --help lists"
done

# the ones that read no records, and the ones that compute nothing with -t, -c
for cmd in "llp-mkmodel --db x.db m.gguf" "llp-mkmodel --in csv m.gguf" "llp-mkmodel --seed-x 1 m.gguf" \
           "llp-bench --in csv -m $M" "llp-tokenize -m $M --temp 0.5 hello.txt" \
           "llp-classify -m $M --labels a,b --seed 1 hello.txt" "llp-summarize -m $M -n 5 hello.txt"; do
  $BIN/$cmd > /dev/null 2> err.txt; rc=$?
  is "$rc" 2 "refused: $cmd"
done
"$BIN/llp-tokenize" -m "$M" -t 2 hello.txt > /dev/null 2> err.txt; rc=$?
is "$rc $(head -1 err.txt)" "2 llp-tokenize: error: unknown option '-t'" "llp-tokenize has no -t: it tokenizes on one thread"
"$BIN/llp-mkmodel" --help | grep -q -- '--db'; is $? 1 "llp-mkmodel --help lists no --db"
# llp-mkmodel's own --seed is not shadowed by the sampling --seed
"$BIN/llp-mkmodel" -q --seed 5 a.gguf && "$BIN/llp-mkmodel" -q --seed 6 b.gguf
cmp -s a.gguf b.gguf; is $? 1 "llp-mkmodel --seed changes the weights"

# ---- a run that samples without --seed draws one --------------------------
DB="$TMP/seed.db"
q() { sqlite3 "$DB" "$1"; }
"$BIN/llp-generate" -m "$M" --db "$DB" -n 6 --temp 0.8 -v -p "Hello" > out1.txt 2> err1.txt; rc=$?
is "$rc" 0 "--temp 0.8 without --seed: exit 0"
seed1=$(q "select json_extract(params,'\$.seed') from jobs order by id desc limit 1")
case $(grep seed err1.txt) in "llp-generate: note: seed $seed1 (drawn at random; --seed $seed1 repeats this run)") ok 0 "-v says the seed drawn, as stored";;
  *) diag "$(cat err1.txt) / stored $seed1"; ok 1 "-v says the seed drawn, as stored";; esac
[ "$seed1" != 0 ]; ok $? "the job's params hold the drawn seed ($seed1)"
"$BIN/llp-generate" -m "$M" --db "$DB" -n 6 --temp 0.8 -p "Hello" > out2.txt 2> err2.txt
seed2=$(q "select json_extract(params,'\$.seed') from jobs order by id desc limit 1")
[ "$seed1" != "$seed2" ]; ok $? "another run draws another seed"
is "$(cat err2.txt)" "" "without -v the seed is not printed"
is "$(q "select cached from items order by rowid desc limit 1")" 0 "a run with a drawn seed is not served from the cache"
"$BIN/llp-generate" -m "$M" --no-db -n 6 --temp 0.8 --seed "$seed1" -p "Hello" > out3.txt 2>/dev/null
cmp -s out1.txt out3.txt; ok $? "--seed with the drawn seed repeats the run"
"$BIN/llp-generate" -m "$M" --db "$DB" -n 6 --temp 0.8 --seed "$seed1" -p "Hello" > out4.txt 2>/dev/null
is "$(q "select cached from items order by rowid desc limit 1")" 1 "a given seed is served from the cache"
"$BIN/llp-generate" -m "$M" --db "$DB" -n 6 --temp 0 -v -p "Hello" > /dev/null 2> err5.txt
is "$(grep seed err5.txt)" "" "greedy (--temp 0) draws no seed"
is "$(grep parallel err5.txt)" "llp-generate: note: --parallel 1: up to 1 record decoded together (one prompt streamed as it is made runs alone)" \
   "-v says how many records run together, and why"

# ---- float settings are stored as given ------------------------------------
"$BIN/llp-generate" -m "$M" --db "$DB" -n 2 --temp 0.8 --top-p 0.9 --min-p 0.1 --repeat-penalty 1.3 --seed 3 -p "Hi" > /dev/null
is "$(q "select params from jobs order by id desc limit 1" | grep -o '"temp":[^,]*,"top_k":[^,]*,"top_p":[^,]*,"min_p":[^,]*,"repeat_penalty":[^,]*')" \
   '"temp":0.8,"top_k":40,"top_p":0.9,"min_p":0.1,"repeat_penalty":1.3' "jobs.params holds 0.8, 0.9, 0.1, 1.3"
id=$(q "select id from jobs order by id desc limit 1")
"$BIN/llp-jobs" --db "$DB" show "$id" | grep '^params' | grep -q '"temp":0.8,.*"top_p":0.9,'
ok $? "llp-jobs show prints 0.8 and 0.9"
"$BIN/llp-summarize" -m "$M" --db "$DB" -q --max-tokens 16 --temp 0.7 --seed 1 hello.txt > /dev/null
q "select params from jobs order by id desc limit 1" | grep -q '"temp":0.7,'; ok $? "llp-summarize stores temp 0.7"

# llp help lists every llp-TOOL binary that is built
missing=""
for b in "$BIN"/llp-*; do
  t=${b##*/llp-}
  "$BIN/llp" help | grep -q "^  $t " || missing="$missing $t"
done
is "$missing" "" "llp help lists every llp-* tool"

done_testing
