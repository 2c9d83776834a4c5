package serve

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenAIClient talks to the server with OpenAI's own client library
// for Node, streaming and not; it skips unless node finds the "openai"
// package (NODE_PATH pointing at a node_modules holding it). The answers
// must be the API's for the same seed.
func TestOpenAIClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no node")
	}
	if err := exec.Command(node, "-e", `require.resolve("openai")`).Run(); err != nil {
		t.Skip(`node cannot find the "openai" package (set NODE_PATH)`)
	}
	m := newTestModel(t, "tiny")
	_, ts := newTestServer(t, m, Options{Name: "tiny", APIKey: "k"})
	code, b := post(t, ts.URL+"/v1/chat/completions",
		`{"messages":[{"role":"user","content":"the quick fox"}],"max_tokens":16,"seed":3,"temperature":1}`, "Authorization", "Bearer k")
	require.Equal(t, http.StatusOK, code, string(b))
	want := decodeChat(t, b).Choices[0]
	code, b = post(t, ts.URL+"/v1/completions", `{"prompt":"a river","max_tokens":8,"seed":1}`, "Authorization", "Bearer k")
	require.Equal(t, http.StatusOK, code, string(b))
	wantText := decodeChat(t, b).Choices[0].Text

	cmd := exec.Command(node, "testdata/openai_client.js", ts.URL+"/v1", "k")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err)
	var got struct {
		Plain, PlainFinish, Streamed, Finish, Text string
		Chunks, BadStatus                          int
		Usage                                      *usage
		Models                                     []string
	}
	require.NoError(t, json.Unmarshal(out, &got), string(out))
	assert.Equal(t, want.Message.Content, got.Plain)
	assert.Equal(t, want.FinishReason, got.PlainFinish)
	assert.Equal(t, want.Message.Content, got.Streamed)
	assert.Equal(t, want.FinishReason, got.Finish)
	assert.Greater(t, got.Chunks, 2)
	require.NotNil(t, got.Usage)
	assert.Positive(t, got.Usage.CompletionTokens)
	assert.Equal(t, strings.TrimSpace(wantText), got.Text)
	assert.Equal(t, http.StatusBadRequest, got.BadStatus)
	assert.Equal(t, []string{"tiny"}, got.Models)
}
