//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

//go:generate go run gen_kernels.go

// The assembly kernels (kernel_*_amd64.s, written by gen_kernels.go).

//go:noescape
func kernel6x16AVX2(kc int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func kernel14x32AVX512(kc int, a, b, c *float32, ldc int, alpha, beta float32)

// avx512Kernel: a 14×32 tile is 28 of the 32 ZMM registers. The block sizes
// were measured best on Zen 4 (32 KiB L1, 1 MiB L2) among kc 128..320 and mc
// 16..64 tiles, within a few percent of each other.
var avx512Kernel = &kernel{
	name: AVX512, mr: 14, nr: 32,
	mc: 224, kc: 256, nc: 3072,
	pack:  avx2Packers,
	edges: kernel14x32AVX512Edges,
	tile: func(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
		_, _, _ = a[14*kc-1], b[32*kc-1], c[13*ldc+31]
		kernel14x32AVX512(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
	},
}

// avx2Kernel: a 6×16 tile is 12 of the 16 YMM registers, plus two for B and
// two for the broadcast A values.
var avx2Kernel = &kernel{
	name: AVX2, mr: 6, nr: 16,
	mc: 192, kc: 256, nc: 3072,
	pack:  avx2Packers,
	edges: kernel6x16AVX2Edges,
	tile: func(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
		_, _, _ = a[6*kc-1], b[16*kc-1], c[5*ldc+15]
		kernel6x16AVX2(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
	},
}

func init() {
	var fast []*kernel
	// HasAVX512F is only set when the OS also saves the ZMM registers. The
	// AVX-512 kernel packs with the AVX2 loops, and every such CPU has AVX2.
	// On Zen 4 it is no faster than the AVX2 kernel (512-bit FMAs issue as
	// two 256-bit halves), but CPUs with two 512-bit FMA units nearly double.
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX2 {
		fast = append(fast, avx512Kernel)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		fast = append(fast, avx2Kernel)
	}
	kernels = append(fast, kernels...)
}
