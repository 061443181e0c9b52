#!/bin/sh
# Requests decoded together get the answers they get one by one: 24
# requests (16 greedy, 8 sampled with their own seeds) sent one at a time,
# then at once from 8 client threads into 4 slots, give bit-identical
# completions (issue 10's batch invariance on a Q8_0 model), and the
# concurrent run needed fewer forward passes (the requests shared them).
. "${0%/*}/lib.sh"
. "${0%/*}/serve_lib.sh"

M="$TMP/m.gguf"
"$BIN/llp-mkmodel" -q --type Q8_0 --seed 3 "$M"; ok $? "a Q8_0 model"
serve_start a -m "$M" -t 1 --parallel 4 --no-db; ok $? "llp-serve --parallel 4"
"$PY" "$ROOT/tests/serve_client/load.py" same "$URL" 8 "$TMP/same.json"; ok $? "the client ran"
is "$(jget "$TMP/same.json" 'd["errors"]')" "[]" "every request was answered 200"
is "$(jget "$TMP/same.json" 'len(d["one_by_one"]), sum(a == b for a, b in zip(d["one_by_one"], d["together"]))')" "(24, 24)" "24 of 24 concurrent answers are bit-identical to one-by-one"
is "$(jget "$TMP/same.json" 'len(set(d["one_by_one"])) > 12')" True "the answers differ between prompts (the check can fail)"
is "$(jget "$TMP/same.json" 'd["passes_together"] < d["passes_one_by_one"] * 0.75')" True "together they took fewer forward passes ($(jget "$TMP/same.json" 'd["passes_together"]') vs $(jget "$TMP/same.json" 'd["passes_one_by_one"]'))"
serve_stop TERM
is "$SRC" 0 "exit 0"
done_testing
