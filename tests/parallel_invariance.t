#!/usr/bin/env bash
# Same answers whatever the batch (issue 13, SPEC section 8): for every
# quantized weight type, llp-generate over 60 prompts of varied lengths
# (one word to past the context, so some are cut) gives byte-identical
# records with --parallel 1, 3 and 7, greedy and with seeded sampling
# (each record draws from its own stream, from the seed and its id), and
# the two shards of a seeded run are the unsharded run's records;
# llp-summarize over several documents with several chunks each is the
# same with --parallel 1 and 4; llp-classify and llp-embed give
# byte-identical probabilities and vectors with --batch-rows 1 and 16
# (classify) and with their default batching. --parallel is not part of
# the cache key: a rerun with another --parallel is served from the cache.
. "${0%/*}/lib.sh"

python3 - "$TMP/prompts.jsonl" "$TMP/docs" <<'EOF'
import json, os, random, sys
r = random.Random(13)
words = ("the a river stone light dark blue quick brown fox jumps over lazy dog pipe "
         "model tokens cache batch déjà vu 東京 emoji 🙂 whitespace").split()
with open(sys.argv[1], "w") as f:
    for i in range(60):
        n = [1, 2, 4, 8, 14, 22, 60][i % 7] + r.randint(0, 3)
        f.write(json.dumps({"id": "p%02d" % i, "text": " ".join(r.choice(words) for _ in range(n))},
                           ensure_ascii=False) + "\n")
os.makedirs(sys.argv[2])
for d in range(5):
    with open(os.path.join(sys.argv[2], "doc%d.txt" % d), "w") as f:
        for p in range(3 + 4 * d):
            f.write(" ".join(r.choice(words) for _ in range(25 + 7 * p)) + ".\n\n")
EOF
ok $? "60 prompts and 5 documents written"

gen() { # gen MODEL OUT ARGS...: llp-generate over the prompts
    local m=$1 out=$2; shift 2
    "$BIN/llp-generate" -m "$m" --no-db -q -c 128 -n 12 "$@" < "$TMP/prompts.jsonl" > "$out"
}

# The K-quants need rows of 256 values: the small shape (dim 512).
for type in Q4_0 Q8_0 Q4_K Q6_K; do
    M="$TMP/m-$type.gguf"
    case $type in Q4_K|Q6_K) shape=small;; *) shape=tiny;; esac
    "$BIN/llp-mkmodel" -q --shape $shape --type "$type" "$M"; ok $? "a random $shape $type model"
    gen "$M" "$TMP/g1.jsonl" --temp 0 --parallel 1; ok $? "$type greedy --parallel 1 runs"
    cut=$(grep -c '"truncated":true' "$TMP/g1.jsonl")
    [ "$cut" -gt 0 ] && [ "$cut" -lt 30 ]; ok $? "$type: some prompts ($cut) are cut to the context"
    for P in 3 7; do
        gen "$M" "$TMP/g$P.jsonl" --temp 0 --parallel "$P"
        cmp -s "$TMP/g1.jsonl" "$TMP/g$P.jsonl"; ok $? "$type greedy: --parallel $P equals --parallel 1 byte for byte"
    done
    gen "$M" "$TMP/s1.jsonl" --temp 0.9 --seed 7 --parallel 1
    gen "$M" "$TMP/s7.jsonl" --temp 0.9 --seed 7 --parallel 7
    cmp -s "$TMP/s1.jsonl" "$TMP/s7.jsonl"; ok $? "$type seeded: --parallel 7 equals --parallel 1 byte for byte"
    cmp -s "$TMP/g1.jsonl" "$TMP/s1.jsonl"; [ $? -ne 0 ]; ok $? "$type seeded sampling differs from greedy (the seed is used)"
    gen "$M" "$TMP/sh0.jsonl" --temp 0.9 --seed 7 --parallel 7 --shard 0/2
    gen "$M" "$TMP/sh1.jsonl" --temp 0.9 --seed 7 --parallel 7 --shard 1/2
    is "$(cat "$TMP/sh0.jsonl" "$TMP/sh1.jsonl" | LC_ALL=C sort | md5sum)" \
       "$(LC_ALL=C sort "$TMP/s1.jsonl" | md5sum)" "$type seeded: the two shards are the unsharded run's records"
