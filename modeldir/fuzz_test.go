package modeldir

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/data/tokenizer"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/tensor"
)

// The fuzzers of the files a model folder holds besides the weights (the
// safetensors parser has its own in tensor/safetensors). Their seed corpora
// are testdata/fuzz/<name>; `go test` runs the seeds, `make fuzz` mutates
// them. Whatever the bytes, a parser returns a value or an error, never
// panics, and an error is one line naming the file.

// FuzzConfig reads config.json through the registry, so that each family's
// parser (ModernBERT in both spellings, LLaDA, LLaDA-MoE, RND1, Dream, A2D
// Llama/Qwen2/Qwen3) is reached by the model_type or architectures the
// bytes name. The folder holds no weights: LoadModel must fail, and must
// not build the model (a config naming a huge model would take the
// memory) before finding that out.
func FuzzConfig(f *testing.F) {
	for _, fam := range families {
		f.Add([]byte(`{"model_type": "` + fam.ModelTypes[0] + `"}`))
	}
	f.Fuzz(func(t *testing.T, js []byte) {
		watchdog(t)
		dir := t.TempDir()
		path := filepath.Join(dir, ConfigFile)
		require.NoError(t, os.WriteFile(path, js, 0o644))
		if _, _, err := Detect(dir); err != nil {
			oneLineNaming(t, err, path)
			return
		}
		if _, err := Describe(dir); err != nil {
			oneLineNaming(t, err, ConfigFile)
		}
		_, err := LoadModel(dir, tensor.CPU())
		require.Error(t, err, "a folder without weights loaded")
		oneLineNaming(t, err, dir)
	})
}

// legacyParts is the legacy folder's model and tokenizer, loaded once for
// the fuzzers that attach configuration files to them.
var legacyParts = sync.OnceValues(func() (lm.Model, *tokenizer.Tokenizer) {
	dir := filepath.Join(legacyDir, "model")
	m, err := LoadModel(dir, tensor.CPU())
	if err != nil {
		panic(err)
	}
	tok, err := tokenizer.Load(filepath.Join(dir, TokenizerFile))
	if err != nil {
		panic(err)
	}
	return m, tok
})

// FuzzGenerationConfig and FuzzTokenizerConfig attach a
// tokenizer_config.json and a generation_config.json to a model: special
// tokens by name or id, the chat template, the sampling defaults. What
// comes out must hold: special ids inside the vocabulary, sizes not
// negative, a prompt that renders.
func FuzzTokenizerConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, tcJS []byte) {
		checkAttach(t, tcJS, nil)
	})
}

func FuzzGenerationConfig(f *testing.F) {
	f.Fuzz(func(t *testing.T, genJS []byte) {
		checkAttach(t, nil, genJS)
	})
}

func checkAttach(t *testing.T, tcJS, genJS []byte) {
	m, tok := legacyParts()
	b, err := attach("model", m, tok, tcJS, genJS)
	if err != nil {
		oneLineNaming(t, err, "model")
		return
	}
	v := int32(m.VocabSize())
	for _, id := range []int32{b.MaskID, b.PadID, b.BOSID, b.EOSID} {
		require.True(t, id == lm.NoToken || (id >= 0 && id < v), "special id %d outside [0, %d)", id, v)
	}
	require.NotEqual(t, lm.NoToken, b.MaskID)
	require.NotEqual(t, lm.NoToken, b.PadID)
	for _, id := range b.Suppress {
		require.True(t, id >= 0 && id < v, "suppressed id %d outside [0, %d)", id, v)
	}
	g := b.Generation
	require.True(t, g.MaxNewTokens >= 0 && g.Steps >= 0 && g.BlockSize >= 0, "%+v", g)
	c := b.SamplerConfig()
	require.True(t, c.MaxNewTokens > 0 && c.Steps > 0 && c.BlockSize > 0, "%+v", c)
	_, err = b.Prompt([]data.Message{{Role: data.RoleUser, Content: "hello"}})
	require.NoError(t, err)
}

// watchdog crashes the process when one input takes longer than a parser
// may (go test -fuzz has no time limit of its own, and would only stall):
// the fuzzer then keeps the input as a failure.
func watchdog(t *testing.T) {
	timer := time.AfterFunc(20*time.Second, func() {
		panic(fmt.Sprintf("%s: one input took over 20s", t.Name()))
	})
	t.Cleanup(func() { timer.Stop() })
}

// oneLineNaming checks an error is one line that names what it is about.
func oneLineNaming(t *testing.T, err error, name string) {
	t.Helper()
	msg := err.Error()
	require.NotContains(t, msg, "\n", "an error of more than one line")
	require.Contains(t, msg, name)
}

// TestFuzzSeedsCoverEveryFamily keeps FuzzConfig's corpus honest: each
// registered model_type has a seed that spells a whole config.json.
func TestFuzzSeedsCoverEveryFamily(t *testing.T) {
	entries, err := os.ReadDir("testdata/fuzz/FuzzConfig")
	require.NoError(t, err)
	var corpus strings.Builder
	for _, e := range entries {
		js, err := os.ReadFile(filepath.Join("testdata/fuzz/FuzzConfig", e.Name()))
		require.NoError(t, err)
		corpus.Write(js)
	}
	for _, fam := range families {
		for _, mt := range fam.ModelTypes {
			require.Contains(t, corpus.String(), `\"model_type\": \"`+mt+`\"`, "no FuzzConfig seed for model_type %s", mt)
		}
	}
}

// TestIDsDoNotWrapAround: an id past int32 in generation_config.json or
// tokenizer_config.json's added_tokens_decoder is refused, not wrapped into
// the vocabulary (4294967300 would have read as 4, the legacy [MASK]).
func TestIDsDoNotWrapAround(t *testing.T) {
	m, tok := legacyParts()
	_, err := attach("model", m, tok, nil, []byte(`{"mask_token_id": 4294967300}`))
	require.ErrorContains(t, err, "out of range")
	_, err = attach("model", m, tok, []byte(`{"mask_token": "<|m|>", "added_tokens_decoder": {"4294967300": {"content": "<|m|>"}}}`), nil)
	require.ErrorContains(t, err, `names "<|m|>"`)
}
