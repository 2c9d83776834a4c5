package dist

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// shapes of a toy model's parameters: sizes that straddle bucket borders.
var shapes = [][]int{{7, 5}, {3}, {64}, {4, 4, 2}, {1}, {33, 3}}

func newParams(rng *rand.Rand, withGrads bool) []*nn.Param {
	var ps []*nn.Param
	for i, s := range shapes {
		p := nn.NewParam(tensor.CPU(), string(rune('a'+i)), s...)
		for j := range p.Value.F32() {
			p.Value.F32()[j] = float32(rng.NormFloat64())
		}
		if withGrads && i != 4 { // parameter 4 has no gradient yet
			p.Grad = tensor.CPU().New(tensor.F32, s...)
			for j := range p.Grad.F32() {
				p.Grad.F32()[j] = float32(rng.NormFloat64())
			}
		}
		ps = append(ps, p)
	}
	return ps
}

// onRanks runs f on every rank of a local group of n, concurrently.
func onRanks(n int, f func(c Comm)) {
	var wg sync.WaitGroup
	for _, c := range NewLocal(n) {
		wg.Add(1)
		go func() { defer wg.Done(); f(c) }()
	}
	wg.Wait()
}

// TestReducerAverage: every rank ends with the float64 mean of the ranks'
// gradients and loss, bit-equal across ranks, through several buckets.
func TestReducerAverage(t *testing.T) {
	for _, tc := range []struct {
		name        string
		ranks       int
		bucketBytes int
		buckets     int
	}{
		{"one bucket", 3, 0, 1},
		{"small buckets", 3, 4 * 70, 4},
		{"two ranks, a bucket per tensor", 2, 4, len(shapes)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			grads := make([][]*nn.Param, tc.ranks)
			losses := make([]float32, tc.ranks)
			for r := range tc.ranks {
				rng := rand.New(rand.NewPCG(uint64(r), 9))
				grads[r] = newParams(rng, true)
				losses[r] = float32(rng.Float64() * 5)
			}
			// float64 reference means (a missing gradient counts as zero)
			want := make([][]float64, len(shapes))
			for i := range shapes {
				want[i] = make([]float64, grads[0][i].Value.Numel())
				for r := range tc.ranks {
					if g := grads[r][i].Grad; g != nil {
						for j, v := range g.F32() {
							want[i][j] += float64(v) / float64(tc.ranks)
						}
					}
				}
			}
			var wantLoss float64
			for _, l := range losses {
				wantLoss += float64(l) / float64(tc.ranks)
			}
			gotLoss := make([]float32, tc.ranks)
			onRanks(tc.ranks, func(c Comm) {
				r := c.Rank()
				red := NewReducer(c, grads[r], tc.bucketBytes, 1)
				require.Equal(t, tc.buckets, red.Buckets())
				loss := tensor.FromF32([]float32{losses[r]}, 1)
				require.NoError(t, red.Average(loss))
				gotLoss[r] = loss.F32()[0]
			})
			for r := range tc.ranks {
				require.InDelta(t, wantLoss, float64(gotLoss[r]), 1e-6*math.Abs(wantLoss))
				require.Equal(t, gotLoss[0], gotLoss[r])
				for i := range shapes {
					g := grads[r][i].Grad.F32()
					require.Equal(t, grads[0][i].Grad.F32(), g, "rank %d param %d differs from rank 0", r, i)
					for j, v := range g {
						require.InDelta(t, want[i][j], float64(v), 1e-6*(1+math.Abs(want[i][j])))
					}
				}
			}
		})
	}
}

// TestBroadcastParams: every rank ends with rank 0's weights.
func TestBroadcastParams(t *testing.T) {
	const n = 3
	params := make([][]*nn.Param, n)
	for r := range n {
		params[r] = newParams(rand.New(rand.NewPCG(uint64(r), 1)), false)
	}
	require.NotEqual(t, params[0][0].Value.F32(), params[1][0].Value.F32())
	want := make([][]float32, len(shapes))
	for i, p := range params[0] {
		want[i] = append([]float32(nil), p.Value.F32()...)
	}
	onRanks(n, func(c Comm) { require.NoError(t, BroadcastParams(c, params[c.Rank()])) })
	for r := range n {
		for i, p := range params[r] {
			require.Equal(t, want[i], p.Value.F32(), "rank %d param %d", r, i)
		}
	}
}

// TestBroadcastUint64 and the single-process Comm.
func TestBroadcastUint64(t *testing.T) {
	got := make([]uint64, 3)
	onRanks(3, func(c Comm) {
		v, err := BroadcastUint64(c, uint64(100+c.Rank()), 0)
		require.NoError(t, err)
		got[c.Rank()] = v
	})
	require.Equal(t, []uint64{100, 100, 100}, got)
	v, err := BroadcastUint64(Single{}, 7, 0)
	require.NoError(t, err)
	require.Equal(t, uint64(7), v)
}

// TestSingleIsNoOp: one rank averages nothing away.
func TestSingleIsNoOp(t *testing.T) {
	ps := newParams(rand.New(rand.NewPCG(1, 2)), true)
	before := append([]float32(nil), ps[0].Grad.F32()...)
	require.NoError(t, NewReducer(Single{}, ps, 0, 0).Average(nil))
	require.Equal(t, before, ps[0].Grad.F32())
}
