package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// toBF16 rounds x's values to bfloat16 (to nearest even, NaN padding stays
// NaN): the bits, and the widened matrix those bits stand for.
func toBF16(x matrix) ([]uint16, matrix) {
	bits := make([]uint16, len(x.data))
	wide := x
	wide.data = make([]float32, len(x.data))
	for i, v := range x.data {
		u := math.Float32bits(v)
		if math.IsNaN(float64(v)) {
			bits[i] = 0x7fc0
		} else {
			bits[i] = uint16((u + 0x7fff + (u>>16)&1) >> 16)
		}
		wide.data[i] = math.Float32frombits(uint32(bits[i]) << 16)
	}
	return bits, wide
}

// runBF16Case multiplies with a bfloat16 B and checks the result twice: bit
// for bit against Sgemm on the widened B (same kernel, same threads), and
// against the float64 product of the widened values.
func runBF16Case(t *testing.T, rng *rand.Rand, kern *kernel, threads int, transA, transB bool, tc gemmCase) {
	t.Helper()
	aRows, aCols := tc.m, tc.k
	if transA {
		aRows, aCols = aCols, aRows
	}
	bRows, bCols := tc.k, tc.n
	if transB {
		bRows, bCols = bCols, bRows
	}
	a := randomMatrix(rng, aRows, aCols, tc.pad)
	bits, b := toBF16(randomMatrix(rng, bRows, bCols, tc.pad))
	c := randomMatrix(rng, tc.m, tc.n, tc.pad)
	for i := range c.data {
		if i%c.ld >= tc.n {
			c.data[i] = float32(math.Inf(1)) // padding: must stay untouched
		}
	}
	want, scale := reference(transA, transB, tc.m, tc.n, tc.k, tc.alpha, a, b, tc.beta, c)
	wide := c
	wide.data = append([]float32(nil), c.data...)

	g := newProblem("Sgemm", transA, transB, tc.m, tc.n, tc.k, tc.alpha, a.data, a.ld, b.data, b.ld, tc.beta, wide.data, wide.ld)
	g.run(kern, threads)
	g = newProblem("SgemmBF16", transA, transB, tc.m, tc.n, tc.k, tc.alpha, a.data, a.ld, nil, b.ld, tc.beta, c.data, c.ld)
	g.b.bits, g.b.bf16 = bits, true
	g.checkLengths("SgemmBF16", a.data, len(bits), c.data)
	g.run(kern, threads)

	checkProduct(t, c, want, scale, tc.k)
	for i := range c.data {
		if math.Float32bits(c.data[i]) != math.Float32bits(wide.data[i]) {
			require.Failf(t, "bf16 B differs from its widening", "C[%d] = %g, Sgemm on the widened B gives %g", i, c.data[i], wide.data[i])
		}
	}
}

// TestSgemmBF16 runs every kernel, with its real cache blocks and tiny ones,
// on every transpose: a bfloat16 B gives exactly the float32 product of its
// widened values.
func TestSgemmBF16(t *testing.T) {
	cases := []gemmCase{
		{m: 1, n: 1, k: 1, alpha: 1, beta: 0},
		{m: 1, n: 37, k: 5, alpha: 1, beta: 0},
		{m: 3, n: 5, k: 1, alpha: -0.5, beta: 2},
		{m: 14, n: 32, k: 8, alpha: 1, beta: 0},
		{m: 15, n: 33, k: 9, alpha: 0.75, beta: 0.5, pad: 1},
		{m: 31, n: 47, k: 61, alpha: 1.5, beta: 0},
		{m: 45, n: 70, k: 203, alpha: -1, beta: 0.25, pad: 5},
		{m: 4, n: 300, k: 270, alpha: 1, beta: 0, pad: 2}, // skinny, as in sampling
	}
	for _, name := range Kernels() {
		for _, blocks := range []string{"blocks", "smallblocks"} {
			kern := lookup(name)
			if blocks == "smallblocks" {
				kern = withSmallBlocks(kern)
			}
			for _, tr := range transposes {
				t.Run(fmt.Sprintf("%s/%s/%s", name, blocks, tr.name), func(t *testing.T) {
					rng := rand.New(rand.NewPCG(11, uint64(len(tr.name)+len(blocks)+len(name))))
					for _, tc := range cases {
						t.Run(tc.String(), func(t *testing.T) {
							runBF16Case(t, rng, kern, 3, tr.transA, tr.transB, tc)
						})
					}
				})
			}
		}
	}
}

// TestSgemmStridedBF16 checks the batched form against one SgemmBF16 per
// product, with B shared (stride 0) and not.
func TestSgemmStridedBF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	m, n, k := 19, 23, 29
	for _, batch := range []int{1, 2, 9} {
		for _, strideB := range []int{0, n*k + 3} {
			t.Run(fmt.Sprintf("batch=%d/strideB=%d", batch, strideB), func(t *testing.T) {
				strideA, strideC := m*k+1, m*n+2
				a := randomMatrix(rng, 1, batch*strideA, 0).data
				b, _ := toBF16(randomMatrix(rng, 1, max(1, batch*strideB)+n*k, 0))
				c := randomMatrix(rng, 1, batch*strideC, 0).data
				want := append([]float32(nil), c...)
				for i := range batch {
					Config{Threads: 1}.SgemmBF16(false, true, m, n, k, 1.5, a[i*strideA:], k, b[i*strideB:], k, -1, want[i*strideC:], n)
				}
				Config{Threads: 4}.SgemmStridedBF16(false, true, m, n, k, 1.5, a, k, strideA, b, k, strideB, -1, c, n, strideC, batch)
				require.Equal(t, want, c)
			})
		}
	}
}

// TestSgemmBF16BadArguments: a B too short for its shape is refused.
func TestSgemmBF16BadArguments(t *testing.T) {
	a, c := make([]float32, 6), make([]float32, 6)
	require.PanicsWithValue(t, "gemm.SgemmBF16(transA=false, transB=true, m=2, n=3, k=3, lda=3, ldb=3, ldc=3): len(b)=8 < 9", func() {
		SgemmBF16(false, true, 2, 3, 3, 1, a, 3, make([]uint16, 8), 3, 0, c, 3)
	})
}

// BenchmarkSgemmBF16 compares a product with a bfloat16 B (the weights of
// a Linear, [out, in], read transposed) with the float32 one, at the shapes
// of a 1B model's projections for a sampling step (m rows of the canvas).
func BenchmarkSgemmBF16(b *testing.B) {
	for _, s := range []struct{ m, n, k int }{{64, 2048, 2048}, {64, 5632, 2048}, {256, 2048, 2048}} {
		rng := rand.New(rand.NewPCG(1, 2))
		x := randomMatrix(rng, s.m, s.k, 0).data
		bits, w := toBF16(randomMatrix(rng, s.n, s.k, 0))
		c := make([]float32, s.m*s.n)
		flops := 2 * float64(s.m*s.n*s.k)
		name := fmt.Sprintf("%dx%dx%d", s.m, s.k, s.n)
		b.Run(name+"/bf16", func(b *testing.B) {
			reportFlops(b, flops, func() { SgemmBF16(false, true, s.m, s.n, s.k, 1, x, s.k, bits, s.k, 0, c, s.n) })
		})
		b.Run(name+"/f32", func(b *testing.B) {
			reportFlops(b, flops, func() { Sgemm(false, true, s.m, s.n, s.k, 1, x, s.k, w.data, s.k, 0, c, s.n) })
		})
	}
}
