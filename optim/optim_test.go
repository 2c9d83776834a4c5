package optim

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

func randParam(rng *rand.Rand, name string, n int) *nn.Param {
	p := nn.NewParam(tensor.CPU(), name, n)
	for i := range p.Value.F32() {
		p.Value.F32()[i] = float32(rng.NormFloat64())
	}
	return p
}

func setGrad(rng *rand.Rand, p *nn.Param) []float64 {
	g := make([]float32, p.Value.Numel())
	out := make([]float64, len(g))
	for i := range g {
		g[i] = float32(rng.NormFloat64())
		out[i] = float64(g[i])
	}
	p.Grad = tensor.FromF32(g, len(g))
	return out
}

// TestAdamWMatchesHandComputation runs three steps and compares with the
// update written out in float64, for a decayed and an undecayed parameter.
func TestAdamWMatchesHandComputation(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	w := randParam(rng, "w", 5)
	b := randParam(rng, "b", 3)
	b.NoDecay = true
	const lr, b1, b2, eps, wd = 0.01, 0.9, 0.999, 1e-8, 0.1
	opt := NewAdamW([]*nn.Param{w, b}, b1, b2, eps, wd)

	type ref struct{ p, m, v []float64 }
	mk := func(p *nn.Param) *ref {
		r := &ref{m: make([]float64, p.Value.Numel()), v: make([]float64, p.Value.Numel())}
		for _, x := range p.Value.F32() {
			r.p = append(r.p, float64(x))
		}
		return r
	}
	rw, rb := mk(w), mk(b)
	for step := 1; step <= 3; step++ {
		for _, pr := range []struct {
			p     *nn.Param
			r     *ref
			decay float64
		}{{w, rw, wd}, {b, rb, 0}} {
			g := setGrad(rng, pr.p)
			for i := range g {
				pr.r.p[i] *= 1 - lr*pr.decay
				pr.r.m[i] = b1*pr.r.m[i] + (1-b1)*g[i]
				pr.r.v[i] = b2*pr.r.v[i] + (1-b2)*g[i]*g[i]
				mhat := pr.r.m[i] / (1 - math.Pow(b1, float64(step)))
				vhat := pr.r.v[i] / (1 - math.Pow(b2, float64(step)))
				pr.r.p[i] -= lr * mhat / (math.Sqrt(vhat) + eps)
			}
		}
		opt.Step(lr)
	}
	for i, x := range w.Value.F32() {
		assert.InDelta(t, rw.p[i], float64(x), 1e-6)
	}
	for i, x := range b.Value.F32() {
		assert.InDelta(t, rb.p[i], float64(x), 1e-6)
	}
	require.Equal(t, 3, opt.Steps())
}

func TestAdamWStateRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	mkRun := func() (*nn.Param, *AdamW) {
		p := nn.NewParam(tensor.CPU(), "p", 4)
		copy(p.Value.F32(), []float32{0.5, -1, 2, 0.25})
		return p, NewAdamW([]*nn.Param{p}, 0.9, 0.95, 1e-8, 0.01)
	}
	grads := make([][]float32, 4)
	for i := range grads {
		grads[i] = []float32{float32(rng.NormFloat64()), float32(rng.NormFloat64()), float32(rng.NormFloat64()), float32(rng.NormFloat64())}
	}
	step := func(p *nn.Param, o *AdamW, g []float32) {
		p.Grad = tensor.FromF32(append([]float32(nil), g...), 4)
		o.Step(0.1)
	}
	p1, o1 := mkRun()
	for _, g := range grads {
		step(p1, o1, g)
	}
	p2, o2 := mkRun()
	step(p2, o2, grads[0])
	step(p2, o2, grads[1])
	saved := o2.State()
	p3, o3 := mkRun()
	copy(p3.Value.F32(), p2.Value.F32())
	require.NoError(t, o3.SetState(saved))
	step(p3, o3, grads[2])
	step(p3, o3, grads[3])
	require.Equal(t, p1.Value.F32(), p3.Value.F32(), "resumed run must match bit for bit")

	delete(saved.M, "p")
	require.Error(t, o3.SetState(saved))
}

func TestClipGradNorm(t *testing.T) {
	a := nn.NewParam(tensor.CPU(), "a", 2)
	b := nn.NewParam(tensor.CPU(), "b", 1)
	a.Grad = tensor.FromF32([]float32{3, 0}, 2)
	b.Grad = tensor.FromF32([]float32{4}, 1)
	norm := ClipGradNorm([]*nn.Param{a, b}, 1)
	require.InDelta(t, 5, norm, 1e-9)
	require.InDelta(t, 0.6, a.Grad.F32()[0], 1e-5)
	require.InDelta(t, 0.8, b.Grad.F32()[0], 1e-5)
	// Under the limit nothing changes.
	norm = ClipGradNorm([]*nn.Param{a, b}, 10)
	require.InDelta(t, 1, norm, 1e-5)
	require.InDelta(t, 0.6, a.Grad.F32()[0], 1e-5)
}

func TestSchedules(t *testing.T) {
	tests := []struct {
		name string
		c    ScheduleConfig
		step int
		want float64
	}{
		{"warmup first step", ScheduleConfig{Kind: "cosine", Peak: 1, TotalSteps: 100, WarmupSteps: 10}, 0, 0.1},
		{"warmup end", ScheduleConfig{Kind: "cosine", Peak: 1, TotalSteps: 100, WarmupSteps: 10}, 9, 1},
		{"cosine middle", ScheduleConfig{Kind: "cosine", Peak: 2, TotalSteps: 110, WarmupSteps: 10}, 60, 1},
		{"cosine end", ScheduleConfig{Kind: "cosine", Peak: 2, TotalSteps: 110, WarmupSteps: 10}, 110, 0},
		{"cosine floor", ScheduleConfig{Kind: "cosine", Peak: 2, TotalSteps: 110, WarmupSteps: 10, MinRatio: 0.1}, 110, 0.2},
		{"linear quarter", ScheduleConfig{Kind: "linear", Peak: 1, TotalSteps: 100}, 25, 0.75},
		{"warmup ratio", ScheduleConfig{Kind: "linear", Peak: 1, TotalSteps: 100, WarmupRatio: 0.1}, 4, 0.5},
		{"constant", ScheduleConfig{Kind: "constant", Peak: 3, TotalSteps: 10, WarmupSteps: 2}, 7, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSchedule(tc.c)
			require.NoError(t, err)
			require.InDelta(t, tc.want, s.LR(tc.step), 1e-12)
		})
	}
	_, err := NewSchedule(ScheduleConfig{Kind: "exponential", Peak: 1, TotalSteps: 1})
	require.ErrorContains(t, err, "exponential")
	_, err = NewSchedule(ScheduleConfig{Kind: "cosine", Peak: 0, TotalSteps: 1})
	require.Error(t, err)
}
