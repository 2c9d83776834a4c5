package conformance

import (
	"fmt"
	"math"

	"github.com/dllmgo/dllm/tensor"
)

// Host-side inputs. Every float input is drawn as float32 (what the backend
// receives) and handed to the references as the same values in float64, so
// the comparison measures the backend's arithmetic only.

// host is an F32 input on the CPU with its values as float64.
type host struct {
	t *tensor.Tensor
	v []float64
}

// normal draws float32 values from N(0, scale²), redrawing exact zeros so
// that no input is degenerate.
func (e *env) normal(scale float64, shape ...int) host {
	n := tensor.Numel(shape)
	f := make([]float32, n)
	for i := range f {
		for f[i] == 0 {
			f[i] = float32(e.rng.NormFloat64() * scale)
		}
	}
	return fromF32(f, shape...)
}

// uniform draws float32 values from [lo, hi), redrawing exact zeros.
func (e *env) uniform(lo, hi float64, shape ...int) host {
	f := make([]float32, tensor.Numel(shape))
	for i := range f {
		for f[i] == 0 {
			f[i] = float32(lo + (hi-lo)*e.rng.Float64())
		}
	}
	return fromF32(f, shape...)
}

func fromF32(f []float32, shape ...int) host {
	v := make([]float64, len(f))
	for i, x := range f {
		v[i] = float64(x)
	}
	return host{t: tensor.FromF32(f, shape...), v: v}
}

// ints draws n I32 values from [lo, hi).
func (e *env) ints(lo, hi int, shape ...int) (*tensor.Tensor, []int) {
	n := tensor.Numel(shape)
	v := make([]int, n)
	d := make([]int32, n)
	for i := range v {
		v[i] = lo + e.rng.IntN(hi-lo)
		d[i] = int32(v[i])
	}
	return tensor.FromI32(d, shape...), v
}

func i32s(v []int, shape ...int) *tensor.Tensor {
	d := make([]int32, len(v))
	for i, x := range v {
		d[i] = int32(x)
	}
	return tensor.FromI32(d, shape...)
}

// values returns a host tensor's elements as float64 (BF16 widened exactly).
func values(t *tensor.Tensor) []float64 {
	out := make([]float64, t.Numel())
	switch t.DType() {
	case tensor.F32:
		for i, x := range t.F32() {
			out[i] = float64(x)
		}
	case tensor.BF16:
		for i, x := range t.BF16Bits() {
			out[i] = float64(tensor.F32FromBF16(x))
		}
	case tensor.I32:
		for i, x := range t.I32() {
			out[i] = float64(x)
		}
	case tensor.I64:
		for i, x := range t.I64() {
			out[i] = float64(x)
		}
	default:
		panic(fmt.Sprintf("conformance: values of %v", t))
	}
	return out
}

// up uploads a host tensor to b (nil stays nil).
func up(b tensor.Backend, t *tensor.Tensor) *tensor.Tensor {
	if t == nil {
		return nil
	}
	return b.FromHost(t)
}

// poisoned returns an F32 tensor on b full of NaN: a forward op's output,
// so that an element the op does not write fails the comparison.
func poisoned(b tensor.Backend, shape ...int) *tensor.Tensor {
	f := make([]float32, tensor.Numel(shape))
	for i := range f {
		f[i] = float32(math.NaN())
	}
	return b.FromHost(tensor.FromF32(f, shape...))
}

// roundF32 rounds float64 values to float32 and back: a reference output
// handed to a backward op as the forward's saved value.
func roundF32(v []float64, shape ...int) *tensor.Tensor {
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	return tensor.FromF32(f, shape...)
}

// plus returns a + b elementwise (the expected contents of an accumulating
// output).
func plus(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] + b[i]
	}
	return out
}

// dot is Σ a·b.
func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// seedGrad returns the starting contents of a gradient output: random values
// about as large as the gradient itself, so that an op that overwrites
// instead of adding is off by far more than any tolerance.
func (e *env) seedGrad(like []float64, shape ...int) host {
	m := 0.0
	for _, x := range like {
		m = max(m, math.Abs(x))
	}
	if m == 0 {
		m = 1
	}
	return e.normal(m/2, shape...)
}
