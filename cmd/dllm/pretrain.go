package main

import (
	"fmt"
	"io"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/train"
)

// dllm pretrain trains a model by masked diffusion on plain text: documents
// are concatenated and cut into fixed-length rows, every token supervised.
func init() {
	register(&command{
		name:    "pretrain",
		summary: "train a model by masked diffusion (MDLM) on plain-text corpora",
		run:     runPretrain,
	})
}

func runPretrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("pretrain", stderr)
	var f trainFlags
	dataPaths := fs.String("data", "", "text files or folders, comma-separated (.txt .md .jsonl with {\"text\"}, .gz/.zst read transparently)")
	f.register(fs, 16, 128)
	be, err := f.parse(fs, args, func() bool { return *dataPaths != "" })
	if err != nil {
		return err
	}
	var docs []string
	stats, err := data.EachDocument(splitList(*dataPaths), data.LoadOptions{SkipBad: f.skipBad}, func(d data.Document) error {
		docs = append(docs, d.Text)
		return nil
	})
	if err != nil {
		return badInput("%v", err)
	}
	if len(docs) == 0 {
		return badInput("%s: no text found", *dataPaths)
	}
	fmt.Fprintf(stderr, "read %d documents from %d files%s\n", len(docs), stats.Files, skippedNote(stats.Skipped))

	b, err := f.setup(be, func(yield func(string) bool) {
		for _, d := range docs {
			if !yield(d) {
				return
			}
		}
	}, stderr)
	if err != nil {
		return err
	}
	// Documents are joined by [PAD], the reference's end-of-sequence for
	// BERT, so the model also learns where texts end.
	ids := b.Tokenizer.EncodeBatch(docs, false)
	rows := data.Pack(ids, f.maxLen, int(b.PadID))
	if len(rows) < 2 {
		return badInput("%s: only %d rows of %d tokens; need more text or a smaller --max-length", *dataPaths, len(rows), f.maxLen)
	}
	trainIdx, heldIdx := data.SplitIndices(len(rows), f.heldOut, f.seed)
	if len(heldIdx) == 0 {
		heldIdx, trainIdx = trainIdx[:1], trainIdx[1:]
	}
	batches := func(idx []int, seed uint64) []data.Batch {
		perm := data.Permutation(len(idx), seed)
		var out []data.Batch
		for lo := 0; lo < len(perm); lo += f.batchSize {
			var rs [][]int32
			for _, k := range perm[lo:min(lo+f.batchSize, len(perm))] {
				rs = append(rs, rows[idx[k]])
			}
			out = append(out, data.PretrainBatch(rs))
		}
		return out
	}
	fmt.Fprintf(stderr, "%d training rows of %d tokens, %d held out\n", len(trainIdx), f.maxLen, len(heldIdx))
	obj, err := f.objectiveFor(b.MaskID)
	if err != nil {
		return err
	}
	epoch := func(e int) []data.Batch { return batches(trainIdx, data.EpochSeed(f.seed, e)) }
	if f.epochs == 0 && f.steps == 0 {
		f.epochs = 1
	}
	opts := f.options(f.steps, obj, stderr, isTerminal(stderr))
	t, err := train.New(b.Model, epoch, f.evalSet(batches(heldIdx, f.seed)), opts, train.Hooks{SaveModel: b.Save})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "model: %s, %d parameters, on %s\n", describeModel(b.Model), lm.ParamCount(b.Model), f.onDevice(be))
	if f.budget <= 0 {
		fmt.Fprintf(stderr, "%d steps\n", t.TotalSteps())
	}
	return runTrainer(t, &f, stdout, stderr)
}
