#!/bin/sh
# serve_bench.sh — llp-serve under 1, 4, 8 and 16 concurrent clients on a
# random-weight 1.1B-shape (TinyLlama) Q4_0 model: requests per second,
# generated tokens per second, and p50 / p99 request latency, each client
# sending greedy /v1/completions requests (a 20-token prompt, MAX_TOKENS
# generated; random weights rarely stop early, and each answer's own token
# count is what is summed) one after another on a keep-alive connection.
# The server runs with --parallel 16, so every level's requests decode
# together in one forward pass per token. Target (issue 14): tokens/s at 8
# clients >= 2x the single-client figure.
#
# Not for: tests (nothing here passes or fails).
#
#   make && sh bench/serve_bench.sh [THREADS=2] [MAX_TOKENS=32] [REQUESTS_PER_CLIENT=3]
# Writes its model under build/bench/ (about 640 MB, shared with the other
# benches) and keeps it.
set -eu
cd "$(dirname "$0")/.."
THREADS=${1:-2}
MAX_TOKENS=${2:-32}
PER_CLIENT=${3:-3}
OUT=build/bench
mkdir -p "$OUT"
MODEL=$OUT/tl-1.1b-q4_0.gguf
[ -f "$MODEL" ] || bin/llp-mkmodel --shape 1.1b --type Q4_0 "$MODEL" 2>/dev/null
rm -f "$OUT/serve.port"
bin/llp-serve -q -m "$MODEL" -t "$THREADS" -c 512 --parallel 16 --no-db --host 127.0.0.1 \
    --port 0 --port-file "$OUT/serve.port" --queue 64 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null' EXIT
i=0
while [ ! -s "$OUT/serve.port" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
URL="http://127.0.0.1:$(cat "$OUT/serve.port")"
echo "serve_bench: $MODEL, $THREADS threads, --parallel 16, $MAX_TOKENS tokens per request, $PER_CLIENT requests per client"
/usr/bin/python3 - "$URL" "$MAX_TOKENS" "$PER_CLIENT" <<'PY'
import http.client, json, sys, threading, time, urllib.parse
url, max_tokens, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
u = urllib.parse.urlparse(url)

def run(clients):
    lat, toks, lock = [], [0], threading.Lock()
    def client(k):
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
        for j in range(per):
            body = json.dumps({"prompt": "Client %d asks question %d about the pipes of the old house" % (k, j),
                               "max_tokens": max_tokens, "temperature": 0})
            t0 = time.time()
            c.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
            r = c.getresponse(); d = json.loads(r.read())
            dt = time.time() - t0
            assert r.status == 200, d
            with lock:
                lat.append(dt); toks[0] += d["usage"]["completion_tokens"]
        c.close()
    t0 = time.time()
    ts = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in ts: t.start()
    for t in ts: t.join()
    wall = time.time() - t0
    lat.sort()
    q = lambda p: lat[min(len(lat) - 1, int(round(p * (len(lat) - 1))))]
    return len(lat) / wall, toks[0] / wall, q(0.5), q(0.99)

run(1)  # warm up: page the weights in
print("%8s %10s %10s %10s %10s" % ("clients", "req/s", "tok/s", "p50 s", "p99 s"))
base = None
for n in (1, 4, 8, 16):
    rps, tps, p50, p99 = run(n)
    base = base or tps
    print("%8d %10.2f %10.1f %10.2f %10.2f   (%.2fx the 1-client tok/s)" % (n, rps, tps, p50, p99, tps / base))
    sys.stdout.flush()
PY
