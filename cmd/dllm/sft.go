package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/dllmgo/dllm/bd3lm"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/editflow"
	"github.com/dllmgo/dllm/evaltask"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/recipe"
)

// dllm sft teaches a model to answer by masked-diffusion SFT: the prompt is
// always visible, the answer (and the padding after it) is masked at a
// random rate and predicted.
func init() {
	register(&command{
		name:    "sft",
		summary: "fine-tune a model to chat by masked-diffusion SFT on chat JSONL",
		run:     runSFT,
	})
}

func runSFT(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sft", stderr)
	var f trainFlags
	dataPaths := fs.String("data", "", "chat JSONL file(s), comma-separated (.gz/.zst read transparently; folders are searched)")
	samples := fs.Int("samples", 3, "held-out answers printed at each evaluation")
	answers := fs.Int("eval-answers", 64, "held-out questions answered at each evaluation; their exact match is printed and logged (eval_exact_match in metrics.jsonl) (0: none)")
	f.register(fs, 16, 256)
	f.sftDefaults(fs)
	be, err := f.parse(fs, args, func() bool { return *dataPaths != "" }, stderr)
	if err != nil {
		return err
	}
	stdout, stderr = quiet(stdout), quiet(stderr) // rank 0 alone reports
	defer f.release()
	files, err := data.ChatFiles(splitList(*dataPaths))
	if err != nil {
		return badInput("%v", err)
	}
	if err := f.checkData(files); err != nil {
		return err
	}

	convs, stats, err := data.LoadChat(splitList(*dataPaths), data.LoadOptions{SkipBad: f.skipBad})
	if err != nil {
		return badInput("%v", err)
	}
	if need := min(2, 1+int(math.Ceil(f.heldOut))); len(convs) < need {
		return badInput("%s: %d conversations; need at least %d", *dataPaths, len(convs), need)
	}
	fmt.Fprintf(stderr, "loaded %d conversations%s\n", len(convs), skippedNote(stats.Skipped))

	b, err := f.setup(be, recipe.ChatTexts(convs), stderr)
	if err != nil {
		return err
	}
	obj, err := f.objectiveFor(b, true)
	if err != nil {
		return err
	}
	var held []data.Conversation // set below, read by AfterEval
	t, d, err := recipe.SFTTrainer(b, convs, recipe.Run{
		Split:     recipe.Split{MaxLen: f.maxLen, HeldOut: f.heldOut, Seed: f.seed, Workers: 2},
		BatchSize: f.batchSize, EvalBatches: f.evalBatches,
		Options:     f.options(f.steps, obj, stderr, isTerminal(stderr), f.runSpec(fs, "sft", b, be)),
		AfterEval:   func(w io.Writer, step int) { printSamples(w, b, held, *samples) },
		EvalMetrics: func(int) (map[string]float64, error) { return heldExactMatch(b, held, *answers), nil },
	})
	f.recordObjective(b)
	if d == nil && err != nil {
		return badInput("%s: %v (--max-length %d)", *dataPaths, err, f.maxLen)
	}
	held = d.HeldConvs
	fmt.Fprintf(stderr, "%d training rows (%d dropped: prompt too long, %d truncated), %d held out\n",
		len(d.Train), d.Stats.Dropped, d.Stats.Truncated, len(d.Held))
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "model: %s, %d parameters; batches of %d conversations on %s\n",
		describeModel(b.Model), lm.ParamCount(b.Model), f.batchSize*f.gradAccum, f.onDevice(be))
	if f.budget <= 0 {
		fmt.Fprintf(stderr, "%d steps\n", t.TotalSteps())
	}
	if f.patience > 0 {
		fmt.Fprintf(stderr, "stops early when %d held-out evaluations in a row do not improve on the best%s\n", f.patience,
			map[bool]string{true: "; the final model is the best evaluation's", false: ""}[f.keepBest])
	}
	return runTrainer(t, &f, stdout, stderr)
}

// heldExactMatch answers the first n held-out questions with the model's
// own sampler settings and returns their exact match as eval_exact_match
// (nil for n 0, or when no question fits the model: a measurement must not
// stop the run it measures).
func heldExactMatch(b *modeldir.Bundle, convs []data.Conversation, n int) map[string]float64 {
	if n <= 0 || len(convs) == 0 {
		return nil
	}
	c := b.SamplerConfig()
	sf := samplerFlags{sampler: "block"}
	if b.Generation.Sampler == bd3lm.ObjectiveName { // trained block by block
		sf.sampler, c.BlockSize = bd3lm.ObjectiveName, b.Generation.BlockSize
	}
	res, err := evaltask.Chat(evaltask.Env{B: b, Config: c, BatchSize: 32, NoLoss: true, // the trainer has just scored the loss
		Generate: func(prompts [][]int32, c mdlm.SamplerConfig) (*mdlm.Output, error) { return sf.sample(b, prompts, c) }},
		convs[:min(n, len(convs))])
	if err != nil {
		return nil
	}
	em, _ := res.Metric("exact_match")
	return map[string]float64{"eval_exact_match": em.Value}
}

// printSamples answers a few held-out prompts and shows them beside the
// reference answers.
func printSamples(w io.Writer, b *modeldir.Bundle, convs []data.Conversation, n int) {
	c := b.SamplerConfig()
	for i := 0; i < n && i < len(convs); i++ {
		msgs := convs[i].Messages
		prompt, err := b.Prompt(msgs[:len(msgs)-1])
		if err != nil || !fitsModel(b.Model, len(prompt)+c.MaxNewTokens) {
			continue
		}
		var out *mdlm.Output
		if m, ok := b.Model.(*editflow.Model); ok {
			out, err = editFlowsSample(b, m, [][]int32{prompt}, c, uint64(i), nil)
		} else if b.Generation.Sampler == bd3lm.ObjectiveName { // trained block by block
			c.BlockSize = b.Generation.BlockSize
			out, err = bd3lm.Generate(b.Model, [][]int32{prompt}, c, endOfText(b), mdlm.NewRand(uint64(i)))
		} else {
			out, err = mdlm.Generate(b.Denoiser(), [][]int32{prompt}, c, mdlm.NewRand(uint64(i)))
		}
		if err != nil {
			fmt.Fprintf(w, "  sample %d: %v\n", i, err)
			continue
		}
		got, want := b.Answer(out.Samples[0].Answer), msgs[len(msgs)-1].Content
		mark := "✗"
		if data.SameAnswer(got, want) {
			mark = "✓"
		}
		fmt.Fprintf(w, "  %s Q: %s\n    A: %s   (reference: %s)\n", mark, oneLine(msgs[len(msgs)-2].Content), oneLine(got), oneLine(want))
	}
}

func oneLine(s string) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "\n", " ⏎ ")
	if r := []rune(s); len(r) > 100 {
		return string(r[:100]) + "…"
	}
	return s
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func skippedNote(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d malformed lines skipped)", n)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
