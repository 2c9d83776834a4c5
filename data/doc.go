// Package data turns text into the token batches that training reads.
//
// The pipeline, in the order the files read:
//
//   - template.go: the BERT chat template, rendered natively and also given as the
//     reference's Jinja text, which Hugging Face transformers renders identically
//     (checked against jinja2 renderings in testdata/).
//   - open.go: opening inputs, with .gz and .zst decompressed transparently.
//   - chat.go: chat datasets in JSONL (the "messages" shape of tulu-3-sft-mixture
//     and smoltalk, plus instruction/input/output and prompt/response adapters).
//   - text.go: plain-text corpora from files and folders, one document at a time.
//   - sft.go: supervised fine-tuning examples built the way the reference does
//     (prompt labels ignored, the final answer supervised, [PAD] as the end signal),
//     padded batches grouped by length.
//   - pack.go: pretraining chunks: documents joined by a separator and cut into
//     fixed-length rows in which every token is supervised.
//   - shuffle.go: a seeded Rand whose draws never change, shuffles, train/test splits.
//   - wordnet.go: WordNet glosses turned into "What does X mean?" pairs.
//
// The package never imports a tokenizer: it asks for the small Encoder interface,
// and special ids (such as [PAD]) come in as plain ints.
package data
