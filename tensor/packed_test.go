package tensor_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor"
)

func requireSameF32(t *testing.T, want, got *tensor.Tensor) {
	t.Helper()
	w, g := want.F32(), got.F32()
	require.Len(t, g, len(w))
	for i := range w {
		require.Equal(t, math.Float32bits(w[i]), math.Float32bits(g[i]), "element %d: %g vs %g", i, g[i], w[i])
	}
}

// A weight kept packed gives the products of an unmarked one bit for bit, in
// every product shape MatMul folds onto one GEMM, again and again; it is
// packed again after each of the backend's writes into it (AdamW, Copy,
// Fill, Scale, AXPY, Cast) and after DropPacked, and a product with the
// other transB than the packed one is still right.
func TestKeepPackedMatMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 2))
	const n, k = 70, 45
	w := randF32(rng, n, k)
	plain := clone(w)
	tensor.KeepPacked(w)
	require.Zero(t, w.PackedBytes())

	check := func(what string) {
		t.Helper()
		for _, c := range []struct {
			a      *tensor.Tensor
			cShape []int
			tA, tB bool
		}{
			{randF32(rng, 17, k), []int{17, n}, false, true},
			{randF32(rng, 3, 5, k), []int{3, 5, n}, false, true}, // a batch folded into rows
			{randF32(rng, k, 9), []int{9, n}, true, true},
			{randF32(rng, 4, n), []int{4, k}, false, false}, // the other transB
		} {
			want, got := randF32(rng, c.cShape...), (*tensor.Tensor)(nil)
			got = clone(want)
			cpu.MatMul(want, c.a, plain, c.tA, c.tB, 0.5, 0.25)
			cpu.MatMul(got, c.a, w, c.tA, c.tB, 0.5, 0.25)
			requireSameF32(t, want, got)
		}
		require.NotZero(t, w.PackedBytes(), what)
	}
	check("first use")
	check("reuse")
	packedBytes := w.PackedBytes()
	require.GreaterOrEqual(t, packedBytes, 4*n*k)

	writes := []struct {
		name string
		f    func(x *tensor.Tensor)
	}{
		{"AdamW", nil}, // below: the same step on both copies
		{"Copy", func(x *tensor.Tensor) { cpu.Copy(x, randF32(rand.New(rand.NewPCG(5, 5)), n, k)) }},
		{"Fill", func(x *tensor.Tensor) { cpu.Fill(x, 0.5) }},
		{"Scale", func(x *tensor.Tensor) { cpu.Scale(x, x, -1.5) }},
		{"AXPY", func(x *tensor.Tensor) { cpu.AXPY(x, randF32(rand.New(rand.NewPCG(6, 6)), n, k), 2) }},
		{"Cast", func(x *tensor.Tensor) { cpu.Cast(x, randF32(rand.New(rand.NewPCG(7, 7)), n, k)) }},
		{"DropPacked", func(x *tensor.Tensor) {
			copy(x.F32(), randF32(rand.New(rand.NewPCG(8, 8)), n, k).F32())
			x.DropPacked()
		}},
	}
	for _, wr := range writes {
		if wr.name == "AdamW" {
			// AdamW is deterministic: run it on both copies.
			g := randF32(rng, n, k)
			for _, x := range []*tensor.Tensor{w, plain} {
				m, v := cpu.New(tensor.F32, n, k), cpu.New(tensor.F32, n, k)
				cpu.AdamW(x, g, m, v, tensor.AdamWParams{Step: 1, LR: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01})
			}
		} else {
			wr.f(w)
			wr.f(plain)
		}
		require.Zero(t, w.PackedBytes(), wr.name)
		check("after " + wr.name)
	}

	w.Unpack()
	require.Zero(t, w.PackedBytes())
	check2 := cpu.New(tensor.F32, 2, n)
	cpu.MatMul(check2, randF32(rng, 2, k), w, false, true, 1, 0)
	require.Zero(t, w.PackedBytes(), "an unmarked tensor keeps nothing")

	// Only F32 matrices are marked.
	v := randF32(rng, 3, 4, 5)
	tensor.KeepPacked(v, randBF16(rng, 4, 5))
	cpu.MatMul(cpu.New(tensor.F32, 3, 4, 4), randF32(rng, 3, 4, 5), v, false, true, 1, 0)
	require.Zero(t, v.PackedBytes())
}

// Marking a row view marks the matrix it views (a model's q/k/v weights are
// views of one matrix, which the product reads), and a write into the view
// drops the matrix's packed copy.
func TestKeepPackedViews(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 3))
	w := randF32(rng, 30, 16)
	plain := clone(w)
	q, k := w.Rows(0, 10), w.Rows(10, 30)
	tensor.KeepPacked(q, k)
	product := func(b *tensor.Tensor) *tensor.Tensor {
		c := cpu.New(tensor.F32, 5, 30)
		cpu.MatMul(c, randF32(rand.New(rand.NewPCG(1, 1)), 5, 16), b, false, true, 1, 0)
		return c
	}
	requireSameF32(t, product(plain), product(w))
	require.NotZero(t, w.PackedBytes())
	require.Zero(t, q.PackedBytes(), "a view unused in products packs nothing")

	fresh := randF32(rng, 20, 16)
	cpu.Copy(k, fresh)
	cpu.Copy(plain.Rows(10, 30), fresh)
	require.Zero(t, w.PackedBytes())
	requireSameF32(t, product(plain), product(w))

	q.Unpack()
	product(w)
	require.Zero(t, w.PackedBytes())
}

// Products on one marked weight from several goroutines (a server's
// requests) share one packed copy safely and agree with an unmarked one;
// run with -race to check the sharing.
func TestKeepPackedConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 5))
	w := randF32(rng, 64, 48)
	plain := clone(w)
	tensor.KeepPacked(w)
	as := make([]*tensor.Tensor, 4)
	for i := range as {
		as[i] = randF32(rng, 5+i, 48)
	}
	got := make([]*tensor.Tensor, len(as))
	done := make(chan int)
	for i := range as {
		go func() {
			got[i] = cpu.New(tensor.F32, 5+i, 64)
			cpu.MatMul(got[i], as[i], w, false, true, 1, 0)
			done <- i
		}()
	}
	for range as {
		<-done
	}
	for i, a := range as {
		want := cpu.New(tensor.F32, 5+i, 64)
		cpu.MatMul(want, a, plain, false, true, 1, 0)
		requireSameF32(t, want, got[i])
	}
}
