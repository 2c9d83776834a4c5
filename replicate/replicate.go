package replicate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/data/synth"
	"github.com/dllmgo/dllm/data/tokenizer"
	"github.com/dllmgo/dllm/internal/atomicfile"
	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/tensor"
)

// Size fixes how much a replication computes.
type Size struct {
	// Name is "full", "quick" or "tiny".
	Name string
	// Budget is the stated wall time on two CPU cores (an estimate).
	Budget string
	// Family and Preset name the model every starting point has.
	Family, Preset string
	// VocabSize of the tokenizer; MaxLen of pretraining rows and of SFT
	// rows (the models' positions).
	VocabSize, MaxLen int
	// BatchSize rows per step, in pretraining and SFT.
	BatchSize int
	// PretrainSteps per pretrained starting point (MLM then MDLM splits them
	// in halves); SFTSteps per SFT run; Evals held-out evaluations per SFT
	// run.
	PretrainSteps, SFTSteps, Evals int
	// LR is the peak learning rate of every run.
	LR float64
	// Seeds per starting point.
	Seeds int
	// SynthPerTask synthetic conversations per task; Definitions WordNet
	// question/answer pairs; HeldOut conversations held out (of the
	// mixture); EvalN of those scored by exact match.
	SynthPerTask, Definitions, HeldOut, EvalN int
	// CorpusChars caps the text of the pretraining corpus.
	CorpusChars int
	// SampleN prompts are sampled per row of the sampling table.
	SampleN int
}

// The sizes. Step counts were set from the time of a step of the tiny
// preset measured on two loaded cores; Budget says what a run takes there.
var (
	Full = Size{Name: "full", Budget: "about 60 minutes on 2 CPU cores",
		Family: "", Preset: "tiny", VocabSize: 1024, MaxLen: 96, BatchSize: 16,
		PretrainSteps: 900, SFTSteps: 500, Evals: 10, LR: 1e-3, Seeds: 3,
		SynthPerTask: 700, Definitions: 3000, HeldOut: 450, EvalN: 200,
		CorpusChars: 4 << 20, SampleN: 96}
	Quick = Size{Name: "quick", Budget: "about 10 minutes on 2 CPU cores",
		Family: "", Preset: "tiny", VocabSize: 768, MaxLen: 64, BatchSize: 16,
		PretrainSteps: 300, SFTSteps: 200, Evals: 5, LR: 1e-3, Seeds: 3,
		SynthPerTask: 250, Definitions: 800, HeldOut: 160, EvalN: 32,
		CorpusChars: 1 << 20, SampleN: 32}
	Tiny = Size{Name: "tiny", Budget: "seconds (a test of the pipeline; its numbers mean nothing)",
		Family: "", Preset: "tiny", VocabSize: 300, MaxLen: 48, BatchSize: 4,
		PretrainSteps: 4, SFTSteps: 4, Evals: 2, LR: 1e-3, Seeds: 2,
		SynthPerTask: 6, Definitions: 12, HeldOut: 8, EvalN: 4,
		CorpusChars: 20 << 10, SampleN: 4}
)

// SizeByName returns Full, Quick or Tiny.
func SizeByName(name string) (Size, error) {
	for _, s := range []Size{Full, Quick, Tiny} {
		if s.Name == name {
			return s, nil
		}
	}
	return Size{}, fmt.Errorf("unknown size %q (full, quick or tiny)", name)
}

// Config is one replication.
type Config struct {
	// Out receives stages/, sft.png and REPORT.md.
	Out string
	// Corpora is the folder scripts/fetch-corpora.sh fills: sotu.jsonl and
	// moby-dick.jsonl (text) and wordnet-define.jsonl (chat).
	Corpora string
	Size    Size
	// Backend runs the models; Device names it for the report.
	Backend tensor.Backend
	Device  string
	// Log receives progress lines (nil: silent).
	Log io.Writer
	// StopAfter, if set, is called after each stage with its name; a true
	// answer stops the run there with ErrStopped (tests interrupt a run with
	// it).
	StopAfter func(stage string) bool
}

// ErrStopped is returned when Config.StopAfter stopped a run.
var ErrStopped = errors.New("replicate: stopped after a stage")

// The corpus files, as scripts/fetch-corpora.sh names them.
var (
	TextFiles = []string{"sotu.jsonl", "moby-dick.jsonl"}
	ChatFile  = "wordnet-define.jsonl"
)

// Starting points of SFT.
const (
	StartRandom  = "random"
	StartMLM     = "mlm"
	StartMDLM    = "mdlm"
	StartMLMMDLM = "mlm+mdlm"
)

// Starts lists the starting points in report order.
var Starts = []string{StartRandom, StartMLM, StartMDLM, StartMLMMDLM}

func (c *Config) logf(format string, args ...any) {
	if c.Log != nil {
		fmt.Fprintf(c.Log, "replicate: "+format+"\n", args...)
	}
}

