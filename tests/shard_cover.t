#!/usr/bin/env bash
# --shard K/N (SPEC section 7): for N in 1, 2 and 7, the N shards of a run
# are disjoint and together cover the input, for every record-processing
# tool (tokenize, generate, classify, embed; summarize and llp-run when they
# are built), over JSONL, CSV and plain lines. A record's shard depends only
# on its id (xxh64(id) mod N), so every tool puts an id in the same shard,
# and a shard's outputs are the unsharded run's outputs for those records.
. "${0%/*}/lib.sh"
M="$TMP/tiny.gguf"
# Q8_0: its products are exact integer sums per row, so (with attention one
# token at a time) no output depends on which records share a batch. F32
# weights go through SGEMM, whose rounding depends on the batch, and an f16
# KV cache can round those differences past 1e-5.
"$BIN/llp-mkmodel" -q --type Q8_0 "$M"; ok $? "a random Q8_0 model is written"

# 300 records: plain ids, then ids with spaces, slashes, quotes and UTF-8,
# which must hash the same way in every tool.
IN="$TMP/in.jsonl"
python3 - "$IN" <<'EOF'
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(1, 301):
        rid = "r%d" % i if i <= 250 else ["doc %d/α" % i, 'q"%d"' % i, "%07d" % i,
                                          "ünï-%d" % i, "x" * 40 + str(i)][i % 5]
        f.write(json.dumps({"id": rid, "text": "record %d says hello to %s" % (i, "you" * (i % 4))},
                           ensure_ascii=False, separators=(",", ":")) + "\n")
EOF
ok $? "300 JSONL records written"
# The id of each JSONL record (the first field, as every tool writes it and
# as the input above has it), raw escapes kept, sorted bytewise. sed, not a
# JSON parser: this runs hundreds of times and must stay cheap.
ids_of() { sed -E 's/^\{"id":"(([^"\\]|\\.)*)".*/\1/' | LC_ALL=C sort; }
ids_of < "$IN" > "$TMP/input.ids"
is "$(wc -l < "$TMP/input.ids")" 300 "input ids: 300"
is "$(uniq -d "$TMP/input.ids" | wc -l)" 0 "input ids are distinct"

# run_tool NAME [ARGS...]: the tool over $IN, JSONL on stdout.
run_tool() {
    local name=$1; shift
    case $name in
    tokenize) "$BIN/llp-tokenize" -m "$M" --no-db -q "$@" "$IN" ;;
    generate) "$BIN/llp-generate" -m "$M" --no-db -q -n 1 --temp 0 "$@" < "$IN" ;;
    classify) "$BIN/llp-classify" -m "$M" --no-db -q --labels pos,neg,neu "$@" "$IN" ;;
    embed)    "$BIN/llp-embed" -m "$M" --no-db -q "$@" "$IN" ;;
    summarize) "$BIN/llp-summarize" -m "$M" --no-db -q --max-tokens 16 "$@" "$IN" ;;
    run)      "$BIN/llp-run" --no-db -q "$@" "$TMP/pipe.yaml" ;;
    esac
}

# Outputs equal as sets of records, byte for byte (sorted lines): for every
# tool, classify and embed with their default batching included, since no
# output depends on which records share a batch (the model is Q8_0, above).

TOOLS="tokenize generate classify embed"
[ -x "$BIN/llp-summarize" ] && TOOLS="$TOOLS summarize"
if [ -x "$BIN/llp-run" ] && "$BIN/llp-run" --help 2>&1 | grep -q -- --shard; then
    cat > "$TMP/pipe.yaml" <<EOF
version: 1
name: shard-cover
model: $M
input:
  jsonl: $IN
steps:
  - classify:
      labels: [pos, neg, neu]
      batch_rows: 1
output:
  stdout: true
EOF
    TOOLS="$TOOLS run"
else
    diag "llp-run with --shard is not built yet: not tested here"
fi

for tool in $TOOLS; do
    D="$TMP/$tool"; mkdir -p "$D"
    run_tool "$tool" > "$D/all.jsonl"; ok $? "$tool: unsharded run"
    ids_of < "$D/all.jsonl" > "$D/all.ids"
    cmp -s "$D/all.ids" "$TMP/input.ids"; ok $? "$tool: unsharded run has every input id once"
    for n in 1 2 7; do
        fails=0; empty=0
        for k in $(seq 0 $((n - 1))); do
            run_tool "$tool" --shard "$k/$n" > "$D/s$k-$n.jsonl" || fails=$((fails + 1))
            ids_of < "$D/s$k-$n.jsonl" > "$D/s$k-$n.ids"
            [ -s "$D/s$k-$n.ids" ] || empty=$((empty + 1))
        done
        is "$fails" 0 "$tool $n shards: every shard exits 0"
        [ "$n" -eq 1 ] || is "$empty" 0 "$tool $n shards: no shard is empty (300 records)"
        for k in $(seq 0 $((n - 1))); do cat "$D/s$k-$n.ids"; done | LC_ALL=C sort > "$D/union-$n.ids"
        is "$(uniq -d "$D/union-$n.ids" | wc -l)" 0 "$tool $n shards: disjoint (no id in two shards)"
        cmp -s "$D/union-$n.ids" "$TMP/input.ids"; ok $? "$tool $n shards: together they cover the input"
        for k in $(seq 0 $((n - 1))); do cat "$D/s$k-$n.jsonl"; done > "$D/union-$n.jsonl"
        cmp -s <(LC_ALL=C sort "$D/union-$n.jsonl") <(LC_ALL=C sort "$D/all.jsonl")
        ok $? "$tool $n shards: outputs are the unsharded outputs, byte for byte"
    done
