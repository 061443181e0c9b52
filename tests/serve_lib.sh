# tests/serve_lib.sh — starting and stopping llp-serve in the serve tests.
# Source after lib.sh. Every wait is bounded (tenths of a second).
#
# serve_start NAME ARGS...   start llp-serve on 127.0.0.1, a free port chosen
#                            by the kernel (--port 0 --port-file); sets
#                            $PORT, $SPID, $URL; returns 1 if it never listened
# serve_stop [SIGNAL|none]   signal it (TERM; none: a signal was sent already)
#                            and wait for its exit: $SRC
# http_code FILE ARGS...     curl, body to FILE, prints the status code
# jget FILE EXPR             a Python expression over the JSON in FILE (as d)

serve_start() {
  _name=$1; shift
  rm -f "$TMP/$_name.port"
  "$BIN/llp-serve" --host 127.0.0.1 --port 0 --port-file "$TMP/$_name.port" "$@" \
    >"$TMP/$_name.out" 2>"$TMP/$_name.err" &
  SPID=$!
  _i=0
  while [ ! -s "$TMP/$_name.port" ] && [ $_i -lt 300 ]; do
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1; _i=$((_i+1))
  done
  if [ ! -s "$TMP/$_name.port" ]; then diag "llp-serve did not start:"; sed 's/^/# /' "$TMP/$_name.err"; return 1; fi
  PORT=$(cat "$TMP/$_name.port")
  URL="http://127.0.0.1:$PORT"
  return 0
}

serve_stop() {
  [ "${1:-TERM}" = none ] || kill "-${1:-TERM}" "$SPID" 2>/dev/null
  _i=0
  while kill -0 "$SPID" 2>/dev/null && [ $_i -lt 600 ]; do sleep 0.1; _i=$((_i+1)); done
  if kill -0 "$SPID" 2>/dev/null; then diag "llp-serve $SPID did not stop; killing it"; kill -KILL "$SPID"; fi
  wait "$SPID" 2>/dev/null
  SRC=$?
}

http_code() {
  _f=$1; shift
  curl -s --max-time 60 -o "$_f" -w '%{http_code}' "$@"
}

PY=/usr/bin/python3
jget() {
  "$PY" -c 'import json,sys
d=json.load(open(sys.argv[1]))
v=eval(sys.argv[2])
print(v if not isinstance(v,(dict,list)) else json.dumps(v, sort_keys=True))' "$1" "$2" 2>&1
}
