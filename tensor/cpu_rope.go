package tensor

import (
	"math"
	"sync"
)

// Rotary position embeddings, rotate-half convention (SPEC section 1):
//
//	x'[k]     = x[k]·cos φ − x[k+d/2]·sin φ
//	x'[k+d/2] = x[k+d/2]·cos φ + x[k]·sin φ,     φ = p·inv_freq[k]
//
// The angles follow Hugging Face's float32 arithmetic step by step, so that a
// checkpoint sees the same rotation it was trained with: inv_freq[k] =
// 1/θ^(2k/d) with the exponent, the power and the reciprocal each rounded to
// float32, then φ = p·inv_freq[k] rounded to float32 (at p = 8000 that
// rounding alone moves φ by up to 5e-4 rad, so it is part of the definition,
// not noise). cos φ and sin φ are rounded from float64. The rotation itself
// rounds each product and the sum to float32, as PyTorch's eager
// x·cos + rotate_half(x)·sin does.

// ropeTable holds cos φ and sin φ for positions [0, len(cos)/(d/2)), row p
// at [p·d/2, (p+1)·d/2).
type ropeTable struct {
	half     int
	cos, sin []float32
}

type ropeKey struct {
	theta float64
	d     int
}

// ropeTables caches one table per (θ, d); a table is replaced by a longer one
// when a larger position shows up, never modified, so readers need no lock
// once they hold it.
var ropeTables struct {
	sync.Mutex
	m map[ropeKey]*ropeTable
}

// ropeInvFreq computes inv_freq in float32 the way Hugging Face does.
func ropeInvFreq(theta float64, d int) []float32 {
	inv := make([]float32, d/2)
	base := float64(float32(theta))
	for k := range inv {
		e := float32(2*k) / float32(d)
		inv[k] = 1 / float32(math.Pow(base, float64(e)))
	}
	return inv
}

// ropeTableFor returns a table covering positions [0, maxPos].
func ropeTableFor(theta float64, d, maxPos int) *ropeTable {
	ropeTables.Lock()
	defer ropeTables.Unlock()
	key := ropeKey{theta, d}
	if t := ropeTables.m[key]; t != nil && len(t.cos) > maxPos*(d/2) {
		return t
	}
	n := 64
	for n <= maxPos {
		n *= 2
	}
	half := d / 2
	t := &ropeTable{half: half, cos: make([]float32, n*half), sin: make([]float32, n*half)}
	inv := ropeInvFreq(theta, d)
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
func ropeTableForPositions(op string, ps []int32, theta float64, d int) *ropeTable {
	maxPos := int32(0)
	for i, p := range ps {
		if p < 0 { // test first: check's arguments would be boxed on every row
			check(false, op, "position %d at row %d is negative", p, i)
		}
		maxPos = max(maxPos, p)
	}
	return ropeTableFor(theta, d, int(maxPos))
}

func (cpuBackend) RoPE(dst, src, pos *Tensor, p RoPEParams) {
	s := CheckRoPE(dst, src, pos, p)
	rows, heads, rotated, d := s.Rows, s.Heads, s.Rotated, s.D
	ps := pos.I32()
	tab := ropeTableForPositions("RoPE", ps, p.Theta, d)
	out, in := dst.F32(), src.F32()
	half, width := d/2, heads*d
	parallelFor(rows, rowGrain(width), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			cs := tab.cos[int(ps[r])*half : int(ps[r]+1)*half]
			sn := tab.sin[int(ps[r])*half : int(ps[r]+1)*half]
			for h := range rotated {
				x := in[r*width+h*d : r*width+(h+1)*d]
				y := out[r*width+h*d : r*width+(h+1)*d]
				for k := range half {
					a, b, c, s := x[k], x[k+half], cs[k], sn[k]
					y[k] = float32(a*c) - float32(b*s)
					y[k+half] = float32(b*c) + float32(a*s)
				}
			}
			if rotated < heads {
				copy(out[r*width+rotated*d:(r+1)*width], in[r*width+rotated*d:(r+1)*width])
			}
		}
	})
}

// RoPEBackward rotates dy by −φ (the transpose of a rotation is its inverse)
// and adds it into dsrc.
func (cpuBackend) RoPEBackward(dsrc, dy, pos *Tensor, p RoPEParams) {
	s := CheckRoPEBackward(dsrc, dy, pos, p)
	rows, heads, rotated, d := s.Rows, s.Heads, s.Rotated, s.D
	ps := pos.I32()
	tab := ropeTableForPositions("RoPEBackward", ps, p.Theta, d)
	gx, gy := dsrc.F32(), dy.F32()
	half, width := d/2, heads*d
	parallelFor(rows, rowGrain(width), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			cs := tab.cos[int(ps[r])*half : int(ps[r]+1)*half]
			sn := tab.sin[int(ps[r])*half : int(ps[r]+1)*half]
			for h := range rotated {
				y := gy[r*width+h*d : r*width+(h+1)*d]
				x := gx[r*width+h*d : r*width+(h+1)*d]
				for k := range half {
					a, b, c, s := y[k], y[k+half], cs[k], sn[k]
					x[k] += float32(a*c) + float32(b*s)
					x[k+half] += float32(b*c) - float32(a*s)
				}
			}
			for j := r*width + rotated*d; j < (r+1)*width; j++ {
				gx[j] += gy[j]
			}
		}
	})
}
