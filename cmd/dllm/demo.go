package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/data/synth"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/modeldir"
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

	// 2+3. Tokenizer and model: dllm sft does both.
	stage(2, "training a tokenizer and a tiny ModernBERT by masked-diffusion SFT ("+budget.String()+")")
	modelDir := filepath.Join(*out, "model")
	sftArgs := []string{"--data", trainPath, "--out", modelDir, "--preset", "tiny", "--vocab-size", "512",
		"--time-budget", budget.String(), "--held-out", "0.02", "--samples", "2", "--max-length", "96",
		"--seed", fmt.Sprint(*seed), "--keep-last", "1", "--batch-size", "32"}
	fmt.Fprintf(stdout, "$ dllm sft %s\n", strings.Join(sftArgs, " "))
	if err := runSFT(sftArgs, io.Discard, stdout); err != nil {
		return err
	}

	// 4. Score on unseen questions.
	stage(3, "answering the held-out questions")
	be, err := openDevice("cpu")
	if err != nil {
		return err
	}
	b, err := modeldir.Open(modelDir, be)
	if err != nil {
		return err
	}
	c := b.SamplerConfig() // sized by sft to the training answers
	convs := make([]data.Conversation, len(testEx))
	for i, ex := range testEx {
		convs[i] = data.Conversation{Messages: ex.Messages(), Task: ex.Task}
	}
	sf := samplerFlags{sampler: "block", seed: *seed}
	res, err := evaluate(b, convs, c, &sf, 32, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exact match on %d unseen questions: %.1f%%\n", res.N, 100*res.ExactMatch)
	names := make([]string, 0, len(res.PerTask))
	for k := range res.PerTask {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(stdout, "  %-8s %5.1f%%  (%d questions)\n", k, 100*res.PerTask[k].ExactMatch, res.PerTask[k].N)
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
		o, err := mdlm.Generate(b.Model, [][]int32{prompt}, c, mdlm.NewRand(uint64(i)))
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
