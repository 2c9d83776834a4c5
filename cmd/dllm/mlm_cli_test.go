package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/tensor"
)

// `dllm pretrain --objective mlm` trains, logs each step to metrics.jsonl,
// and continues with --resume; a bad --mask-rate is one line and exit 2.
func TestPretrainMLM(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "a.txt")
	var text strings.Builder
	for i := range 200 {
		fmt.Fprintf(&text, "The %d river runs past the stone mill and the green hill. ", i)
	}
	require.NoError(t, os.WriteFile(corpus, []byte(text.String()), 0o644))
	out := filepath.Join(dir, "model")
	args := []string{"pretrain", "--objective", "mlm", "--mask-rate", "0.25", "--mlm-replace", "--data", corpus, "--out", out,
		"--steps", "6", "--batch-size", "4", "--max-length", "32", "--vocab-size", "320", "--save-every", "3"}
	code, stdout, stderr := runCLI(args...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "saved the model")
	f, err := os.Open(filepath.Join(out, "metrics.jsonl"))
	require.NoError(t, err)
	defer f.Close()
	steps := 0
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var line struct {
			Step *int     `json:"step"`
			Loss *float64 `json:"loss"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line))
		if line.Loss != nil {
			require.Positive(t, *line.Loss)
			steps++
		}
	}
	require.GreaterOrEqual(t, steps, 6)

	// The flags reach the objective; random replacements never draw an
	// added token.
	b, err := loadBundle(out, tensor.CPU(), modeldir.Options{})
	require.NoError(t, err)
	o := mlmObjective(b, 0.25, true).Options
	require.Equal(t, 0.25, o.Rate)
	require.True(t, o.Replace)
	require.Equal(t, b.MaskID, o.MaskID)
	require.Equal(t, b.Tokenizer.VocabSize(), o.Vocab)
	require.Contains(t, o.Specials, b.MaskID)
	require.Contains(t, o.Specials, b.PadID)

	code, _, stderr = runCLI("pretrain", "--objective", "mlm", "--mask-rate", "0.25", "--mlm-replace", "--data", corpus, "--out", out,
		"--steps", "8", "--batch-size", "4", "--max-length", "32", "--save-every", "3", "--resume", out)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "resumed from")

	code, _, stderr = runCLI("pretrain", "--objective", "mlm", "--mask-rate", "0", "--data", corpus, "--out", filepath.Join(dir, "x"))
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "--mask-rate must be in (0, 1]")
	_, err = os.Stat(filepath.Join(dir, "x"))
	require.True(t, os.IsNotExist(err))
}