// Check reports a missing corpus file in one line.
func (c *Config) Check() error {
	for _, f := range append(slices.Clone(TextFiles), ChatFile) {
		p := filepath.Join(c.Corpora, f)
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("%s: missing (scripts/fetch-corpora.sh fetches it)", p)
		}
	}
	if c.Out == "" {
		return errors.New("no output folder")
	}
	return nil
}

// Run makes the replication, skipping the stages a previous run finished.
func Run(ctx context.Context, c Config) error {
	if err := c.Check(); err != nil {
		return err
	}
	if c.Size.Family == "" {
		c.Size.Family = modeldir.DefaultFamily()
	}
	if c.Device == "" {
		c.Device = "cpu"
	}
	if err := os.MkdirAll(filepath.Join(c.Out, "stages"), 0o755); err != nil {
		return err
	}
	r := &runner{Config: c}
	steps := []struct {
		name string
		fn   func(ctx context.Context, dir string) (any, error)
	}{
		{"data", r.stageData},
		{"pretrain-mlm", func(ctx context.Context, dir string) (any, error) { return r.stagePretrain(ctx, dir, StartMLM) }},
		{"pretrain-mdlm", func(ctx context.Context, dir string) (any, error) { return r.stagePretrain(ctx, dir, StartMDLM) }},
		{"pretrain-mlm+mdlm", func(ctx context.Context, dir string) (any, error) {
			return r.stagePretrain(ctx, dir, StartMLMMDLM)
		}},
	}
	for _, start := range Starts {
		for seed := 1; seed <= c.Size.Seeds; seed++ {
			start, seed := start, uint64(seed)
			steps = append(steps, struct {
				name string
				fn   func(ctx context.Context, dir string) (any, error)
			}{sftStage(start, seed), func(ctx context.Context, dir string) (any, error) { return r.stageSFT(ctx, dir, start, seed) }})
		}
	}
	steps = append(steps, struct {
		name string
		fn   func(ctx context.Context, dir string) (any, error)
	}{"sampling", r.stageSampling})
	for _, s := range steps {
		if err := r.stage(ctx, s.name, s.fn); err != nil {
			return err
		}
		if c.StopAfter != nil && c.StopAfter(s.name) {
			return ErrStopped
		}
	}
	return r.report()
}

func sftStage(start string, seed uint64) string { return fmt.Sprintf("sft-%s-s%d", start, seed) }

// runner carries what the stages share.
type runner struct {
	Config
	// ran lists the stages this call ran (the others were finished before).
	ran []string
}

func (r *runner) dir(stage string) string { return filepath.Join(r.Out, "stages", stage) }

const resultFile = "result.json"

// stage runs fn into a temporary folder unless the stage's folder holds a
// result already, then writes the result and renames the folder into place.
func (r *runner) stage(ctx context.Context, name string, fn func(ctx context.Context, dir string) (any, error)) error {
	final := r.dir(name)
	if _, err := os.Stat(filepath.Join(final, resultFile)); err == nil {
		r.logf("%s: done before, skipped", name)
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	tmp := final + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	r.logf("%s: running", name)
	start := time.Now()
	res, err := fn(ctx, tmp)
	if err != nil {
		return fmt.Errorf("stage %s: %w", name, err)
	}
	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(tmp, resultFile), js, 0o644); err != nil {
		return err
	}
	if err := os.RemoveAll(final); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	r.ran = append(r.ran, name)
	r.logf("%s: done in %s", name, time.Since(start).Round(time.Second))
	return nil
}

// readResult reads a finished stage's result.json into v.
func (r *runner) readResult(stage string, v any) error {
	js, err := os.ReadFile(filepath.Join(r.dir(stage), resultFile))
	if err != nil {
		return err
	}
	return json.Unmarshal(js, v)
}

// DataResult describes the data stage.
type DataResult struct {
	TrainConvs, HeldConvs int
	PerTask               map[string]int
	CorpusDocs            int
	CorpusChars           int
	VocabSize             int
	Seconds               float64
}