done

# The same id lands in the same shard in every tool.
for tool in $TOOLS; do
    [ "$tool" = tokenize ] && continue
    diffs=0
    for k in 0 1 2 3 4 5 6; do cmp -s "$TMP/$tool/s$k-7.ids" "$TMP/tokenize/s$k-7.ids" || diffs=$((diffs + 1)); done
    is "$diffs" 0 "$tool and tokenize agree on every shard of 7"
done

# The shard function is part of the file format of a cluster run: a resumed
# shard must pick the same records as the first attempt, even after an
# upgrade. Pinned values of xxh64(id, seed 0) mod N.
shard_of() {  # ID N: the K whose --shard K/N keeps the record with this id
    local k
    for k in $(seq 0 $(($2 - 1))); do
        printf '{"id":"%s","text":"t"}\n' "$1" |
            "$BIN/llp-tokenize" -m "$M" --no-db -q --shard "$k/$2" | grep -q . && { echo "$k"; return; }
    done
    echo none
}
is "$(shard_of r1 7) $(shard_of r2 7) $(shard_of r100 7) $(shard_of doc-7 7)" "0 1 6 2" \
   "pinned: xxh64(id) mod 7 for r1 r2 r100 doc-7"
is "$(shard_of r1 2) $(shard_of r2 2) $(shard_of r3 4) $(shard_of ünï 4)" "1 0 1 1" \
   "pinned: xxh64(id) mod 2 and mod 4"

# CSV in, CSV out: the id column decides; every shard keeps the header.
CSV="$TMP/in.csv"
{ echo 'id,review'; for i in $(seq 1 300); do echo "c$i,\"review $i, with a comma\""; done; } > "$CSV"
"$BIN/llp-tokenize" -m "$M" --no-db -q --column review "$CSV" | tail -n +2 | cut -d, -f1 | LC_ALL=C sort > "$TMP/csv.all"
for n in 2 7; do
    headers=0
    for k in $(seq 0 $((n - 1))); do
        "$BIN/llp-tokenize" -m "$M" --no-db -q --column review --shard "$k/$n" "$CSV" > "$TMP/csv$k"
        [ "$(head -1 "$TMP/csv$k")" = "id,review,tokens,n_tokens,error" ] && headers=$((headers + 1))
    done
    is "$headers" "$n" "CSV $n shards: each shard writes the header"
    for k in $(seq 0 $((n - 1))); do tail -n +2 "$TMP/csv$k" | cut -d, -f1; done | LC_ALL=C sort > "$TMP/csv.union"
    is "$(uniq -d "$TMP/csv.union" | wc -l)" 0 "CSV $n shards: disjoint"
    cmp -s "$TMP/csv.union" "$TMP/csv.all"; ok $? "CSV $n shards: cover all 300 rows"
done

# Plain lines: the id is the line number, so the split is the same for any
# text on the lines.
seq 1 300 | sed 's/^/line /' > "$TMP/in.txt"
for n in 2 7; do
    for k in $(seq 0 $((n - 1))); do
        "$BIN/llp-tokenize" -m "$M" --no-db -q --shard "$k/$n" < "$TMP/in.txt" | ids_of
    done | LC_ALL=C sort > "$TMP/lines.union"
    seq 1 300 | LC_ALL=C sort > "$TMP/lines.want"
    cmp -s "$TMP/lines.union" "$TMP/lines.want"; ok $? "lines $n shards: disjoint and covering (ids are line numbers)"
done

# Out-of-range shards are usage errors, not empty runs.
"$BIN/llp-tokenize" -m "$M" --no-db -q --shard 7/7 "$IN" > /dev/null 2>&1
is $? 2 "--shard 7/7 is a usage error (exit 2)"
"$BIN/llp-tokenize" -m "$M" --no-db -q --shard 0/0 "$IN" > /dev/null 2>&1
is $? 2 "--shard 0/0 is a usage error (exit 2)"

done_testing
