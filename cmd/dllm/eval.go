package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/dllmgo/dllm/bd3lm"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/editflow"
	"github.com/dllmgo/dllm/evaltask"
	"github.com/dllmgo/dllm/internal/atomicfile"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/modeldir"
)

// dllm eval scores a model on one of the reference's evaluation tasks
// (package evaltask): chat exact match (the default), LAMBADA, GSM8K, or
// multiple choice by the Monte Carlo ELBO.
func init() {
	register(&command{
		name:    "eval",
		summary: "score a model on an evaluation task: chat exact match (default), lambada, gsm8k, or multiple choice by the ELBO",
		run:     runEval,
	})
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", stderr)
	task := fs.String("task", evaltask.TaskChat, "task: chat (exact match on chat JSONL), lambada (last word), gsm8k (final number), choice (options scored by the ELBO); the README gives each one's JSONL shape")
	modelDir := fs.String("model", "", "model folder (required)")
	dataPath := fs.String("data", "", "the task's JSONL (required)")
	outPath := fs.String("out", "", "write the result as JSON to this file (atomically) and print a one-line summary; without it the JSON goes to stdout")
	limit := fs.Int("limit", 0, "evaluate at most this many items (0: all)")
	batch := fs.Int("batch-size", 16, "prompts answered together (choice: Monte Carlo samples per forward pass)")
	mc := fs.Int("mc-samples", evaltask.DefaultMCSamples, "choice: Monte Carlo samples of the ELBO per option")
	format := fs.String("prompt-format", "", "lambada and choice: raw (the context as plain text, the default) or chat (the context as a user turn)")
	device := fs.String("device", "cpu", "device: cpu or cuda")
	verbose := fs.Bool("v", false, "print every item, answer and verdict to stderr")
	var sf samplerFlags
	sf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if err := sf.validate(); err != nil {
		return err
	}
	sf.noteSet(fs)
	switch {
	case *modelDir == "" || *dataPath == "":
		return badInput("--model and --data are required")
	case !slices.Contains(evaltask.Tasks, *task):
		return badInput("--task: unknown task %q (known: %s)", *task, strings.Join(evaltask.Tasks, ", "))
	case *batch < 1:
		return badInput("--batch-size must be at least 1")
	case *mc < 1:
		return badInput("--mc-samples must be at least 1, got %d", *mc)
	case *limit < 0:
		return badInput("--limit must be >= 0, got %d", *limit)
	case *format != "" && *format != "raw" && *format != "chat":
		return badInput("--prompt-format must be raw or chat, got %q", *format)
	case *format != "" && *task != evaltask.TaskLambada && *task != evaltask.TaskChoice:
		return badInput("--prompt-format applies to lambada and choice; %s always uses the chat template", *task)
	}

	// The data first: a bad file is reported before the model loads.
	var items int
	var convs []data.Conversation
	var lam []evaltask.LambadaItem
	var gsm []evaltask.GSM8KItem
	var cho []evaltask.ChoiceItem
	var err error
	switch *task {
	case evaltask.TaskChat:
		convs, _, err = data.LoadChat([]string{*dataPath}, data.LoadOptions{})
		convs, items = limited(convs, *limit)
	case evaltask.TaskLambada:
		lam, err = evaltask.LoadLambada(*dataPath)
		lam, items = limited(lam, *limit)
	case evaltask.TaskGSM8K:
		gsm, err = evaltask.LoadGSM8K(*dataPath)
		gsm, items = limited(gsm, *limit)
	case evaltask.TaskChoice:
		cho, err = evaltask.LoadChoice(*dataPath)
		cho, items = limited(cho, *limit)
	}
	if err != nil {
		return badInput("%v", err)
	}
	if items == 0 {
		return badInput("%s: no items", *dataPath)
	}

	b, c, err := sf.openModel(*modelDir, *device, stderr)
	if err != nil {
		return err
	}
	// Each generation task's own canvas unless the flags size it.
	switch *task {
	case evaltask.TaskGSM8K:
		c = sizeCanvas(&sf, c, evaltask.GSM8KMaxNewTokens, evaltask.GSM8KSteps, evaltask.GSM8KBlockSize)
	case evaltask.TaskLambada:
		n := evaltask.LambadaMaxNewTokens
		c = sizeCanvas(&sf, c, n, n, n)
	}
	env := evaltask.Env{B: b, Config: c, BatchSize: *batch, MCSamples: *mc, ChatPrompt: *format == "chat", Objective: evalObjective(b),
		Seed: sf.seed, Verbose: verboseWriter(*verbose, stderr),
		Generate: func(prompts [][]int32, c mdlm.SamplerConfig) (*mdlm.Output, error) { return sf.sample(b, prompts, c) }}
	var res *evaltask.Result
	switch *task {
	case evaltask.TaskChat:
		res, err = evaltask.Chat(env, convs)
	case evaltask.TaskLambada:
		res, err = evaltask.Lambada(env, lam)
	case evaltask.TaskGSM8K:
		res, err = evaltask.GSM8K(env, gsm)
	case evaltask.TaskChoice:
		res, err = evaltask.Choice(env, cho)
	}
	if err != nil {
		return badInput("%s: %v", *dataPath, err)
	}
	js, err := json.Marshal(res)
	if err != nil {
		return err
	}
	if *outPath == "" {
		fmt.Fprintln(stdout, string(js))
		fmt.Fprintln(stderr, res.Summary())
		return nil
	}
	if err := atomicfile.WriteBytes(*outPath, append(js, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintln(stdout, res.Summary())
	return nil
}

// limited is items cut to limit (0: all) and its length.
func limited[T any](items []T, limit int) ([]T, int) {
	if limit > 0 && len(items) > limit {
		items = items[:limit]
	}
	return items, len(items)
}

// sizeCanvas gives c a task's canvas sizes, except those the flags set.
func sizeCanvas(sf *samplerFlags, c mdlm.SamplerConfig, maxNew, steps, block int) mdlm.SamplerConfig {
	if !sf.set["max-new-tokens"] {
		c.MaxNewTokens = maxNew
	}
	if !sf.set["steps"] {
		c.Steps = steps
	}
	if !sf.set["block-size"] {
		c.BlockSize = block
	}
	c.BlockSize = min(c.BlockSize, c.MaxNewTokens)
	return c
}

func verboseWriter(on bool, w io.Writer) io.Writer {
	if on {
		return w
	}
	return nil
}

// evalObjective is the loss eval reports for b: the objective the model was
// trained with, as sft computes its held-out loss. A block-diffusion folder
// (generation_config's sampler "bd3lm") is scored by BD3LM at its training
// block size with sft's padding to whole blocks; scored by MDLM instead (the
// whole row bidirectional, no clean half, no end-of-text blocks) its loss is
// not the quantity it was trained on, and comes out higher.
func evalObjective(b *modeldir.Bundle) lm.Objective {
	mo := mdlm.ObjectiveOptions{MaskID: b.MaskID}
	switch {
	case isEditFlows(b):
		return editflow.NewObjective(editflow.Options{BOS: b.BOSID})
	case b.Generation.Sampler == bd3lm.ObjectiveName:
		if _, ok := b.Model.(lm.MaskAttender); ok {
			return bd3lm.NewObjective(bd3lm.Options{MDLM: mo, BlockSize: b.Generation.BlockSize, PadToBlocks: true,
				EOS: endOfText(b), Pad: b.PadID})
		}
	}
	return mdlm.NewObjective(mo)
}

func isEditFlows(b *modeldir.Bundle) bool {
	_, ok := b.Model.(*editflow.Model)
	return ok
}
