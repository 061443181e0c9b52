#!/bin/sh
# The official openai npm package (pinned in tests/serve_client/package.json
# and package-lock.json; .ci/run runs npm ci there), unmodified, against
# llp-serve: models, a completion, a streamed chat completion, an embedding
# (the client's default base64 and float), and its errors for a wrong key
# and a wrong field. Skips without node_modules unless CI=true.
. "${0%/*}/lib.sh"
. "${0%/*}/serve_lib.sh"

CL="$ROOT/tests/serve_client"
if [ ! -d "$CL/node_modules/openai" ]; then
  if [ "${CI:-}" = true ]; then echo "1..1"; echo "not ok 1 - $CL/node_modules missing and CI=true requires it (cd $CL && npm ci)"; exit 1; fi
  echo "1..0 # SKIP the openai client is not installed (cd tests/serve_client && npm ci)"; exit 0
fi
M="$TMP/m.gguf"
"$BIN/llp-mkmodel" -q --type Q8_0 "$M"; ok $? "a model"
serve_start a -m "$M" -t 1 --parallel 2 --db "$TMP/s.db" --api-key sk-test; ok $? "llp-serve with a key"
node "$CL/openai_client.mjs" "$URL/v1" sk-test > "$TMP/o.json" 2> "$TMP/o.err"; ok $? "the openai client ran without an error"
sed 's/^/# /' "$TMP/o.err" | head -20
is "$(jget "$TMP/o.json" 'd["models"]')" '["m"]' "models.list: the model"
is "$(jget "$TMP/o.json" 'd["completion"]["object"], d["completion"]["finish"], d["completion"]["usage"]["completion_tokens"]')" "('text_completion', 'length', 6)" "completions.create: a text_completion of 6 tokens"
curl -s --max-time 60 -H 'Authorization: Bearer sk-test' "$URL/v1/completions" -d '{"prompt": "The pipes were", "max_tokens": 6, "temperature": 0}' > "$TMP/c.json"
is "$(jget "$TMP/o.json" 'd["completion"]["text"]')" "$(jget "$TMP/c.json" 'd["choices"][0]["text"]')" "... the same text as curl gets"
is "$(jget "$TMP/o.json" 'd["chat_stream"]["finish"], d["chat_stream"]["usage"]["completion_tokens"], d["chat_stream"]["chunks"] > 1')" "('length', 8, True)" "a streamed chat: chunks, finish_reason, usage"
is "$(jget "$TMP/o.json" 'd["chat_stream"]["text"]')" "$(jget "$TMP/o.json" 'd["chat"]["text"]')" "... the streamed text is the unstreamed one"
is "$(jget "$TMP/o.json" 'd["embedding"]["n"], d["embedding"]["dim"], round(d["embedding"]["norm"], 4)')" "(2, 64, 1.0)" "embeddings.create (base64 by default): 2 unit vectors of 64"
is "$(jget "$TMP/o.json" 'all(abs(a - b) < 1e-6 for a, b in zip(d["embedding"]["first"], d["embedding_float_first"]))')" True "... equal to the float encoding"
is "$(jget "$TMP/o.json" 'd["wrong_key"]')" '{"code": "invalid_api_key", "status": 401, "type": "authentication_error"}' "a wrong key: the client sees 401 invalid_api_key"
is "$(jget "$TMP/o.json" 'd["bad_field"]')" '{"code": "invalid_type", "param": "max_tokens", "status": 400}' "a wrong field: 400 naming max_tokens"
serve_stop TERM
is "$SRC" 0 "exit 0"
is "$(sqlite3 "$TMP/s.db" "select count(*) from items i join jobs j on i.job_id = j.id where j.tool = 'serve' and json_extract(i.output, '\$.route') like '/v1/%'")" 9 "the client's requests are recorded (9 items)"
done_testing
