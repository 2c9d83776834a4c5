package serve

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/mdlm"
)

// generateAlone is what the sampler gives for a conversation by itself:
// mdlm.Generate, as `dllm generate --seed` runs it.
func generateAlone(t *testing.T, m *testModel, user string, seed uint64, f func(*mdlm.SamplerConfig)) (string, *mdlm.Output) {
	t.Helper()
	prompt, err := m.ChatPrompt([]data.Message{{Role: "user", Content: user}})
	require.NoError(t, err)
	c := m.SamplerConfig()
	if f != nil {
		f(&c)
	}
	out, err := mdlm.Generate(m.Denoiser(), [][]int32{prompt}, c, mdlm.NewRand(seed))
	require.NoError(t, err)
	return strings.TrimSpace(m.Decode(out.Samples[0].Answer)), out
}

func TestChatCompletion(t *testing.T) {
	m := newTestModel(t, "tiny")
	_, ts := newTestServer(t, m, Options{Name: "tiny"})
	for _, tc := range []struct {
		name string
		body string
		seed uint64
		f    func(*mdlm.SamplerConfig)
	}{
		{"defaults", `{"model":"tiny","messages":[{"role":"user","content":"the quick fox"}],"seed":1}`, 1, nil},
		{"sampled", `{"messages":[{"role":"user","content":"green hills"}],"seed":7,"temperature":1,"remasking":"random","max_tokens":12,"steps":6,"block_size":4}`, 7,
			func(c *mdlm.SamplerConfig) {
				c.Temperature, c.Remasking, c.MaxNewTokens, c.Steps, c.BlockSize = 1, mdlm.RandomRemasking, 12, 6, 4
			}},
		{"guided threshold", `{"messages":[{"role":"user","content":[{"type":"text","text":"green hills"}]}],"seed":3,"cfg":1,"threshold":0.3}`, 3,
			func(c *mdlm.SamplerConfig) { c.CFGScale, c.Threshold = 1, 0.3 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(t, ts.URL+"/v1/chat/completions", tc.body)
			require.Equal(t, http.StatusOK, code, string(body))
			r := decodeChat(t, body)
			assert.Equal(t, "chat.completion", r.Object)
			assert.Equal(t, "tiny", r.Model)
			require.Len(t, r.Choices, 1)
			assert.Equal(t, "assistant", r.Choices[0].Message.Role)
			user := "the quick fox"
			if tc.name != "defaults" {
				user = "green hills"
			}
			want, out := generateAlone(t, m, user, tc.seed, tc.f)
			assert.Equal(t, want, r.Choices[0].Message.Content)
			t.Logf("answer %q (%d tokens, stopped %v)", want, len(out.Samples[0].Answer), out.Samples[0].Stopped)
			finish := "length"
			if out.Samples[0].Stopped {
				finish = "stop"
			}
			assert.Equal(t, finish, r.Choices[0].FinishReason)
			assert.Equal(t, len(out.Samples[0].Answer), r.Usage.CompletionTokens)
			assert.Positive(t, r.Usage.PromptTokens)
		})
	}
}

// TestChatN: n choices are rows 0..n-1 of one sampler call: independent
// samples, the first one the answer of n = 1.
func TestChatN(t *testing.T) {
	m := newTestModel(t, "tiny")
	_, ts := newTestServer(t, m, Options{})
	body := `{"messages":[{"role":"user","content":"night falls"}],"seed":5,"temperature":1,"n":%d}`
	code, b := post(t, ts.URL+"/v1/chat/completions", fmt.Sprintf(body, 3))
	require.Equal(t, http.StatusOK, code, string(b))
	r := decodeChat(t, b)
	require.Len(t, r.Choices, 3)
	prompt, err := m.ChatPrompt([]data.Message{{Role: "user", Content: "night falls"}})
	require.NoError(t, err)
	c := m.SamplerConfig()
	c.Temperature = 1
	out, err := mdlm.Generate(m.Denoiser(), [][]int32{prompt, prompt, prompt}, c, mdlm.NewRand(5))
	require.NoError(t, err)
	for i, ch := range r.Choices {
		assert.Equal(t, i, ch.Index)
		assert.Equal(t, strings.TrimSpace(m.Decode(out.Samples[i].Answer)), ch.Message.Content, "choice %d", i)
	}
	code, b = post(t, ts.URL+"/v1/chat/completions", fmt.Sprintf(body, 1))
	require.Equal(t, http.StatusOK, code, string(b))
	assert.Equal(t, r.Choices[0].Message.Content, decodeChat(t, b).Choices[0].Message.Content)
}

