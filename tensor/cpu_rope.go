package tensor

import (
	"math"
	"sync"
)

// Rotary position embeddings, rotate-half convention (SPEC section 1):
//
//	x'[k]     = x[k]·cos φ − x[k+r/2]·sin φ
//	x'[k+r/2] = x[k+r/2]·cos φ + x[k]·sin φ,     φ = p·inv_freq[k], k < r/2
//
// where r is the rotary size: the head size d, or RoPEParams.RotaryDim for
// partial rotary embeddings, whose features r..d−1 pass through unchanged.
//
// The angles follow Hugging Face's float32 arithmetic step by step, so that a
// checkpoint sees the same rotation it was trained with: inv_freq[k] =
// 1/θ^(2k/r) with the exponent, the power and the reciprocal each rounded to
// float32 (then, for Llama 3, rescaled in float32: RoPEParams.InvFreq), then
// φ = p·inv_freq[k] rounded to float32 (at p = 8000 that rounding alone
// moves φ by up to 5e-4 rad, so it is part of the definition, not noise).
// cos φ and sin φ are rounded from float64. The rotation itself rounds each
// product and the sum to float32, as PyTorch's eager
// x·cos + rotate_half(x)·sin does.

// ropeTable holds cos φ and sin φ for positions [0, len(cos)/half), row p
// at [p·half, (p+1)·half), half = r/2.
type ropeTable struct {
	half     int
	cos, sin []float32
}

// ropeKey is what the angles depend on: θ, the rotary size r and the
// frequency scaling.
type ropeKey struct {
	theta  float64
	r      int
	llama3 RoPELlama3
}

// ropeTables caches one table per ropeKey; a table is replaced by a longer
// one when a larger position shows up, never modified, so readers need no
// lock once they hold it.
var ropeTables struct {
	sync.Mutex
	m map[ropeKey]*ropeTable
}

// RotarySize returns how many leading features of a head of size d rotate:
// RotaryDim, or d when it is 0.
func (p RoPEParams) RotarySize(d int) int {
	if p.RotaryDim == 0 {
		return d
	}
	return p.RotaryDim
}

// InvFreq returns the r/2 rotation frequencies inv_freq[k] for heads of
// size d (r = RotarySize(d)), in radians per position, as every backend
// uses them: the angle at position p is float32(p)·inv_freq[k], rounded to
// float32.
//
// The arithmetic is Hugging Face's float32 arithmetic, step by step:
// inv_freq[k] = 1/θ^(2k/r) with θ, the exponent, the power and the
// reciprocal each rounded to float32. With Llama-3 scaling (Llama3.Factor
// ≠ 0; RoPELlama3 gives the formula) each frequency ω is then rescaled as
// transformers' _compute_llama3_parameters does it on float32 tensors, in
// which a Python number divided by a tensor is the tensor's reciprocal
// times the number:
//
//	λ  = float32(1/ω)·float32(2π)                                the wavelength
//	ω' = ω/f   if λ > float32(L/low)
//	ω' = ω     if λ < float32(L/high)
//	ω' = ((1 − s)·ω)/f + s·ω   otherwise, s = (float32(1/λ)·L − low)/float32(high − low)
//
// every operation rounded to float32. Long wavelengths (the slow
// frequencies, which positions past the original context would turn
// further than training ever did) slow down by the factor f, short ones
// keep their speed, and the band between blends the two linearly in L/λ;
// the band includes both bounds, where the blend meets the rule outside.
func (p RoPEParams) InvFreq(d int) []float32 {
	r := p.RotarySize(d)
	inv := make([]float32, r/2)
	base := float64(float32(p.Theta))
	for k := range inv {
		e := float32(2*k) / float32(r)
		inv[k] = 1 / float32(math.Pow(base, float64(e)))
	}
	l := p.Llama3
	if l.Factor == 0 {
		return inv
	}
	f, low := float32(l.Factor), float32(l.LowFreqFactor)
	orig := float32(l.OriginalMaxPositions)
	lowWL := float32(float64(l.OriginalMaxPositions) / l.LowFreqFactor)
	highWL := float32(float64(l.OriginalMaxPositions) / l.HighFreqFactor)
	span := float32(l.HighFreqFactor - l.LowFreqFactor)
	twoPi := float32(2 * math.Pi)
	for k, w := range inv {
		wl := float32(1/w) * twoPi
		switch {
		case wl > lowWL:
			inv[k] = w / f
		case wl < highWL:
			// unchanged
		default:
			s := float32(float32(float32(1/wl)*orig)-low) / span
			inv[k] = float32(float32(float32(1-s)*w)/f) + float32(s*w)
		}
	}
	return inv
}

