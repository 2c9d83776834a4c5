package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

var hfTinyA = filepath.Join("..", "..", "bert", "testdata", "hf_tiny_a")

func runInspectCmd(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(append([]string{"inspect"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// tableRows returns the lines of the tensor table (after the blank line).
func tableRows(t *testing.T, out string) []string {
	t.Helper()
	_, table, ok := strings.Cut(out, "\n\n")
	require.True(t, ok, "a blank line precedes the table:\n%s", out)
	return strings.Split(strings.TrimRight(table, "\n"), "\n")
}

func TestInspectModelDirectory(t *testing.T) {
	code, out, errOut := runInspectCmd(hfTinyA)
	require.Equal(t, 0, code, errOut)
	assert.Empty(t, errOut)
	assert.Contains(t, out, "ModernBERT: vocab 97, hidden 48, 4 layers, 4 heads of 12, GeGLU 80, 64 positions")
	assert.Contains(t, out, "global layers 0 3 (RoPE theta 160000); the others see ±4 tokens (RoPE theta 10000)")
	assert.Contains(t, out, "metadata    format=pt")

	cfg, err := bert.LoadConfig(filepath.Join(hfTinyA, "config.json"))
	require.NoError(t, err)
	assert.Contains(t, out, "parameters  "+thousands(int64(cfg.ParamCount()))+" stored, as the config expects")

	assert.Contains(t, out, "weights     model.safetensors")
	rows := tableRows(t, out)
	require.Len(t, rows, 1+len(cfg.ParamShapes()))
	for i, p := range cfg.ParamShapes() {
		assert.True(t, strings.HasPrefix(rows[1+i], p.Name+" "), "row %d is %s, in the model's order", i, p.Name)
	}
	assert.Regexp(t, `^name +dtype +shape +bytes$`, rows[0])
	for _, row := range rows {
		assert.Len(t, row, len(rows[0]), "aligned: %q", row)
	}
	for _, p := range cfg.ParamShapes() {
		want := []string{p.Name, "F32", shapeString(p.Shape), thousands(int64(4 * p.Elements()))}
		found := slices.ContainsFunc(rows, func(row string) bool {
			return slices.Equal(strings.Fields(strings.ReplaceAll(row, ", ", ",")), squeeze(want))
		})
		assert.True(t, found, "row for %v", want)
	}
}

// squeeze removes the spaces inside a shape so that a row splits into fields.
func squeeze(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = strings.ReplaceAll(c, ", ", ",")
	}
	return out
}

func TestInspectSingleFile(t *testing.T) {
	path := filepath.Join(hfTinyA, "golden.safetensors")
	code, out, errOut := runInspectCmd(path)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "file        "+path+" (408,680 bytes)")
	assert.NotContains(t, out, "config")
	rows := tableRows(t, out)
	assert.Contains(t, rows, findRow(rows, "input_ids"))
	assert.Equal(t, []string{"input_ids", "I64", "[3,24]", "576"}, strings.Fields(strings.ReplaceAll(findRow(rows, "input_ids"), ", ", ",")))
	assert.Equal(t, []string{"logits", "F32", "[3,24,97]", "27,936"}, strings.Fields(strings.ReplaceAll(findRow(rows, "logits"), ", ", ",")))
}

func findRow(rows []string, name string) string {
	for _, r := range rows {
		if strings.HasPrefix(r, name+" ") {
			return r
		}
	}
	return ""
}

func TestInspectShardedAndConfigOnly(t *testing.T) {
	dir := t.TempDir()
	cfgData, err := os.ReadFile(filepath.Join(hfTinyA, "config.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), cfgData, 0o644))

	// Config only: the summary and the expected count.
	code, out, errOut := runInspectCmd(dir)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "weights     none")
	assert.Contains(t, out, "expected from the config")

	// Two shards with a BF16 tensor.
	bf, err := safetensors.FloatTensor("b", safetensors.BF16, []int{2, 3}, []float32{1, 2, 3, 4, 5, 6})
	require.NoError(t, err)
	require.NoError(t, safetensors.Write(filepath.Join(dir, "s1.safetensors"), []safetensors.Tensor{safetensors.F32Tensor("a", []int{4}, []float32{1, 2, 3, 4})}, nil))
	require.NoError(t, safetensors.Write(filepath.Join(dir, "s2.safetensors"), []safetensors.Tensor{bf}, nil))
	index := `{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, safetensors.IndexFileName), []byte(index), 0o644))
	code, out, errOut = runInspectCmd(dir)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "weights     2 files: s1.safetensors, s2.safetensors")
	assert.Contains(t, out, "tensors     2, 28 bytes of data (BF16 6, F32 4)")
	assert.Contains(t, out, "parameters  10 stored; the config expects")
	assert.Equal(t, []string{"b", "BF16", "[2,", "3]", "12"}, strings.Fields(findRow(tableRows(t, out), "b")))
}

func TestInspectBadInput(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.safetensors")
	require.NoError(t, os.WriteFile(corrupt, []byte("not a safetensors file at all"), 0o644))
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	badCfg := filepath.Join(dir, "badcfg")
	require.NoError(t, os.Mkdir(badCfg, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(badCfg, "config.json"), []byte(`{"norm_bias": true}`), 0o644))
	badIndex := filepath.Join(dir, "badindex")
	require.NoError(t, os.Mkdir(badIndex, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(badIndex, safetensors.IndexFileName), []byte(`{"weight_map":{"a":"../x"}}`), 0o644))

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing path", []string{filepath.Join(dir, "nope")}, filepath.Join(dir, "nope") + ": no such file or directory"},
		{"corrupt file", []string{corrupt}, corrupt + ": safetensors: header length"},
		{"empty directory", []string{empty}, empty + ": no config.json"},
		{"unsupported config", []string{badCfg}, "config.json: norm_bias true is not supported"},
		{"hostile index", []string{badIndex}, "not a file name in the model directory"},
		{"no path", nil, "want one PATH"},
		{"two paths", []string{dir, dir}, "got 2 arguments"},
		{"unknown flag", []string{"--frob", dir}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runInspectCmd(tt.args...)
			assert.Equal(t, 2, code)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tt.want)
			lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
			assert.Contains(t, lines[len(lines)-1], tt.want, "the error is one line")
		})
	}
}

func TestNaturalCompare(t *testing.T) {
	names := []string{"model.layers.10.w", "model.layers.2.w", "model.layers.1.x", "model.layers.1.w", "a", "model.layers.02.v", "decoder.bias"}
	slices.SortFunc(names, naturalCompare)
	assert.Equal(t, []string{"a", "decoder.bias", "model.layers.1.w", "model.layers.1.x", "model.layers.02.v", "model.layers.2.w", "model.layers.10.w"}, names)
}

func TestThousands(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 149655232: "149,655,232", -1234: "-1,234"} {
		assert.Equal(t, want, thousands(n))
	}
}
