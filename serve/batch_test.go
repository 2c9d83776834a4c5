package serve

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/mdlm"
)

// gate wraps a denoiser: it records the batch of every call and, while
// closed, holds calls until it is opened.
type gate struct {
	mdlm.Denoiser
	mu      sync.Mutex
	hold    chan struct{} // nil: open
	entered chan struct{} // a call arrived (capacity 1)
	batches []int
}

func newGate(d mdlm.Denoiser) *gate {
	return &gate{Denoiser: d, hold: make(chan struct{}), entered: make(chan struct{}, 1)}
}

func (g *gate) Logits(ids []int32, batch, seqLen int, keyMask, rows []int32) ([]float32, error) {
	g.mu.Lock()
	g.batches = append(g.batches, batch)
	hold := g.hold
	g.mu.Unlock()
	select {
	case g.entered <- struct{}{}:
	default:
	}
	if hold != nil {
		<-hold
	}
	return g.Denoiser.Logits(ids, batch, seqLen, keyMask, rows)
}

func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.hold != nil {
		close(g.hold)
		g.hold = nil
	}
}

func (g *gate) maxBatch() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	m := 0
	for _, b := range g.batches {
		m = max(m, b)
	}
	return m
}

// gated returns a copy of m whose network runs behind a closed gate.
func gated(m *testModel) (*testModel, *gate) {
	g := newGate(m.net)
	c := *m
	c.net = g
	return &c, g
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestBatchedAnswersMatchAlone: requests with different prompts, lengths,
// settings and seeds, queued while the model is busy and then run together
// in shared forward passes, each get exactly the answer of their request
// alone.
func TestBatchedAnswersMatchAlone(t *testing.T) {
	m := newTestModel(t, "tiny")
	gm, g := gated(m)
	s, ts := newTestServer(t, gm, Options{MaxBatch: 16})
	type req struct {
		user  string
		extra string
		seed  uint64
		f     func(*mdlm.SamplerConfig)
	}
	reqs := []req{
		{"the quick fox", `"temperature":1,"remasking":"random"`, 1, func(c *mdlm.SamplerConfig) { c.Temperature, c.Remasking = 1, mdlm.RandomRemasking }},
		{"a", `"temperature":0.8,"max_tokens":8,"steps":4`, 2, func(c *mdlm.SamplerConfig) { c.Temperature, c.MaxNewTokens, c.Steps, c.BlockSize = 0.8, 8, 4, 8 }},
		{"green hills under a bright cloud and night falls", `"temperature":1.5,"block_size":4`, 3, func(c *mdlm.SamplerConfig) { c.Temperature, c.BlockSize = 1.5, 4 }},
		{"the lazy dog", `"cfg":0.5,"temperature":1`, 4, func(c *mdlm.SamplerConfig) { c.CFGScale, c.Temperature = 0.5, 1 }},
		{"river", `"threshold":0.2`, 5, func(c *mdlm.SamplerConfig) { c.Threshold = 0.2 }},
		{"old tree stone bridge", `"temperature":1,"max_tokens":12,"steps":12,"block_size":3`, 6, func(c *mdlm.SamplerConfig) {
			c.Temperature, c.MaxNewTokens, c.Steps, c.BlockSize = 1, 12, 12, 3
		}},
		{"the quick fox", `"temperature":1,"remasking":"random"`, 7, func(c *mdlm.SamplerConfig) { c.Temperature, c.Remasking = 1, mdlm.RandomRemasking }},
		{"night falls", `"temperature":1.5,"top_p":0.5`, 8, func(c *mdlm.SamplerConfig) { c.Temperature, c.Truncation.TopP = 1.5, 0.5 }},
	}
	// The first request holds the model; the others queue behind it.
	answers := make([]string, len(reqs))
	var wg sync.WaitGroup
	for i, r := range reqs {
		if i == 1 {
			<-g.entered
		}
		wg.Go(func() {
			body := fmt.Sprintf(`{"messages":[{"role":"user","content":%q}],"seed":%d,%s}`, r.user, r.seed, r.extra)
			code, b := post(t, ts.URL+"/v1/chat/completions", body)
			if assert.Equal(t, http.StatusOK, code, string(b)) {
				answers[i] = decodeChat(t, b).Choices[0].Message.Content
			}
		})
	}
	waitFor(t, "the queue to fill", func() bool { return s.met.queued.Load() == int64(len(reqs)-1) })
	g.open()
	wg.Wait()
	for i, r := range reqs {
		want, _ := generateAlone(t, m, r.user, r.seed, r.f)
		assert.Equal(t, want, answers[i], "request %d", i)
	}
	// top_p reaches the sampler: without it the last request answers otherwise.
	last := reqs[len(reqs)-1]
	untruncated, _ := generateAlone(t, m, last.user, last.seed, func(c *mdlm.SamplerConfig) { c.Temperature = 1.5 })
	assert.NotEqual(t, untruncated, answers[len(reqs)-1])
	// Eight requests, one of them guided: the batch held nine rows.
	assert.Equal(t, len(reqs)+1, g.maxBatch())
}

// TestQueueFull: with the batch full and the queue full, a request gets 429
// at once; the others are answered when the model frees up.
func TestQueueFull(t *testing.T) {
	m := newTestModel(t, "tiny")
	gm, g := gated(m)
	s, ts := newTestServer(t, gm, Options{MaxBatch: 1, Queue: 1})
	body := `{"messages":[{"role":"user","content":"hi"}],"max_tokens":4}`
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Go(func() { codes[i], _ = post(t, ts.URL+"/v1/chat/completions", body) })
		if i == 0 {
			<-g.entered
		}
	}
	waitFor(t, "the queue to fill", func() bool { return s.met.queued.Load() == 1 })
	code, b := post(t, ts.URL+"/v1/chat/completions", body)
	require.Equal(t, http.StatusTooManyRequests, code, string(b))
	e := errorOf(t, b)
	assert.Equal(t, "queue_full", *e.Error.Code)
	g.open()
	wg.Wait()
	assert.Equal(t, []int{200, 200}, codes)
}

// TestTimeoutAndCancel: a request past its timeout gets 504, a client that
// goes away leaves the queue, and the server goes on answering.
func TestTimeoutAndCancel(t *testing.T) {
	m := newTestModel(t, "tiny")
	gm, g := gated(m)
	s, ts := newTestServer(t, gm, Options{Timeout: 200 * time.Millisecond})
	body := `{"messages":[{"role":"user","content":"hi"}],"max_tokens":4}`
	code, b := post(t, ts.URL+"/v1/chat/completions", body)
	require.Equal(t, http.StatusGatewayTimeout, code, string(b))
	assert.Contains(t, errorOf(t, b).Error.Message, "took longer")

	// A streaming client that hangs up while its request is in the batch.
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+"/v1/chat/completions",
		strings.NewReader(`{"messages":[{"role":"user","content":"hi"}],"max_tokens":16,"steps":16,"stream":true}`))
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
	}()
	// The model still holds the timed-out request's step: this one waits in
	// the queue.
	waitFor(t, "the request to be queued", func() bool { return s.met.queued.Load() == 1 })
	cancel()
	<-done
	g.open()
	waitFor(t, "the batch to empty", func() bool { return s.met.running.Load() == 0 && s.met.queued.Load() == 0 })

	code, b = post(t, ts.URL+"/v1/chat/completions", body)
	require.Equal(t, http.StatusOK, code, "the first server recovered: %s", b)
}
