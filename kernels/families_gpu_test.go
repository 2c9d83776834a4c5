package kernels

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

// TestGPUFamiliesMatchReference runs each family's reference fixture (the
// outputs of the family's own PyTorch code, kept in its package's testdata)
// on the GPU and compares the logits at the real positions with the
// reference's, within the fixtures' tolerance (1e-4 relative to the largest
// logit). The CPU is held to the same fixtures in each family's tests; this
// is the same check through the CUDA kernels: grouped-query attention,
// RMSNorm, SwiGLU, q/k/v biases, the mixture of experts's gathers and
// scatters, on the backend.
func TestGPUFamiliesMatchReference(t *testing.T) {
	g := requireGPU(t)
	for _, dir := range []string{"llada", "lladamoe", "dream"} {
		t.Run(dir, func(t *testing.T) {
			// From the package folder (go test) or the repository root
			// (.gpu/run.sh).
			folder := filepath.Join("..", dir, "testdata", "tiny_a")
			if _, err := os.Stat(folder); err != nil {
				folder = filepath.Join(dir, "testdata", "tiny_a")
			}
			m, err := modeldir.LoadModel(folder, g)
			require.NoError(t, err)
			golden, err := safetensors.Open(filepath.Join(folder, "golden.safetensors"))
			require.NoError(t, err)
			ids64, shape, err := golden.I64("input_ids")
			require.NoError(t, err)
			mask64, _, err := golden.I64("attention_mask")
			require.NoError(t, err)
			want, wshape, err := golden.F32("logits")
			require.NoError(t, err)
			bsz, seq, vocab := shape[0], shape[1], wshape[2]
			ids, mask := make([]int32, len(ids64)), make([]int32, len(mask64))
			var rows []int32
			for i := range ids64 {
				ids[i], mask[i] = int32(ids64[i]), int32(mask64[i])
				if mask[i] == 1 {
					rows = append(rows, int32(i))
				}
			}
			got, err := m.Logits(ids, bsz, seq, mask, rows)
			require.NoError(t, err)
			require.Len(t, got, len(rows)*vocab)
			var maxErr, maxRef float64
			for k, r := range rows {
				for v := range vocab {
					w := float64(want[int(r)*vocab+v])
					maxErr = math.Max(maxErr, math.Abs(float64(got[k*vocab+v])-w))
					maxRef = math.Max(maxRef, math.Abs(w))
				}
			}
			t.Logf("%s: max |logit error| / max |logit| = %.2g over %d rows", dir, maxErr/maxRef, len(rows))
			require.LessOrEqual(t, maxErr/maxRef, 1e-4)
		})
	}
}

// TestGPUFreshFamiliesMatchCPU: a fresh tiny model of each family whose
// reference is a float64 implementation in its own tests (RND1, A2D), with
// the same weights on the GPU and on the CPU, gives the same logits: the CPU
// is held to the reference there, the GPU to the CPU here.
func TestGPUFreshFamiliesMatchCPU(t *testing.T) {
	g := requireGPU(t)
	for _, family := range []string{"rnd1", "a2d"} {
		t.Run(family, func(t *testing.T) {
			build := func(be tensor.Backend) lm.Model {
				m, err := modeldir.New(family, "tiny", lm.Fresh{}, be)
				require.NoError(t, err)
				m.Init(rand.New(rand.NewPCG(11, 12)))
				return m
			}
			cpu, gpu := build(tensor.CPU()), build(g)
			vocab := cpu.VocabSize()
			const bsz, seq = 2, 20
			rng := rand.New(rand.NewPCG(5, 6))
			ids, mask := make([]int32, bsz*seq), make([]int32, bsz*seq)
			var rows []int32
			for i := range ids {
				ids[i] = int32(4 + rng.IntN(vocab-8))
				mask[i] = 1
				if i >= seq+15 { // the second row is right-padded
					mask[i] = 0
				} else {
					rows = append(rows, int32(i))
				}
			}
			want, err := cpu.Logits(ids, bsz, seq, mask, rows)
			require.NoError(t, err)
			got, err := gpu.Logits(ids, bsz, seq, mask, rows)
			require.NoError(t, err)
			var maxErr, maxRef float64
			for i := range want {
				maxErr = math.Max(maxErr, math.Abs(float64(got[i]-want[i])))
				maxRef = math.Max(maxRef, math.Abs(float64(want[i])))
			}
			t.Logf("%s: max |GPU − CPU| / max |logit| = %.2g", family, maxErr/maxRef)
			require.Positive(t, maxRef)
			require.LessOrEqual(t, maxErr/maxRef, 1e-4)
		})
	}
}

