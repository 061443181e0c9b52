#!/usr/bin/env bash
# llp-jobs merge OUT IN... over shard stores (SPEC section 7): the stores of
# N --shard runs, merged, hold the same items and outputs as the store of one
# unsharded run; merging them again changes nothing, byte for byte; the
# merged store serves as the cache of a later unsharded run; embeddings of
# sharded --collection runs merge into one collection.
. "${0%/*}/lib.sh"
M="$TMP/tiny.gguf"
"$BIN/llp-mkmodel" -q "$M"; ok $? "a random model is written"
J="$BIN/llp-jobs"

IN="$TMP/in.jsonl"
awk 'BEGIN { for (i = 1; i <= 300; i++) {
    x = ""; for (j = 0; j < i % 5; j++) x = x "x"
    printf "{\"id\":\"m%d\",\"text\":\"merge record %d of %s\"}\n", i, i, x } }' > "$IN"
is "$(wc -l < "$IN")" 300 "300 JSONL records written"

# run_tool NAME DB [ARGS...]: the tool over $IN recording into DB. classify
# scores one row per forward pass (--batch-rows 1) so that its floats do not
# depend on which records share a batch and the stores compare byte for byte.
run_tool() {
    local name=$1 db=$2; shift 2
    case $name in
    tokenize) "$BIN/llp-tokenize" -m "$M" --db "$db" -q "$@" "$IN" ;;
    generate) "$BIN/llp-generate" -m "$M" --db "$db" -q -n 2 --temp 0 "$@" < "$IN" ;;
    classify) "$BIN/llp-classify" -m "$M" --db "$db" -q --labels yes,no --batch-rows 1 "$@" "$IN" ;;
    esac
}

# What a store computed: one line per item, every column that is the
# result rather than bookkeeping (ids, timestamps and timings are local).
items_of() {
    sqlite3 "$1" "SELECT task, record_id, model_fp, params_hash, input_hash,
                         coalesce(output, ''), coalesce(error, ''), tokens_in, tokens_out
                  FROM items ORDER BY task, record_id" | LC_ALL=C sort
}
added_of() {  # the sum of "N items added" in llp-jobs merge's stderr
    sed -n 's/.* \([0-9][0-9]*\) items added.*/\1/p' "$1" | awk '{s += $1} END {print s + 0}'
}

