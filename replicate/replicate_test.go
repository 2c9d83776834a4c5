package replicate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor"
)

// writeCorpora writes small stand-ins for the fetched corpora: random
// sentences over a small vocabulary as the two text files, and made-up
// definitions as the WordNet chat file.
func writeCorpora(t *testing.T, dir string) {
	t.Helper()
	words := strings.Fields("the whale ship sea captain nation people union state law year congress great white harbor wind")
	rng := rand.New(rand.NewPCG(uint64(len(t.Name())), 1))
	sentence := func(n int) string {
		w := make([]string, n)
		for i := range w {
			w[i] = words[rng.IntN(len(words))]
		}
		return strings.Join(w, " ") + "."
	}
	for _, f := range TextFiles {
		var b bytes.Buffer
		for range 6 {
			var doc []string
			for range 30 {
				doc = append(doc, sentence(4+rng.IntN(8)))
			}
			js, _ := json.Marshal(map[string]string{"text": strings.Join(doc, " ")})
			b.Write(append(js, '\n'))
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b.Bytes(), 0o644))
	}
	var b bytes.Buffer
	for i := range 40 {
		line := map[string]any{"messages": []map[string]string{
			{"role": "user", "content": fmt.Sprintf("What does %s%d mean?", words[i%len(words)], i)},
			{"role": "assistant", "content": sentence(3)},
		}}
		js, _ := json.Marshal(line)
		b.Write(append(js, '\n'))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, ChatFile), b.Bytes(), 0o644))
}

func tinyConfig(t *testing.T) (Config, *bytes.Buffer) {
	corpora := t.TempDir()
	writeCorpora(t, corpora)
	var log bytes.Buffer
	return Config{Out: t.TempDir(), Corpora: corpora, Size: Tiny, Backend: tensor.CPU(), Log: &log}, &log
}

// ran returns the stages a log says were run and those it says were
// skipped.
func ran(log string) (run, skipped []string) {
	for _, m := range regexp.MustCompile(`replicate: (\S+): (running|done before, skipped)`).FindAllStringSubmatch(log, -1) {
		if m[2] == "running" {
			run = append(run, m[1])
		} else {
			skipped = append(skipped, m[1])
		}
	}
	return run, skipped
}

// The tiny size runs every stage end to end and writes the report. A run
// stopped after a stage, and one whose stage was left half done (its
// temporary folder), continue where they stopped: the finished stages are
// skipped, the unfinished one is run again. (One test, so that the
// pipeline runs once.)
func TestTinyReplicationResumesAndWritesTheReport(t *testing.T) {
	cfg, log := tinyConfig(t)
	stopAt := "sft-mlm-s1"
	cfg.StopAfter = func(stage string) bool { return stage == stopAt }
	require.ErrorIs(t, Run(context.Background(), cfg), ErrStopped)
	firstRun, _ := ran(log.String())
	require.Equal(t, stopAt, firstRun[len(firstRun)-1])
	_, err := os.Stat(filepath.Join(cfg.Out, ReportFile))
	require.True(t, os.IsNotExist(err), "no report before the last stage")

	// A stage interrupted in the middle leaves only its temporary folder.
	half := filepath.Join(cfg.Out, "stages", "sft-mlm-s2.tmp")
	require.NoError(t, os.MkdirAll(half, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(half, "junk"), []byte("x"), 0o644))
	before := mustRead(t, filepath.Join(cfg.Out, "stages", "sft-random-s1", resultFile))

	log.Reset()
	cfg.StopAfter = nil
	require.NoError(t, Run(context.Background(), cfg))
	second, skipped := ran(log.String())
	require.Equal(t, firstRun, skipped, "the finished stages are skipped")
	require.Equal(t, "sft-mlm-s2", second[0], "the next stage runs first")
	require.NotContains(t, second, stopAt)
	require.Equal(t, before, mustRead(t, filepath.Join(cfg.Out, "stages", "sft-random-s1", resultFile)), "a skipped stage is left as it was")
	_, err = os.Stat(half)
	require.True(t, os.IsNotExist(err), "the half-done folder is gone")
	_, err = os.Stat(filepath.Join(cfg.Out, "stages", "sft-mlm-s2", resultFile))
	require.NoError(t, err)
	require.Len(t, slices.Concat(firstRun, second), 4+len(Starts)*Tiny.Seeds+1, "every stage ran once")
	checkReport(t, cfg)

	// A third run has nothing left to do but the report.
	log.Reset()
	require.NoError(t, Run(context.Background(), cfg))
	third, _ := ran(log.String())
	require.Empty(t, third)
}

// checkReport checks that a finished run wrote the report with each of its
// tables, the figure, and a line per finding of the reference.
func checkReport(t *testing.T, cfg Config) {
	t.Helper()
	report, err := os.ReadFile(filepath.Join(cfg.Out, ReportFile))
	require.NoError(t, err)
	text := string(report)
	for _, want := range []string{
		"## Pretraining (equal compute)", "| mlm+mdlm | mlm 2 steps, then mdlm 2 steps |",
		"## SFT from four starting points", "![SFT held-out loss and exact match](sft.png)",
		"| starting point | held-out loss before SFT |", "Exact match per task",
		"## Sampling speed and quality against the number of steps", "| T/2 | ", "| T/8 | ", "| threshold 0.9 | ",
		"## Against the reference's findings", "converge to similar SFT loss", "Extra MDLM pretraining", "Halving the diffusion steps",
		"Machine: ", "load average",
	} {
		require.Contains(t, text, want)
	}
	for _, s := range Starts {
		require.Contains(t, text, "| "+s+" | ", "a row for %s", s)
	}
	png, err := os.ReadFile(filepath.Join(cfg.Out, PlotFile))
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(png, []byte("\x89PNG")), "sft.png is a PNG")

	// Every SFT run recorded its curve from step 0 and its exact match on
	// the held-out questions.
	var res SFTResult
	require.NoError(t, json.Unmarshal(mustRead(t, filepath.Join(cfg.Out, "stages", "sft-mlm+mdlm-s2", resultFile)), &res))
	require.Equal(t, 0, res.EvalLoss[0].Step)
	require.Equal(t, Tiny.SFTSteps, res.EvalLoss[len(res.EvalLoss)-1].Step)
	require.Equal(t, Tiny.EvalN, res.ExactMatch.N)
	require.Less(t, res.After, res.Before, "SFT lowers the held-out loss")
}

// A missing corpus file is a one-line error naming it and the script that
// fetches it.
func TestMissingCorpus(t *testing.T) {
	cfg, _ := tinyConfig(t)
	require.NoError(t, os.Remove(filepath.Join(cfg.Corpora, ChatFile)))
	err := Run(context.Background(), cfg)
	require.ErrorContains(t, err, ChatFile+": missing (scripts/fetch-corpora.sh fetches it)")
	require.NotContains(t, err.Error(), "\n")
}

func TestStats(t *testing.T) {
	s := stats([]float64{1, 2, 3, 6})
	require.InDelta(t, 3, s.mean, 1e-12)
	require.InDelta(t, 2.160246899469287, s.sd, 1e-12)
	require.Equal(t, 1.0, s.lo)
	require.Equal(t, 6.0, s.hi)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
