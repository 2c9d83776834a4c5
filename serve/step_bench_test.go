package serve

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/mdlm"
)

// flopCounter wraps the benchmark's ModernBERT and counts its calls, the
// positions they run through the encoder and the floating-point operations
// of their matrix products (2 per multiply-add): the projections of every
// position, the attention scores and sums (every layer attends over the
// whole row: the rows are shorter than the local window), and the head on
// the positions whose logits are asked for.
type flopCounter struct {
	mdlm.Denoiser
	m                        *testModel
	calls, positions, logits int
	flops                    float64
}

func (c *flopCounter) Logits(ids []int32, batch, seqLen int, keyMask, rows []int32) ([]float32, error) {
	cfg := c.m.bert.Config
	h, in, v := float64(cfg.HiddenSize), float64(cfg.IntermediateSize), float64(cfg.VocabSize)
	perPosition := float64(cfg.NumLayers) * 2 * (3*h*h + h*h + 2*in*h + h*in + 2*float64(seqLen)*h)
	c.calls++
	c.positions += batch * seqLen
	c.logits += len(rows)
	c.flops += float64(batch*seqLen)*perPosition + float64(len(rows))*2*(h*h+h*v)
	return c.Denoiser.Logits(ids, batch, seqLen, keyMask, rows)
}

// BenchmarkBatchStep runs the benchmark's 16 requests (as BenchmarkServe
// sends them: 16-token answers in one block of 16 steps) through
// mdlm.StepSequences without the server: 16 at a time in shared forward
// passes, or one at a time. Each of the b.N rounds runs both (the order
// alternating); the metrics are per request, medians over rounds for the
// CPU time. The counts are exact and do not depend on the machine's load:
// forward calls, positions through the encoder and logit rows per request,
// and GFLOP/req; GFLOP/cpu-s is how fast the process turned them into
// results per second of CPU time (tensor/gemm's BenchmarkMatMul gives the
// ceiling of its matrix products on the same machine). quiet-ms/req
// estimates the wall time per request on a quiet machine as BenchmarkServe's
// quiet-req/s does; quiet-speedup is its ratio.
func BenchmarkBatchStep(b *testing.B) {
	m := newTestModel(b, "small")
	var prompts [][]int32
	for i := range 16 {
		p, err := m.ChatPrompt([]data.Message{{Role: "user", Content: fmt.Sprintf("request %d: the quick brown fox", i)}})
		require.NoError(b, err)
		prompts = append(prompts, p)
	}
	c := m.gen
	c.MaxNewTokens, c.Steps, c.BlockSize = 16, 16, 16
	sizes := []int{16, 1}
	counts := make([]flopCounter, len(sizes))
	cpu := make([][]float64, len(sizes))
	quiet := make([][]float64, len(sizes)) // estimated ms per request on a quiet machine
	for round := range b.N {
		for k := range sizes {
			k = (k + round) % len(sizes)
			fc := &counts[k]
			fc.Denoiser, fc.m = m.net, m
			c0, t0 := processCPU(), time.Now()
			r0, w0 := schedTotals()
			for lo := 0; lo < len(prompts); lo += sizes[k] {
				var seqs []*mdlm.Sequence
				for i := lo; i < lo+sizes[k]; i++ {
					s, err := mdlm.NewSequence(fc, prompts[i], c, mdlm.NewRand(uint64(i)).Uint64())
					require.NoError(b, err)
					seqs = append(seqs, s)
				}
				for {
					n, err := mdlm.StepSequences(fc, seqs)
					require.NoError(b, err)
					if n == 0 {
						break
					}
				}
			}
			cpu[k] = append(cpu[k], float64((processCPU()-c0).Microseconds())/1000/float64(len(prompts)))
			r1, w1 := schedTotals()
			if run, wait := r1-r0, w1-w0; run > 0 {
				wall := float64(time.Since(t0).Microseconds()) / 1000
				quiet[k] = append(quiet[k], wall*float64(run)/float64(run+wait)/float64(len(prompts)))
			}
		}
	}
	req := float64(len(prompts) * b.N)
	for k, n := range sizes {
		fc := &counts[k]
		name := fmt.Sprintf("batch%d-", n)
		ms := median(cpu[k])
		b.ReportMetric(ms, name+"cpu-ms/req")
		b.ReportMetric(float64(fc.calls)/req, name+"calls/req")
		b.ReportMetric(float64(fc.positions)/req, name+"positions/req")
		b.ReportMetric(float64(fc.logits)/req, name+"logits/req")
		b.ReportMetric(fc.flops/req/1e9, name+"GFLOP/req")
		if ms > 0 {
			b.ReportMetric(fc.flops/req/1e9/(ms/1000), name+"GFLOP/cpu-s")
		}
		if len(quiet[k]) > 0 {
			b.ReportMetric(median(quiet[k]), name+"quiet-ms/req")
		}
	}
	if ms := median(cpu[0]); ms > 0 {
		b.ReportMetric(median(cpu[1])/ms, "cpu-speedup")
	}
	if len(quiet[0]) > 0 && median(quiet[0]) > 0 {
		b.ReportMetric(median(quiet[1])/median(quiet[0]), "quiet-speedup")
	}
}
