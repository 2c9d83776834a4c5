package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/tensor"
)

// TestGPURMSNormAtModelWidths runs RMSNorm and its backward at the widths of
// the Llama-style families, against the CPU: a hidden state of 4096 (LLaDA
// 8B, Llama 7B) and per-head q/k norms on [tokens, 32, 128] (Qwen3), each
// with the plain and the offset weight. The per-head case has many short
// rows, so the dw column sums run over many row chunks.
func TestGPURMSNormAtModelWidths(t *testing.T) {
	b := requireGPU(t)
	cpu := tensor.CPU()
	rng := rand.New(rand.NewPCG(3, 7))
	for _, c := range []struct {
		name  string
		shape []int
	}{{"hidden", []int{24, 4096}}, {"per-head", []int{48, 32, 128}}} {
		for _, offset := range []float32{0, 1} {
			d := c.shape[len(c.shape)-1]
			rows := tensor.Numel(c.shape) / d
			p := tensor.RMSNormParams{Eps: 1e-6, WeightOffset: offset}
			xh, wh, dyh := hostRandom(rng, 1.5, c.shape...), hostRandom(rng, 0.5, d), hostRandom(rng, 1, c.shape...)
			yWant, rWant := cpu.New(tensor.F32, c.shape...), cpu.New(tensor.F32, rows)
			cpu.RMSNorm(yWant, rWant, xh, wh, p)
			x, w := b.FromHost(xh), b.FromHost(wh)
			y, r := b.New(tensor.F32, c.shape...), b.New(tensor.F32, rows)
			b.Fill(y, float32(math.NaN()))
			b.RMSNorm(y, r, x, w, p)
			assert.Less(t, relErr(b.ToHost(y).F32(), yWant.F32()), 1e-5, "%s offset %g: y", c.name, offset)
			assert.Less(t, relErr(b.ToHost(r).F32(), rWant.F32()), 1e-5, "%s offset %g: rstd", c.name, offset)

			dxWant, dwWant := hostRandom(rng, 1, c.shape...), hostRandom(rng, 1, d)
			dx, dw := b.FromHost(dxWant), b.FromHost(dwWant)
			cpu.RMSNormBackward(dxWant, dwWant, dyh, xh, rWant, wh, p)
			b.RMSNormBackward(dx, dw, b.FromHost(dyh), x, b.FromHost(rWant), w, p)
			assert.Less(t, relErr(b.ToHost(dx).F32(), dxWant.F32()), 1e-5, "%s offset %g: dx", c.name, offset)
			assert.Less(t, relErr(b.ToHost(dw).F32(), dwWant.F32()), 1e-5, "%s offset %g: dw", c.name, offset)
		}
	}
	require.NoError(t, b.Sync())
}

// TestGPUSwiGLUBothForms runs SwiGLU at LLaDA's and Llama's intermediate
// width 11008 (a multiple of 4: the float4 kernels) and through a view one
// element in (the scalar ones), against the CPU.
func TestGPUSwiGLUBothForms(t *testing.T) {
	b := requireGPU(t)
	cpu := tensor.CPU()
	rng := rand.New(rand.NewPCG(3, 8))
	const rows, inter = 3, 11008
	flat := hostRandom(rng, 2, 1+rows*2*inter)
	for _, c := range []struct {
		name string
		from int // first element of x in flat
	}{{"float4", 0}, {"scalar (misaligned view)", 1}} {
		xh := flat.Reshape(-1).Rows(c.from, c.from+rows*2*inter).Reshape(rows, 2*inter)
		x := b.FromHost(flat).Reshape(-1).Rows(c.from, c.from+rows*2*inter).Reshape(rows, 2*inter)
		want := cpu.New(tensor.F32, rows, inter)
		cpu.SwiGLU(want, xh)
		y := b.New(tensor.F32, rows, inter)
		b.Fill(y, float32(math.NaN()))
		b.SwiGLU(y, x)
		assert.Less(t, relErr(b.ToHost(y).F32(), want.F32()), 1e-5, c.name)

		dyh := hostRandom(rng, 1, rows, inter)
		dxWant := hostRandom(rng, 1, rows, 2*inter)
		dx := b.FromHost(dxWant)
		cpu.SwiGLUBackward(dxWant, xh, dyh)
		b.SwiGLUBackward(dx, x, b.FromHost(dyh))
		assert.Less(t, relErr(b.ToHost(dx).F32(), dxWant.F32()), 1e-5, c.name+" backward")
	}
	require.NoError(t, b.Sync())
}
