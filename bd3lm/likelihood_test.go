package bd3lm_test

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/bd3lm"
	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// contextFree is the test model with its logits replaced by a fixed table
// per canvas position: p(x_s | anything) = softmax(table[s]), a joint that
// is a product, whose log-likelihood is exact and equal to its ELBO.
type contextFree struct {
	*bert.Model
	table [][]float32
}

func (m contextFree) Forward(tp *nn.Tape, in lm.Input) lm.Output {
	out := m.Model.Forward(tp, in)
	logits, s := out.Logits.Value.F32(), in.IDs.Dim(1)
	for i, row := range in.Rows.I32() {
		copy(logits[i*testVocab:(i+1)*testVocab], m.table[int(row)%s])
	}
	return out
}

// meanAndSE runs the estimator runs times with fresh seeds.
func meanAndSE(t *testing.T, runs int, f func(seed uint64) float64) (mean, se float64) {
	var xs []float64
	for r := range runs {
		xs = append(xs, f(uint64(r)))
	}
	for _, x := range xs {
		mean += x
	}
	mean /= float64(runs)
	v := 0.0
	for _, x := range xs {
		v += (x - mean) * (x - mean)
	}
	se = math.Sqrt(v / float64(runs-1) / float64(runs))
	require.Positive(t, se, "a degenerate estimator")
	return mean, se
}

// On a model whose log-likelihood is exact (context-free positions), the
// block-wise Monte Carlo ELBO is unbiased for it: the mean of many
// estimates lies within four standard errors of the exact value.
func TestLogLikelihoodUnbiasedOnExactModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	table := make([][]float32, 32)
	for s := range table {
		table[s] = make([]float32, testVocab)
		for v := range table[s] {
			table[s][v] = float32(2 * rng.NormFloat64())
		}
	}
	m := contextFree{newTestModel(t), table}
	prompt, cont := []int32{3, 4, 5}, []int32{7, 1, 9, 2, 2, 30, 11}
	const bs = 3
	exact := 0.0
	for i, x := range cont {
		s := bs + i // the prompt padded to one block
		exact -= mdlm.CrossEntropy(table[s], x)
	}
	opts := bd3lm.LikelihoodOptions{Samples: 8, BatchSize: 8, BlockSize: bs, MaskID: testMask, PadID: testPad}
	mean, se := meanAndSE(t, 200, func(seed uint64) float64 {
		ll, err := bd3lm.LogLikelihood(m, prompt, cont, opts, rand.New(rand.NewPCG(seed, 7)))
		require.NoError(t, err)
		return ll
	})
	require.InDelta(t, exact, mean, 4*se, "exact %.4f, estimate %.4f ± %.4f", exact, mean, se)
}

// On a real (tiny, random) model, the estimator's mean is the block-wise
// bound enumerated exactly: every block, every subset of its positions
// masked, weighted as k uniform on 1..n and the subset uniform given k.
func TestLogLikelihoodUnbiasedForEnumeratedBound(t *testing.T) {
	for _, fam := range twoFamilies(t) {
		t.Run(fam.name, func(t *testing.T) {
			m, be := fam.m, tensor.CPU()
			prompt, cont := []int32{3, 4, 5, 6}, []int32{7, 1, 9, 2, 30}
			const bs = 3
			start := 6 // the prompt padded to two blocks
			canvas := append(slices.Repeat([]int32{testPad}, start-len(prompt)), prompt...)
			canvas = append(canvas, cont...)
			// logProbs returns log p(x_i) at the positions of set, with set
			// masked in block [lo, hi) of canvas[:hi], under the dense
			// block-causal mask (padding neither query nor key).
			logProbs := func(lo, hi int, set []int) []float64 {
				ids := slices.Clone(canvas[:hi])
				for _, i := range set {
					ids[i] = testMask
				}
				allow := make([]bool, hi*hi)
				for q := start - len(prompt); q < hi; q++ {
					for k := start - len(prompt); k < hi && k/bs <= q/bs; k++ {
						allow[q*hi+k] = true
					}
				}
				rows := make([]int32, len(set))
				for j, i := range set {
					rows[j] = int32(i)
				}
				o := m.Forward(nn.NoGrad(be), lm.Input{IDs: be.FromHost(tensor.FromI32(ids, 1, hi)),
					Rows: be.FromHost(tensor.FromI32(rows, len(rows))), Mask: &lm.AttentionMask{Allow: allow, Rows: 1}})
				l := o.Logits.Value.F32()
				out := make([]float64, len(set))
				for j, i := range set {
					out[j] = -mdlm.CrossEntropy(l[j*testVocab:(j+1)*testVocab], canvas[i])
				}
				return out
			}
			bound := 0.0
			for lo := start; lo < len(canvas); lo += bs {
				hi := min(lo+bs, len(canvas))
				n := hi - lo
				for subset := 1; subset < 1<<n; subset++ {
					k := bits.OnesCount(uint(subset))
					var set []int
					for i := range n {
						if subset>>i&1 == 1 {
							set = append(set, lo+i)
						}
					}
					sum := 0.0
					for _, lp := range logProbs(lo, hi, set) {
						sum += lp
					}
					// P(k) = 1/n, P(set | k) = 1/C(n, k); estimate (n/k)·sum.
					bound += sum * float64(n) / float64(k) / float64(n) / binomial(n, k)
				}
			}
			opts := bd3lm.LikelihoodOptions{Samples: 6, BatchSize: 6, BlockSize: bs, MaskID: testMask, PadID: testPad}
			mean, se := meanAndSE(t, 150, func(seed uint64) float64 {
				ll, err := bd3lm.LogLikelihood(m, prompt, cont, opts, rand.New(rand.NewPCG(seed, 9)))
				require.NoError(t, err)
				return ll
			})
			require.InDelta(t, bound, mean, 4*se, "enumerated %.4f, estimate %.4f ± %.4f", bound, mean, se)
		})
	}
}

func binomial(n, k int) float64 {
	r := 1.0
	for i := range k {
		r = r * float64(n-i) / float64(i+1)
	}
	return r
}

// Bad arguments are errors, not panics.
func TestLogLikelihoodRefusesBadInput(t *testing.T) {
	m := newTestModel(t)
	opts := bd3lm.LikelihoodOptions{BlockSize: 4, MaskID: testMask, PadID: testPad}
	rng := rand.New(rand.NewPCG(1, 1))
	_, err := bd3lm.LogLikelihood(m, []int32{1}, nil, opts, rng)
	require.Error(t, err)
	_, err = bd3lm.LogLikelihood(m, []int32{1}, []int32{testVocab}, opts, rng)
	require.Error(t, err)
	bad := opts
	bad.MaskID = -1
	_, err = bd3lm.LogLikelihood(m, []int32{1}, []int32{2}, bad, rng)
	require.Error(t, err)
}