// TestChatStream: the deltas of a stream add up to the answer of the same
// request unstreamed; with denoising, every step sends its canvas.
func TestChatStream(t *testing.T) {
	m := newTestModel(t, "tiny")
	_, ts := newTestServer(t, m, Options{})
	req := `{"messages":[{"role":"user","content":"a bright cloud"}],"seed":2,"temperature":1,"max_tokens":16,"steps":8,"block_size":4`
	code, b := post(t, ts.URL+"/v1/chat/completions", req+`}`)
	require.Equal(t, http.StatusOK, code, string(b))
	want := decodeChat(t, b).Choices[0]

	for _, denoise := range []bool{false, true} {
		body := req + `,"stream":true,"stream_options":{"include_usage":true,"denoising":` + fmt.Sprint(denoise) + `}}`
		code, b := post(t, ts.URL+"/v1/chat/completions", body)
		require.Equal(t, http.StatusOK, code, string(b))
		events := sseEvents(t, b)
		var text strings.Builder
		finish, frames, usage := "", 0, false
		for i, ev := range events {
			assert.Equal(t, "chat.completion.chunk", ev["object"])
			if d, ok := ev["denoising"].(map[string]any); ok {
				frames++
				toks := d["tokens"].([]any)
				assert.Len(t, toks, 16)
				assert.EqualValues(t, 4, d["block_size"])
			}
			if u, ok := ev["usage"]; ok {
				usage = true
				assert.Positive(t, u.(map[string]any)["completion_tokens"])
				continue
			}
			ch := ev["choices"].([]any)[0].(map[string]any)
			delta := ch["delta"].(map[string]any)
			if i == 0 {
				assert.Equal(t, "assistant", delta["role"])
			}
			if c, ok := delta["content"].(string); ok {
				text.WriteString(c)
			}
			if f, ok := ch["finish_reason"].(string); ok {
				finish = f
			}
		}
		assert.Equal(t, want.Message.Content, text.String(), "denoising %v", denoise)
		assert.Equal(t, want.FinishReason, finish)
		assert.True(t, usage)
		if denoise {
			// The initial canvas and one frame per step (at most 8; fewer
			// when the answer ends early).
			assert.GreaterOrEqual(t, frames, 2)
			assert.LessOrEqual(t, frames, 9)
		} else {
			assert.Zero(t, frames)
		}
	}
}

func TestCompletions(t *testing.T) {
	m := newTestModel(t, "tiny")
	_, ts := newTestServer(t, m, Options{})
	code, b := post(t, ts.URL+"/v1/completions", `{"prompt":["the quick brown","a river"],"seed":4,"max_tokens":8,"n":2}`)
	require.Equal(t, http.StatusOK, code, string(b))
	r := decodeChat(t, b)
	require.Len(t, r.Choices, 4)
	c := m.SamplerConfig()
	c.MaxNewTokens, c.BlockSize = 8, 8
	for p, text := range []string{"the quick brown", "a river"} {
		prompt := m.Encode(text)
		out, err := mdlm.Generate(m.Denoiser(), [][]int32{prompt, prompt}, c, mdlm.NewRand(4))
		require.NoError(t, err)
		for k := range 2 {
			assert.Equal(t, strings.TrimSpace(m.Decode(out.Samples[k].Answer)), r.Choices[2*p+k].Text)
		}
	}
	// Token ids work like text, and echo puts the prompt first.
	ids := m.Encode("the quick brown")
	js := strings.ReplaceAll(fmt.Sprint(ids), " ", ",")
	code, b = post(t, ts.URL+"/v1/completions", `{"prompt":`+js+`,"seed":4,"max_tokens":8,"echo":true}`)
	require.Equal(t, http.StatusOK, code, string(b))
	assert.Equal(t, "the quick brown"+r.Choices[0].Text, decodeChat(t, b).Choices[0].Text)
}

func TestModelsHealthMetricsPage(t *testing.T) {
	m := newTestModel(t, "tiny")
	_, ts := newTestServer(t, m, Options{Name: "tiny", APIKey: "secret"})
	get := func(path string, auth bool) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer secret")
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/health", false)
	assert.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"status":"ok"}`, body)
	code, body = get("/", false)
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "<title>")
	for _, path := range []string{"/v1/models", "/metrics"} {
		code, body = get(path, false)
		assert.Equal(t, http.StatusUnauthorized, code, path)
		assert.Equal(t, "invalid_api_key", *errorOf(t, []byte(body)).Error.Code)
	}
	code, body = get("/v1/models", true)
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"id":"tiny"`)

	code, b := post(t, ts.URL+"/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`, "Authorization", "Bearer secret")
	require.Equal(t, http.StatusOK, code, string(b))
	code, b = post(t, ts.URL+"/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`, "Authorization", "Bearer wrong")
	require.Equal(t, http.StatusUnauthorized, code, string(b))

	code, body = get("/metrics", true)
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{
		`dllm_requests_total{endpoint="chat",code="200"} 1`,
		`dllm_requests_total{endpoint="chat",code="401"} 1`,
		"# TYPE dllm_request_duration_seconds histogram",
		`dllm_request_duration_seconds_bucket{endpoint="chat",le="+Inf"} 1`,
		"dllm_queue_length 0",
		"dllm_forward_passes_total ",
		"dllm_tokens_per_second ",
		"dllm_batch_occupancy ",
	} {
		assert.Contains(t, body, want)
	}
}

// TestRequestLargerThanBatch: a request with more choices than the batch
// has rows runs alone and is answered.
func TestRequestLargerThanBatch(t *testing.T) {
	m := newTestModel(t, "tiny")
	_, ts := newTestServer(t, m, Options{MaxBatch: 2})
	code, b := post(t, ts.URL+"/v1/completions", `{"prompt":["a","b","c"],"n":2,"max_tokens":4,"seed":1}`)
	require.Equal(t, http.StatusOK, code, string(b))
	r := decodeChat(t, b)
	require.Len(t, r.Choices, 6)
	for i, c := range r.Choices {
		assert.Equal(t, i, c.Index)
	}
}
