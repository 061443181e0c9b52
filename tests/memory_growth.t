#!/bin/sh
# tests/memory_growth.t — a 6,000-record llp-classify run on a tiny model,
# with the store, keeps its resident memory flat after warm-up: no more
# than 5% growth (bench/mem_growth.sh does the sampling and the judging).
# 6,000 so that SQLite's page cache (2 MB, filled as the store grows) is
# full within the warm-up quarter now that every item keeps its input
# record; with 2,000 it was still filling in the second quarter (4-7%),
# while the run without the store stays flat (0.1%).
#
# Not for: leaks as such (the suite under SANITIZE=1 finds those) or speed.
# Skipped for sanitizer builds, whose allocator holds freed memory in
# quarantine and so grows by design.
. "${0%/*}/lib.sh"
if ldd "$BIN/llp-classify" 2>/dev/null | grep -q libasan; then
  echo "1..0 # SKIP sanitizer build: ASan's quarantine grows resident memory by design"
  exit 0
fi
line=$(sh "$ROOT/bench/mem_growth.sh" -b "$BIN" -n 6000 -d "$TMP")
rc=$?
diag "$line"
is "$rc" 0 "6,000 classify records: resident memory grows at most 5% after warm-up"
done_testing
