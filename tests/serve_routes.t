#!/bin/sh
# llp-serve over curl: every route's answer (shapes as OpenAI documents them,
# greedy answers equal to the batch tools'), and every error class with its
# status and OpenAI-style body naming the field: unknown route, wrong method,
# bad JSON, wrong types, invalid UTF-8, an oversize body, a prompt longer
# than the context, max_tokens past the limit, keys, a refused bind.
. "${0%/*}/lib.sh"
. "${0%/*}/serve_lib.sh"

M="$TMP/m.gguf"
"$BIN/llp-mkmodel" -q --type Q8_0 "$M"; ok $? "a Q8_0 model is written"
serve_start a -m "$M" -t 1 --parallel 2 --max-body 4096 --max-tokens 64; ok $? "llp-serve listens on a free loopback port"

# ---- routes -----------------------------------------------------------------
is "$(http_code "$TMP/h" "$URL/health")" 200 "GET /health: 200"
is "$(jget "$TMP/h" 'd["status"], d["slots"]')" "('ok', 2)" "/health: ok, 2 slots"

is "$(http_code "$TMP/p" "$URL/predict" -d '{"text": "hello world", "max_tokens": 8, "temperature": 0}')" 200 "POST /predict: 200"
is "$(jget "$TMP/p" 'sorted(d)')" '["completion", "ms", "stop", "tokens_in", "tokens_out"]' "/predict: completion, tokens_in, tokens_out, stop, ms"
is "$(jget "$TMP/p" 'd["tokens_out"], d["stop"]')" "(8, 'length')" "/predict: max_tokens 8 gives 8 tokens, stop length"
"$BIN/llp-generate" -m "$M" -t 1 --no-db -q --temp 0 -n 8 --out jsonl "hello world" > "$TMP/gen.jsonl"
is "$(jget "$TMP/p" 'd["completion"]')" "$(jget "$TMP/gen.jsonl" 'd["completion"]')" "/predict: the greedy completion is llp-generate's"

is "$(http_code "$TMP/c" "$URL/v1/completions" -H 'Content-Type: application/json' -d '{"model": "m", "prompt": "hello", "max_tokens": 5, "temperature": 0}')" 200 "POST /v1/completions: 200"
is "$(jget "$TMP/c" 'd["object"], d["choices"][0]["index"], d["choices"][0]["finish_reason"], d["usage"]["completion_tokens"], d["usage"]["total_tokens"] == d["usage"]["prompt_tokens"] + 5')" \
   "('text_completion', 0, 'length', 5, True)" "/v1/completions: text_completion with choices and usage"

is "$(http_code "$TMP/cc" "$URL/v1/chat/completions" -d '{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}], "max_tokens": 6, "temperature": 0}')" 200 "POST /v1/chat/completions: 200"
is "$(jget "$TMP/cc" 'd["object"], d["choices"][0]["message"]["role"], d["usage"]["completion_tokens"]')" "('chat.completion', 'assistant', 6)" "chat: chat.completion, an assistant message, usage"
"$BIN/llp-generate" -m "$M" -t 1 --no-db -q --temp 0 -n 6 --chat --system "be brief" --out jsonl "hi" > "$TMP/chat.jsonl"
is "$(jget "$TMP/cc" 'd["choices"][0]["message"]["content"]')" "$(jget "$TMP/chat.jsonl" 'd["completion"]')" "chat: the template is llp-generate --chat's (same greedy answer)"

