package kernels

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/conformance"
)

// GPU tests. Each skips without a GPU and fails instead with
// DLLM_REQUIRE_GPU=1 (see requireGPU and conformance.Open).

// TestGPUWarmup compiles every kernel file for the device (or loads it from
// the cache) and checks that the cache now holds each cubin. It runs first
// so that a compile error shows up here, with NVRTC's log, rather than as a
// sticky error in the middle of the conformance suite.
func TestGPUWarmup(t *testing.T) {
	b := requireGPU(t)
	start := time.Now()
	require.NoError(t, b.Warmup())
	t.Logf("device %s (%s, %d SMs, %d KiB shared opt-in), driver %d, NVRTC %d.%d (%s); warm-up %v, cache %s",
		b.dev.Name, b.dev.Arch(), b.dev.SMs, b.dev.MaxSharedOptin>>10, b.dev.DriverVersion,
		b.comp.nvrtc.Major, b.comp.nvrtc.Minor, b.comp.nvrtc.Path, time.Since(start), b.comp.dir)
	t.Logf("kernel route: %v", b.comp.route)
	header, err := source(commonHeader)
	require.NoError(t, err)
	for _, f := range SourceFiles() {
		src, err := source(f)
		require.NoError(t, err)
		key := cacheKey(f, src, header, compileOptions(b.comp.route.Arch), b.comp.nvrtc.Major, b.comp.nvrtc.Minor)
		_, err = os.Stat(filepath.Join(b.comp.dir, key))
		assert.NoError(t, err, "no cached cubin for %s", f)
	}
	require.NoError(t, b.Sync())
}

// TestConformance is the shared op-by-op suite: float64 references, finite
// differences for the backward ops, and the CPU backend on the same inputs.
func TestConformance(t *testing.T) {
	b := conformance.Open(t, "cuda")
	conformance.Run(t, b, conformance.CPUTolerances())
	require.NoError(t, b.Sync())
}

// TestConformanceBF16MatMul checks bf16 inputs with f32 accumulation.
func TestConformanceBF16MatMul(t *testing.T) {
	b := conformance.Open(t, "cuda")
	conformance.RunBF16MatMul(t, b, conformance.CPUTolerances())
	require.NoError(t, b.Sync())
}

// TestConformanceBF16Attention checks the tensor-core attention kernels
// (AttentionParams.BF16) against the float64 references and the CPU at bf16
// tolerance.
func TestConformanceBF16Attention(t *testing.T) {
	b := conformance.Open(t, "cuda")
	conformance.RunBF16Attention(t, b, conformance.CPUTolerances())
	require.NoError(t, b.Sync())
}

// hostRandom is a CPU tensor of N(0, σ²) values.
func hostRandom(rng *rand.Rand, sigma float64, shape ...int) *tensor.Tensor {
	h := tensor.CPU().New(tensor.F32, shape...)
	for i, s := 0, h.F32(); i < len(s); i++ {
		s[i] = float32(sigma * rng.NormFloat64())
	}
	return h
}

// relErr is ‖got − want‖ / ‖want‖ over the finite elements of want; NaN in
// got, or an infinite want that got does not match exactly, is an infinite
// error.
func relErr(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		if math.IsNaN(float64(got[i])) {
			return math.Inf(1)
		}
		if math.IsInf(float64(want[i]), 0) {
			if got[i] != want[i] {
				return math.Inf(1)
			}
			continue
		}
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(num / max(den, 1e-300))
}

// TestGPUGeGLUBothForms runs GeGLU at ModernBERT-base's width, where the
// float4 kernels apply, and through a misaligned view, where the scalar ones
// do, against the CPU.
func TestGPUGeGLUBothForms(t *testing.T) {
	b := requireGPU(t)
	rng := rand.New(rand.NewPCG(3, 1))
	const rows, inter = 37, 1152
	xh := hostRandom(rng, 1.5, rows+1, 2*inter)
	dyh := hostRandom(rng, 1, rows, inter)
	x := b.FromHost(xh)
	dy := b.FromHost(dyh)
	cpu := tensor.CPU()
	for _, c := range []struct {
		name string
		from int // first row of x: 0 is aligned (float4), a view at row 1 is too (2·1152 floats)
	}{{"float4", 0}, {"float4 view", 1}} {
		xs := xh.Rows(c.from, c.from+rows)
		want := cpu.New(tensor.F32, rows, inter)
		cpu.GeGLU(want, xs)
		y := b.New(tensor.F32, rows, inter)
		b.Fill(y, float32(math.NaN()))
		b.GeGLU(y, x.Rows(c.from, c.from+rows))
		assert.Less(t, relErr(b.ToHost(y).F32(), want.F32()), 1e-5, c.name)

		dxWant := hostRandom(rng, 1, rows, 2*inter)
		dx := b.FromHost(dxWant)
		cpu.GeGLUBackward(dxWant, xs, dyh)
		b.GeGLUBackward(dx, x.Rows(c.from, c.from+rows), dy)
		assert.Less(t, relErr(b.ToHost(dx).F32(), dxWant.F32()), 1e-5, c.name+" backward")
	}
	// A view starting one element in: not 16-byte aligned, so the scalar form.
	flat := b.FromHost(hostRandom(rng, 1, 1+2*8*4))
	xv := flat.Reshape(-1).Rows(1, 1+2*8*4).Reshape(4, 16)
	y := b.New(tensor.F32, 4, 8)
	b.GeGLU(y, xv)
	want := cpu.New(tensor.F32, 4, 8)
	cpu.GeGLU(want, b.ToHost(xv))
	assert.Less(t, relErr(b.ToHost(y).F32(), want.F32()), 1e-5, "misaligned view")
	require.NoError(t, b.Sync())
}

