package graphs_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/graphs"
	"github.com/dllmgo/dllm/graphs/graphstest"
	"github.com/dllmgo/dllm/tensor"
)

func TestPadRows(t *testing.T) {
	for _, tc := range []struct {
		rows    []int32
		quantum int
		want    []int32
	}{
		{[]int32{7}, 4, []int32{7, 7, 7, 7}},
		{[]int32{5, 9, 2}, 4, []int32{5, 9, 2, 5}},
		{[]int32{5, 9, 2, 1}, 4, []int32{5, 9, 2, 1}},
		{[]int32{5, 9, 2, 1, 3}, 4, []int32{5, 9, 2, 1, 3, 5, 5, 5}},
		{[]int32{4, 3}, 1, []int32{4, 3}},
	} {
		require.Equal(t, tc.want, graphs.PadRows(tc.rows, tc.quantum), "%v by %d", tc.rows, tc.quantum)
	}
}

// call is one Run: a key, an input, and what should happen.
type call struct {
	key   string
	x     []float32 // the input; its length is part of the key
	mask  bool      // a second, optional input
	eager bool      // the forward pass runs eagerly (else: a replay)
	want  graphstest.Counts
}

// TestRecorder drives a Recorder on the recording CPU backend through a
// sequence of calls and checks, after each, which path it took (the eager
// first call that also records, or a replay), the backend's counters, and
// that the result is the forward pass of that call's inputs: a replay must
// see the inputs copied into its buffers.
func TestRecorder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		max   int
		fail  bool
		calls []call
	}{
		{"first call eager and recorded, then replays", 4, false, []call{
			{"a", []float32{1, 2}, false, true, graphstest.Counts{Captures: 1}},
			{"a", []float32{3, 4}, false, false, graphstest.Counts{Captures: 1, Launches: 1}},
			{"a", []float32{5, 6}, false, false, graphstest.Counts{Captures: 1, Launches: 2}},
		}},
		{"keys kept apart", 4, false, []call{
			{"a", []float32{1, 2}, false, true, graphstest.Counts{Captures: 1}},
			{"b", []float32{1, 2, 3}, false, true, graphstest.Counts{Captures: 2}},
			{"c", []float32{1, 2}, true, true, graphstest.Counts{Captures: 3}},
			{"b", []float32{4, 5, 6}, false, false, graphstest.Counts{Captures: 3, Launches: 1}},
			{"c", []float32{7, 8}, true, false, graphstest.Counts{Captures: 3, Launches: 2}},
			{"a", []float32{9, 9}, false, false, graphstest.Counts{Captures: 3, Launches: 3}},
		}},
		{"past the bound all are released", 2, false, []call{
			{"a", []float32{1}, false, true, graphstest.Counts{Captures: 1}},
			{"b", []float32{2}, false, true, graphstest.Counts{Captures: 2}},
			{"c", []float32{3}, false, true, graphstest.Counts{Captures: 3, Destroys: 2}},
			{"c", []float32{4}, false, false, graphstest.Counts{Captures: 3, Launches: 1, Destroys: 2}},
			{"a", []float32{5}, false, true, graphstest.Counts{Captures: 4, Launches: 1, Destroys: 2}},
		}},
		{"a failed recording stays eager", 4, true, []call{
			{"a", []float32{1, 2}, false, true, graphstest.Counts{Captures: 1}},
			{"a", []float32{3, 4}, false, true, graphstest.Counts{Captures: 1}},
			{"a", []float32{5, 6}, false, true, graphstest.Counts{Captures: 1}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := graphstest.New()
			be.Fail = tc.fail
			r := graphs.NewRecorder[string](be, tc.max)
			require.True(t, r.CanRecord())
			for i, c := range tc.calls {
				runs := 0 // of this call's forward; a replay runs the recorded call's
				inputs := []*tensor.Tensor{tensor.FromF32(c.x, len(c.x)), nil}
				if c.mask {
					inputs[1] = tensor.FromF32([]float32{10}, 1)
				}
				got := r.Run(c.key, inputs, func(in []*tensor.Tensor) *tensor.Tensor {
					runs++
					return double(be, in)
				})
				require.Equal(t, map[bool]int{true: 1, false: 0}[c.eager], runs, "call %d: eager runs", i)
				require.Equal(t, c.want, be.Counts(), "call %d", i)
				require.Equal(t, want(c), got.F32(), "call %d", i)
			}
			r.Release()
			require.Zero(t, r.Graphs())
			counts := be.Counts()
			require.Equal(t, counts.Captures, counts.Destroys+failed(tc.fail, counts.Captures), "every recorded graph destroyed")
		})
	}
}

func failed(fail bool, captures int) int {
	if fail {
		return captures
	}
	return 0
}

// double is the forward pass: 2·x, plus the mask's one value where given.
func double(be tensor.Backend, in []*tensor.Tensor) *tensor.Tensor {
	out := be.New(tensor.F32, in[0].Shape()...)
	be.Add(out, in[0], in[0])
	if in[1] != nil {
		bias := be.New(tensor.F32, in[0].Shape()...)
		be.Fill(bias, in[1].F32()[0])
		be.Add(out, out, bias)
	}
	return out
}

func want(c call) []float32 {
	out := make([]float32, len(c.x))
	for i, v := range c.x {
		out[i] = 2 * v
		if c.mask {
			out[i] += 10
		}
	}
	return out
}

// TestRecorderChecksInputs: a key's inputs keep their shapes.
func TestRecorderChecksInputs(t *testing.T) {
	r := graphs.NewRecorder[string](graphstest.New(), 4)
	fwd := func(in []*tensor.Tensor) *tensor.Tensor { return in[0] }
	r.Run("a", []*tensor.Tensor{tensor.FromF32([]float32{1, 2}, 2)}, fwd)
	require.Panics(t, func() { r.Run("a", []*tensor.Tensor{tensor.FromF32([]float32{1, 2, 3}, 3)}, fwd) })
	require.Panics(t, func() { r.Run("a", []*tensor.Tensor{tensor.FromI32([]int32{1, 2}, 2)}, fwd) })
	require.Panics(t, func() { r.Run("a", []*tensor.Tensor{nil}, fwd) })
}

// TestRecorderWithoutGraphs: on a backend that cannot record, every call
// runs eagerly.
func TestRecorderWithoutGraphs(t *testing.T) {
	be := tensor.CPU()
	r := graphs.NewRecorder[int](be, 4)
	require.False(t, r.CanRecord())
	runs := 0
	for i := range 3 {
		x := []float32{float32(i), 1}
		got := r.Run(0, []*tensor.Tensor{tensor.FromF32(x, 2), nil}, func(in []*tensor.Tensor) *tensor.Tensor {
			runs++
			return double(be, in)
		})
		require.Equal(t, []float32{2 * float32(i), 2}, got.F32())
	}
	require.Equal(t, 3, runs)
	require.Zero(t, r.Graphs())
}

// TestNilRecorder: a nil Recorder records nothing and releases nothing.
func TestNilRecorder(t *testing.T) {
	var r *graphs.Recorder[int]
	require.False(t, r.CanRecord())
	require.Zero(t, r.Graphs())
	require.NotPanics(t, r.Release)
}