curl -sN --max-time 60 "$URL/v1/chat/completions" -d '{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}], "max_tokens": 6, "temperature": 0, "stream": true, "stream_options": {"include_usage": true}}' > "$TMP/sse"
"$PY" - "$TMP/sse" "$TMP/cc" > "$TMP/sse.check" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]).read().split("\n") if l]
assert all(l.startswith("data: ") for l in lines), "every line is an event"
assert lines[-1] == "data: [DONE]", "ends with [DONE]"
ev = [json.loads(l[6:]) for l in lines[:-1]]
assert ev[0]["choices"][0]["delta"].get("role") == "assistant"
text = "".join(e["choices"][0]["delta"].get("content", "") for e in ev if e["choices"])
fin = [e for e in ev if e["choices"] and e["choices"][0]["finish_reason"]]
assert len(fin) == 1 and fin[0]["choices"][0]["finish_reason"] == "length"
usage = [e for e in ev if not e["choices"]]
assert usage and usage[0]["usage"]["completion_tokens"] == 6
pieces = [e for e in ev if e["choices"] and e["choices"][0]["delta"].get("content")]
want = json.load(open(sys.argv[2]))["choices"][0]["message"]["content"]
assert text == want, (text, want)
assert all(e["object"] == "chat.completion.chunk" for e in ev)
print("ok", len(pieces))
PY
is "$(cut -d' ' -f1 "$TMP/sse.check")" ok "chat stream: role chunk, content chunks, one finish, usage, [DONE]; the same text as unstreamed"
n_pieces=$(cut -d' ' -f2 "$TMP/sse.check")
ok $([ "${n_pieces:-0}" -ge 2 ] && echo 0 || echo 1) "chat stream: one chunk per token ($n_pieces content chunks for 6 tokens)"

is "$(http_code "$TMP/e" "$URL/v1/embeddings" -d '{"input": ["one text", "another"], "model": "m"}')" 200 "POST /v1/embeddings: 200"
is "$(jget "$TMP/e" 'd["object"], len(d["data"]), d["data"][1]["index"], len(d["data"][0]["embedding"]), round(sum(x*x for x in d["data"][0]["embedding"]), 4)')" \
   "('list', 2, 1, 64, 1.0)" "embeddings: a list of 2 unit vectors of the model's 64 dims"
http_code "$TMP/e64" "$URL/v1/embeddings" -d '{"input": ["one text", "another"], "encoding_format": "base64"}' >/dev/null
is "$("$PY" -c '
import json, sys, base64, struct
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
v = list(struct.unpack("<64f", base64.b64decode(b["data"][0]["embedding"])))
print(all(abs(x - y) < 1e-7 for x, y in zip(v, a["data"][0]["embedding"])))' "$TMP/e" "$TMP/e64")" True "embeddings: base64 is the same vector as little-endian float32"
printf 'one text\n' | "$BIN/llp-embed" -m "$M" -t 1 --no-db -q > "$TMP/emb.jsonl"
is "$("$PY" -c '
import json, sys
a = json.load(open(sys.argv[1]))["data"][0]["embedding"]; b = json.load(open(sys.argv[2]))["embedding"]
print(max(abs(x - y) for x, y in zip(a, b)) < 1e-6)' "$TMP/e" "$TMP/emb.jsonl")" True "embeddings: the vector is llp-embed's"

is "$(http_code "$TMP/k" "$URL/v1/classify" -d '{"input": ["great stuff", "awful"], "labels": ["positive", "negative"]}')" 200 "POST /v1/classify: 200"
printf 'great stuff\nawful\n' | "$BIN/llp-classify" -m "$M" -t 1 --no-db -q --labels positive,negative > "$TMP/cls.jsonl"
is "$("$PY" -c '
import json, sys
a = json.load(open(sys.argv[1]))["data"]
b = [json.loads(l) for l in open(sys.argv[2])]
print(all(x["label"] == y["label"] and abs(x["probs"]["positive"] - y["p_positive"]) < 1e-8 and abs(x["score"] - y["score"]) < 1e-8 for x, y in zip(a, b)) and len(a) == 2)' "$TMP/k" "$TMP/cls.jsonl")" True "classify: label, score and probabilities are llp-classify's (which prints 9 digits)"

is "$(http_code "$TMP/s" "$URL/v1/summarize" -d '{"input": "The pipes were old. The plumber came on Monday and replaced them.", "max_tokens": 16}')" 200 "POST /v1/summarize: 200"
is "$(jget "$TMP/s" 'type(d["summary"]).__name__, d["chunks"], d["usage"]["completion_tokens"] > 0')" "('str', 1, True)" "summarize: a summary of one chunk, usage"

is "$(http_code "$TMP/mo" "$URL/v1/models")" 200 "GET /v1/models: 200"
is "$(jget "$TMP/mo" 'd["object"], d["data"][0]["id"], d["data"][0]["object"]')" "('list', 'm', 'model')" "models: the model's file name as its id"

