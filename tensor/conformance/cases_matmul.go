package conformance

import (
	"fmt"
	"math"

	"github.com/dllmgo/dllm/tensor"
)

type mmCase struct {
	batch          int  // 0: rank-2 operands
	sharedB        bool // rank-3 a and c with a rank-2 b
	m, n, k        int
	transA, transB bool
	alpha, beta    float32
}

func (c mmCase) String() string {
	s := fmt.Sprintf("m=%d n=%d k=%d tA=%t tB=%t α=%v β=%v", c.m, c.n, c.k, c.transA, c.transB, c.alpha, c.beta)
	switch {
	case c.sharedB:
		s = fmt.Sprintf("batch %d, shared b, %s", c.batch, s)
	case c.batch > 0:
		s = fmt.Sprintf("batch %d, %s", c.batch, s)
	}
	return s
}

func mmCaseList() []mmCase {
	var cs []mmCase
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			cs = append(cs,
				mmCase{0, false, 7, 9, 13, tA, tB, 1, 0},
				mmCase{0, false, 1, 1, 1, tA, tB, 0.5, 0.25},
				mmCase{3, false, 5, 11, 6, tA, tB, 0.7, 0.3},
				mmCase{4, true, 6, 5, 9, tA, tB, 1.3, 0},
			)
		}
	}
	// Larger than a micro-kernel tile and a cache block in every direction.
	cs = append(cs, mmCase{0, false, 67, 301, 290, false, true, 1, 1}, mmCase{0, false, 130, 70, 600, true, false, -1, 0})
	return cs
}

// shapes returns the stored shapes of a, b and c.
func (c mmCase) shapes() (sa, sb, sc []int) {
	sa, sb, sc = []int{c.m, c.k}, []int{c.k, c.n}, []int{c.m, c.n}
	if c.transA {
		sa = []int{c.k, c.m}
	}
	if c.transB {
		sb = []int{c.n, c.k}
	}
	if c.batch > 0 {
		sa = append([]int{c.batch}, sa...)
		sc = append([]int{c.batch}, sc...)
		if !c.sharedB {
			sb = append([]int{c.batch}, sb...)
		}
	}
	return sa, sb, sc
}

// want is the reference product, batch by batch.
func (c mmCase) want(a, b, c0 []float64) []float64 {
	batches := max(1, c.batch)
	var out []float64
	for i := range batches {
		ai := a[i*c.m*c.k : (i+1)*c.m*c.k]
		bi := b
		if c.batch > 0 && !c.sharedB {
			bi = b[i*c.k*c.n : (i+1)*c.k*c.n]
		}
		var ci []float64
		if c.beta != 0 {
			ci = c0[i*c.m*c.n : (i+1)*c.m*c.n]
		}
		out = append(out, refMatMul(ai, bi, ci, c.m, c.n, c.k, c.transA, c.transB, float64(c.alpha), float64(c.beta))...)
	}
	return out
}

func matMulCases() []testCase {
	return []testCase{{"MatMul", func(e *env) error {
		var trs []trial
		for _, c := range mmCaseList() {
			sa, sb, sc := c.shapes()
			a, b := e.normal(1, sa...), e.normal(1, sb...)
			c0 := e.normal(1, sc...)
			if c.beta == 0 {
				// beta = 0 overwrites: NaNs in c must not leak through.
				for i := range c0.v {
					c0.t.F32()[i], c0.v[i] = float32(math.NaN()), math.NaN()
				}
			}
			trs = append(trs, trial{name: c.String(), op: "MatMul", run: func(be tensor.Backend) []*tensor.Tensor {
				ct := up(be, c0.t)
				be.MatMul(ct, up(be, a.t), up(be, b.t), c.transA, c.transB, c.alpha, c.beta)
				return []*tensor.Tensor{ct}
			}, outs: []expect{{name: "c", want: c.want(a.v, b.v, c0.v)}}})
		}
		return e.collect(trs...)
	}}}
}

// bf16MatMulCases are RunBF16MatMul's: a and b rounded to BF16, c in F32.
// The reference multiplies the bf16 values exactly in float64, so the error
// measured is the accumulation's alone.
func bf16MatMulCases() []testCase {
	return []testCase{{"MatMulBF16", func(e *env) error {
		var trs []trial
		for _, c := range mmCaseList() {
			sa, sb, sc := c.shapes()
			a, b := e.bf16Normal(sa...), e.bf16Normal(sb...)
			c0 := e.normal(1, sc...)
			trs = append(trs, trial{name: c.String(), op: "MatMulBF16", run: func(be tensor.Backend) []*tensor.Tensor {
				ct := up(be, c0.t)
				be.MatMul(ct, up(be, a.t), up(be, b.t), c.transA, c.transB, c.alpha, c.beta)
				return []*tensor.Tensor{ct}
			}, outs: []expect{{name: "c", want: c.want(a.v, b.v, c0.v)}}})
		}
		return e.collect(trs...)
	}}}
}

// bf16Normal draws N(0, 1) values rounded to bfloat16, as a BF16 host tensor.
func (e *env) bf16Normal(shape ...int) host {
	n := tensor.Numel(shape)
	bits := make([]uint16, n)
	v := make([]float64, n)
	for i := range bits {
		for v[i] == 0 {
			bits[i] = tensor.BF16FromF32(float32(e.rng.NormFloat64()))
			v[i] = float64(tensor.F32FromBF16(bits[i]))
		}
	}
	return host{t: tensor.FromBF16Bits(bits, shape...), v: v}
}

// bf16WeightCases are RunBF16Weights's: MatMul of an F32 a and a BF16 b
// (weights kept in BF16). Widening is exact, so they meet MatMul's F32
// bound. (Embedding from a BF16 table is in the main suite.)
func bf16WeightCases() []testCase {
	return []testCase{
		{"MatMulBF16Weights", func(e *env) error {
			var trs []trial
			for _, c := range mmCaseList() {
				sa, sb, sc := c.shapes()
				a, b := e.normal(1, sa...), e.bf16Normal(sb...)
				c0 := e.normal(1, sc...)
				trs = append(trs, trial{name: c.String(), op: "MatMul", run: func(be tensor.Backend) []*tensor.Tensor {
					ct := up(be, c0.t)
					be.MatMul(ct, up(be, a.t), up(be, b.t), c.transA, c.transB, c.alpha, c.beta)
					return []*tensor.Tensor{ct}
				}, outs: []expect{{name: "c", want: c.want(a.v, b.v, c0.v)}}})
			}
			return e.collect(trs...)
		}},
	}
}
