// The official openai npm client, unmodified, against llp-serve: a
// completion, a streamed chat completion and an embedding. Prints one JSON
// object of what it got; tests/serve_openai.t checks it.
//   node openai_client.mjs BASE_URL API_KEY
import OpenAI from "openai";

const [baseURL, apiKey] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, timeout: 60000, maxRetries: 0 });
const out = {};

const models = await client.models.list();
out.models = models.data.map((m) => m.id);

const c = await client.completions.create({
  model: out.models[0], prompt: "The pipes were", max_tokens: 6, temperature: 0,
});
out.completion = { text: c.choices[0].text, finish: c.choices[0].finish_reason,
                   usage: c.usage, object: c.object };

const stream = await client.chat.completions.create({
  model: out.models[0], messages: [{ role: "user", content: "Say hello" }],
  max_tokens: 8, temperature: 0, stream: true, stream_options: { include_usage: true },
});
let text = "", chunks = 0, finish = null, usage = null;
for await (const chunk of stream) {
  if (chunk.choices.length) {
    const d = chunk.choices[0].delta;
    if (d.content) { text += d.content; chunks++; }
    if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
  }
  if (chunk.usage) usage = chunk.usage;
}
out.chat_stream = { text, chunks, finish, usage };

const unstreamed = await client.chat.completions.create({
  model: out.models[0], messages: [{ role: "user", content: "Say hello" }],
  max_tokens: 8, temperature: 0,
});
out.chat = { text: unstreamed.choices[0].message.content };

const e = await client.embeddings.create({ model: out.models[0], input: ["one text", "two"] });
out.embedding = { n: e.data.length, dim: e.data[0].embedding.length,
                  norm: Math.sqrt(e.data[0].embedding.reduce((s, x) => s + x * x, 0)),
                  first: e.data[0].embedding.slice(0, 4) };
const ef = await client.embeddings.create({ model: out.models[0], input: "one text", encoding_format: "float" });
out.embedding_float_first = ef.data[0].embedding.slice(0, 4);

try {
  await new OpenAI({ baseURL, apiKey: "wrong", maxRetries: 0 }).models.list();
  out.wrong_key = "accepted";
} catch (err) {
  out.wrong_key = { status: err.status, code: err.code, type: err.type };
}
try {
  await client.chat.completions.create({ model: out.models[0], messages: [{ role: "user", content: "x" }], max_tokens: "lots" });
  out.bad_field = "accepted";
} catch (err) {
  out.bad_field = { status: err.status, param: err.param, code: err.code };
}
console.log(JSON.stringify(out));