# keep-alive: two requests on one connection
curl -sv --max-time 30 "$URL/health" "$URL/v1/models" -o /dev/null -o /dev/null 2> "$TMP/ka"
ok $(grep -qi 're-using existing connection\|reusing existing connection' "$TMP/ka" && echo 0 || echo 1) "HTTP/1.1 keep-alive: the second request reuses the connection"

# ---- errors -----------------------------------------------------------------
err_is() { # FILE STATUS-GOT STATUS-WANT CODE PARAM NAME
  is "$2 $(jget "$1" 'd["error"]["code"], d["error"]["param"], d["error"]["type"] != "" and d["error"]["message"] != ""')" "$3 ('$4', $5, True)" "$6"
}
err_is "$TMP/x" "$(http_code "$TMP/x" "$URL/nope")" 404 not_found None "unknown route: 404 not_found"
err_is "$TMP/x" "$(http_code "$TMP/x" -X DELETE "$URL/predict")" 405 method_not_allowed None "wrong method: 405"
curl -s -D "$TMP/hd" -o /dev/null --max-time 30 -X GET "$URL/predict"
ok $(grep -qi '^Allow: POST' "$TMP/hd" && echo 0 || echo 1) "405 names the allowed method (Allow: POST)"
err_is "$TMP/x" "$(http_code "$TMP/x" "$URL/predict" -d '{"text": ')" 400 invalid_json None "truncated JSON: 400 invalid_json"
err_is "$TMP/x" "$(http_code "$TMP/x" "$URL/predict" -d '[1, 2]')" 400 invalid_json None "a body that is not an object: 400"
err_is "$TMP/x" "$(http_code "$TMP/x" "$URL/predict" -d '{"text": 5}')" 400 invalid_type "'text'" "text of the wrong type: 400 naming text"
err_is "$TMP/x" "$(http_code "$TMP/x" "$URL/predict" -d '{"text": "a", "max_tokens": "9"}')" 400 invalid_type "'max_tokens'" "max_tokens as a string: 400 naming max_tokens"
err_is "$TMP/x" "$(http_code "$TMP/x" "$URL/predict" -d '{"text": "a", "temperature": 9}')" 400 invalid_value "'temperature'" "temperature out of range: 400"
err_is "$TMP/x" "$(http_code "$TMP/x" "$URL/predict" -d '{}')" 400 missing_field "'text'" "no text: 400 missing_field"
err_is "$TMP/x" "$(http_code "$TMP/x" "$URL/predict" -d '{"text": ""}')" 400 invalid_value "'text'" "empty text: 400"
err_is "$TMP/x" "$(http_code "$TMP/x" "$URL/predict" -d '{"text": "a", "max_tokens": 65}')" 400 invalid_value "'max_tokens'" "max_tokens past --max-tokens: 400"
err_is "$TMP/x" "$(http_code "$TMP/x" "$URL/v1/chat/completions" -d '{"messages": [{"role": "wizard", "content": "x"}]}')" 400 invalid_value "'messages[0].role'" "chat: an unknown role is named"
err_is "$TMP/x" "$(http_code "$TMP/x" "$URL/v1/chat/completions" -d '{"messages": "hi"}')" 400 invalid_type "'messages'" "chat: messages not an array"
err_is "$TMP/x" "$(http_code "$TMP/x" "$URL/v1/completions" -d '{"prompt": "a", "n": 3}')" 400 invalid_value "'n'" "completions: n other than 1 is refused"
err_is "$TMP/x" "$(http_code "$TMP/x" "$URL/v1/embeddings" -d '{"input": [1, 2]}')" 400 invalid_type "'input'" "embeddings: token arrays are refused, naming input"
err_is "$TMP/x" "$(http_code "$TMP/x" "$URL/v1/classify" -d '{"input": "x", "labels": ["a"]}')" 400 invalid_value "'labels'" "classify: one label is refused"
err_is "$TMP/x" "$(http_code "$TMP/x" "$URL/v1/classify" -d '{"input": "x", "labels": ["a", "a"]}')" 400 invalid_value None "classify: duplicate labels are refused"
printf '{"text": "caf\351"}' > "$TMP/latin1"
err_is "$TMP/x" "$(http_code "$TMP/x" "$URL/predict" --data-binary @"$TMP/latin1")" 400 invalid_utf8 None "invalid UTF-8: 400 invalid_utf8"
head -c 5000 /dev/zero | tr '\0' a > "$TMP/big"
err_is "$TMP/x" "$(http_code "$TMP/x" "$URL/predict" --data-binary @"$TMP/big")" 413 body_too_large None "a body past --max-body (Content-Length): 413"
err_is "$TMP/x" "$(http_code "$TMP/x" "$URL/predict" -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/big")" 413 body_too_large None "a chunked body past --max-body: 413"
long=$("$PY" -c 'print("word " * 600)')
err_is "$TMP/x" "$(http_code "$TMP/x" "$URL/predict" -d "{\"text\": \"$long\"}")" 400 context_length_exceeded "'text'" "a prompt longer than the context: 400 context_length_exceeded"
is "$(http_code "$TMP/h" "$URL/health")" 200 "the server is alive after every error"

