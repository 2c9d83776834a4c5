package lm_test

import (
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

// source is an in-memory TensorSource.
type source map[string]*tensor.Tensor

func (s source) Names() []string {
	var out []string
	for n := range s {
		out = append(out, n)
	}
	return out
}

func (s source) F32(name string) ([]float32, []int, error) {
	t := s[name]
	return t.F32(), t.Shape(), nil
}

func params() []*nn.Param {
	return []*nn.Param{nn.NewParam(tensor.CPU(), "a.weight", 2, 3), nn.NewParam(tensor.CPU(), "b.weight", 4)}
}

func random(rng *rand.Rand, shape ...int) *tensor.Tensor {
	v := make([]float32, tensor.Numel(shape))
	for i := range v {
		v[i] = rng.Float32()*2 - 1
	}
	return tensor.FromF32(v, shape...)
}

func TestLoadParams(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	a, b, head := random(rng, 2, 3), random(rng, 4), random(rng, 4)
	for _, c := range []struct {
		name  string
		src   source
		extra func(string) bool
		err   string
	}{
		{"all there", source{"a.weight": a, "b.weight": b}, nil, ""},
		{"an extra tensor", source{"a.weight": a, "b.weight": b, "head.weight": head}, nil, "tensor head.weight is not a parameter of this config"},
		{"an extra tensor accepted", source{"a.weight": a, "b.weight": b, "head.weight": head}, func(n string) bool { return n == "head.weight" }, ""},
		{"a missing tensor", source{"a.weight": a}, nil, "missing tensor b.weight"},
		{"a wrong shape", source{"a.weight": a, "b.weight": a}, nil, "tensor b.weight has shape [2 3], config.json wants [4]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ps := params()
			err := lm.LoadParams(ps, c.src, c.extra)
			if c.err != "" {
				require.EqualError(t, err, c.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, a.F32(), ps[0].Value.F32())
			require.Equal(t, b.F32(), ps[1].Value.F32())
		})
	}
}

func TestSaveParamsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ps := params()
	for _, p := range ps {
		tensor.CPU().Copy(p.Value, random(rng, p.Value.Shape()...))
	}
	dir := t.TempDir()
	require.NoError(t, lm.SaveParams(dir, ps, false))
	f, err := safetensors.Open(filepath.Join(dir, safetensors.SingleFileName))
	require.NoError(t, err)
	back := params()
	require.NoError(t, lm.LoadParams(back, f, nil))
	for i := range ps {
		require.Equal(t, ps[i].Value.F32(), back[i].Value.F32(), ps[i].Name)
	}
}
