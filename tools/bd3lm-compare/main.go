// Command bd3lm-compare measures masked diffusion (MDLM) against block
// diffusion (BD3LM, blocks of 4, 8 and 16) at equal, short training time on
// generated tasks: exact match on unseen questions, each model's held-out
// loss (its own objective's per-token bound), and sampling time per
// generated token as the answer grows. It writes a Markdown table
// (results.md) and a plot of the time per token (time-per-token.png) into
// -out. scripts/bd3lm-compare.sh runs it.
//
// Every model is the default family's tiny preset on one shared tokenizer;
// training uses the SFT recipe (rows of at most 128 tokens, 2% held out,
// batches of 32) for -budget each, one run at a time. Timing uses fresh
// random models of the same size (time does not depend on the weights),
// a 32-token prompt, one step per token, end-of-text suppressed so that
// every answer runs to its full length, best of -repeats runs. BD3LM is
// timed twice: with its prefix cache advanced block by block (the
// sampler's default) and rebuilt from the whole prefix at every block (the
// reference's way, bd3lm.SampleOptions.Rebuild), drawn dashed.
package main

import (
	"context"
	"flag"
	"fmt"
	"image/color"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/dllmgo/dllm/bd3lm"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/data/synth"
	"github.com/dllmgo/dllm/data/tokenizer"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/recipe"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/train"
)

// config is one training setup: MDLM (block 0) or BD3LM with blocks of block.
// rebuild (timing only) samples with the reference's prefix cache, rebuilt
// from the whole prefix at every block, instead of the advancing one.
type config struct {
	name    string
	block   int
	rebuild bool
}

func (c config) bd3lm() bool { return c.block > 0 }

var configs = []config{{"MDLM", 0, false}, {"BD3LM, blocks of 4", 4, false}, {"BD3LM, blocks of 8", 8, false}, {"BD3LM, blocks of 16", 16, false}}

// timed are the samplers timed: the trained configs, and BD3LM with the
// reference's rebuilt prefix cache beside them.
var timed = append(slices.Clone(configs),
	config{"BD3LM, blocks of 4, rebuilt", 4, true}, config{"BD3LM, blocks of 8, rebuilt", 8, true}, config{"BD3LM, blocks of 16, rebuilt", 16, true})

const maxLen = 128

func main() {
	out := flag.String("out", "bd3lm-compare", "folder for the results")
	budget := flag.Duration("budget", 3*time.Minute, "training time per run")
	tasks := flag.String("tasks", "reverse,repeat", "tasks, each trained and scored on its own")
	examples := flag.Int("examples", 3000, "training conversations per task")
	heldOut := flag.Int("held-out", 40, "unseen questions scored per run")
	lengths := flag.String("lengths", "32,128,512", "answer lengths (tokens) of the timing")
	repeats := flag.Int("repeats", 2, "timing runs per point (the best is kept)")
	skipTrain := flag.Bool("skip-train", false, "timing only")
	flag.Parse()
	if err := run(*out, *budget, strings.Split(*tasks, ","), *examples, *heldOut, *lengths, *repeats, *skipTrain); err != nil {
		fmt.Fprintln(os.Stderr, "bd3lm-compare:", err)
		os.Exit(1)
	}
}

