package main

import (
	"fmt"
	"io"
	"slices"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/recipe"
)

// dllm pretrain trains a model on plain text (masked diffusion, or MLM as
// BERT and ModernBERT were trained, with --objective mlm): documents
// are concatenated and cut into fixed-length rows, every token supervised.
func init() {
	register(&command{
		name:    "pretrain",
		summary: "train a model on plain-text corpora: masked diffusion (MDLM) or, with --objective mlm, masked language modelling",
		run:     runPretrain,
	})
}

func runPretrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("pretrain", stderr)
	var f trainFlags
	dataPaths := fs.String("data", "", "text files or folders, comma-separated (.txt .md .jsonl with {\"text\"}, .gz/.zst read transparently)")
	f.register(fs, 16, 128)
	be, err := f.parse(fs, args, func() bool { return *dataPaths != "" }, stderr)
	if err != nil {
		return err
	}
	stdout, stderr = quiet(stdout), quiet(stderr) // rank 0 alone reports
	defer f.release()
	files, err := data.TextFiles(splitList(*dataPaths))
	if err != nil {
		return badInput("%v", err)
	}
	if err := f.checkData(files); err != nil {
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

	b, err := f.setup(be, slices.Values(docs), stderr)
	if err != nil {
		return err
	}
	obj, err := f.objectiveFor(b, false)
	if err != nil {
		return err
	}
	t, d, err := recipe.PretrainTrainer(b, docs, recipe.Run{
		Split:     recipe.Split{MaxLen: f.maxLen, HeldOut: f.heldOut, Seed: f.seed},
		BatchSize: f.batchSize, EvalBatches: f.evalBatches,
		Options: f.options(f.steps, obj, stderr, isTerminal(stderr), f.runSpec(fs, "pretrain", b, be)),
	})
	f.recordObjective(b)
	if d == nil && err != nil {
		return badInput("%s: %v (--max-length %d)", *dataPaths, err, f.maxLen)
	}
	fmt.Fprintf(stderr, "%d training rows of %d tokens, %d held out\n", len(d.Train), f.maxLen, len(d.Held))
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "model: %s, %d parameters, on %s\n", describeModel(b.Model), lm.ParamCount(b.Model), f.onDevice(be))
	if f.budget <= 0 {
		fmt.Fprintf(stderr, "%d steps\n", t.TotalSteps())
	}
	return runTrainer(t, &f, stdout, stderr)
}
