package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/data/tokenizer"
	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/recipe"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

// tinyFolder writes a fresh model of a family's tiny preset with random
// weights, sized to the legacy tokenizer, into dir: config.json, the
// weights, tokenizer.json and a tokenizer_config.json naming [MASK].
func tinyFolder(t *testing.T, family, dir string) {
	t.Helper()
	tok, err := tokenizer.Load(filepath.Join(legacyModel, "tokenizer.json"))
	require.NoError(t, err)
	m, err := modeldir.New(family, "tiny", recipe.Fresh(tok, 64), tensor.CPU())
	require.NoError(t, err)
	m.Init(rand.New(rand.NewPCG(1, 2)))
	require.NoError(t, m.Save(dir))
	js, err := os.ReadFile(filepath.Join(legacyModel, "tokenizer.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer.json"), js, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"mask_token": "[MASK]", "pad_token": "[PAD]"}`), 0o644))
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		js, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), js, 0o644))
	}
}

// editJSON rewrites a JSON object file of dir.
func editJSON(t *testing.T, dir, name string, edit func(map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, name)
	js, err := os.ReadFile(path)
	require.NoError(t, err)
	var v map[string]any
	require.NoError(t, json.Unmarshal(js, &v))
	edit(v)
	js, err = json.Marshal(v)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, js, 0o644))
}

// shard splits dir's model.safetensors into two shards with an index.
func shard(t *testing.T, dir string) (names []string, weightMap map[string]string) {
	t.Helper()
	f, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
	require.NoError(t, err)
	names = f.Names()
	weightMap = map[string]string{}
	for s, part := range [][]string{names[:len(names)/2], names[len(names)/2:]} {
		file := []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[s]
		var ts []safetensors.Tensor
		for _, n := range part {
			info, _ := f.Info(n)
			raw, _ := f.Raw(n)
			ts = append(ts, safetensors.Tensor{Name: n, DType: info.DType, Shape: info.Shape, Data: raw})
			weightMap[n] = file
		}
		require.NoError(t, safetensors.Write(filepath.Join(dir, file), ts, nil))
	}
	require.NoError(t, os.Remove(filepath.Join(dir, "model.safetensors")))
	writeIndex(t, dir, weightMap)
	return names, weightMap
}

func writeIndex(t *testing.T, dir string, weightMap map[string]string) {
	t.Helper()
	js, err := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 1}, "weight_map": weightMap})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), js, 0o644))
}

// TestFamilyBadInput: a folder of a known family that misses a key,
// contradicts itself, or whose weights, shards, index or tokenizer disagree
// with its config is one line naming the file and the problem, exit 2, and
// nothing written, for forward (the model alone) and generate (the whole
// folder).
func TestFamilyBadInput(t *testing.T) {
	type edit func(t *testing.T, dir string)
	cfg := func(f func(map[string]any)) edit {
		return func(t *testing.T, dir string) { editJSON(t, dir, "config.json", f) }
	}
	del := func(key string) edit { return cfg(func(c map[string]any) { delete(c, key) }) }
	set := func(kv ...any) edit {
		return cfg(func(c map[string]any) {
			for i := 0; i < len(kv); i += 2 {
				c[kv[i].(string)] = kv[i+1]
			}
		})
	}
	// Weights edits, the same for every family.
	wrongShape := func(t *testing.T, dir string) {
		f, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
		require.NoError(t, err)
		var ts []safetensors.Tensor
		for _, n := range f.Names() {
			info, _ := f.Info(n)
			raw, _ := f.Raw(n)
			shape := info.Shape
			if strings.HasSuffix(n, "layers.0.self_attn.q_proj.weight") || strings.HasSuffix(n, "blocks.0.q_proj.weight") {
				shape = []int{shape[1], shape[0]} // transposed
				if shape[0] == shape[1] {
					shape = []int{shape[0] / 2, shape[1] * 2}
				}
			}
			ts = append(ts, safetensors.Tensor{Name: n, DType: info.DType, Shape: shape, Data: raw})
		}
		require.NoError(t, safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, nil))
	}
	missingShard := func(t *testing.T, dir string) {
		shard(t, dir)
		require.NoError(t, os.Remove(filepath.Join(dir, "model-00002-of-00002.safetensors")))
	}
	notInShard := func(t *testing.T, dir string) {
		names, wm := shard(t, dir)
		wm[names[0]] = "model-00002-of-00002.safetensors"
		writeIndex(t, dir, wm)
	}
	listedTwice := func(t *testing.T, dir string) {
		names, wm := shard(t, dir)
		// The same tensor twice in weight_map (JSON keeps both keys).
		js, err := json.Marshal(wm)
		require.NoError(t, err)
		dup := strings.Replace(string(js), "{", `{"`+names[0]+`": "model-00001-of-00002.safetensors", `, 1)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(`{"weight_map": `+dup+`}`), 0o644))
	}
	inTwoShards := func(t *testing.T, dir string) {
		names, wm := shard(t, dir)
		// A second copy of a tensor of shard 1 stored in shard 2 too.
		f1, err := safetensors.Open(filepath.Join(dir, "model-00001-of-00002.safetensors"))
		require.NoError(t, err)
		f2, err := safetensors.Open(filepath.Join(dir, "model-00002-of-00002.safetensors"))
		require.NoError(t, err)
		var ts []safetensors.Tensor
		for _, f := range []*safetensors.File{f2, f1} {
			for _, n := range f.Names() {
				if f == f1 && n != names[0] {
					continue
				}
				info, _ := f.Info(n)
				raw, _ := f.Raw(n)
				ts = append(ts, safetensors.Tensor{Name: n, DType: info.DType, Shape: info.Shape, Data: raw})
			}
		}
		require.NoError(t, safetensors.Write(filepath.Join(dir, "model-00002-of-00002.safetensors"), ts, nil))
		_ = wm
	}
	maskDiffers := func(t *testing.T, dir string) {
		// [UNK] (1) is not the config's mask id (4).
		require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(`{"mask_token": "[UNK]", "pad_token": "[PAD]"}`), 0o644))
	}

	type badCase struct {
		name     string
		edit     edit
		generate bool     // run generate (the tokenizer is read) rather than forward
		want     []string // in the one line
	}
	common := []badCase{
		{"tensor shape", wrongShape, false, []string{"model.safetensors", "q_proj.weight", "shape"}},
		{"missing shard", missingShard, false, []string{"model-00002-of-00002.safetensors", "no such file"}},
		{"tensor not in its shard", notInShard, false, []string{"model.safetensors.index.json", "is listed for model-00002-of-00002.safetensors but not stored there"}},
		{"index lists a tensor twice", listedTwice, false, []string{"model.safetensors.index.json", "twice"}},
		{"tensor in two shards", inTwoShards, false, []string{"model.safetensors.index.json", "also stored in"}},
		{"mask token differs", maskDiffers, true, []string{"tokenizer_config.json", "mask_token", "[UNK]", "config.json"}},
	}
	families := []struct {
		family string
		cases  []badCase
	}{
		{"llada", []badCase{
			{"missing d_model", del("d_model"), false, []string{"config.json", "d_model"}},
			{"heads do not divide", set("n_heads", 3), false, []string{"config.json", "n_heads"}},
			{"kv heads do not divide", set("n_kv_heads", 3), false, []string{"config.json", "n_kv_heads"}},
			{"block_type and activation", set("block_type", "llama", "activation_type", "gelu"), false, []string{"config.json", "activation_type"}},
		}},
		{"dream", []badCase{
			{"missing hidden_size", del("hidden_size"), false, []string{"config.json", "hidden_size"}},
			{"heads do not divide", set("num_attention_heads", 3), false, []string{"config.json", "num_attention_heads"}},
			{"kv heads do not divide", set("num_key_value_heads", 3), false, []string{"config.json", "num_key_value_heads"}},
		}},
		{"a2d", []badCase{
			{"missing hidden_size", del("hidden_size"), false, []string{"config.json", "hidden_size"}},
			{"kv heads do not divide", set("num_key_value_heads", 3), false, []string{"config.json", "num_key_value_heads"}},
			{"head_dim odd", set("head_dim", 31), false, []string{"config.json", "head_dim"}},
		}},
	}
	for _, fam := range families {
		base := t.TempDir()
		tinyFolder(t, fam.family, base)
		for _, c := range append(fam.cases, common...) {
			t.Run(fam.family+"/"+c.name, func(t *testing.T) {
				dir := t.TempDir()
				copyDir(t, base, dir)
				c.edit(t, dir)
				outDir := t.TempDir()
				out := filepath.Join(outDir, "out.safetensors")
				var args []string
				if c.generate {
					args = []string{"generate", "--model", dir, "--prompt", "hi", "--max-new-tokens", "8", "--steps", "2"}
				} else {
					batch := filepath.Join(t.TempDir(), "batch.safetensors")
					require.NoError(t, safetensors.Write(batch, []safetensors.Tensor{
						safetensors.I64Tensor("input_ids", []int{1, 4}, []int64{5, 6, 7, 8}),
					}, nil))
					args = []string{"forward", "--model", dir, "--batch", batch, "--out", out}
				}
				code, stdout, stderr := runCLI(args...)
				require.Equal(t, 2, code, "stdout %q stderr %q", stdout, stderr)
				require.Equal(t, 1, strings.Count(stderr, "\n"), stderr)
				t.Log(strings.TrimSpace(stderr))
				for _, w := range c.want {
					require.Contains(t, stderr, w)
				}
				entries, err := os.ReadDir(outDir)
				require.NoError(t, err)
				require.Empty(t, entries, "nothing written")
			})
		}
	}
}
