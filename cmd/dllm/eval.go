package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/dllmgo/dllm/bd3lm"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/editflow"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/train"
)

// dllm eval scores a chat model on held-out conversations: exact match of
// the generated final answer, and the diffusion loss.
func init() {
	register(&command{
		name:    "eval",
		summary: "score a chat model on chat JSONL: exact match of generated answers and held-out diffusion loss",
		run:     runEval,
	})
}

// evalResult is the JSON object eval prints.
type evalResult struct {
	ExactMatch float64            `json:"exact_match"`
	N          int                `json:"n"`
	Loss       float64            `json:"loss"`
	PerTask    map[string]taskAcc `json:"per_task,omitempty"`
	Skipped    int                `json:"skipped,omitempty"`
}

type taskAcc struct {
	ExactMatch float64 `json:"exact_match"`
	N          int     `json:"n"`
}

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", stderr)
	modelDir := fs.String("model", "", "model folder (required)")
	dataPath := fs.String("data", "", "chat JSONL; the last assistant message of each line is the reference (required)")
	limit := fs.Int("limit", 0, "evaluate at most this many conversations (0: all)")
	batch := fs.Int("batch-size", 16, "prompts answered together")
	device := fs.String("device", "cpu", "device: cpu or cuda")
	verbose := fs.Bool("v", false, "print every question, answer and reference to stderr")
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
	if *modelDir == "" || *dataPath == "" {
		return badInput("--model and --data are required")
	}
	if *batch < 1 {
		return badInput("--batch-size must be at least 1")
	}
	b, c, err := sf.openModel(*modelDir, *device)
	if err != nil {
		return err
	}
	convs, _, err := data.LoadChat([]string{*dataPath}, data.LoadOptions{})
	if err != nil {
		return badInput("%v", err)
	}
	if *limit > 0 && len(convs) > *limit {
		convs = convs[:*limit]
	}
	if len(convs) == 0 {
		return badInput("%s: no conversations", *dataPath)
	}
	res, err := evaluate(b, convs, c, &sf, *batch, verboseWriter(*verbose, stderr))
	if err != nil {
		return err
	}
	js, _ := json.Marshal(res)
	fmt.Fprintln(stdout, string(js))
	return nil
}

func verboseWriter(on bool, w io.Writer) io.Writer {
	if on {
		return w
	}
	return nil
}

// evaluate generates an answer for every conversation's last user turn and
// compares it with the reference answer; it also measures the diffusion
// loss of the references.
func evaluate(b *modeldir.Bundle, convs []data.Conversation, c mdlm.SamplerConfig, sf *samplerFlags, batch int, verbose io.Writer) (*evalResult, error) {
	type item struct {
		prompt []int32
		want   string
		task   string
		q      string
	}
	var items []item
	skipped := 0
	for _, conv := range convs {
		msgs := conv.Messages
		if len(msgs) < 2 || msgs[len(msgs)-1].Role != "assistant" {
			skipped++
			continue
		}
		p, err := b.Prompt(msgs[:len(msgs)-1])
		if err != nil || !fitsModel(b.Model, len(p)+c.MaxNewTokens) {
			skipped++
			continue
		}
		items = append(items, item{p, msgs[len(msgs)-1].Content, conv.Task, msgs[len(msgs)-2].Content})
	}
	if len(items) == 0 {
		return nil, badInput("no conversation fits: each needs a final assistant turn and a prompt that leaves room for %d new tokens", c.MaxNewTokens)
	}
	// Similar prompt lengths together keep the canvas rectangle small.
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return len(items[order[i]].prompt) < len(items[order[j]].prompt) })

	res := &evalResult{N: len(items), Skipped: skipped, PerTask: map[string]taskAcc{}}
	correct := 0
	for lo := 0; lo < len(order); lo += batch {
		idx := order[lo:min(lo+batch, len(order))]
		prompts := make([][]int32, len(idx))
		for k, i := range idx {
			prompts[k] = items[i].prompt
		}
		// Stream lo+k for the item at place lo+k of the order: every item
		// samples the same whatever --batch-size is (mdlm's row streams).
		c.StreamOffset = lo
		out, err := sf.sample(b, prompts, c)
		if err != nil {
			return nil, err
		}
		for k, i := range idx {
			it := items[i]
			got := b.Answer(out.Samples[k].Answer)
			ok := data.SameAnswer(got, it.want)
			if ok {
				correct++
			}
			if it.task != "" {
				ta := res.PerTask[it.task]
				ta.N++
				if ok {
					ta.ExactMatch++
				}
				res.PerTask[it.task] = ta
			}
			if verbose != nil {
				mark := "✗"
				if ok {
					mark = "✓"
				}
				fmt.Fprintf(verbose, "%s %s\n   got: %s\n  want: %s\n", mark, oneLine(it.q), oneLine(got), oneLine(it.want))
			}
		}
	}
	res.ExactMatch = float64(correct) / float64(len(items))
	for k, ta := range res.PerTask {
		ta.ExactMatch /= float64(ta.N)
		res.PerTask[k] = ta
	}
	if len(res.PerTask) == 0 {
		res.PerTask = nil
	}

	maxLen := b.MaxPositions()
	if maxLen <= 0 {
		maxLen = math.MaxInt
	}
	ex, _, err := data.BuildSFT(b.Tokenizer, convs, data.SFTConfig{MaxLen: maxLen, PadID: int(b.PadID), Template: b.Template})
	if err != nil {
		return nil, err
	}
	bs, err := data.SFTBatches(ex, batch, int(b.PadID), 1)
	if err != nil {
		return nil, err
	}
	res.Loss, err = train.EvalLoss(b.Model, bs, evalObjective(b), 1)
	return res, err
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