// TestGPUAttentionAtScale compares attention with the CPU at a longer
// sequence than the conformance suite uses, with a window and padding, so
// that several key tiles, skipped tiles and partial tiles all occur.
func TestGPUAttentionAtScale(t *testing.T) {
	b := requireGPU(t)
	rng := rand.New(rand.NewPCG(3, 2))
	cpu := tensor.CPU()
	for _, c := range []struct {
		d, window int
		bf16      bool
		nkv       int // 0: multi-head, qkv [B, S, 3, nh, d]; else grouped, [B, S, nh + 2·nkv, d]
	}{{64, 0, false, 0}, {64, 128, false, 0}, {32, 0, false, 0}, {80, 64, false, 0}, {64, 0, true, 0}, {64, 128, true, 0},
		{32, 0, true, 0}, {80, 64, true, 0}, {128, 0, true, 0},
		{64, 128, false, 2}, {64, 0, true, 1}, {80, 64, true, 2}} {
		tol := 1e-5 // f32 kernels; the tensor-core ones round their operands to bf16
		if c.bf16 {
			tol = 2e-2
		}
		const bs, s, nh = 2, 300, 4
		shape := []int{bs, s, 3, nh, c.d}
		if c.nkv != 0 {
			shape = []int{bs, s, nh + 2*c.nkv, c.d}
		}
		qkvh := hostRandom(rng, 1, shape...)
		mask := make([]int32, bs*s)
		for i := range mask {
			mask[i] = 1
		}
		for j := 250; j < s; j++ { // the second sequence is padded at the end
			mask[s+j] = 0
		}
		maskh := tensor.FromI32(mask, bs, s)
		p := tensor.AttentionParams{Heads: nh, KVHeads: c.nkv, Scale: float32(1 / math.Sqrt(float64(c.d))), Window: c.window, BF16: c.bf16}

		outW, lseW := cpu.New(tensor.F32, bs, s, nh, c.d), cpu.New(tensor.F32, bs, nh, s)
		cpu.Attention(outW, lseW, qkvh, maskh, p)
		qkv, dm := b.FromHost(qkvh), b.FromHost(maskh)
		out, lse := b.New(tensor.F32, bs, s, nh, c.d), b.New(tensor.F32, bs, nh, s)
		b.Fill(out, float32(math.NaN()))
		b.Fill(lse, float32(math.NaN()))
		b.Attention(out, lse, qkv, dm, p)
		assert.Less(t, relErr(b.ToHost(out).F32(), outW.F32()), tol, "d=%d window=%d bf16=%v nkv=%d out", c.d, c.window, c.bf16, c.nkv)
		assert.Less(t, relErr(b.ToHost(lse).F32(), lseW.F32()), tol, "d=%d window=%d bf16=%v nkv=%d lse", c.d, c.window, c.bf16, c.nkv)

		douth := hostRandom(rng, 1, bs, s, nh, c.d)
		dqkvW := hostRandom(rng, 1, shape...)
		dqkv := b.FromHost(dqkvW)
		cpu.AttentionBackward(dqkvW, douth, qkvh, outW, lseW, maskh, p)
		b.AttentionBackward(dqkv, b.FromHost(douth), qkv, out, lse, dm, p)
		assert.Less(t, relErr(b.ToHost(dqkv).F32(), dqkvW.F32()), tol, "d=%d window=%d bf16=%v nkv=%d dqkv", c.d, c.window, c.bf16, c.nkv)
	}
	require.NoError(t, b.Sync())
}

// TestGPUMatMulBetaZeroIgnoresNaN: with beta = 0, NaNs in c must not leak.
func TestGPUMatMulBetaZeroIgnoresNaN(t *testing.T) {
	b := requireGPU(t)
	rng := rand.New(rand.NewPCG(3, 3))
	ah, bh := hostRandom(rng, 1, 33, 20), hostRandom(rng, 1, 20, 17)
	want := tensor.CPU().New(tensor.F32, 33, 17)
	tensor.CPU().MatMul(want, ah, bh, false, false, 1, 0)
	c := b.New(tensor.F32, 33, 17)
	b.Fill(c, float32(math.NaN()))
	b.MatMul(c, b.FromHost(ah), b.FromHost(bh), false, false, 1, 0)
	assert.Less(t, relErr(b.ToHost(c).F32(), want.F32()), 1e-5)
}