// stageData writes train.jsonl, held.jsonl, corpus.jsonl and
// tokenizer.json.
func (r *runner) stageData(_ context.Context, dir string) (any, error) {
	start := time.Now()
	s := r.Size
	tasks := slices.Concat(synth.TaskNames(), synth.NumericTasks())
	ex, err := synth.Generate(s.SynthPerTask*len(tasks), 1, tasks)
	if err != nil {
		return nil, err
	}
	var convs []data.Conversation
	for _, e := range ex {
		convs = append(convs, data.Conversation{Messages: e.Messages(), Task: e.Task})
	}
	defs, err := definitions(filepath.Join(r.Corpora, ChatFile), s.Definitions)
	if err != nil {
		return nil, err
	}
	convs = append(convs, defs...)
	perm := data.Permutation(len(convs), 7)
	mixed := make([]data.Conversation, len(convs))
	for i, k := range perm {
		mixed[i] = convs[k]
	}
	held, trainConvs := mixed[:s.HeldOut], mixed[s.HeldOut:]
	// The held-out set shares no question with the training set.
	seen := map[string]bool{}
	for _, c := range trainConvs {
		seen[c.Messages[0].Content] = true
	}
	held = slices.DeleteFunc(slices.Clone(held), func(c data.Conversation) bool { return seen[c.Messages[0].Content] })

	docs, chars, err := corpus(r.Corpora, s.CorpusChars)
	if err != nil {
		return nil, err
	}
	texts := func(yield func(string) bool) {
		for _, d := range docs {
			if !yield(d) {
				return
			}
		}
		for _, c := range convs {
			text, err := data.BertChat.Render(c.Messages, false)
			if err == nil && !yield(text) {
				return
			}
		}
	}
	tok, err := tokenizer.Train(texts, tokenizer.TrainConfig{VocabSize: s.VocabSize, IsolateSpaces: true, SplitDigits: true})
	if err != nil {
		return nil, err
	}
	if err := tok.Save(filepath.Join(dir, "tokenizer.json")); err != nil {
		return nil, err
	}
	if err := writeChat(filepath.Join(dir, "train.jsonl"), trainConvs); err != nil {
		return nil, err
	}
	if err := writeChat(filepath.Join(dir, "held.jsonl"), held); err != nil {
		return nil, err
	}
	if err := writeDocs(filepath.Join(dir, "corpus.jsonl"), docs); err != nil {
		return nil, err
	}
	per := map[string]int{}
	for _, c := range trainConvs {
		per[c.Task]++
	}
	return DataResult{TrainConvs: len(trainConvs), HeldConvs: len(held), PerTask: per,
		CorpusDocs: len(docs), CorpusChars: chars, VocabSize: tok.VocabSize(),
		Seconds: time.Since(start).Seconds()}, nil
}

// definitions reads WordNet's question/answer pairs and keeps n short ones
// (answers of at most six words, so they fit the small models' canvas),
// spread over the file.
func definitions(path string, n int) ([]data.Conversation, error) {
	all, _, err := data.LoadChat([]string{path}, data.LoadOptions{})
	if err != nil {
		return nil, err
	}
	var short []data.Conversation
	for _, c := range all {
		m := c.Messages
		if len(m) == 2 && len(strings.Fields(m[1].Content)) <= 6 && len(m[1].Content) <= 40 && len(m[0].Content) <= 60 {
			c.Task = "define"
			short = append(short, c)
		}
	}
	if len(short) < n {
		return nil, fmt.Errorf("%s: %d short definitions, %d wanted", path, len(short), n)
	}
	perm := data.Permutation(len(short), 3)
	out := make([]data.Conversation, n)
	for i := range out {
		out[i] = short[perm[i]]
	}
	return out, nil
}

// corpus reads the text files' documents in turn, one from each file at a
// time, until limit characters.
func corpus(dir string, limit int) ([]string, int, error) {
	per := make([][]string, len(TextFiles))
	for i, f := range TextFiles {
		_, err := data.EachDocument([]string{filepath.Join(dir, f)}, data.LoadOptions{}, func(d data.Document) error {
			per[i] = append(per[i], d.Text)
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
	}
	var docs []string
	chars := 0
	for k := 0; chars < limit; k++ {
		added := false
		for i := range per {
			if k < len(per[i]) && chars < limit {
				d := per[i][k]
				if rest := limit - chars; len(d) > rest {
					d = d[:rest]
				}
				docs = append(docs, d)
				chars += len(d)
				added = true
			}
		}
		if !added {
			break
		}
	}
	if len(docs) == 0 {
		return nil, 0, fmt.Errorf("%s: no text", dir)
	}
	return docs, chars, nil
}

func writeChat(path string, convs []data.Conversation) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, c := range convs {
			type msg struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			}
			line := struct {
				Messages []msg  `json:"messages"`
				Task     string `json:"task,omitempty"`
			}{Task: c.Task}
			for _, m := range c.Messages {
				line.Messages = append(line.Messages, msg{m.Role, m.Content})
			}
			if err := enc.Encode(line); err != nil {
				return err
			}
		}
		return nil
	})
}

func writeDocs(path string, docs []string) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, d := range docs {
			if err := enc.Encode(map[string]string{"text": d}); err != nil {
				return err
			}
		}
		return nil
	})
}

// loadData reads the data stage's files.
func (r *runner) loadData() (tok *tokenizer.Tokenizer, trainConvs, held []data.Conversation, docs []string, err error) {
	dir := r.dir("data")
	if tok, err = tokenizer.Load(filepath.Join(dir, "tokenizer.json")); err != nil {
		return
	}
	if trainConvs, _, err = data.LoadChat([]string{filepath.Join(dir, "train.jsonl")}, data.LoadOptions{}); err != nil {
		return
	}
	if held, _, err = data.LoadChat([]string{filepath.Join(dir, "held.jsonl")}, data.LoadOptions{}); err != nil {
		return
	}
	_, err = data.EachDocument([]string{filepath.Join(dir, "corpus.jsonl")}, data.LoadOptions{}, func(d data.Document) error {
		docs = append(docs, d.Text)
		return nil
	})
	return
}
