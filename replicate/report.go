package replicate

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dllmgo/dllm/internal/atomicfile"
	"github.com/dllmgo/dllm/train"
)

// Files the report writes into the output folder.
const (
	ReportFile = "REPORT.md"
	PlotFile   = "sft.png"
)

// Machine names the CPU model (from /proc/cpuinfo, "unknown" elsewhere).
func Machine() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// Load is the 1-, 5- and 15-minute load averages ("unknown" where the
// system does not say).
func Load() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// stat is a mean with the sample standard deviation and the range.
type stat struct{ mean, sd, lo, hi float64 }

func stats(xs []float64) stat {
	if len(xs) == 0 {
		return stat{math.NaN(), math.NaN(), math.NaN(), math.NaN()}
	}
	s := stat{lo: math.Inf(1), hi: math.Inf(-1)}
	for _, x := range xs {
		s.mean += x
		s.lo, s.hi = math.Min(s.lo, x), math.Max(s.hi, x)
	}
	s.mean /= float64(len(xs))
	if len(xs) > 1 {
		for _, x := range xs {
			s.sd += (x - s.mean) * (x - s.mean)
		}
		s.sd = math.Sqrt(s.sd / float64(len(xs)-1))
	}
	return s
}

func (s stat) String() string { return fmt.Sprintf("%.3f ± %.3f", s.mean, s.sd) }

func finalLoss(r SFTResult) float64 { return r.After }

