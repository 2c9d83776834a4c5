package serve

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBadRequests: every malformed or out-of-range request gets its 4xx in
// OpenAI's error shape, and the server goes on answering.
func TestBadRequests(t *testing.T) {
	m := newTestModel(t, "tiny")
	_, ts := newTestServer(t, m, Options{Name: "tiny", Limits: Limits{MaxBodyBytes: 4096}})
	const chat, cmpl = "/v1/chat/completions", "/v1/completions"
	msg := `"messages":[{"role":"user","content":"hi"}]`
	long := strings.Repeat("fox ", 900) // 1,800 tokens at most: within 4,096 bytes, beyond 512 positions
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		param, want              string
	}{
		{"wrong method", http.MethodGet, chat, "", 405, "", "takes POST"},
		{"no such endpoint", http.MethodPost, "/v1/nope", "{}", 404, "", "no endpoint"},
		{"empty body", http.MethodPost, chat, "", 400, "", "empty request body"},
		{"malformed JSON", http.MethodPost, chat, "{", 400, "", "malformed JSON"},
		{"two objects", http.MethodPost, chat, "{" + msg + "} {}", 400, "", "data after"},
		{"NaN literal", http.MethodPost, chat, "{" + msg + `,"temperature":NaN}`, 400, "", "malformed JSON"},
		{"messages of the wrong type", http.MethodPost, chat, `{"messages":"hi"}`, 400, "messages", "expected"},
		{"temperature of the wrong type", http.MethodPost, chat, "{" + msg + `,"temperature":"NaN"}`, 400, "temperature", "expected"},
		{"fractional max_tokens", http.MethodPost, chat, "{" + msg + `,"max_tokens":1.5}`, 400, "max_tokens", "expected"},
		{"no messages", http.MethodPost, chat, `{"messages":[]}`, 400, "messages", "at least one"},
		{"unknown role", http.MethodPost, chat, `{"messages":[{"role":"robot","content":"hi"}]}`, 400, "messages", "unknown role"},
		{"system later", http.MethodPost, chat, `{"messages":[{"role":"user","content":"a"},{"role":"system","content":"b"},{"role":"user","content":"c"}]}`, 400, "messages", "only come first"},
		{"assistant last", http.MethodPost, chat, `{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}`, 400, "messages", "last message"},
		{"image part", http.MethodPost, chat, `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}`, 400, "", "only text"},
		{"negative temperature", http.MethodPost, chat, "{" + msg + `,"temperature":-0.5}`, 400, "temperature", "between 0 and 2"},
		{"huge temperature", http.MethodPost, chat, "{" + msg + `,"temperature":1e300}`, 400, "temperature", "between 0 and 2"},
		{"overflowing temperature", http.MethodPost, chat, "{" + msg + `,"temperature":1e999}`, 400, "temperature", "expected"},
		{"zero max_tokens", http.MethodPost, chat, "{" + msg + `,"max_tokens":0}`, 400, "max_tokens", "between 1 and 1024"},
		{"too many max_tokens", http.MethodPost, chat, "{" + msg + `,"max_tokens":100000}`, 400, "max_tokens", "between 1 and 1024"},
		{"zero n", http.MethodPost, chat, "{" + msg + `,"n":0}`, 400, "n", "between 1 and 8"},
		{"too many n", http.MethodPost, chat, "{" + msg + `,"n":9}`, 400, "n", "between 1 and 8"},
		{"zero steps", http.MethodPost, chat, "{" + msg + `,"steps":0}`, 400, "steps", "between 1"},
		{"negative block size", http.MethodPost, chat, "{" + msg + `,"block_size":-4}`, 400, "block_size", "between 1"},
		{"threshold above 1", http.MethodPost, chat, "{" + msg + `,"threshold":1.5}`, 400, "threshold", "between 0 and 1"},
		{"negative cfg", http.MethodPost, chat, "{" + msg + `,"cfg":-1}`, 400, "cfg", "between 0 and 100"},
		{"zero top_p", http.MethodPost, chat, "{" + msg + `,"top_p":0}`, 400, "top_p", "above 0 and at most 1"},
		{"top_p above 1", http.MethodPost, chat, "{" + msg + `,"top_p":1.5}`, 400, "top_p", "above 0 and at most 1"},
		{"unknown remasking", http.MethodPost, chat, "{" + msg + `,"remasking":"best"}`, 400, "remasking", "low_confidence or random"},
		{"threshold with random", http.MethodPost, chat, "{" + msg + `,"remasking":"random","threshold":0.5}`, 400, "threshold", "random remasking"},
		{"five stops", http.MethodPost, chat, "{" + msg + `,"stop":["a","b","c","d","e"]}`, 400, "stop", "at most 4"},
		{"empty stop", http.MethodPost, chat, "{" + msg + `,"stop":""}`, 400, "stop", "1 to 256"},
		{"stop of numbers", http.MethodPost, chat, "{" + msg + `,"stop":[1]}`, 400, "", "string or an array"},
		{"stream options without stream", http.MethodPost, chat, "{" + msg + `,"stream_options":{"denoising":true}}`, 400, "stream_options", "stream: true"},
		{"other model", http.MethodPost, chat, "{" + msg + `,"model":"gpt-4"}`, 404, "model", "not served here"},
		{"prompt beyond positions", http.MethodPost, chat, `{"messages":[{"role":"user","content":"` + long + `"}]}`, 400, "messages", "positions"},
		{"body too large", http.MethodPost, chat, `{"messages":[{"role":"user","content":"` + strings.Repeat("x", 5000) + `"}]}`, 413, "", "exceeds 4096 bytes"},
		{"no prompt", http.MethodPost, cmpl, `{"max_tokens":4}`, 400, "prompt", "required"},
		{"prompt of objects", http.MethodPost, cmpl, `{"prompt":{"a":1}}`, 400, "", "prompt must be"},
		{"token outside vocabulary", http.MethodPost, cmpl, `{"prompt":[1,2,99999]}`, 400, "prompt", "outside the vocabulary"},
		{"negative token", http.MethodPost, cmpl, `{"prompt":[[1,-1]]}`, 400, "prompt", "outside the vocabulary"},
		{"mask token", http.MethodPost, cmpl, fmt.Sprintf(`{"prompt":[%d]}`, m.mask), 400, "prompt", "the mask"},
		{"no prompts", http.MethodPost, cmpl, `{"prompt":[]}`, 400, "prompt", "required"},
		{"empty prompt", http.MethodPost, cmpl, `{"prompt":[""]}`, 400, "prompt", "empty"},
		{"logprobs without echo", http.MethodPost, cmpl, `{"prompt":"a","logprobs":1}`, 400, "logprobs", "echo"},
		{"too many logprobs", http.MethodPost, cmpl, `{"prompt":"a","echo":true,"logprobs":9}`, 400, "logprobs", "between 0 and 5"},
		{"echo streamed", http.MethodPost, cmpl, `{"prompt":"a","echo":true,"stream":true}`, 400, "echo", "cannot be streamed"},
		{"prompts times n", http.MethodPost, cmpl, `{"prompt":["a","b","c","d","e"],"n":7}`, 400, "n", "35 choices exceed the limit of 32"},
		{"models by POST", http.MethodPost, "/v1/models", "{}", 405, "", "takes GET"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, ts.URL+tc.path, bytes.NewReader([]byte(tc.body)))
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			require.Equal(t, tc.code, resp.StatusCode, b.String())
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			e := errorOf(t, b.Bytes())
			assert.Contains(t, e.Error.Message, tc.want)
			assert.NotEmpty(t, e.Error.Type)
			if tc.param != "" {
				require.NotNil(t, e.Error.Param, b.String())
				assert.Equal(t, tc.param, *e.Error.Param)
			}
		})
	}
	code, b := post(t, ts.URL+chat, "{"+msg+`,"max_tokens":4}`)
	require.Equal(t, http.StatusOK, code, "the server still answers: %s", b)
}

