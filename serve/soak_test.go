package serve

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSoak sends 510 requests, two thirds good and one third bad, from 32
// clients over loopback: every good request is answered (streamed or not),
// every bad one gets its 4xx, and the heap after the run is about where it
// was after a warm-up.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test")
	}
	m := newTestModel(t, "tiny")
	_, ts := newTestServer(t, m, Options{Queue: 64, MaxBatch: 16, Limits: Limits{MaxBodyBytes: 8192}})
	url := ts.URL + "/v1/chat/completions"
	bad := []string{
		`{`, `{"messages":[]}`, `{"messages":[{"role":"user","content":"x"}],"temperature":-1}`,
		`{"messages":[{"role":"user","content":"x"}],"max_tokens":99999}`, `{"messages":"x"}`,
		`{"messages":[{"role":"user","content":"x"}],"top_p":0}`,
	}
	good := func(i int) string {
		stream := ""
		if i%3 == 0 {
			stream = `,"stream":true`
		}
		if i%6 == 0 {
			stream += `,"stream_options":{"denoising":true}`
		}
		return fmt.Sprintf(`{"messages":[{"role":"user","content":"request %d the quick fox"}],"seed":%d,"temperature":%g,"max_tokens":%d,"steps":%d%s}`,
			i, i, float64(i%3)/2, 4+i%5, 2+i%3, stream)
	}
	client := &http.Client{Timeout: time.Minute}
	run := func(n int) (okGood, okBad int64) {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= n {
						return
					}
					isBad := i%3 == 2
					body := good(i)
					if isBad {
						body = bad[i%len(bad)]
					}
					req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
					resp, err := client.Do(req)
					if !assert.NoError(t, err) {
						continue
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					switch {
					case isBad && resp.StatusCode >= 400 && resp.StatusCode < 500:
						atomic.AddInt64(&okBad, 1)
					case !isBad && resp.StatusCode == http.StatusOK && len(b) > 0:
						atomic.AddInt64(&okGood, 1)
					default:
						t.Errorf("request %d (bad %v): status %d: %s", i, isBad, resp.StatusCode, b)
					}
				}
			})
		}
		wg.Wait()
		return okGood, okBad
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	run(64)
	before := heap()
	start := time.Now()
	const n = 510
	good1, bad1 := run(n)
	after := heap()
	t.Logf("%d requests in %v; heap %.1f MiB -> %.1f MiB", n, time.Since(start).Round(time.Millisecond), float64(before)/(1<<20), float64(after)/(1<<20))
	require.Equal(t, int64(n-n/3), good1, "every good request answered")
	require.Equal(t, int64(n/3), bad1, "every bad request refused")
	assert.Less(t, float64(after), float64(before)+8<<20, "heap grew by more than 8 MiB")
}