is "$(http_code "$TMP/mt" "$URL/metrics")" 200 "GET /metrics: 200"
ok $(grep -q '^llp_requests_total{route="/predict",status="200"} 1$' "$TMP/mt" && echo 0 || echo 1) "metrics: requests by route and status"
ok $(grep -q '^llp_requests_total{route="/predict",status="400"} [0-9]' "$TMP/mt" && grep -q '^llp_requests_total{route="other",status="404"} 1$' "$TMP/mt" && echo 0 || echo 1) "metrics: errors counted by status, unknown routes as other"
ok $(grep -q '^llp_request_duration_seconds_bucket{route="/predict",le="+Inf"} [0-9]' "$TMP/mt" && grep -q '^llp_tokens_out_total [1-9]' "$TMP/mt" && grep -q '^llp_slots 2$' "$TMP/mt" && grep -q '^llp_slots_busy 0$' "$TMP/mt" && grep -q '^llp_queue_depth 0$' "$TMP/mt" && echo 0 || echo 1) "metrics: latency histogram, tokens, slots, slots busy, queue depth"

serve_stop TERM
is "$SRC" 0 "SIGTERM: exit 0"

# ---- keys -----------------------------------------------------------------------
serve_start b -m "$M" -t 1 --no-db --api-key 's3cret key'; ok $? "llp-serve with --api-key"
err_is "$TMP/x" "$(http_code "$TMP/x" "$URL/v1/models")" 401 invalid_api_key None "no key: 401"
err_is "$TMP/x" "$(http_code "$TMP/x" -H 'Authorization: Bearer s3cret kex' "$URL/v1/models")" 401 invalid_api_key None "a wrong key of the same length: 401"
err_is "$TMP/x" "$(http_code "$TMP/x" -H 'Authorization: Bearer s3cret key2' "$URL/v1/models")" 401 invalid_api_key None "a longer key: 401"
err_is "$TMP/x" "$(http_code "$TMP/x" -H 'Authorization: Basic czNjcmV0' "$URL/predict" -d '{"text": "a"}')" 401 invalid_api_key None "another scheme: 401"
is "$(http_code "$TMP/x" -H 'Authorization: Bearer s3cret key' "$URL/v1/models")" 200 "the right key: 200"
is "$(http_code "$TMP/x" "$URL/health")" 200 "/health needs no key"
serve_stop TERM
LLP_API_KEY=envkey serve_start c -m "$M" -t 1 --no-db; ok $? "llp-serve with LLP_API_KEY"
is "$(http_code "$TMP/x" "$URL/v1/models")/$(http_code "$TMP/x" -H 'Authorization: Bearer envkey' "$URL/v1/models")" 401/200 "LLP_API_KEY is the key"
serve_stop TERM

"$BIN/llp-serve" -m "$M" --no-db --host 0.0.0.0 --port 0 > /dev/null 2> "$TMP/refuse.err"
is "$?" 2 "a non-loopback address without a key is refused (exit 2)"
ok $(grep -q 'refusing to listen on 0.0.0.0 without an API key' "$TMP/refuse.err" && echo 0 || echo 1) "the refusal says why and what to give"
"$BIN/llp-serve" -m "$M" --no-db --port 99999 > /dev/null 2> "$TMP/port.err"
is "$?" 2 "--port out of range: usage error"
done_testing
