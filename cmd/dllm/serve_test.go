package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServe starts dllm serve on a loopback port and asks it what
// dllm generate answers: the same seed gives the same answer, streamed or
// not.
func TestServe(t *testing.T) {
	_, model := briefTraining(t, 24, 2)
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	errc := make(chan error, 1)
	var stdout, stderr bytes.Buffer
	go func() {
		errc <- runServe(ctx, []string{"--model", model, "--port", "0", "--name", "copy", "--api-key", "k"}, &stdout, &stderr,
			func(addr string) { addrc <- addr })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-errc:
		t.Fatalf("serve: %v: %s", err, stderr.String())
	}
	require.True(t, strings.HasPrefix(addr, "127.0.0.1:"), addr)

	code, want, stderrGen := runCLI("generate", "--model", model, "--prompt", "Repeat: fox tree", "--seed", "9", "--temperature", "1")
	require.Equal(t, 0, code, stderrGen)
	body := `{"model":"copy","messages":[{"role":"user","content":"Repeat: fox tree"}],"seed":9,"temperature":1}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	var out struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	require.NoError(t, json.Unmarshal(b, &out))
	require.Len(t, out.Choices, 1)
	assert.Equal(t, strings.TrimSpace(want), out.Choices[0].Message.Content)

	cancel()
	require.NoError(t, <-errc)
	assert.Contains(t, stdout.String(), "stopped")
}

func TestServeFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--model is required"},
		{[]string{"--model", "x", "--port", "70000"}, "--port"},
		{[]string{"--model", "x", "--max-batch", "0"}, "must be positive"},
		{[]string{"--model", "x", "--max-n", "0"}, "must be positive"},
		{[]string{"--model", "/nonexistent"}, "/nonexistent"},
	} {
		code, _, stderr := runCLI(append([]string{"serve"}, tc.args...)...)
		assert.Equal(t, 2, code, "%v: %s", tc.args, stderr)
		assert.Contains(t, stderr, tc.want, tc.args)
	}
}