// TestGPUGraphReplay records two ops in a graph and replays it twice.
func TestGPUGraphReplay(t *testing.T) {
	b := requireGPU(t)
	rng := rand.New(rand.NewPCG(3, 4))
	xh := hostRandom(rng, 1, 1000)
	x, acc := b.FromHost(xh), b.New(tensor.F32, 1000)
	tmp := b.New(tensor.F32, 1000)
	g, err := b.Capture(func() {
		b.GELU(tmp, x)
		b.AXPY(acc, tmp, 1)
	})
	require.NoError(t, err)
	defer g.Destroy()
	got := b.ToHost(acc).F32()
	for _, v := range got {
		require.Zero(t, v, "capture must record, not run")
	}
	g.Launch()
	g.Launch()
	gelu := tensor.CPU().New(tensor.F32, 1000)
	tensor.CPU().GELU(gelu, xh)
	want := make([]float32, 1000)
	for i, v := range gelu.F32() {
		want[i] = 2 * v
	}
	assert.Less(t, relErr(b.ToHost(acc).F32(), want), 1e-6)
	require.NoError(t, b.Sync())
}

// TestGPUAllocatorReuse: a freed block serves the next allocation of its
// size class, and New zero-fills a reused block.
func TestGPUAllocatorReuse(t *testing.T) {
	b := requireGPU(t)
	x := b.New(tensor.F32, 3000)
	b.Fill(x, 7)
	p := b.ptr("test", x)
	x.Free()
	y := b.New(tensor.F32, 2900)
	assert.Equal(t, p, b.ptr("test", y), "the freed block was not reused")
	for _, v := range b.ToHost(y).F32() {
		require.Zero(t, v)
	}
	y.Free()
	require.NoError(t, b.Sync())
}

// TestGPUOutOfMemoryCollects drops device tensors without Free, three times
// the device's memory in all: once the device is full, the allocator must
// run the garbage collector and reuse what its cleanups return, instead of
// failing. A tensor kept alive throughout must keep its values, and the
// peak the allocator reports must stay within the device.
func TestGPUOutOfMemoryCollects(t *testing.T) {
	b := requireGPU(t)
	require.NoError(t, b.Sync())
	var total int
	require.NoError(t, b.ctx.Do(func(th *cu.Thread) error {
		var err error
		_, total, err = th.MemGetInfo()
		return err
	}))
	kept := b.New(tensor.F32, 1000)
	b.Fill(kept, 3)
	chunk := total / 8
	b.ResetPeak()
	for i := range 24 {
		x := b.New(tensor.F32, chunk/4)
		b.Fill(x, float32(i))
	}
	require.NoError(t, b.Sync())
	for _, v := range b.ToHost(kept).F32() {
		require.Equal(t, float32(3), v)
	}
	st := b.MemoryStats()
	t.Logf("device %d MiB; live %d MiB, cached %d MiB, peak %d MiB", total>>20, st.Live>>20, st.Cached>>20, st.Peak>>20)
	assert.LessOrEqual(t, st.Peak, total)
	assert.GreaterOrEqual(t, st.Peak, chunk)
	kept.Free()
}

// TestGPUGraphKeepsMemory: memory allocated or freed while recording belongs
// to the graph until Destroy. Blocks of the same size class allocated after
// the recording must not reuse them, or a replay would overwrite their data.
func TestGPUGraphKeepsMemory(t *testing.T) {
	b := requireGPU(t)
	const n = 4096
	x := b.New(tensor.F32, n) // from before the recording, freed during it
	b.Fill(x, 2)
	px := b.ptr("test", x)
	out := b.New(tensor.F32, n)
	var inner cu.DevicePtr
	g, err := b.Capture(func() {
		tmp := b.New(tensor.F32, n) // allocated during the recording, freed in it
		inner = b.ptr("test", tmp)
		b.Add(tmp, x, x)
		b.Copy(out, tmp)
		tmp.Free()
		x.Free()
	})
	require.NoError(t, err)
	var after []*tensor.Tensor
	for range 4 {
		y := b.New(tensor.F32, n)
		b.Fill(y, -1)
		after = append(after, y)
		p := b.ptr("test", y)
		assert.NotEqual(t, px, p, "a block freed during the recording was handed out")
		assert.NotEqual(t, inner, p, "a block allocated during the recording was handed out")
	}
	g.Launch()
	for _, v := range b.ToHost(out).F32() {
		require.Equal(t, float32(4), v)
	}
	for _, y := range after {
		for _, v := range b.ToHost(y).F32() {
			require.Equal(t, float32(-1), v, "a replay wrote into a tensor allocated after the recording")
		}
	}
	g.Destroy()
	require.NoError(t, b.Sync())
}
