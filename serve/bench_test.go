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

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// benchMode is one server of BenchmarkServe and what its rounds measured.
type benchMode struct {
	name     string
	maxBatch int
	srv      *Server
	url      string
	rps, cpu []float64 // per round: requests per wall second, process CPU ms per request
	quiet    []float64 // per round: requests per second on a quiet machine (estimate)
	lat      []time.Duration
}

// BenchmarkServe measures requests per second and latency of the small
// preset on the CPU, 16-token answers in 16 steps, with 1, 4 and 16
// concurrent clients: "batched" shares forward passes across requests
// (16 rows at most), "one-at-a-time" serves a request at a time (a batch of
// one row). Both servers live in one process and take turns: each of the
// b.N rounds sends 2×clients requests to one and then the other (the order
// alternating), so that a shared machine's changing load falls on both
// alike; the reported rates are the medians over rounds and speedup is the
// ratio of the medians. cpu-ms/req is the process's CPU time (user and
// system, every thread, the in-process clients included) per request, a
// measure of work that depends less on how much of the machine the process
// was given than wall time does; cpu-speedup is its ratio. quiet-req/s
// estimates the rate on a quiet machine from the time the process's threads
// waited for a CPU held by other work (schedTotals, Linux): wall ×
// run/(run+wait) per round; quiet-speedup is its ratio. rows/pass is the
// batched server's mean rows per forward pass. DLLM_SERVE_BENCH_DEVICE=cuda
// runs the model on a GPU instead.
func BenchmarkServe(b *testing.B) {
	device := cmp.Or(os.Getenv("DLLM_SERVE_BENCH_DEVICE"), "cpu")
	be, err := tensor.Open(device)
	if err != nil {
		b.Skipf("device %s: %v", device, err)
	}
	m := newTestModelOn(b, "small", be)
	modes := []*benchMode{{name: "batched", maxBatch: 16}, {name: "one", maxBatch: 1}}
	for _, md := range modes {
		s, ts := newTestServer(b, m, Options{MaxBatch: md.maxBatch, Queue: 64})
		md.srv, md.url = s, ts.URL+"/v1/chat/completions"
		serveRound(b, md.url, 1, 1) // warm up
	}
	for _, clients := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			p0, r0 := modes[0].srv.met.passes.Load(), modes[0].srv.met.rows.Load()
			for _, md := range modes {
				md.rps, md.cpu, md.quiet, md.lat = nil, nil, nil, nil
			}
			for round := range b.N {
				for k := range modes {
					md := modes[(k+round)%2]
					c0 := processCPU()
					r0, w0 := schedTotals()
					wall, lat := serveRound(b, md.url, clients, 2*clients)
					r1, w1 := schedTotals()
					md.rps = append(md.rps, float64(len(lat))/wall.Seconds())
					md.cpu = append(md.cpu, float64((processCPU()-c0).Microseconds())/1000/float64(len(lat)))
					if run, wait := r1-r0, w1-w0; run > 0 {
						md.quiet = append(md.quiet, float64(len(lat))/(wall.Seconds()*float64(run)/float64(run+wait)))
					}
					md.lat = append(md.lat, lat...)
				}
			}
			for _, md := range modes {
				b.ReportMetric(median(md.rps), md.name+"-req/s")
				b.ReportMetric(median(md.cpu), md.name+"-cpu-ms/req")
				if len(md.quiet) > 0 {
					b.ReportMetric(median(md.quiet), md.name+"-quiet-req/s")
				}
				b.ReportMetric(percentile(md.lat, 0.5).Seconds()*1000, md.name+"-p50-ms")
				b.ReportMetric(percentile(md.lat, 0.99).Seconds()*1000, md.name+"-p99-ms")
			}
			b.ReportMetric(median(modes[0].rps)/median(modes[1].rps), "speedup")
			b.ReportMetric(median(modes[1].cpu)/median(modes[0].cpu), "cpu-speedup")
			if len(modes[1].quiet) > 0 {
				b.ReportMetric(median(modes[0].quiet)/median(modes[1].quiet), "quiet-speedup")
			}
			if p := modes[0].srv.met.passes.Load() - p0; p > 0 {
				b.ReportMetric(float64(modes[0].srv.met.rows.Load()-r0)/float64(p), "rows/pass")
			}
		})
	}
}
