package serve

import (
	"cmp"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor"
)

// serveRound sends requests chat requests from clients concurrent clients
// and returns the wall time and each request's latency.
func serveRound(b *testing.B, url string, clients, requests int) (time.Duration, []time.Duration) {
	b.Helper()
	lat := make([]time.Duration, requests)
	var wg sync.WaitGroup
	next := make(chan int, requests)
	for i := range requests {
		next <- i
	}
	close(next)
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for i := range next {
				t0 := time.Now()
				body := fmt.Sprintf(`{"messages":[{"role":"user","content":"request %d: the quick brown fox"}],"seed":%d,"max_tokens":16,"steps":16,"block_size":16}`, i, i)
				code, resp := post(b, url, body)
				require.Equal(b, http.StatusOK, code, string(resp))
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	return time.Since(start), lat
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// BenchmarkServe measures requests per second and latency of the small
// preset on the CPU, 16-token answers in 16 steps, with 1, 4 and 16
// concurrent clients: "batched" shares forward passes across requests
// (16 rows at most), "one-at-a-time" serves a request at a time (a batch of
// one row). speedup16 is batched over one-at-a-time throughput at 16
// clients. DLLM_SERVE_BENCH_DEVICE=cuda runs the model on a GPU instead.
//
// On the CPU a forward pass of the small preset is compute-bound (the
// matrix products take most of the time at one row already), so sharing
// passes saves little there; batching pays where a pass of one row leaves
// the device idle.
func BenchmarkServe(b *testing.B) {
	device := cmp.Or(os.Getenv("DLLM_SERVE_BENCH_DEVICE"), "cpu")
	be, err := tensor.Open(device)
	if err != nil {
		b.Skipf("device %s: %v", device, err)
	}
	m := newTestModelOn(b, "small", be)
	rps := map[string]float64{}
	for _, mode := range []struct {
		name     string
		maxBatch int
	}{{"batched", 16}, {"one-at-a-time", 1}} {
		_, ts := newTestServer(b, m, Options{MaxBatch: mode.maxBatch, Queue: 64})
		url := ts.URL + "/v1/chat/completions"
		serveRound(b, url, 1, 1) // warm up
		for _, clients := range []int{1, 4, 16} {
			name := fmt.Sprintf("%s/clients=%d", mode.name, clients)
			b.Run(name, func(b *testing.B) {
				var lat []time.Duration
				var wall time.Duration
				for range b.N {
					w, l := serveRound(b, url, clients, 2*clients)
					wall += w
					lat = append(lat, l...)
				}
				r := float64(len(lat)) / wall.Seconds()
				rps[name] = r
				b.ReportMetric(r, "req/s")
				b.ReportMetric(percentile(lat, 0.5).Seconds()*1000, "p50-ms")
				b.ReportMetric(percentile(lat, 0.99).Seconds()*1000, "p99-ms")
			})
		}
	}
	b.Run("speedup16", func(b *testing.B) {
		if one := rps["one-at-a-time/clients=16"]; one > 0 {
			b.ReportMetric(rps["batched/clients=16"]/one, "x")
		}
	})
}