func run(out string, budget time.Duration, tasks []string, n, heldOut int, lengthList string, repeats int, skipTrain bool) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	var lens []int
	for _, f := range strings.Split(lengthList, ",") {
		var v int
		if _, err := fmt.Sscan(f, &v); err != nil || v <= 0 {
			return fmt.Errorf("-lengths: %q", f)
		}
		lens = append(lens, v)
	}
	train := map[string][]synth.Example{}
	test := map[string][]synth.Example{}
	var all []data.Conversation
	for i, task := range tasks {
		ex, err := synth.GenerateLevel(n, uint64(11+i), []string{task}, synth.Easy)
		if err != nil {
			return err
		}
		pool, err := synth.GenerateLevel(4*heldOut, uint64(1011+i), []string{task}, synth.Easy)
		if err != nil {
			return err
		}
		pool = synth.Exclude(pool, ex)
		train[task], test[task] = ex, pool[:min(heldOut, len(pool))]
		all = append(all, conversations(ex)...)
	}
	tok, err := tokenizer.Train(recipe.ChatTexts(all), tokenizer.TrainConfig{VocabSize: 512, IsolateSpaces: true})
	if err != nil {
		return err
	}

	var md strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&md, "Machine: %s, %d CPUs visible to Go; load average at the start: %s\n\n", host, runtimeCPUs(), loadAvg())
	save := func() error { return os.WriteFile(filepath.Join(out, "results.md"), []byte(md.String()), 0o644) }

	// Timing first (it is quick), then the training runs, the table saved
	// after each.
	times, err := timing(tok, lens, repeats)
	if err != nil {
		return err
	}
	fmt.Fprintf(&md, "Sampling time per generated token (ms), random weights, 32-token prompt, one step per token, best of %d:\n\n| new tokens |", repeats)
	for _, c := range timed {
		fmt.Fprintf(&md, " %s |", samplerName(c))
	}
	md.WriteString("\n|---:|" + strings.Repeat("---:|", len(timed)) + "\n")
	for i, l := range lens {
		fmt.Fprintf(&md, "| %d |", l)
		for _, c := range timed {
			fmt.Fprintf(&md, " %.2f |", times[c.name][i])
		}
		md.WriteString("\n")
	}
	md.WriteString("\n")
	if err := plotTimes(filepath.Join(out, "time-per-token.png"), lens, times); err != nil {
		return err
	}
	if err := save(); err != nil {
		return err
	}
	if !skipTrain {
		fmt.Fprintf(&md, "Training: %v per run, tiny %s, SFT recipe, easy level, %d conversations per task, exact match on %d unseen questions.\n\n",
			budget, modeldir.DefaultFamily(), n, heldOut)
		fmt.Fprintf(&md, "| task | objective | steps | held-out loss (own bound, per token) | exact match |\n|---|---|---:|---:|---:|\n")
		for _, task := range tasks {
			for _, c := range configs {
				r, err := trainAndScore(c, tok, train[task], test[task], budget, filepath.Join(out, task, strings.ReplaceAll(c.name, " ", "")))
				if err != nil {
					return fmt.Errorf("%s, %s: %w", task, c.name, err)
				}
				fmt.Fprintf(&md, "| %s | %s | %d | %.3f | %.0f%% |\n", task, c.name, r.steps, r.loss, 100*r.exact)
				fmt.Printf("%s, %s: %d steps, loss %.3f, exact match %.0f%%\n", task, c.name, r.steps, r.loss, 100*r.exact)
				if err := save(); err != nil {
					return err
				}
			}
		}
	}
	fmt.Print(md.String())
	return save()
}

type result struct {
	steps       int
	loss, exact float64
}

// objective is c's training objective for bundle b (sft's, cmd/dllm).
func objective(c config, b *modeldir.Bundle) lm.Objective {
	o := mdlm.ObjectiveOptions{MaskID: b.MaskID}
	if !c.bd3lm() {
		return mdlm.NewObjective(o)
	}
	return bd3lm.NewObjective(bd3lm.Options{MDLM: o, BlockSize: c.block, PadToBlocks: true, EOS: endOfText(b), Pad: b.PadID})
}

func endOfText(b *modeldir.Bundle) int32 {
	if b.EOSID != lm.NoToken {
		return b.EOSID
	}
	return b.PadID
}

func trainAndScore(c config, tok *tokenizer.Tokenizer, trainEx, testEx []synth.Example, budget time.Duration, dir string) (result, error) {
	b, err := recipe.FreshBundle(modeldir.DefaultFamily(), "tiny", tok, maxLen, 1, tensor.CPU())
	if err != nil {
		return result{}, err
	}
	opts := train.Defaults()
	opts.Seed, opts.TimeBudget, opts.OutDir, opts.KeepLast = 1, budget, dir, 1
	opts.Objective = objective(c, b)
	t, _, err := recipe.SFTTrainer(b, conversations(trainEx), recipe.Run{
		Split:     recipe.Split{MaxLen: maxLen, HeldOut: 0.02, Seed: 1, Workers: 2},
		BatchSize: 32, EvalBatches: 16, Options: opts,
	})
	if err != nil {
		return result{}, err
	}
	if err := t.Run(context.Background()); err != nil {
		return result{}, err
	}
	loss, err := t.EvalLoss()
	if err != nil {
		return result{}, err
	}
	r := result{steps: t.State().Step, loss: loss}
	longest := 0
	for _, ex := range trainEx {
		longest = max(longest, len(tok.Encode(ex.Answer, false)))
	}
	sc := b.SamplerConfig()
	sc.MaxNewTokens = (longest + 4 + 7) / 8 * 8
	sc.Steps = sc.MaxNewTokens
	correct := 0
	for i, ex := range testEx {
		prompt, err := b.Prompt(ex.Messages()[:1])
		if err != nil {
			return result{}, err
		}
		var o *mdlm.Output
		if c.bd3lm() {
			cc := sc
			cc.BlockSize, cc.Cache = c.block, true
			o, err = bd3lm.Generate(b.Model, [][]int32{prompt}, cc, endOfText(b), mdlm.NewRand(uint64(i)))
		} else {
			cc := sc
			cc.BlockSize = min(32, cc.MaxNewTokens)
			o, err = mdlm.Generate(b.Denoiser(), [][]int32{prompt}, cc, mdlm.NewRand(uint64(i)))
		}
		if err != nil {
			return result{}, err
		}
		if ex.Correct(b.Answer(o.Samples[0].Answer)) {
			correct++
		}
	}
	r.exact = float64(correct) / float64(max(1, len(testEx)))
	return r, nil
}

