package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/data/synth"
	"github.com/dllmgo/dllm/data/tokenizer"
	"github.com/dllmgo/dllm/evaltask"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/recipe"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/train"
)

// dllm demo is the whole pipeline in a few minutes on a laptop CPU, with no
// data and no network: make instruction data, train a tokenizer and a tiny
// ModernBERT by diffusion SFT, score it on questions it never saw, and show
// some answers being denoised.
func init() {
	register(&command{
		name:    "demo",
		summary: "train a tiny chat model by diffusion SFT on generated tasks, score it, and watch it answer",
		run:     runDemo,
	})
}

// The demo's task: one a ~0.7M-parameter model learns in minutes on a CPU.
// Mixtures of tasks (--tasks copy,reverse) need longer: a tiny model first
// has to learn which task a prompt asks for, and in four minutes it often
// has not.
const demoTasks = "reverse"

func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	out := fs.String("out", filepath.Join("runs", "demo"), "folder for the data and the trained model")
	budget := fs.Duration("time-budget", 4*time.Minute, "training time")
	tasks := fs.String("tasks", demoTasks, "tasks to learn ("+strings.Join(synth.TaskNames(), ", ")+")")
	level := fs.String("level", "easy", "task difficulty: easy, medium or hard")
	n := fs.Int("examples", 4000, "training conversations to generate")
	heldOut := fs.Int("held-out", 200, "unseen conversations to score")
	show := fs.Int("show", 3, "answers to denoise live at the end")
	seed := fs.Uint64("seed", 1, "random seed")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	lvl, err := synth.ParseLevel(*level)
	if err != nil {
		return badInput("--level: %v", err)
	}
	taskList := splitList(*tasks)
	if *n < 100 || *heldOut < 1 {
		return badInput("--examples must be at least 100 and --held-out at least 1")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	stage := func(i int, what string) { fmt.Fprintf(stdout, "\n== %d/4  %s\n", i, what) }

	// 1. Data: training conversations, and held-out ones whose prompts the
	// model never sees during training.
	stage(1, "generating instruction data")
	trainEx, err := synth.GenerateLevel(*n, *seed, taskList, lvl)
	if err != nil {
		return badInput("--tasks: %v", err)
	}
	pool, err := synth.GenerateLevel(*heldOut*4, *seed+1000, taskList, lvl)
	if err != nil {
		return err
	}
	testEx := synth.Exclude(pool, trainEx)
	if len(testEx) > *heldOut {
		testEx = testEx[:*heldOut]
	}
	trainPath, testPath := filepath.Join(*out, "train.jsonl"), filepath.Join(*out, "heldout.jsonl")
	if err := synth.WriteFile(trainPath, trainEx); err != nil {
		return err
	}
	if err := synth.WriteFile(testPath, testEx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d training and %d held-out conversations (%s, %s) in %s, for example:\n", len(trainEx), len(testEx), *tasks, lvl, *out)
	for _, ex := range trainEx[:min(4, len(trainEx))] {
		fmt.Fprintf(stdout, "  [%s] %s  →  %s\n", ex.Task, ex.Prompt, ex.Answer)
	}

	// 2+3. Tokenizer and model, trained by the library's SFT recipe (what
	// dllm sft runs).
	stage(2, "training a tokenizer and a tiny ModernBERT by masked-diffusion SFT ("+budget.String()+")")
	modelDir := filepath.Join(*out, "model")
	if err := demoTrain(conversations(trainEx), modelDir, *budget, *seed, stdout); err != nil {
		return err
	}

	// 4. Score on unseen questions.
	stage(3, "answering the held-out questions")
	b, err := modeldir.Open(modelDir, tensor.CPU())
	if err != nil {
		return err
	}
	c := b.SamplerConfig() // sized by sft to the training answers
	sf := samplerFlags{sampler: "block", seed: *seed}
	res, err := evaltask.Chat(evaltask.Env{B: b, Config: c, BatchSize: 32,
		Generate: func(prompts [][]int32, c mdlm.SamplerConfig) (*mdlm.Output, error) { return sf.sample(b, prompts, c) }},
		conversations(testEx))
	if err != nil {
		return err
	}
	em, _ := res.Metric("exact_match")
	fmt.Fprintf(stdout, "exact match on %d unseen questions: %.1f%%\n", res.N, 100*em.Value)
	names := make([]string, 0, len(res.PerTask))
	for k := range res.PerTask {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(stdout, "  %-8s %5.1f%%  (%d questions)\n", k, 100*res.PerTask[k].Value, res.PerTask[k].N)
	}

	// 5. Watch it think.
	stage(4, "watching answers being denoised")
	for i, ex := range testEx[:min(*show, len(testEx))] {
		fmt.Fprintf(stdout, "\nQ: %s\n", ex.Prompt)
		prompt, err := b.Prompt(ex.Messages()[:1])
		if err != nil {
			return err
		}
		view := newLiveView(b, stdout, true)
		c.Trace = view.trace
		o, err := mdlm.Generate(b.Denoiser(), [][]int32{prompt}, c, mdlm.NewRand(uint64(i)))
		view.done()
		if err != nil {
			return err
		}
		got := b.Answer(o.Samples[0].Answer)
		verdict := "correct"
		if !ex.Correct(got) {
			verdict = "wrong, expected " + ex.Answer
		}
		fmt.Fprintf(stdout, "A: %s   (%s; %d steps)\n", got, verdict, o.Steps)
	}
	fmt.Fprintf(stdout, "\nThe model is in %s. Talk to it:  dllm chat --model %s\n", modelDir, modelDir)
	return nil
}

// demoTrain is the demo's training run: a byte-level BPE tokenizer of 512
// tokens on the conversations, the tiny preset of the default family, and
// the SFT recipe for the time budget (rows of at most 96 tokens, 2% held
// out, batches of 32), saved to dir.
func demoTrain(convs []data.Conversation, dir string, budget time.Duration, seed uint64, w io.Writer) error {
	const maxLen = 96
	// The demo's model folder is its own: an earlier demo's model and
	// checkpoints are replaced, and a demo running there is not disturbed.
	release, err := train.ClaimOut(dir, train.Claim{Overwrite: true})
	if err != nil {
		return badInput("--out %v", err)
	}
	defer release()
	fmt.Fprintf(w, "training a byte-level BPE tokenizer (vocabulary 512) on the data...\n")
	tok, err := tokenizer.Train(recipe.ChatTexts(convs), tokenizer.TrainConfig{VocabSize: 512, IsolateSpaces: true})
	if err != nil {
		return err
	}
	b, err := recipe.FreshBundle(modeldir.DefaultFamily(), "tiny", tok, maxLen, seed, tensor.CPU())
	if err != nil {
		return err
	}
	opts := train.Defaults()
	opts.Seed, opts.TimeBudget, opts.OutDir, opts.KeepLast = seed, budget, dir, 1
	opts.Progress, opts.Terminal = w, isTerminal(w)
	var held []data.Conversation
	t, d, err := recipe.SFTTrainer(b, convs, recipe.Run{
		Split:     recipe.Split{MaxLen: maxLen, HeldOut: 0.02, Seed: seed, Workers: 2},
		BatchSize: 32, EvalBatches: 16, Options: opts,
		AfterEval: func(w io.Writer, step int) { printSamples(w, b, held, 2) },
	})
	if err != nil {
		return err
	}
	held = d.HeldConvs
	fmt.Fprintf(w, "%d training rows, %d held out; model: %s, %d parameters\n",
		len(d.Train), len(d.Held), describeModel(b.Model), lm.ParamCount(b.Model))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return t.Run(ctx)
}

// conversations turns generated examples into chat conversations.
func conversations(exs []synth.Example) []data.Conversation {
	out := make([]data.Conversation, len(exs))
	for i, ex := range exs {
		out[i] = data.Conversation{Messages: ex.Messages(), Task: ex.Task}
	}
	return out
}
