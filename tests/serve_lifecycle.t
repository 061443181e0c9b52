#!/bin/sh
# llp-serve's lifecycle and limits: the serve job in the store (running while
# serving, one item per request, done after SIGTERM), a streamed client that
# disconnects frees its slot at once, a full queue answers 503 with
# Retry-After, --timeout answers 504, --max-requests-per-connection closes
# the connection, SIGTERM lets an in-flight request finish and exits 0, a
# second signal exits at once with the job marked interrupted.
. "${0%/*}/lib.sh"
. "${0%/*}/serve_lib.sh"

M="$TMP/slow.gguf"   # small shape, context 4096: 3000 tokens take about half a second
"$BIN/llp-mkmodel" -q --shape small --type Q8_0 --ctx 4096 "$M"; ok $? "a model slow enough to race"
DB="$TMP/serve.db"
LONG='{"text": "hello", "max_tokens": 3000, "temperature": 0}'
metric() { curl -s --max-time 10 "$URL/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }

serve_start a -m "$M" -t 1 --db "$DB" --parallel 1 --queue 1 --max-tokens 4000 --max-requests-per-connection 2; ok $? "llp-serve with 1 slot and a queue of 1"
"$BIN/llp-jobs" --db "$DB" list > "$TMP/jobs" 2>&1
ok $(grep -q 'serve  *running' "$TMP/jobs" && echo 0 || echo 1) "llp-jobs list shows the serve job running"

# a streaming client that goes away mid-stream: it closes the connection
# once the first two events have arrived (not after a fixed time, which a
# fast machine can outrun)
"$PY" - "$URL" > "$TMP/cut.sse" <<'PYEOF'
import http.client, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
c.request("POST", "/v1/completions", body='{"prompt": "hello", "max_tokens": 3000, "temperature": 0, "stream": true}',
          headers={"Content-Type": "application/json"})
r = c.getresponse()
events = 0
while events < 2:
    line = r.fp.readline()
    if not line:
        break
    sys.stdout.write(line.decode("utf-8", "replace"))
    if line.startswith(b"data: "):
        events += 1
c.sock.close()
PYEOF
ok $(grep -q '^data: {' "$TMP/cut.sse" && ! grep -q DONE "$TMP/cut.sse" && echo 0 || echo 1) "the stream was cut mid-way (events, no [DONE])"
i=0; busy=$(metric llp_slots_busy)
while [ "$busy" != 0 ] && [ $i -lt 20 ]; do sleep 0.05; i=$((i+1)); busy=$(metric llp_slots_busy); done
is "$busy" 0 "the slot is free again within $((i*50)) ms of the disconnect"

# the queue: one request decoding, one waiting, the rest refused
pids=
for k in 1 2 3 4 5 6; do
  curl -s --max-time 60 -D "$TMP/q$k.h" -o "$TMP/q$k.b" "$URL/predict" -d "$LONG" &
  pids="$pids $!"
done
wait $pids
n200=$(grep -l '^HTTP/1.1 200' "$TMP"/q?.h | wc -l); n503=$(grep -l '^HTTP/1.1 503' "$TMP"/q?.h | wc -l)
ok $([ "$n200" -ge 2 ] && [ "$n503" -ge 1 ] && [ $((n200 + n503)) -eq 6 ] && echo 0 || echo 1) "a full queue: $n200 answered, $n503 refused with 503"
f503=$(grep -l '^HTTP/1.1 503' "$TMP"/q?.h | head -1)
ok $([ -n "$f503" ] && grep -qi '^Retry-After: 1' "$f503" && grep -q '"code":"queue_full"' "${f503%.h}.b" && echo 0 || echo 1) "503 carries Retry-After and code queue_full"
f200=$(grep -l '^HTTP/1.1 200' "$TMP"/q?.h | head -1)
is "$(jget "${f200%.h}.b" 'd["tokens_out"]')" 3000 "the answered ones are whole"

# requests per connection: the second answer closes the connection
curl -sv --max-time 30 "$URL/v1/models" "$URL/v1/models" "$URL/v1/models" -o /dev/null -o /dev/null -o /dev/null 2> "$TMP/rpc"
is "$(grep -ci '^< Connection: close' "$TMP/rpc")" 1 "--max-requests-per-connection 2: the 2nd answer says Connection: close"
is "$(grep -c '^< HTTP/1.1 200' "$TMP/rpc")" 3 "the client opens a new connection for the 3rd"
serve_stop TERM
is "$SRC" 0 "SIGTERM: exit 0"

# the record: one item per request but /health and /metrics
"$BIN/llp-jobs" --db "$DB" list > "$TMP/jobs" 2>&1
ok $(grep -q 'serve  *done' "$TMP/jobs" && echo 0 || echo 1) "the serve job is done after the stop"
id=$(awk '$2 == "serve" { print $1 }' "$TMP/jobs" | tail -1)
"$BIN/llp-jobs" --db "$DB" export "$id" > "$TMP/items.jsonl"
is "$(wc -l < "$TMP/items.jsonl" | tr -d ' ')" 10 "10 items: the cut stream, 6 predicts, 3 models (probes are not recorded)"
is "$("$PY" -c '
import json, sys
it = [json.loads(l) for l in open(sys.argv[1])]
cut = [x for x in it if x.get("route") == "/v1/completions"]
ok = [x for x in it if x.get("status") == 200 and x.get("route") == "/predict"]
busy = [x for x in it if x.get("status") == 503]
print(len(cut), cut[0]["status"], "client closed" in cut[0]["error"], all(x["response"]["tokens_out"] == 3000 and x["text"] == "hello" for x in ok), all(x["error"] for x in busy))
' "$TMP/items.jsonl")" "1 499 True True True" "items: the cut stream as 499, answers with their input and output, refusals with their error"
is "$(sqlite3 "$DB" "select count(*) from items where record_id like 'req-%' and input_hash != '' and ms >= 0")" 10 "every item has its request id, body hash and time"

# --timeout
serve_start b -m "$M" -t 1 --no-db --timeout 0.05 --max-tokens 4000; ok $? "llp-serve --timeout 0.05"
is "$(http_code "$TMP/t" "$URL/predict" -d "$LONG")" 504 "a request past --timeout: 504"
is "$(jget "$TMP/t" 'd["error"]["code"]')" timeout "... code timeout"
i=0; busy=$(metric llp_slots_busy)
while [ "$busy" != 0 ] && [ $i -lt 20 ]; do sleep 0.05; i=$((i+1)); busy=$(metric llp_slots_busy); done
is "$busy" 0 "... and its slot is free"
serve_stop TERM

# graceful stop: the in-flight request finishes
serve_start c -m "$M" -t 1 --db "$DB" --grace 30 --max-tokens 4000; ok $? "llp-serve --grace 30"
curl -s --max-time 60 -o "$TMP/g.b" -w '%{http_code}' "$URL/predict" -d "$LONG" > "$TMP/g.code" &
CPID=$!
i=0; while [ "$(metric llp_slots_busy)" != 1 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
kill -TERM "$SPID"
sleep 0.2
is "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/health")" 000 "after SIGTERM no new connection is accepted"
wait "$CPID"
is "$(cat "$TMP/g.code") $(jget "$TMP/g.b" 'd["tokens_out"]')" "200 3000" "the in-flight request finished whole"
serve_stop none
is "$SRC" 0 "exit 0 after the drain"

# a second signal exits at once
serve_start d -m "$M" -t 1 --db "$DB" --grace 60 --max-tokens 4000 --parallel 2; ok $? "llp-serve --grace 60"
pids=
for k in 1 2; do curl -s --max-time 60 -o /dev/null "$URL/predict" -d '{"text": "hi", "max_tokens": 4000, "temperature": 0}' & pids="$pids $!"; done
i=0; while [ "$(metric llp_slots_busy)" != 2 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
t0=$(date +%s%N)
kill -TERM "$SPID"; sleep 0.2; kill -TERM "$SPID"
serve_stop none
t1=$(date +%s%N)
is "$SRC" 143 "a second SIGTERM: exit 128+15"
ok $([ $(( (t1 - t0) / 1000000 )) -lt 3000 ] && echo 0 || echo 1) "... at once ($(( (t1 - t0) / 1000000 )) ms), not after the grace period"
wait $pids
st=$(sqlite3 "$DB" "select status from jobs where tool = 'serve' order by id desc limit 1")
is "$st" interrupted "the serve job is marked interrupted"
[ "$st" = interrupted ] || sed 's/^/# /' "$TMP/d.err"
is "$(sqlite3 "$DB" 'pragma integrity_check')" ok "the store is consistent"
done_testing