func samplerName(c config) string {
	if !c.bd3lm() {
		return "MDLM block sampler (blocks of 32)"
	}
	if c.rebuild {
		return fmt.Sprintf("BD3LM %d, prefix rebuilt per block (reference)", c.block)
	}
	return fmt.Sprintf("BD3LM %d, prefix cache advanced", c.block)
}

// timing returns, per config, the milliseconds per generated token at each
// length.
func timing(tok *tokenizer.Tokenizer, lens []int, repeats int) (map[string][]float64, error) {
	longest := slices.Max(lens)
	b, err := recipe.FreshBundle(modeldir.DefaultFamily(), "tiny", tok, longest+64, 2, tensor.CPU())
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(3, 3))
	prompt := make([]int32, 32)
	for i := range prompt {
		prompt[i] = int32(rng.IntN(200))
	}
	out := map[string][]float64{}
	for _, c := range timed {
		for _, l := range lens {
			sc := b.SamplerConfig()
			sc.MaxNewTokens, sc.Steps = l, l
			sc.SuppressTokens = append(sc.SuppressTokens, endOfText(b), b.PadID)
			best := time.Duration(1 << 62)
			for k := range repeats {
				start := time.Now()
				var err error
				if c.bd3lm() {
					sc.BlockSize, sc.Cache = c.block, true
					_, err = bd3lm.GenerateWith(b.Model, [][]int32{prompt}, sc, endOfText(b), mdlm.NewRand(uint64(k)), bd3lm.SampleOptions{Rebuild: c.rebuild})
				} else {
					sc.BlockSize = min(32, l)
					_, err = mdlm.Generate(b.Denoiser(), [][]int32{prompt}, sc, mdlm.NewRand(uint64(k)))
				}
				if err != nil {
					return nil, err
				}
				best = min(best, time.Since(start))
			}
			ms := float64(best.Microseconds()) / 1000 / float64(l)
			out[c.name] = append(out[c.name], ms)
			fmt.Printf("timing %s, %d tokens: %.2f ms/token\n", c.name, l, ms)
		}
	}
	return out, nil
}

func plotTimes(path string, lens []int, times map[string][]float64) error {
	p := plot.New()
	p.Title.Text = "sampling time per generated token"
	p.X.Label.Text = "new tokens"
	p.Y.Label.Text = "ms per token (log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Add(plotter.NewGrid())
	colors := []color.RGBA{{200, 60, 30, 255}, {30, 100, 200, 255}, {40, 160, 80, 255}, {150, 60, 170, 255}}
	for _, c := range timed {
		i := slices.IndexFunc(configs, func(t config) bool { return t.block == c.block })
		pts := make(plotter.XYs, len(lens))
		for k, l := range lens {
			pts[k].X, pts[k].Y = float64(l), times[c.name][k]
		}
		line, marks, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		line.Color, marks.Color = colors[i%len(colors)], colors[i%len(colors)]
		line.Width = vg.Points(1.5)
		if c.rebuild {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(line, marks)
		p.Legend.Add(samplerName(c), line)
	}
	p.Legend.Top, p.Legend.Left = true, true
	wt, err := p.WriterTo(7*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		return err
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	if _, err := wt.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

func conversations(exs []synth.Example) []data.Conversation {
	out := make([]data.Conversation, len(exs))
	for i, ex := range exs {
		out[i] = data.Conversation{Messages: ex.Messages(), Task: ex.Task}
	}
	return out
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func runtimeCPUs() int { return runtime.NumCPU() }