// TestGPULoadBF16: a LLaDA and a Dream folder with BF16 weights on disk (the
// fixtures rounded), loaded with their weights kept in BF16
// (modeldir.Options.BF16Weights: the embedding gathered from a BF16 table,
// the projections and head multiplied by cuBLASLt as BF16 pairs), give on
// the GPU, under bf16 precision, bit for bit the logits of the same folder
// loaded as float32 and cast per product.
func TestGPULoadBF16(t *testing.T) {
	g := requireGPU(t)
	for _, dir := range []string{"llada", "dream"} {
		t.Run(dir, func(t *testing.T) {
			folder := filepath.Join("..", dir, "testdata", "tiny_a")
			if _, err := os.Stat(folder); err != nil {
				folder = filepath.Join(dir, "testdata", "tiny_a")
			}
			folder = bf16Copy(t, folder)
			var logits [3][]float32
			for i, bf16 := range []bool{false, true, true} {
				var be tensor.Backend = g
				if i == 2 {
					be = tensor.CPU()
				}
				m, err := modeldir.LoadModelWith(folder, be, modeldir.Options{BF16Weights: bf16})
				require.NoError(t, err)
				if bf16 {
					for _, p := range m.Params() {
						if p.Value.Rank() == 2 {
							require.Equal(t, tensor.BF16, p.Value.DType(), p.Name)
						}
					}
				}
				m.(lm.PrecisionSetter).SetPrecision(nn.PrecisionBF16)
				rng := rand.New(rand.NewPCG(7, 8))
				ids, rows := make([]int32, 12), make([]int32, 12)
				for k := range ids {
					ids[k], rows[k] = int32(rng.IntN(m.VocabSize())), int32(k)
				}
				logits[i], err = m.Logits(ids, 2, 6, nil, rows)
				require.NoError(t, err)
			}
			require.Equal(t, logits[0], logits[1])
			// The CPU runs attention in f32, the GPU in bf16 under this precision.
			var e, a float64
			for k, w := range logits[2] {
				e = math.Max(e, math.Abs(float64(logits[1][k]-w)))
				a = math.Max(a, math.Abs(float64(w)))
			}
			t.Logf("GPU against CPU, both with BF16 weights: max |difference| / max |logit| = %.2g", e/a)
			require.Less(t, e/a, 2e-2)
		})
	}
}

// bf16Copy writes a copy of the model folder dir with its weights rounded
// to BF16, as released checkpoints are stored.
func bf16Copy(t *testing.T, dir string) string {
	t.Helper()
	out := t.TempDir()
	src, err := safetensors.OpenModel(dir)
	require.NoError(t, err)
	var ts []safetensors.Tensor
	for _, name := range src.Names() {
		v, shape, err := src.F32(name)
		require.NoError(t, err)
		x, err := safetensors.FloatTensor(name, safetensors.BF16, shape, v)
		require.NoError(t, err)
		ts = append(ts, x)
	}
	require.NoError(t, safetensors.Write(filepath.Join(out, safetensors.SingleFileName), ts, nil))
	js, err := os.ReadFile(filepath.Join(dir, "config.json"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(out, "config.json"), js, 0o644))
	return out
}
