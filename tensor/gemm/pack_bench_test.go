package gemm

import (
	"fmt"
	"testing"
)

// BenchmarkPack times packing one cache block out of a 1024-wide matrix, in
// both source layouts, and reports the packed floats per nanosecond as GB/s
// of source read.
func BenchmarkPack(b *testing.B) {
	const ld = 1024
	src := make([]float32, ld*ld)
	for i := range src {
		src[i] = float32(i % 13)
	}
	for _, name := range Kernels() {
		kern := lookup(name)
		for _, tc := range []struct {
			what   string
			kMajor bool
			w, nq  int
		}{
			{"A/rows", false, kern.mr, kern.mc},
			{"A/kmajor", true, kern.mr, kern.mc},
			{"B/kmajor", true, kern.nr, 1024},
			{"B/rows", false, kern.nr, 1024},
		} {
			b.Run(fmt.Sprintf("%s/%s", name, tc.what), func(b *testing.B) {
				dst := alignedFloats(ceilDiv(tc.nq, tc.w)*tc.w*kern.kc + 16)
				for b.Loop() {
					packPanels(dst, src, ld, tc.kMajor, 0, tc.nq, 0, kern.kc, tc.w, kern.pack)
				}
				bytes := 4 * float64(tc.nq*kern.kc) * float64(b.N)
				b.ReportMetric(bytes/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
}