check_merge() {  # TOOL N
    local tool=$1 n=$2 D="$TMP/$1-$2" k
    mkdir -p "$D"
    run_tool "$tool" "$D/single.db" > "$D/single.out"; ok $? "$tool: unsharded run into its own store"
    local fails=0
    for k in $(seq 0 $((n - 1))); do
        run_tool "$tool" "$D/shard-$k.db" --shard "$k/$n" > /dev/null || fails=$((fails + 1))
    done
    is "$fails" 0 "$tool: $n shard runs, each into its own store"

    "$J" merge "$D/merged.db" "$D"/shard-*.db 2> "$D/merge1.err"
    ok $? "$tool: llp-jobs merge OUT of $n shard stores exits 0"
    is "$(added_of "$D/merge1.err")" 300 "$tool $n shards: merge reports 300 items added"
    is "$(sqlite3 "$D/merged.db" 'SELECT count(*) FROM jobs')" "$n" "$tool $n shards: one job per shard"
    is "$(sqlite3 "$D/merged.db" 'SELECT sum(n_items) FROM jobs')" 300 "$tool $n shards: job counters add up to 300"
    is "$(sqlite3 "$D/merged.db" 'SELECT count(*) FROM models')" \
       "$(sqlite3 "$D/single.db" 'SELECT count(*) FROM models')" "$tool $n shards: models merged by fingerprint"

    items_of "$D/single.db" > "$D/single.items"
    items_of "$D/merged.db" > "$D/merged.items"
    is "$(wc -l < "$D/merged.items")" 300 "$tool $n shards: 300 items merged"
    cmp -s "$D/single.items" "$D/merged.items"
    ok $? "$tool $n shards: merged items and outputs equal the unsharded run's (sqlite3)"

    # The same through llp-jobs export: every job's records, as JSONL.
    for k in $(seq 1 "$n"); do "$J" --db "$D/merged.db" export "$k"; done | LC_ALL=C sort > "$D/merged.export"
    "$J" --db "$D/single.db" export last | LC_ALL=C sort > "$D/single.export"
    cmp -s "$D/single.export" "$D/merged.export"
    ok $? "$tool $n shards: llp-jobs export of the merged jobs equals the unsharded job's"

    # Merging again changes nothing at all.
    sqlite3 "$D/merged.db" .dump > "$D/dump1"
    "$J" merge "$D/merged.db" "$D"/shard-*.db 2> "$D/merge2.err"
    ok $? "$tool $n shards: merging the same stores again exits 0"
    is "$(added_of "$D/merge2.err")" 0 "$tool $n shards: the second merge adds no items"
    sqlite3 "$D/merged.db" .dump > "$D/dump2"
    cmp -s "$D/dump1" "$D/dump2"; ok $? "$tool $n shards: the second merge leaves the store identical (.dump)"

    # Another order into another store: the same items.
    local rev=$(for k in $(seq $((n - 1)) -1 0); do printf '%s\n' "$D/shard-$k.db"; done)
    # shellcheck disable=SC2086
    "$J" -q merge "$D/reversed.db" $rev
    items_of "$D/reversed.db" | cmp -s - "$D/merged.items"
    ok $? "$tool $n shards: merging in the reverse order gives the same items"

    # The merged store is the cache of an unsharded rerun: nothing computed,
    # the same bytes out.
    run_tool "$tool" "$D/merged.db" > "$D/rerun.out"
    ok $? "$tool $n shards: unsharded rerun on the merged store"
    is "$(sqlite3 "$D/merged.db" "SELECT n_items || ' ' || n_cached FROM jobs ORDER BY id DESC LIMIT 1")" \
       "300 300" "$tool $n shards: the rerun takes all 300 records from the merged cache"
    cmp -s "$D/rerun.out" "$D/single.out"; ok $? "$tool $n shards: the rerun prints what the unsharded run printed"
}

check_merge tokenize 1
check_merge tokenize 4
check_merge tokenize 7
check_merge generate 4
check_merge classify 4

# Embeddings: a collection filled by 4 shards merges into one collection
# with every record once.
D="$TMP/embed"; mkdir -p "$D"
fails=0
for k in 0 1 2 3; do
    "$BIN/llp-embed" -m "$M" --db "$D/shard-$k.db" -q --collection c --shard "$k/4" "$IN" > /dev/null ||
        fails=$((fails + 1))
done
is "$fails" 0 "embed: 4 shard runs with --collection"
"$J" -q merge "$D/merged.db" "$D"/shard-*.db; ok $? "embed: merge of 4 shard stores"
is "$(sqlite3 "$D/merged.db" "SELECT count(*), count(DISTINCT record_id), min(length(vector) = 4 * dim)
                               FROM embeddings WHERE collection = 'c'")" "300|300|1" \
   "embed: the merged collection holds 300 vectors, one per record, whole"
sqlite3 "$D/merged.db" .dump > "$D/dump1"
"$J" -q merge "$D/merged.db" "$D"/shard-*.db
sqlite3 "$D/merged.db" .dump | cmp -s - "$D/dump1"; ok $? "embed: merging again leaves the store identical"
"$BIN/llp-embed" -m "$M" --db "$D/merged.db" -q --collection c --similar "merge record 17 of xx" -k 3 > "$D/similar"
ok $? "embed: --similar searches the merged collection"
is "$(wc -l < "$D/similar")" 3 "embed: --similar -k 3 on the merged collection gives 3 records"

done_testing