func field[T any](rs []SFTResult, f func(SFTResult) T) []T {
	out := make([]T, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	return out
}

// report draws sft.png and writes REPORT.md from the stages' results.
func (r *runner) report() error {
	var dr DataResult
	if err := r.readResult("data", &dr); err != nil {
		return err
	}
	pre := map[string]PretrainResult{}
	for _, s := range Starts[1:] {
		var p PretrainResult
		if err := r.readResult("pretrain-"+s, &p); err != nil {
			return err
		}
		pre[s] = p
	}
	sft, err := r.sftResults()
	if err != nil {
		return err
	}
	var samp SamplingResult
	if err := r.readResult("sampling", &samp); err != nil {
		return err
	}
	if err := r.plot(sft); err != nil {
		return err
	}
	var b strings.Builder
	r.writeReport(&b, dr, pre, sft, samp)
	return atomicfile.WriteBytes(filepath.Join(r.Out, ReportFile), []byte(b.String()), 0o644)
}

// plot draws the held-out loss curves (mean over seeds, the band from the
// lowest to the highest seed) and the exact match of each starting point.
func (r *runner) plot(sft map[string][]SFTResult) error {
	var loss, em []Series
	for i, s := range Starts {
		runs := sft[s]
		if len(runs) == 0 {
			continue
		}
		n := len(runs[0].EvalLoss)
		for _, run := range runs {
			n = min(n, len(run.EvalLoss))
		}
		var ls Series
		ls.Name = s
		for k := range n {
			ys := field(runs, func(x SFTResult) float64 { return x.EvalLoss[k].Loss })
			st := stats(ys)
			ls.X = append(ls.X, float64(runs[0].EvalLoss[k].Step))
			ls.Y, ls.Lo, ls.Hi = append(ls.Y, st.mean), append(ls.Lo, st.lo), append(ls.Hi, st.hi)
		}
		loss = append(loss, ls)
		st := stats(field(runs, func(x SFTResult) float64 { return x.ExactMatch.Value }))
		x := float64(i + 1)
		em = append(em, Series{Name: fmt.Sprintf("%s %.2f", s, st.mean), X: []float64{x - 0.2, x + 0.2},
			Y: []float64{st.mean, st.mean}, Lo: []float64{st.lo, st.lo}, Hi: []float64{st.hi, st.hi}, NoMarkers: true})
	}
	return train.PlotPanels(filepath.Join(r.Out, PlotFile), 6, 4.5,
		train.Panel{Title: fmt.Sprintf("SFT held-out loss (mean, band: min-max of %d seeds)", r.Size.Seeds),
			XLabel: "SFT step", YLabel: "held-out diffusion loss", Series: loss},
		train.Panel{Title: "held-out exact match (mean, band: min-max)",
			XLabel: "starting point: 1 random, 2 mlm, 3 mdlm, 4 mlm+mdlm", YLabel: "exact match", Series: em})
}

// Series and Panel are the plot helper's, named here for brevity.
type (
	Series = train.Series
)

func (r *runner) writeReport(w io.Writer, dr DataResult, pre map[string]PretrainResult, sft map[string][]SFTResult, samp SamplingResult) {
	s := r.Size
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("# Small-scale replication of the reference's findings\n\n")
	p("Written by `dllm replicate` (size %s: %s) on %s.\n\n", s.Name, s.Budget, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	p("- Machine: %s, %d logical CPUs visible, device `%s`; load average (1, 5, 15 min) when the report was written: %s.\n",
		Machine(), runtime.NumCPU(), r.Device, Load())
	total := dr.Seconds
	for _, x := range pre {
		total += x.Seconds
	}
	for _, runs := range sft {
		for _, x := range runs {
			total += x.TrainSeconds + x.EvalSeconds
		}
	}
	for _, row := range samp.Rows {
		total += row.Seconds
	}
	p("- Time in the stages: %.1f minutes (over every session of the run).\n", total/60)
	p("- Model: family %s, preset %s, %d parameters, rows of %d tokens; one tokenizer of %d tokens (digits split) for all.\n",
		s.Family, s.Preset, pre[StartMLM].Params, s.MaxLen, dr.VocabSize)
	p("- Data: %d training and %d held-out conversations (synthetic tasks, numeric ones among them, and WordNet definitions); corpus of %d documents, %d characters (State of the Union addresses, Moby Dick).\n",
		dr.TrainConvs, dr.HeldConvs, dr.CorpusDocs, dr.CorpusChars)
	p("- Every run: batch %d, AdamW at peak learning rate %g, cosine schedule with 10%% warm-up. Pretraining: %d steps per pretrained starting point (MLM then MDLM: %d + %d), seed 1. SFT: %d steps from each starting point, seeds 1-%d (data order and noise; for the random start, its initialisation too). Exact match on %d held-out questions, sampled with %d new tokens, %d steps, blocks of %d (low-confidence remasking, argmax).\n\n",
		s.BatchSize, s.LR, s.PretrainSteps, s.PretrainSteps/2, s.PretrainSteps-s.PretrainSteps/2, s.SFTSteps, s.Seeds,
		min(s.EvalN, dr.HeldConvs), samp.MaxNewTokens, samp.MaxNewTokens, samp.BlockSize)

	p("## Pretraining (equal compute)\n\n")
	p("| starting point | phases | final held-out loss of each phase | minutes |\n|---|---|---|---|\n")
	for _, st := range Starts[1:] {
		x := pre[st]
		var ph, fl []string
		for _, f := range x.Phases {
			ph = append(ph, fmt.Sprintf("%s %d steps", f.Objective, f.Steps))
			if n := len(f.EvalLoss); n > 0 {
				fl = append(fl, fmt.Sprintf("%s %.3f", f.Objective, f.EvalLoss[n-1].Loss))
			}
		}
		p("| %s | %s | %s | %.1f |\n", st, strings.Join(ph, ", then "), strings.Join(fl, "; "), x.Seconds/60)
	}
	p("\nThe MLM loss is cross-entropy at a fixed 30%% masking rate, the MDLM loss the 1/t-weighted ELBO: the two are not on one scale.\n\n")

	p("## SFT from four starting points\n\n")
	p("![SFT held-out loss and exact match](%s)\n\n", PlotFile)
	p("Held-out loss before and after SFT: the diffusion loss of the held-out answers with one noise draw for every run; the curves of the figure are the trainer's evaluations, whose noise follows each run's seed.\n\n")
	p("| starting point | held-out loss before SFT | after SFT (mean ± sd) | min-max | exact match (mean ± sd) | per seed |\n|---|---|---|---|---|---|\n")
	for _, st := range Starts {
		runs := sft[st]
		l0 := stats(field(runs, func(x SFTResult) float64 { return x.Before }))
		lf := stats(field(runs, finalLoss))
		em := stats(field(runs, func(x SFTResult) float64 { return x.ExactMatch.Value }))
		per := field(runs, func(x SFTResult) string { return fmt.Sprintf("%.3f", x.ExactMatch.Value) })
		p("| %s | %.3f | %s | %.3f-%.3f | %s | %s |\n", st, l0.mean, lf, lf.lo, lf.hi, em, strings.Join(per, ", "))
	}
	p("\nExact match per task (mean over seeds):\n\n")
	var tasks []string
	for _, runs := range sft {
		for _, x := range runs {
			for k := range x.PerTask {
				if !slices.Contains(tasks, k) {
					tasks = append(tasks, k)
				}
			}
		}
	}
	sort.Strings(tasks)
	p("| starting point | %s |\n|---|%s\n", strings.Join(tasks, " | "), strings.Repeat("---|", len(tasks)))
	for _, st := range Starts {
		var cells []string
		for _, k := range tasks {
			cells = append(cells, fmt.Sprintf("%.2f", stats(field(sft[st], func(x SFTResult) float64 { return x.PerTask[k].Value })).mean))
		}
		p("| %s | %s |\n", st, strings.Join(cells, " | "))
	}

	p("\n## Sampling speed and quality against the number of steps\n\n")
	p("Model: %s (the starting point with the best mean exact match, then the lowest held-out loss; seed 1); %d held-out prompts, %d new tokens in blocks of %d, batches of 16. Tokens are the answers' tokens up to their end; a row stops sampling once its answer has ended. Tokens/s is the fastest of %d rounds over the settings in turn (the machine is shared); passes and tokens per pass do not depend on the load.\n\n",
		samp.Model, samp.Prompts, samp.MaxNewTokens, samp.BlockSize, samp.Rounds)
	p("| setting | steps | tokens/s | model passes per batch | tokens per pass | exact match |\n|---|---|---|---|---|---|\n")
	for _, row := range samp.Rows {
		p("| %s | %d | %.1f | %.1f | %.2f | %.3f ± %.3f |\n", row.Name, row.Steps, row.TokensPerSecond, row.PassesPerBatch, row.TokensPerPass, row.ExactMatch.Value, row.ExactMatch.StdErr)
	}
	p("\n## Against the reference's findings\n\n")
	for _, line := range findings(sft, samp) {
		p("- %s\n", line)
	}
	p("\nAt this scale (a model of under a million parameters, minutes of CPU) the comparison is a sketch of the reference's, not a reproduction of its numbers; the seeds' spread says which differences are larger than noise.\n")
}

// findings compares the measured numbers with the reference's claims.
func findings(sft map[string][]SFTResult, samp SamplingResult) []string {
	var out []string
	loss := map[string]stat{}
	em := map[string]stat{}
	var sds []float64
	for _, s := range Starts {
		loss[s] = stats(field(sft[s], finalLoss))
		em[s] = stats(field(sft[s], func(x SFTResult) float64 { return x.ExactMatch.Value }))
		sds = append(sds, loss[s].sd)
	}
	noise := stats(sds).mean
	pretrained := []string{StartMLM, StartMDLM, StartMLMMDLM}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range pretrained {
		lo, hi = math.Min(lo, loss[s].mean), math.Max(hi, loss[s].mean)
	}
	verdict := "agrees"
	if hi-lo > 2*noise {
		verdict = "disagrees"
	}
	out = append(out, fmt.Sprintf("**Pretrained starting points converge to similar SFT loss** (reference: three checkpoints converged to similar SFT loss): the pretrained starts' final held-out losses span %.3f (%.3f to %.3f), against a seed standard deviation of %.3f: %s.",
		hi-lo, lo, hi, noise, verdict))
	d := loss[StartMLMMDLM].mean - loss[StartMLM].mean
	dEM := em[StartMLMMDLM].mean - em[StartMLM].mean
	verdict = "agrees"
	if d < -2*noise {
		verdict = "disagrees (MDLM pretraining helped by more than the seeds' spread)"
	}
	out = append(out, fmt.Sprintf("**Extra MDLM pretraining adds little over MLM** (reference): MLM then MDLM against MLM alone at equal compute: held-out loss %+.3f, exact match %+.3f: %s.", d, dEM, verdict))
	dr := loss[StartRandom].mean - lo
	out = append(out, fmt.Sprintf("**SFT from random initialisation** (the reference's \"no generative pretraining\" start was still MLM-pretrained ModernBERT; a random start is this replication's floor): final held-out loss %.3f, %+.3f against the best pretrained start; exact match %.3f against %.3f.",
		loss[StartRandom].mean, dr, em[StartRandom].mean, math.Max(math.Max(em[StartMLM].mean, em[StartMDLM].mean), em[StartMLMMDLM].mean)))
	var t, t2 *SamplingRow
	for i := range samp.Rows {
		switch samp.Rows[i].Name {
		case "T":
			t = &samp.Rows[i]
		case "T/2":
			t2 = &samp.Rows[i]
		}
	}
	if t != nil && t2 != nil && t.TokensPerSecond > 0 {
		ratio := t2.TokensPerSecond / t.TokensPerSecond
		verdict = "agrees"
		if ratio < 1.3 {
			verdict = "disagrees"
		}
		out = append(out, fmt.Sprintf("**Halving the diffusion steps speeds generation up** (reference): T/2 runs at %.2fx the tokens/s of T (%.2f tokens per model pass against %.2f), exact match %.3f against %.3f: %s on speed.",
			ratio, t2.TokensPerPass, t.TokensPerPass, t2.ExactMatch.Value, t.ExactMatch.Value, verdict))
	}
	return out
}
