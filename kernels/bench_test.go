package kernels

import (
	"testing"

	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor/opbench"
)

// BenchmarkOps runs the shared op benchmarks (package opbench) on the GPU,
// at the tiny ModernBERT's shapes (as the CPU's BenchmarkOps in package
// tensor, to compare line by line), at ModernBERT-base's (PERF.md's: batch
// 8 × seq 1024, 12 heads × 64, hidden 768, intermediate 1152, vocab 50368)
// and at a Llama-7B width (2048 tokens, 32 heads × 128, intermediate
// 11008), attention also in bf16 on the tensor cores. It needs a GPU and
// skips without one (fails with DLLM_REQUIRE_GPU=1). The Backend is F32, so
// each op moves twice the bytes of PERF.md's bf16 PyTorch numbers; compare
// ratios measured in one run on one machine. Times are CUDA-event times of
// b.N back-to-back launches after one warm-up call.
func BenchmarkOps(tb *testing.B) {
	b := requireGPU(tb)
	time := func(tb *testing.B, op func()) float64 { return timeOp(tb, b, op) }
	for _, s := range []opbench.Shape{opbench.Tiny, opbench.Base, opbench.Llama} {
		opbench.Run(tb, b, opbench.Config{Shape: s, BF16: true, Time: time})
	}
}

// timeOp runs op once to warm up (compile, load, allocate), then b.N times
// between two CUDA events, and reports the per-call time in the benchmark.
func timeOp(tb *testing.B, b *Backend, op func()) float64 {
	op()
	if err := b.Sync(); err != nil {
		tb.Fatal(err)
	}
	var start, end cu.Event
	b.do(func(th *cu.Thread) error {
		var err error
		if start, err = th.EventCreate(); err != nil {
			return err
		}
		if end, err = th.EventCreate(); err != nil {
			return err
		}
		return th.EventRecord(start)
	})
	tb.ResetTimer()
	for range tb.N {
		op()
	}
	var ms float32
	b.do(func(th *cu.Thread) error {
		defer th.EventDestroy(start)
		defer th.EventDestroy(end)
		if err := th.EventRecord(end); err != nil {
			return err
		}
		if err := th.EventSynchronize(end); err != nil {
			return err
		}
		var err error
		ms, err = th.EventElapsed(start, end)
		return err
	})
	tb.StopTimer()
	if err := b.Err(); err != nil {
		tb.Fatal(err)
	}
	sec := float64(ms) / 1e3 / float64(tb.N)
	tb.ReportMetric(sec*1e6, "us/op")
	return sec
}
