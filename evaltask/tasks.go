package evaltask

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/editflow"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/train"
)

// Task names.
const (
	TaskChat    = "chat"
	TaskLambada = "lambada"
	TaskGSM8K   = "gsm8k"
	TaskChoice  = "choice"
)

// Tasks lists the task names, the default first.
var Tasks = []string{TaskChat, TaskLambada, TaskGSM8K, TaskChoice}

// The reference's GSM8K sampler settings.
const (
	GSM8KMaxNewTokens = 256
	GSM8KSteps        = 256
	GSM8KBlockSize    = 32
)

// LambadaMaxNewTokens is the canvas a LAMBADA continuation gets by default:
// room for one word of several tokens and what follows it.
const LambadaMaxNewTokens = 16

// DefaultMCSamples is the choice task's default number of Monte Carlo
// samples per option.
const DefaultMCSamples = 32

// Generator samples answers for a batch of prompts: the caller's sampler
// (mdlm's block sampler, BD3LM's, Edit Flows').
type Generator func(prompts [][]int32, c mdlm.SamplerConfig) (*mdlm.Output, error)

// Env is what every task needs.
type Env struct {
	B *modeldir.Bundle
	// Generate and Config sample the generation tasks (chat, lambada,
	// gsm8k); the caller sets the task's sizes in Config.
	Generate Generator
	Config   mdlm.SamplerConfig
	// BatchSize is the number of prompts sampled together, or, for choice,
	// the Monte Carlo samples per forward pass.
	BatchSize int
	// MCSamples is choice's number of Monte Carlo samples per option
	// (0: DefaultMCSamples).
	MCSamples int
	// Likelihood overrides the estimator's options for choice (tests use
	// it to drop the ELBO's weight); its Samples, BatchSize and MaskID are
	// filled from the fields above and the bundle.
	Likelihood mdlm.LikelihoodOptions
	// ChatPrompt renders lambada and choice contexts through the chat
	// template as a user turn, instead of as raw text.
	ChatPrompt bool
	// Seed seeds choice's Monte Carlo draws (item i draws from stream i).
	Seed uint64
	// Verbose, when set, sees every item and its verdict.
	Verbose io.Writer
	// Objective scores chat's reference loss: the objective the model was
	// trained with (nil: MDLM, or Edit Flows' on an Edit Flows folder).
	Objective lm.Objective
	// NoLoss skips chat's reference loss (a caller that has the loss
	// already: sft's evaluations, whose trainer has just scored it).
	NoLoss bool
}

func (e *Env) batch() int { return max(e.BatchSize, 1) }

func (e *Env) encode(text string) []int32 {
	ids := e.B.Tokenizer.Encode(text, false)
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = int32(id)
	}
	return out
}

// prompt is a context as the model reads it: raw, or a user turn.
func (e *Env) prompt(text string) ([]int32, error) {
	if !e.ChatPrompt {
		return e.encode(text), nil
	}
	return e.B.Prompt([]data.Message{{Role: "user", Content: text}})
}

func (e *Env) fits(n int) bool {
	limit := e.B.MaxPositions()
	return limit <= 0 || n <= limit
}

// generate samples every prompt, in order of length (similar lengths keep
// the canvas small), and returns the answers' text in the prompts' order.
// Prompt i samples from row stream i of the order, so answers do not depend
// on the batch size.
func (e *Env) generate(prompts [][]int32, c mdlm.SamplerConfig) ([]string, error) {
	order := make([]int, len(prompts))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool { return len(prompts[order[i]]) < len(prompts[order[j]]) })
	out := make([]string, len(prompts))
	for lo := 0; lo < len(order); lo += e.batch() {
		idx := order[lo:min(lo+e.batch(), len(order))]
		ps := make([][]int32, len(idx))
		for k, i := range idx {
			ps[k] = prompts[i]
		}
		c.StreamOffset = lo
		res, err := e.Generate(ps, c)
		if err != nil {
			return nil, err
		}
		for k, i := range idx {
			out[i] = e.B.Answer(res.Samples[k].Answer)
		}
	}
	return out, nil
}

func (e *Env) settings(c mdlm.SamplerConfig) map[string]any {
	return map[string]any{"max_new_tokens": c.MaxNewTokens, "steps": c.Steps, "block_size": c.BlockSize,
		"temperature": c.Temperature, "threshold": c.Threshold, "cache": c.Cache}
}

func (e *Env) say(ok bool, format string, args ...any) {
	if e.Verbose == nil {
		return
	}
	mark := "✗"
	if ok {
		mark = "✓"
	}
	fmt.Fprintf(e.Verbose, "%s "+format+"\n", append([]any{mark}, args...)...)
}

