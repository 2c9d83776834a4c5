package main

import (
	"fmt"
	"io"
	"time"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/mdlm"
)

// dllm generate answers one prompt by iterative unmasking.
func init() {
	register(&command{
		name:    "generate",
		summary: "answer a prompt with a diffusion model (optionally showing the denoising live)",
		run:     runGenerate,
	})
}

func runGenerate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("generate", stderr)
	modelDir := fs.String("model", "", "model folder (required)")
	prompt := fs.String("prompt", "", "the user's message (required)")
	system := fs.String("system", "", "optional system message")
	raw := fs.Bool("raw", false, "use the prompt as raw text instead of a chat turn")
	visualize := fs.Bool("visualize", false, "show the canvas being denoised, step by step")
	device := fs.String("device", "cpu", "device: cpu or cuda")
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
	if *modelDir == "" || *prompt == "" {
		return badInput("--model and --prompt are required")
	}
	b, c, err := sf.openModel(*modelDir, *device, stderr)
	if err != nil {
		return err
	}
	var ids []int32
	if *raw {
		for _, id := range b.Tokenizer.Encode(*prompt, false) {
			ids = append(ids, int32(id))
		}
	} else {
		var msgs []data.Message
		if *system != "" {
			msgs = append(msgs, data.Message{Role: "system", Content: *system})
		}
		msgs = append(msgs, data.Message{Role: "user", Content: *prompt})
		if ids, err = b.Prompt(msgs); err != nil {
			return badInput("--prompt: %v", err)
		}
	}
	if !fitsModel(b.Model, len(ids)+c.MaxNewTokens) {
		return badInput("--prompt: %d prompt tokens + %d new tokens exceed the model's maximum length of %d",
			len(ids), c.MaxNewTokens, b.MaxPositions())
	}
	view := newLiveView(b, stderr, *visualize)
	c.Trace = view.trace
	sf.editTrace = view.edits
	start := time.Now()
	out, err := sf.sample(b, [][]int32{ids}, c)
	view.done()
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, b.Answer(out.Samples[0].Answer))
	fmt.Fprintln(stderr, generateSummary(out, c.Cache, time.Since(start)))
	return nil
}

// generateSummary is the line generate prints after an answer: steps, forward
// passes (with --cache, how many of them ran from the block cache over the
// block's positions only) and the time taken.
func generateSummary(out *mdlm.Output, cached bool, took time.Duration) string {
	passes := fmt.Sprintf("%d forward passes", out.ForwardPasses)
	if cached {
		passes += fmt.Sprintf(" (%d from the block cache)", out.CachedPasses)
	}
	return fmt.Sprintf("%d steps, %s, %s", out.Steps, passes, took.Round(time.Millisecond))
}
