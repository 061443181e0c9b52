# tests/lib.sh — TAP helpers for the shell tests. Source it:  . "${0%/*}/lib.sh"
#
# ok COND-EXIT NAME       is "$got" "$want" NAME      diag TEXT
# need_fixture REL        (skip when absent, fail when CI=true)
# done_testing
set -u
T_N=0; T_FAILED=0
BIN=${LLP_BIN:?LLP_BIN must name the bin directory (run via make test)}
TMP=$(mktemp -d "${LLP_TMP:-/tmp}/t.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
export LLP_DB="$TMP/store.db"
ROOT=${LLP_ROOT:-$(pwd)}
FIX=${LLP_FIXTURES:-$ROOT/../shared/fixtures}

ok() { T_N=$((T_N+1)); if [ "$1" -eq 0 ]; then echo "ok $T_N - $2"; else echo "not ok $T_N - $2"; T_FAILED=$((T_FAILED+1)); fi; }
is() { if [ "$1" = "$2" ]; then ok 0 "$3"; else echo "# got:  $(printf %s "$1" | head -c 400)"; echo "# want: $(printf %s "$2" | head -c 400)"; ok 1 "$3"; fi; }
diag() { echo "# $*"; }
need_fixture() {
  [ -e "$FIX/$1" ] && return 0
  if [ "${CI:-}" = true ]; then echo "1..1"; echo "not ok 1 - fixture $1 missing and CI=true requires it"; exit 1; fi
  echo "1..0 # SKIP shared fixtures not present"; exit 0
}
done_testing() { echo "1..$T_N"; [ "$T_FAILED" -eq 0 ]; }
