// bench.js times Hugging Face tokenizers encoding the benchmark prose one
// document at a time, awaiting each call, so one encode runs at a time (the
// single-threaded figure Go's BenchmarkEncodeProse is compared with).
//
//   node bench.js TOKENIZER.json[.gz] PROSE.json [ROUNDS]
//
// PROSE.json is a JSON array of documents (see TestWriteProse in
// data/tokenizer). Prints MB/s and tokens/s of the best round.
'use strict';

process.env.RAYON_NUM_THREADS = '1';
process.env.TOKENIZERS_PARALLELISM = 'false';

const fs = require('fs');
const zlib = require('zlib');
const { Tokenizer } = require('tokenizers');

async function main() {
  const [tokPath, prosePath, roundsArg] = process.argv.slice(2);
  let data = fs.readFileSync(tokPath);
  if (tokPath.endsWith('.gz')) data = zlib.gunzipSync(data);
  const tok = Tokenizer.fromString(data.toString('utf8'));
  const docs = JSON.parse(fs.readFileSync(prosePath, 'utf8'));
  const bytes = docs.reduce((n, d) => n + Buffer.byteLength(d, 'utf8'), 0);
  const rounds = Number(roundsArg || 3);
  let best = Infinity;
  let bestCPU = Infinity;
  let tokens = 0;
  for (let r = 0; r < rounds; r++) {
    tokens = 0;
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    for (const d of docs) tokens += (await tok.encode(d, null, { addSpecialTokens: true })).getIds().length;
    const sec = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    best = Math.min(best, sec);
    bestCPU = Math.min(bestCPU, (c.user + c.system) / 1e6);
  }
  // MB per CPU second (all threads of the process) compares fairly on a busy machine.
  const mb = bytes / 1e6;
  console.log(
    JSON.stringify({ docs: docs.length, mb, seconds: best, mb_per_s: mb / best, mb_per_cpu_s: mb / bestCPU, tokens_per_s: tokens / best, tokens }),
  );
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