// ropeTableFor returns a table covering positions [0, maxPos] for rotary
// size r.
func ropeTableFor(p RoPEParams, r, maxPos int) *ropeTable {
	ropeTables.Lock()
	defer ropeTables.Unlock()
	key := ropeKey{p.Theta, r, p.Llama3}
	if t := ropeTables.m[key]; t != nil && len(t.cos) > maxPos*(r/2) {
		return t
	}
	n := 64
	for n <= maxPos {
		n *= 2
	}
	half := r / 2
	t := &ropeTable{half: half, cos: make([]float32, n*half), sin: make([]float32, n*half)}
	inv := p.InvFreq(r)
	for p := range n {
		for k, f := range inv {
			phi := float64(float32(p) * f)
			t.cos[p*half+k] = float32(math.Cos(phi))
			t.sin[p*half+k] = float32(math.Sin(phi))
		}
	}
	if ropeTables.m == nil {
		ropeTables.m = map[ropeKey]*ropeTable{}
	}
	ropeTables.m[key] = t
	return t
}

// ropeTableForPositions checks the positions and returns a table covering them.
func ropeTableForPositions(op string, ps []int32, p RoPEParams, r int) *ropeTable {
	maxPos := int32(0)
	for i, p := range ps {
		if p < 0 { // test first: check's arguments would be boxed on every row
			check(false, op, "position %d at row %d is negative", p, i)
		}
		maxPos = max(maxPos, p)
	}
	return ropeTableFor(p, r, int(maxPos))
}

func (cpuBackend) RoPE(dst, src, pos *Tensor, p RoPEParams) {
	s := CheckRoPE(dst, src, pos, p)
	rows, heads, rotated, d, r := s.Rows, s.Heads, s.Rotated, s.D, s.R
	ps := pos.I32()
	tab := ropeTableForPositions("RoPE", ps, p, r)
	out, in := dst.F32(), src.F32()
	half, width := r/2, heads*d
	parallelFor(rows, rowGrain(width), func(lo, hi int) {
		for row := lo; row < hi; row++ {
			cs := tab.cos[int(ps[row])*half : int(ps[row]+1)*half]
			sn := tab.sin[int(ps[row])*half : int(ps[row]+1)*half]
			vec := useVec && half%8 == 0 && rotated > 0
			if vec { // the same float32 operations, eight pairs at a time
				ropeAVX2(&out[row*width], &in[row*width], &cs[0], &sn[0], rotated, d, half)
			}
			for h := range rotated {
				x := in[row*width+h*d : row*width+(h+1)*d]
				y := out[row*width+h*d : row*width+(h+1)*d]
				if !vec {
					for k := range half {
						a, b, c, s := x[k], x[k+half], cs[k], sn[k]
						y[k] = float32(a*c) - float32(b*s)
						y[k+half] = float32(b*c) + float32(a*s)
					}
				}
				if r < d {
					copy(y[r:], x[r:]) // partial rotary: the rest passes through
				}
			}
			if rotated < heads {
				copy(out[row*width+rotated*d:(row+1)*width], in[row*width+rotated*d:(row+1)*width])
			}
		}
	})
}

// RoPEBackward rotates dy by −φ (the transpose of a rotation is its inverse)
// and adds it into dsrc; features and heads that are not rotated add dy
// unchanged.
func (cpuBackend) RoPEBackward(dsrc, dy, pos *Tensor, p RoPEParams) {
	s := CheckRoPEBackward(dsrc, dy, pos, p)
	rows, heads, rotated, d, r := s.Rows, s.Heads, s.Rotated, s.D, s.R
	ps := pos.I32()
	tab := ropeTableForPositions("RoPEBackward", ps, p, r)
	gx, gy := dsrc.F32(), dy.F32()
	half, width := r/2, heads*d
	parallelFor(rows, rowGrain(width), func(lo, hi int) {
		for row := lo; row < hi; row++ {
			cs := tab.cos[int(ps[row])*half : int(ps[row]+1)*half]
			sn := tab.sin[int(ps[row])*half : int(ps[row]+1)*half]
			vec := useVec && half%8 == 0 && rotated > 0
			if vec { // the same float32 operations, eight pairs at a time
				ropeBackAVX2(&gx[row*width], &gy[row*width], &cs[0], &sn[0], rotated, d, half)
			}
			for h := range rotated {
				y := gy[row*width+h*d : row*width+(h+1)*d]
				x := gx[row*width+h*d : row*width+(h+1)*d]
				if !vec {
					for k := range half {
						a, b, c, s := y[k], y[k+half], cs[k], sn[k]
						x[k] += float32(a*c) + float32(b*s)
						x[k+half] += float32(b*c) - float32(a*s)
					}
				}
				for k := r; k < d; k++ {
					x[k] += y[k]
				}
			}
			rest := gx[row*width+rotated*d : (row+1)*width]
			addF32(rest, rest, gy[row*width+rotated*d:(row+1)*width]) // gx += gy, one add each
		}
	})
}
