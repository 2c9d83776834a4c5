package serve

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/data/tokenizer"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/tensor"
)

// testModel is a real ModernBERT with a trained tokenizer and the BERT chat
// template, randomly initialised: what the server does with a model, not
// what the model says, is under test.
type testModel struct {
	net   mdlm.Denoiser
	bert  *bert.Model
	tok   *tokenizer.Tokenizer
	tpl   data.Template
	mask  int32
	pad   int32
	stops [][]int32
	gen   mdlm.SamplerConfig
}

func (m *testModel) ChatPrompt(msgs []data.Message) ([]int32, error) {
	text, err := m.tpl.Render(msgs, true)
	if err != nil {
		return nil, err
	}
	return m.Encode(text), nil
}

func (m *testModel) Encode(text string) []int32 {
	var out []int32
	for _, id := range m.tok.Encode(text, false) {
		out = append(out, int32(id))
	}
	return out
}

func (m *testModel) Decode(ids []int32) string {
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = int(id)
	}
	return m.tok.Decode(out, true)
}

func (m *testModel) EndOfTurn() string                 { return m.tpl.EndOfTurn() }
func (m *testModel) SamplerConfig() mdlm.SamplerConfig { return m.gen }
func (m *testModel) Denoiser() mdlm.Denoiser           { return m.net }
func (m *testModel) MaxPositions() int                 { return m.bert.Config.MaxPositions }

var corpus = strings.Fields(`the quick brown fox jumps over the lazy dog while a river runs past
green hills under a bright cloud and night falls on the stone bridge by the old tree`)

var (
	tokOnce sync.Once
	tok     *tokenizer.Tokenizer
	tokErr  error
)

// newTestModel builds a model of the named preset ("tiny" for tests,
// "small" for the benchmark) with a small trained vocabulary; the model
// answers in at most 16 tokens, 8 per block, one token per step.
func newTestModel(t testing.TB, preset string) *testModel {
	t.Helper()
	return newTestModelOn(t, preset, tensor.CPU())
}

// newTestModelOn is newTestModel on a backend.
func newTestModelOn(t testing.TB, preset string, be tensor.Backend) *testModel {
	t.Helper()
	tokOnce.Do(func() {
		texts := func(yield func(string) bool) {
			for i := range 200 {
				w := corpus[i%len(corpus)] + " " + corpus[(i*7)%len(corpus)] + " " + data.BertChatTemplate{}.EndOfTurn()
				if !yield(w) {
					return
				}
			}
		}
		tok, tokErr = tokenizer.Train(texts, tokenizer.TrainConfig{VocabSize: 320, IsolateSpaces: true})
	})
	require.NoError(t, tokErr)
	cfg, err := bert.Preset(preset)
	require.NoError(t, err)
	cfg.VocabSize = tok.VocabSize()
	id := func(name string) int32 {
		v, ok := tok.TokenToID(name)
		require.True(t, ok, name)
		return int32(v)
	}
	m := &testModel{tok: tok, tpl: data.BertChatTemplate{}, mask: id("[MASK]"), pad: id("[PAD]")}
	cfg.PadTokenID, cfg.MaskTokenID = int(m.pad), int(m.mask)
	cfg.CLSTokenID, cfg.SEPTokenID = int(id("[CLS]")), int(id("[SEP]"))
	cfg.BOSTokenID, cfg.EOSTokenID = cfg.CLSTokenID, cfg.SEPTokenID
	cfg.InitializerRange = 0.2 // clear preferences, so that answers differ by prompt
	require.NoError(t, cfg.Validate())
	m.bert = bert.New(cfg, be)
	m.bert.Init(rand.New(rand.NewPCG(3, 4)))
	m.net = m.bert
	m.stops = [][]int32{m.Encode(m.tpl.EndOfTurn())}
	m.gen = mdlm.DefaultSamplerConfig(m.mask, m.pad)
	m.gen.MaxNewTokens, m.gen.Steps, m.gen.BlockSize = 16, 16, 8
	m.gen.StopSequences = m.stops
	m.gen.SuppressTokens = []int32{id("[CLS]"), id("[SEP]"), id("[UNK]")}
	return m
}

// newTestServer serves m on a loopback listener.
func newTestServer(t testing.TB, m Model, o Options) (*Server, *httptest.Server) {
	t.Helper()
	s := New(m, o)
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return s, ts
}

// post sends a JSON body and returns the status and the body.
func post(t testing.TB, url, body string, header ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// chatResponse is the part of a chat completion the tests read.
type chatResponse struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		Text         string `json:"text"`
		FinishReason string `json:"finish_reason"`
		Logprobs     *struct {
			Tokens        []string   `json:"tokens"`
			TokenLogprobs []*float64 `json:"token_logprobs"`
		} `json:"logprobs"`
	} `json:"choices"`
	Usage usage `json:"usage"`
}

func decodeChat(t testing.TB, b []byte) chatResponse {
	t.Helper()
	var r chatResponse
	require.NoError(t, json.Unmarshal(b, &r), string(b))
	return r
}

// sseEvents reads a stream's data lines until [DONE].
func sseEvents(t testing.TB, body []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	done := false
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		payload, ok := strings.CutPrefix(line, "data: ")
		require.True(t, ok, "not a data line: %q", line)
		require.False(t, done, "data after [DONE]")
		if payload == "[DONE]" {
			done = true
			continue
		}
		var ev map[string]any
		require.NoError(t, json.Unmarshal([]byte(payload), &ev), payload)
		out = append(out, ev)
	}
	require.True(t, done, "stream did not end with [DONE]")
	return out
}

// errorOf reads an error response.
func errorOf(t testing.TB, b []byte) errorBody {
	t.Helper()
	var e errorBody
	require.NoError(t, json.Unmarshal(b, &e), string(b))
	require.NotEmpty(t, e.Error.Message, string(b))
	return e
}
