package serve

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// latencyBuckets are the upper bounds, in seconds, of the latency histogram.
var latencyBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// metrics are the server's counters, written out in Prometheus' text format.
type metrics struct {
	start   time.Time
	queued  atomic.Int64 // jobs waiting in the queue
	running atomic.Int64 // rows in the batch
	passes  atomic.Int64 // model calls of the batch loop
	rows    atomic.Int64 // rows over all those calls
	busy    atomic.Int64 // nanoseconds the model was busy
	tokens  atomic.Int64 // completion tokens returned

	mu       sync.Mutex
	requests map[[2]string]int64 // endpoint, status code
	latency  map[string]*histogram
}

type histogram struct {
	counts []int64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	n      int64
}

func newMetrics() *metrics {
	return &metrics{start: time.Now(), requests: map[[2]string]int64{}, latency: map[string]*histogram{}}
}

// observe counts a finished request.
func (m *metrics) observe(endpoint string, code int, took time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[2]string{endpoint, fmt.Sprint(code)}]++
	if code >= 400 {
		return
	}
	h := m.latency[endpoint]
	if h == nil {
		h = &histogram{counts: make([]int64, len(latencyBuckets)+1)}
		m.latency[endpoint] = h
	}
	s := took.Seconds()
	i, _ := slices.BinarySearch(latencyBuckets, s)
	h.counts[i]++
	h.sum += s
	h.n++
}

// write prints every metric.
func (m *metrics) write(w io.Writer) {
	up := time.Since(m.start).Seconds()
	gauge := func(name, help string, v float64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %g\n", name, help, name, name, v)
	}
	counter := func(name, help string, v float64) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %g\n", name, help, name, name, v)
	}
	passes, rows, tokens := float64(m.passes.Load()), float64(m.rows.Load()), float64(m.tokens.Load())
	gauge("dllm_queue_length", "Requests waiting for room in the batch.", float64(m.queued.Load()))
	gauge("dllm_batch_rows", "Rows (sequences, and their guidance copies) in the running batch.", float64(m.running.Load()))
	counter("dllm_forward_passes_total", "Batched model calls of the denoising loop.", passes)
	counter("dllm_batch_rows_total", "Rows over all batched model calls (divide by forward passes for the mean occupancy).", rows)
	counter("dllm_completion_tokens_total", "Completion tokens returned.", tokens)
	counter("dllm_model_busy_seconds_total", "Seconds the model spent in calls.", float64(m.busy.Load())/1e9)
	gauge("dllm_uptime_seconds", "Seconds since the server started.", up)
	occupancy := 0.0
	if passes > 0 {
		occupancy = rows / passes
	}
	gauge("dllm_batch_occupancy", "Mean rows per batched model call since the start.", occupancy)
	gauge("dllm_forward_passes_per_second", "Batched model calls per second since the start.", passes/up)
	gauge("dllm_tokens_per_second", "Completion tokens per second since the start.", tokens/up)

	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP dllm_requests_total Requests answered, by endpoint and status code.")
	fmt.Fprintln(w, "# TYPE dllm_requests_total counter")
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	for _, k := range keys {
		fmt.Fprintf(w, "dllm_requests_total{endpoint=%q,code=%q} %d\n", k[0], k[1], m.requests[k])
	}
	fmt.Fprintln(w, "# HELP dllm_request_duration_seconds Latency of successful requests.")
	fmt.Fprintln(w, "# TYPE dllm_request_duration_seconds histogram")
	eps := make([]string, 0, len(m.latency))
	for e := range m.latency {
		eps = append(eps, e)
	}
	sort.Strings(eps)
	for _, e := range eps {
		h := m.latency[e]
		cum := int64(0)
		for i, le := range latencyBuckets {
			cum += h.counts[i]
			fmt.Fprintf(w, "dllm_request_duration_seconds_bucket{endpoint=%q,le=\"%g\"} %d\n", e, le, cum)
		}
		fmt.Fprintf(w, "dllm_request_duration_seconds_bucket{endpoint=%q,le=\"+Inf\"} %d\n", e, h.n)
		fmt.Fprintf(w, "dllm_request_duration_seconds_sum{endpoint=%q} %g\n", e, h.sum)
		fmt.Fprintf(w, "dllm_request_duration_seconds_count{endpoint=%q} %d\n", e, h.n)
	}
}