done

# Records differ from one another: the comparisons above compare something.
is "$(python3 -c 'import json,sys; print(len({json.loads(l)["completion"] for l in open(sys.argv[1])}))' "$TMP/g1.jsonl")" 60 \
   "60 different completions"

# Two records with the same prompt and different ids draw from different
# streams when sampling, and are cached apart.
M="$TMP/m-Q8_0.gguf"
printf '{"id":"a","text":"same words"}\n{"id":"b","text":"same words"}\n' > "$TMP/twins.jsonl"
"$BIN/llp-generate" -m "$M" -q --db "$TMP/tw.db" -n 16 --temp 1.5 --seed 3 < "$TMP/twins.jsonl" > "$TMP/tw.jsonl"
is "$(python3 -c 'import json,sys; r=[json.loads(l)["completion"] for l in open(sys.argv[1])]; print(r[0]!=r[1])' "$TMP/tw.jsonl")" True \
   "sampling: the same prompt under two ids gets each its own stream"
"$BIN/llp-generate" -m "$M" -q --db "$TMP/tw.db" -n 16 --temp 1.5 --seed 3 --parallel 5 < "$TMP/twins.jsonl" > "$TMP/tw2.jsonl"
cmp -s "$TMP/tw.jsonl" "$TMP/tw2.jsonl"; ok $? "a rerun with another --parallel gives the same records"
is "$(sqlite3 "$TMP/tw.db" "select count(*) from items where cached = 1")" 2 "... served from the cache: --parallel is not in the key"

# llp-summarize: several documents of several chunks, combining levels
# included, the same with every document in flight.
M="$TMP/m-Q4_K.gguf"
"$BIN/llp-summarize" -m "$M" --no-db -q -c 192 --max-tokens 24 --parallel 1 "$TMP/docs" > "$TMP/sum1.jsonl"
ok $? "llp-summarize --parallel 1 runs"
"$BIN/llp-summarize" -m "$M" --no-db -q -c 192 --max-tokens 24 --parallel 4 "$TMP/docs" > "$TMP/sum4.jsonl"
cmp -s "$TMP/sum1.jsonl" "$TMP/sum4.jsonl"; ok $? "llp-summarize: --parallel 4 equals --parallel 1 byte for byte"
is "$(grep -c '"levels":[2-9]' "$TMP/sum1.jsonl")" 5 "every document needed combining levels"

# classify and embed: rows scored together never change a row's numbers.
M="$TMP/m-Q4_0.gguf"
head -40 "$TMP/prompts.jsonl" > "$TMP/rows.jsonl"
for R in 1 16; do
    "$BIN/llp-classify" -m "$M" --no-db -q --labels pos,neg,mixed --batch-rows "$R" < "$TMP/rows.jsonl" > "$TMP/c$R.jsonl"
done
"$BIN/llp-classify" -m "$M" --no-db -q --labels pos,neg,mixed < "$TMP/rows.jsonl" > "$TMP/cdef.jsonl"
cmp -s "$TMP/c1.jsonl" "$TMP/c16.jsonl"; ok $? "llp-classify: --batch-rows 16 equals --batch-rows 1 byte for byte"
cmp -s "$TMP/c1.jsonl" "$TMP/cdef.jsonl"; ok $? "llp-classify: the default batching too"
"$BIN/llp-embed" -m "$M" --no-db -q < "$TMP/rows.jsonl" > "$TMP/e40.jsonl"
: > "$TMP/e1.jsonl"
for i in 1 2 3 4 5 6 7 8; do sed -n "${i}p" "$TMP/rows.jsonl" | "$BIN/llp-embed" -m "$M" --no-db -q >> "$TMP/e1.jsonl"; done
cmp -s "$TMP/e1.jsonl" <(head -8 "$TMP/e40.jsonl"); ok $? "llp-embed: a record alone equals the same record among 40, byte for byte"

done_testing
