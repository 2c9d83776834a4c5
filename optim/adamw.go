package optim

import (
	"fmt"
	"math"

	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter), with
// PyTorch's update order: θ ← θ·(1 − lr·λ), then θ ← θ − lr·m̂/(√v̂ + ε), where
// m̂ and v̂ are the bias-corrected first and second moments.
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float64

	params []*nn.Param
	m, v   []*tensor.Tensor
	step   int
}

// NewAdamW prepares the optimizer for params. Parameters marked NoDecay
// (norms, biases, embeddings) form the group without weight decay.
func NewAdamW(params []*nn.Param, beta1, beta2, eps, weightDecay float64) *AdamW {
	o := &AdamW{Beta1: beta1, Beta2: beta2, Eps: eps, WeightDecay: weightDecay, params: params}
	for _, p := range params {
		b := p.Value.Backend()
		o.m = append(o.m, b.New(tensor.F32, p.Value.Shape()...))
		o.v = append(o.v, b.New(tensor.F32, p.Value.Shape()...))
	}
	return o
}

// Step applies one update with learning rate lr to every parameter that has
// a gradient.
func (o *AdamW) Step(lr float64) {
	o.step++
	for i, p := range o.params {
		if p.Grad == nil {
			continue
		}
		wd := o.WeightDecay
		if p.NoDecay {
			wd = 0
		}
		p.Value.Backend().AdamW(p.Value, p.Grad, o.m[i], o.v[i], tensor.AdamWParams{
			LR: float32(lr), Beta1: float32(o.Beta1), Beta2: float32(o.Beta2),
			Eps: float32(o.Eps), WeightDecay: float32(wd), Step: o.step,
		})
	}
}

// Steps is the number of updates taken so far.
func (o *AdamW) Steps() int { return o.step }

// ClipGradNorm scales all gradients so that their global L2 norm is at most
// maxNorm, and returns the norm before clipping (PyTorch's clip_grad_norm_).
// maxNorm <= 0 only measures.
func ClipGradNorm(params []*nn.Param, maxNorm float64) float64 {
	// One reduction over every gradient: on a GPU one wait for the device,
	// not one per parameter.
	var grads []*tensor.Tensor
	for _, p := range params {
		if p.Grad != nil {
			grads = append(grads, p.Grad)
		}
	}
	if len(grads) == 0 {
		return 0
	}
	norm := math.Sqrt(grads[0].Backend().SumSquares(grads...))
	if maxNorm > 0 && norm > maxNorm {
		scale := float32(maxNorm / (norm + 1e-6))
		for _, p := range params {
			if p.Grad != nil {
				p.Grad.Backend().Scale(p.Grad, p.Grad, scale)
			}
		}
	}
	return norm
}

// State is the optimizer's resumable state: the step count and both moments
// per parameter, keyed by parameter name.
type State struct {
	Step int
	M, V map[string][]float32
}

// State copies the optimizer state to the host.
func (o *AdamW) State() State {
	s := State{Step: o.step, M: map[string][]float32{}, V: map[string][]float32{}}
	for i, p := range o.params {
		s.M[p.Name] = append([]float32(nil), o.m[i].ToCPU().F32()...)
		s.V[p.Name] = append([]float32(nil), o.v[i].ToCPU().F32()...)
	}
	return s
}

// SetState restores a state saved by State. Every parameter must be present
// with its size.
func (o *AdamW) SetState(s State) error {
	for i, p := range o.params {
		m, okm := s.M[p.Name]
		v, okv := s.V[p.Name]
		if !okm || !okv {
			return fmt.Errorf("optimizer state has no moments for %s", p.Name)
		}
		n := p.Value.Numel()
		if len(m) != n || len(v) != n {
			return fmt.Errorf("optimizer state for %s has %d values, parameter has %d", p.Name, len(m), n)
		}
		b := p.Value.Backend()
		b.Copy(o.m[i], b.FromHost(tensor.FromF32(append([]float32(nil), m...), p.Value.Shape()...)))
		b.Copy(o.v[i], b.FromHost(tensor.FromF32(append([]float32(nil), v...), p.Value.Shape()...)))
	}
	o.step = s.Step
	return nil
}
