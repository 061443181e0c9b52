#!/bin/sh
# tests/memory_growth.t — a 2,000-record llp-classify run on a tiny model,
# with the store, keeps its resident memory flat after warm-up: no more
# than 5% growth (bench/mem_growth.sh does the sampling and the judging).
#
# Not for: leaks as such (the suite under SANITIZE=1 finds those) or speed.
# Skipped for sanitizer builds, whose allocator holds freed memory in
# quarantine and so grows by design.
. "${0%/*}/lib.sh"
if ldd "$BIN/llp-classify" 2>/dev/null | grep -q libasan; then
  echo "1..0 # SKIP sanitizer build: ASan's quarantine grows resident memory by design"
  exit 0
fi
line=$(sh "$ROOT/bench/mem_growth.sh" -b "$BIN" -n 2000 -d "$TMP")
rc=$?
diag "$line"
is "$rc" 0 "2,000 classify records: resident memory grows at most 5% after warm-up"
done_testing
