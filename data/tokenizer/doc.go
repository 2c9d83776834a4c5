// Package tokenizer reads, runs, trains and writes Hugging Face tokenizer.json
// files, giving the same token ids and decoded text as Hugging Face's own
// tokenizers library.
//
// A tokenizer turns text into ids in five stages, each a component named in
// tokenizer.json:
//
//  1. added tokens ("[MASK]", "<|endoftext|>") are cut out of the raw text first,
//     leftmost-longest, so no later stage can split them;
//  2. the normalizer rewrites the remaining text (NFC, lowercase, ...);
//  3. the pre-tokenizer splits it into words (GPT-2's regex, whitespace, ...);
//  4. the model turns each word into ids (byte-level BPE, WordPiece);
//  5. the post-processor adds the framing specials ("[CLS] $A [SEP]"), then
//     truncation and padding apply.
//
// Decoding maps ids back to token strings and runs the decoder chain.
//
// Unlike the Rust library this package keeps no character offsets: dllm only
// needs ids, and dropping the alignment bookkeeping makes encoding several
// times cheaper. Byte-level BPE, the scheme ModernBERT and GPT-2 use, gets a
// hand-written scanner for GPT-2's split regex (Go's RE2 cannot express its
// \s+(?!\S) lookahead) and a per-worker cache of word encodings.
//
// Train builds a byte-level BPE tokenizer with BERT-style specials from raw
// text; its output is a tokenizer.json that Hugging Face loads and encodes the
// same way.
//
// Use:
//
//	tok, err := tokenizer.Load("tokenizer.json")
//	ids := tok.Encode("The answer is [MASK].", true) // [CLS] ... [SEP]
//	text := tok.Decode(ids, true)                     // specials skipped
//	mask := tok.Specials().Mask
//
// Supported components (anything else is an error naming the type): models
// BPE, WordPiece, WordLevel; normalizers NFC, NFD, NFKC, NFKD, Lowercase,
// Strip, StripAccents, BertNormalizer, Replace, Prepend, ByteLevel, Sequence;
// pre-tokenizers ByteLevel, BertPreTokenizer, Whitespace, WhitespaceSplit,
// Punctuation, Digits, Split, CharDelimiterSplit, Metaspace, Sequence;
// post-processors TemplateProcessing, BertProcessing, RobertaProcessing,
// ByteLevel, Sequence; decoders ByteLevel, WordPiece, Metaspace, BPEDecoder,
// Replace, Strip, Fuse, ByteFallback, Sequence. Regexes are Oniguruma's
// syntax as HF reads it, run by Go's regexp; the one lookahead real files use
// (\s+(?!\S)) is emulated, other lookarounds are rejected.
//
// Parity with HF is tested on a dozen tokenizer.json files (testdata) against
// outputs recorded with HF's library (tools/tokenizer-parity).
package tokenizer
