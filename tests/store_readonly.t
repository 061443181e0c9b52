#!/bin/sh
# tests/store_readonly.t — a store on a read-only medium stays readable
# (issue 17, item 8): llp-jobs list, show and export, and llp-embed
# --similar, open it read-only and print what they print on the writable
# store; writing commands (gc, a tool) still fail with "database is
# read-only"; merge reads a read-only input. Also item 3 end to end with a
# real tool: CSV rows with repeated ids are each an item.
#
# Not for: the store API (tests/store_schema.c tests the read-only open of
# an older schema) or other faults (tests/faults.t).
#
# Mounts a small tmpfs (root only). Where mounting fails the mount cases are
# skipped, except under CI=true where that is a failure.
. "${0%/*}/lib.sh"
cd "$TMP" || exit 1
unset LLP_MODEL LLP_DB
M="$TMP/tiny.gguf"
"$BIN/llp-mkmodel" -q "$M"; ok $? "a random tiny model is written"
T="$BIN/llp-tokenize"
E="$BIN/llp-embed"
J="$BIN/llp-jobs"
q() { sqlite3 "$1" "$2" 2>&1; }

MOUNTS=""
cleanup() { for d in $MOUNTS; do umount "$d" 2>/dev/null; done; rm -rf "$TMP"; }
trap cleanup EXIT

# ---- item 3: repeated ids, with a real tool -----------------------------------
printf 'id,text\n1,same words\n1,same words\n2,other words\n' > dups.csv
"$T" -m "$M" --db d.db dups.csv > dups.out; ok $? "repeated ids: the tool runs"
is "$(wc -l < dups.out | tr -d ' ')" 4 "repeated ids: a header and three rows out"
is "$(q d.db 'SELECT n_items, (SELECT count(*) FROM items) FROM jobs')" "3|3" \
   "repeated ids: the job counts three records and the store holds three items"
"$J" --db d.db export last --out csv > dups.export
cmp -s dups.out dups.export; ok $? "repeated ids: export gives back exactly what the tool wrote"

if mkdir -p ro && mount -t tmpfs -o size=8m tmpfs ro 2>/dev/null; then
  MOUNTS="$TMP/ro"
  db="$TMP/ro/s.db"
  printf 'alpha beta\ngamma delta\n' > two.txt
  "$T" -m "$M" --db "$db" dups.csv > /dev/null; ok $? "read-only: a store is made"
  "$E" -m "$M" --db "$db" -q --collection c two.txt > /dev/null; ok $? "read-only: vectors are stored"
  # What the reading commands print on a writable copy (reading the store
  # itself would leave -wal and -shm beside it, and the first pass below is
  # about a medium without them).
  cp "$db" ref.db
  for cmd in list "show 1" "export 1" "export 1 --out csv"; do
    "$J" --db ref.db $cmd > "rw.$cmd" 2>&1
  done
  "$E" -m "$M" --db ref.db --collection c --similar 'gamma delta' -k 1 > rw.similar
  [ ! -e "$db-wal" ] && [ ! -e "$db-shm" ]; ok $? "read-only: no -wal or -shm beside the closed store"
  mount -o remount,ro "$TMP/ro"
  for cmd in list "show 1" "export 1" "export 1 --out csv"; do
    "$J" --db "$db" $cmd > "ro.$cmd" 2> ro.err
    is "$?:$(cat ro.err)" "0:" "read-only medium: llp-jobs $cmd exits 0, nothing on stderr"
    cmp -s "rw.$cmd" "ro.$cmd"; ok $? "read-only medium: llp-jobs $cmd prints what it printed on the writable store"
  done
  is "$(wc -l < "ro.export 1" | tr -d ' ')" 3 "read-only medium: export gives the three records"
  "$E" -m "$M" --db "$db" --collection c --similar 'gamma delta' -k 1 > ro.similar 2> ro.err
  is "$?:$(cat ro.err)" "0:" "read-only medium: llp-embed --similar exits 0"
  cmp -s rw.similar ro.similar; ok $? "read-only medium: --similar finds the same record"
  "$J" --db "$db" gc 2> ro.err
  is "$?:$(cat ro.err)" "1:llp-jobs: error: $db: database is read-only" \
     "read-only medium: gc (a writing command) fails, naming the store"
  "$T" -m "$M" --db "$db" two.txt > /dev/null 2> ro.err
  is "$?:$(head -n 1 ro.err)" "1:llp-tokenize: error: $db: database is read-only" \
     "read-only medium: a tool writing the store fails as before"
  "$J" -q merge merged.db "$db"; ok $? "read-only medium: the store merges into a writable one"
  is "$(q merged.db 'SELECT count(*) FROM items')" 5 "read-only medium: every item is merged"
  mount -o remount,rw "$TMP/ro"
  # With -wal and -shm left beside it (a reader ran while it was writable),
  # SQLite's own read-only open is used.
  "$J" --db "$db" list > /dev/null
  [ -e "$db-shm" ]; ok $? "read-only: a reader leaves -shm beside the store"
  mount -o remount,ro "$TMP/ro"
  "$J" --db "$db" export 1 --out csv > ro.again 2> ro.err
  is "$?:$(cat ro.err)" "0:" "read-only medium with -wal and -shm: export exits 0"
  cmp -s "rw.export 1 --out csv" ro.again; ok $? "read-only medium with -wal and -shm: the same records"
  mount -o remount,rw "$TMP/ro"
else
  if [ "${CI:-}" = true ]; then ok 1 "mount -t tmpfs (CI=true requires mounts)"
  else T_N=$((T_N+1)); echo "ok $T_N # SKIP cannot mount tmpfs (not root?)"; fi
fi

done_testing