// Chat generates an answer for every conversation's last user turn and
// compares it with the reference answer (exact match after
// data.NormalizeAnswer), per task too; it also measures the diffusion loss
// of the references.
func Chat(e Env, convs []data.Conversation) (*Result, error) {
	c := e.Config
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
		p, err := e.B.Prompt(msgs[:len(msgs)-1])
		if err != nil || !e.fits(len(p)+c.MaxNewTokens) {
			skipped++
			continue
		}
		items = append(items, item{p, msgs[len(msgs)-1].Content, conv.Task, msgs[len(msgs)-2].Content})
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("no conversation fits: each needs a final assistant turn and a prompt that leaves room for %d new tokens", c.MaxNewTokens)
	}
	prompts := make([][]int32, len(items))
	for i, it := range items {
		prompts[i] = it.prompt
	}
	got, err := e.generate(prompts, c)
	if err != nil {
		return nil, err
	}
	hits := make([]bool, len(items))
	perTask := map[string][]bool{}
	for i, it := range items {
		hits[i] = data.SameAnswer(got[i], it.want)
		if it.task != "" {
			perTask[it.task] = append(perTask[it.task], hits[i])
		}
		e.say(hits[i], "%s\n   got: %s\n  want: %s", oneLine(it.q), oneLine(got[i]), oneLine(it.want))
	}
	res := &Result{Task: TaskChat, N: len(items), Skipped: skipped, Settings: e.settings(c),
		Metrics: []Metric{{"exact_match", Mean(bools(hits))}}}
	if len(perTask) > 0 {
		res.PerTask = map[string]Score{}
		for k, h := range perTask {
			res.PerTask[k] = Mean(bools(h))
		}
	}
	if e.NoLoss {
		return res, nil
	}
	loss, err := referenceLoss(e.B, convs, e.Objective)
	if err != nil {
		return nil, err
	}
	res.Loss = &loss
	return res, nil
}

// lossBatch is the batch size of the reference loss: fixed, so that the
// loss (whose noise is drawn per batch) does not depend on --batch-size.
const lossBatch = 16

// referenceLoss is the diffusion loss of the conversations' references.
func referenceLoss(b *modeldir.Bundle, convs []data.Conversation, obj lm.Objective) (float64, error) {
	maxLen := b.MaxPositions()
	if maxLen <= 0 {
		maxLen = math.MaxInt
	}
	ex, _, err := data.BuildSFT(b.Tokenizer, convs, data.SFTConfig{MaxLen: maxLen, PadID: int(b.PadID), Template: b.Template})
	if err != nil {
		return 0, err
	}
	bs, err := data.SFTBatches(ex, lossBatch, int(b.PadID), 1)
	if err != nil {
		return 0, err
	}
	if obj == nil {
		obj = mdlm.NewObjective(mdlm.ObjectiveOptions{MaskID: b.MaskID})
		if _, ok := b.Model.(*editflow.Model); ok {
			obj = editflow.NewObjective(editflow.Options{BOS: b.BOSID})
		}
	}
	return train.EvalLoss(b.Model, bs, obj, 1)
}

// Lambada continues each passage and compares the first word written with
// the passage's last word (both stripped of surrounding punctuation).
func Lambada(e Env, items []LambadaItem) (*Result, error) {
	c := e.Config
	var prompts [][]int32
	var kept []LambadaItem
	for _, it := range items {
		p, err := e.prompt(it.Context)
		if err != nil || len(p) == 0 || !e.fits(len(p)+c.MaxNewTokens) {
			continue
		}
		prompts = append(prompts, p)
		kept = append(kept, it)
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("no passage fits the model with room for %d new tokens", c.MaxNewTokens)
	}
	got, err := e.generate(prompts, c)
	if err != nil {
		return nil, err
	}
	hits := make([]bool, len(kept))
	for i, it := range kept {
		w := FirstWord(got[i])
		hits[i] = w == stripPunct(it.Target)
		e.say(hits[i], "…%s\n   got: %s\n  want: %s", tail(it.Context, 60), w, it.Target)
	}
	return &Result{Task: TaskLambada, N: len(kept), Skipped: len(items) - len(kept), Settings: e.settings(c),
		Metrics: []Metric{{"accuracy", Mean(bools(hits))}}}, nil
}

// FirstWord is the first whitespace-separated word of text, stripped of
// the punctuation around it.
func FirstWord(text string) string {
	f := strings.Fields(text)
	if len(f) == 0 {
		return ""
	}
	return stripPunct(f[0])
}

func stripPunct(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) })
}

