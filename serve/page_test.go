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

// TestPageScript runs the page's own script in Node (skipped without it)
// with a stand-in for the DOM against a live server: a question gets the
// answer the API gives for the same settings, and denoising frames are
// drawn on the way.
func TestPageScript(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("no node to run the page's script")
	}
	m := newTestModel(t, "tiny")
	_, ts := newTestServer(t, m, Options{})
	code, b := post(t, ts.URL+"/v1/chat/completions",
		`{"messages":[{"role":"user","content":"the lazy dog"}],"seed":11,"max_tokens":16,"steps":8,"block_size":4,"temperature":0,"threshold":0,"cfg":0,"remasking":"low_confidence"}`)
	require.Equal(t, http.StatusOK, code, string(b))
	want := decodeChat(t, b).Choices[0]

	cmd := exec.Command(node, "testdata/page_harness.js", ts.URL, "the lazy dog", "11")
	cmd.Stdin = strings.NewReader(string(pageHTML))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err)
	var got struct {
		Answer  string
		Meta    string
		Spans   int
		Failed  bool
		History int
	}
	require.NoError(t, json.Unmarshal(out, &got), string(out))
	require.False(t, got.Failed, "the page showed an error: %s", got.Answer)
	assert.Equal(t, 2, got.History)
	assert.Equal(t, want.Message.Content, got.Answer)
	assert.Positive(t, got.Spans, "no denoising frame was drawn")
	assert.Contains(t, got.Meta, "step ")
	assert.Contains(t, got.Meta, want.FinishReason)
}