// FuzzDecodeChatRequest: the request decoder never panics, and whatever it
// accepts is within the limits.
func FuzzDecodeChatRequest(f *testing.F) {
	for _, seed := range []string{
		`{"messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"a"}]}],"n":2,"seed":-3}`,
		`{"messages":[{"role":"user","content":"x"}],"temperature":0.7,"max_tokens":64,"steps":32,"block_size":8,"threshold":0.9,"cfg":1.5,"remasking":"low_confidence"}`,
		`{"messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":true,"denoising":true},"stop":["\n","end"]}`,
		`{"messages":[{"role":"user","content":null}],"stop":"x","top_p":1}`,
		`{"messages":[{"role":"assistant","content":"x"}]}`,
		`{"messages":[],"temperature":-1}`,
		`{"messages":"x"}`,
		`{"messages":[{"role":"user","content":"x"}],"max_tokens":1e10}`,
		`{"messages":[{"role":"user","content":"x"}],"remasking":"random","threshold":0.5}`,
		`[1,2,3]`,
		`{"messages":[{"role":"user","content":"x"}]} trailing`,
		`{`,
		``,
		`null`,
	} {
		f.Add([]byte(seed))
	}
	lim := DefaultLimits
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeChatRequest(bytes.NewReader(b), lim)
		if err != nil {
			ae, ok := err.(*apiError)
			if !ok || ae.status < 400 || ae.status >= 500 || ae.message == "" {
				t.Fatalf("decoder error %v (%T) is not a 4xx apiError", err, err)
			}
			return
		}
		if len(req.Messages) == 0 || len(req.Messages) > lim.MaxMessages {
			t.Fatalf("accepted %d messages", len(req.Messages))
		}
		s := req.Sampling
		if s.Temperature != nil && !(*s.Temperature >= 0 && *s.Temperature <= 2) {
			t.Fatalf("accepted temperature %v", *s.Temperature)
		}
		if s.MaxTokens != nil && (*s.MaxTokens < 1 || *s.MaxTokens > lim.MaxTokens) {
			t.Fatalf("accepted max_tokens %d", *s.MaxTokens)
		}
		if n := s.choices(); n < 1 || n > lim.MaxN {
			t.Fatalf("accepted n %d", n)
		}
		if s.Steps != nil && (*s.Steps < 1 || *s.Steps > lim.MaxTokens) {
			t.Fatalf("accepted steps %d", *s.Steps)
		}
	})
}
