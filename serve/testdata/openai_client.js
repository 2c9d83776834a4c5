// Talks to a server with the official OpenAI client library for Node:
// one chat completion plain, the same one streamed, and a text completion.
// Prints what it got as JSON. Usage: node openai_client.js BASE_URL API_KEY
"use strict";
const OpenAI = require("openai");

async function main() {
  const [baseURL, apiKey] = process.argv.slice(2);
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60000 });
  const req = {
    model: "tiny",
    messages: [{ role: "user", content: "the quick fox" }],
    max_tokens: 16,
    seed: 3,
    temperature: 1,
  };
  const plain = await client.chat.completions.create(req);
  let streamed = "";
  let finish = null;
  let chunks = 0;
  const stream = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
  let usage = null;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta && c.delta.content) streamed += c.delta.content;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  const text = await client.completions.create({ model: "tiny", prompt: "a river", max_tokens: 8, seed: 1 });
  let status = 0;
  try {
    await client.chat.completions.create({ ...req, temperature: -1 });
  } catch (err) {
    status = err.status;
  }
  const models = await client.models.list();
  process.stdout.write(JSON.stringify({
    plain: plain.choices[0].message.content,
    plainFinish: plain.choices[0].finish_reason,
    streamed, finish, chunks, usage,
    text: text.choices[0].text,
    badStatus: status,
    models: models.data.map((m) => m.id),
  }));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + "\n");
  process.exit(1);
});
