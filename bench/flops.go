package bench

import "github.com/dllmgo/dllm/bert"

// FLOPs counted analytically, for the achieved GFLOP/s the benchmarks
// report. Only the matrix products and the attention's two products are
// counted (2 FLOPs per multiply-add); norms, activations, softmax, RoPE,
// the loss and the optimizer are not, so an achieved GFLOP/s is comparable
// with the SGEMM's.
//
// For ModernBERT of width H, GeGLU width I, L layers, vocabulary V:
//
//	per token and layer:   2·(3H·H + H·H + 2I·H + I·H)     q/k/v, o, up (gate and value), down
//	attention per query:   4·H·keys                          QKᵀ and PV over all heads
//	head per logit row:    2·(H·H + H·V)                     dense and the tied decoder
//
// where keys is the sequence length on a global layer and the keys within
// the half window w = LocalAttention/2 on a sliding layer (fewer near the
// ends). A training step is 3× its forward pass (the backward pass forms
// the gradients of both operands of every product), with logits at the
// masked rows only, as the MDLM objective computes them.

// layerFLOPs is the projections of one layer for one token.
func layerFLOPs(c bert.Config) float64 {
	h, i := float64(c.HiddenSize), float64(c.IntermediateSize)
	return 2 * (4*h*h + 3*i*h)
}

// headFLOPs is the head for one logit row.
func headFLOPs(c bert.Config) float64 {
	h, v := float64(c.HiddenSize), float64(c.VocabSize)
	return 2 * (h*h + h*v)
}

// keysAttended is the number of keys query q of a sequence of n positions
// attends to on layer l.
func keysAttended(c bert.Config, l, q, n int) int {
	if c.IsGlobal(l) {
		return n
	}
	w := c.SlidingWindow()
	return min(q+w, n-1) - max(q-w, 0) + 1
}

// EncoderFLOPs is the encoder (every layer, no head) for the queries
// [q0, q1) of a sequence of n positions, keys being all n.
func EncoderFLOPs(c bert.Config, q0, q1, n int) float64 {
	h := float64(c.HiddenSize)
	total := 0.0
	for l := range c.NumLayers {
		total += float64(q1-q0) * layerFLOPs(c)
		for q := q0; q < q1; q++ {
			total += 4 * h * float64(keysAttended(c, l, q, n))
		}
	}
	return total
}

// ForwardFLOPs is a forward pass of batch sequences of seq tokens with
// logits at rows positions.
func ForwardFLOPs(c bert.Config, batch, seq, rows int) float64 {
	return float64(batch)*EncoderFLOPs(c, 0, seq, seq) + float64(rows)*headFLOPs(c)
}

// TrainStepFLOPs is a training step: forward and backward, 3× the forward
// pass with logits at rows positions (the expected masked count under
// MDLM's t ~ U(0, 1) is half the tokens).
func TrainStepFLOPs(c bert.Config, batch, seq, rows int) float64 {
	return 3 * ForwardFLOPs(c, batch, seq, rows)
}

// SamplingFLOPs is one generation of the block sampler at batch 1: prompt
// plus gen tokens, steps steps over blocks of width block, one forward per
// step with logits at the block's still-masked rows. Without the cache every
// step runs the encoder over the whole canvas; with it (Fast-dLLM's
// DualCache) a block's first step does, and its later steps run only the
// block's positions, attending to all keys.
func SamplingFLOPs(c bert.Config, prompt, gen, steps, block int, cache bool) float64 {
	n := prompt + gen
	blocks := gen / block
	perBlock := steps / blocks
	perStep := block / perBlock // tokens committed per step
	total := 0.0
	for b := range blocks {
		lo := prompt + b*block
		for j := range perBlock {
			masked := block - j*perStep
			if cache && j > 0 {
				total += EncoderFLOPs(c, lo, lo+block, n)
			} else {
				total += EncoderFLOPs(c, 0, n, n)
			}
			total += float64(masked) * headFLOPs(c)
		}
	}
	return total
}
