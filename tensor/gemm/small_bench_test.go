package gemm

import (
	"fmt"
	"testing"
)

// BenchmarkSmall times products of the sizes the CPU attention runs one
// goroutine at a time (blocks of queries × keys × head size 64), where the
// cost of a call (pools, goroutine bookkeeping) shows.
func BenchmarkSmall(b *testing.B) {
	serial := Config{Threads: 1}
	for _, s := range []benchShape{
		{m: 16, k: 64, n: 16, transB: true},
		{m: 64, k: 64, n: 64, transB: true},
		{m: 64, k: 64, n: 256, transB: true},
		{m: 64, k: 256, n: 64},
	} {
		b.Run(fmt.Sprintf("serial/%s", s), func(b *testing.B) {
			b.ReportAllocs()
			benchSgemm(b, s, serial.Sgemm)
		})
	}
}