// GSM8K answers each question (a user turn through the chat template) and
// compares the final number of the answer with the reference's.
func GSM8K(e Env, items []GSM8KItem) (*Result, error) {
	c := e.Config
	var prompts [][]int32
	var kept []GSM8KItem
	for _, it := range items {
		p, err := e.B.Prompt([]data.Message{{Role: "user", Content: it.Question}})
		if err != nil || !e.fits(len(p)+c.MaxNewTokens) {
			continue
		}
		prompts = append(prompts, p)
		kept = append(kept, it)
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("no question fits the model with room for %d new tokens", c.MaxNewTokens)
	}
	got, err := e.generate(prompts, c)
	if err != nil {
		return nil, err
	}
	hits := make([]bool, len(kept))
	for i, it := range kept {
		n, ok := ExtractNumber(got[i])
		hits[i] = ok && SameNumber(n, it.Answer)
		e.say(hits[i], "%s\n   got: %s  (extracted %q)\n  want: %s", oneLine(it.Question), oneLine(got[i]), n, it.Answer)
	}
	return &Result{Task: TaskGSM8K, N: len(kept), Skipped: len(items) - len(kept), Settings: e.settings(c),
		Metrics: []Metric{{"exact_match", Mean(bools(hits))}}}, nil
}

// Choice scores every option of every item by the Monte Carlo ELBO of its
// continuation given its context (mdlm.LogLikelihood) and picks the best:
// by the raw score (accuracy) and by the score per character of the
// continuation (accuracy_norm).
func Choice(e Env, items []ChoiceItem) (*Result, error) {
	if _, ok := e.B.Model.(*editflow.Model); ok {
		return nil, fmt.Errorf("an Edit Flows model has no masked-diffusion ELBO to score options with")
	}
	var tok []choiceIDs
	skipped := 0
	for i, it := range items {
		ci := choiceIDs{item: i, answer: it.Answer, source: it.Source, texts: it.Continuations,
			contexts: make([][]int32, len(it.Continuations)), conts: make([][]int32, len(it.Continuations))}
		ok := true
		for k := range it.Continuations {
			var err error
			if ci.contexts[k], err = e.prompt(it.Contexts[k]); err != nil {
				ok = false
				break
			}
			ci.conts[k] = e.encode(it.Continuations[k])
			ok = ok && len(ci.conts[k]) > 0 && e.fits(len(ci.contexts[k])+len(ci.conts[k]))
		}
		if !ok {
			skipped++
			continue
		}
		tok = append(tok, ci)
	}
	if len(tok) == 0 {
		return nil, fmt.Errorf("no question fits the model")
	}
	res, err := e.choose(e.B.Denoiser(), e.B.MaskID, tok)
	if err != nil {
		return nil, err
	}
	res.Skipped = skipped
	return res, nil
}

// choiceIDs is a tokenized ChoiceItem.
type choiceIDs struct {
	item            int // index in the task's items: the Monte Carlo stream
	contexts, conts [][]int32
	texts           []string
	answer          int
	source          string
}

// choose scores and picks.
func (e *Env) choose(d mdlm.Denoiser, maskID int32, items []choiceIDs) (*Result, error) {
	opts := e.Likelihood
	opts.Samples = e.MCSamples
	if opts.Samples <= 0 {
		opts.Samples = DefaultMCSamples
	}
	opts.BatchSize = min(e.batch(), opts.Samples)
	opts.MaskID = maskID
	raw := make([]bool, len(items))
	norm := make([]bool, len(items))
	for i, it := range items {
		scores, err := ScoreOptions(d, it.contexts, it.conts, opts, e.Seed, uint64(it.item))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.source, err)
		}
		perChar := make([]float64, len(scores))
		for k, s := range scores {
			perChar[k] = s / float64(max(utf8.RuneCountInString(it.texts[k]), 1))
		}
		r, n := argmax(scores), argmax(perChar)
		raw[i], norm[i] = r == it.answer, n == it.answer
		e.say(raw[i], "%s: picked %d (normalised %d), answer %d, scores %.3f", it.source, r, n, it.answer, scores)
	}
	return &Result{Task: TaskChoice, N: len(items),
		Settings: map[string]any{"mc_samples": opts.Samples, "weighting": opts.Weighting.String()},
		Metrics:  []Metric{{"accuracy", Mean(bools(raw))}, {"accuracy_norm", Mean(bools(norm))}}}, nil
}

// ScoreOptions is the ELBO of each continuation given its context. Every
// option draws from the same stream (seed, stream), so that the options of
// one question are compared under common random numbers.
func ScoreOptions(d mdlm.Denoiser, contexts, continuations [][]int32, opts mdlm.LikelihoodOptions, seed, stream uint64) ([]float64, error) {
	out := make([]float64, len(continuations))
	for k := range continuations {
		ll, err := mdlm.LogLikelihood(d, contexts[k], continuations[k], opts, rand.New(rand.NewPCG(seed, stream)))
		if err != nil {
			return nil, fmt.Errorf("option %d: %w", k, err)
		}
		out[k] = ll
	}
	return out, nil
}

// argmax is the index of the largest value (the first among equals).
func argmax(xs []float64) int {
	best := 0
	for i, x := range xs {
		if x > xs[best] {
			best = i
		}
	}
	return best
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 100 {
		s = string(r[:100]) + "…"
	}
	return s
}

func tail(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[len(r)-n:])
	}
	return s
}
