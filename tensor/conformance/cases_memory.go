package conformance

import (
	"errors"
	"fmt"
	"math"

	"github.com/dllmgo/dllm/tensor"
)

// Memory ops: New, FromHost/ToHost, row views (Slice), Fill, Copy.
func memoryCases() []testCase {
	return []testCase{
		{"New", func(e *env) error {
			var errs []error
			for _, dt := range []tensor.DType{tensor.F32, tensor.BF16, tensor.I32, tensor.I64} {
				got, err := execute(e.b, func(b tensor.Backend) []*tensor.Tensor { return []*tensor.Tensor{b.New(dt, 3, 5, 7)} })
				if err == nil {
					err = compare(got[0], expect{want: make([]float64, 105), exact: true}, 0)
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("New(%v): %v", dt, err))
				}
			}
			return errors.Join(errs...)
		}},
		{"RoundTrip", func(e *env) error {
			x := e.normal(1, 9, 11)
			ints, _ := e.ints(math.MinInt32, math.MaxInt32, 6, 5)
			i64 := make([]int64, 13)
			for i := range i64 {
				i64[i] = int64(e.rng.Uint64())
			}
			bf := make([]uint16, 17)
			for i := range bf {
				bf[i] = uint16(e.rng.Uint32()) &^ 0x7f80 // finite values only
			}
			var errs []error
			for _, in := range []*tensor.Tensor{x.t, ints, tensor.FromI64(i64, 13), tensor.FromBF16Bits(bf, 17)} {
				err := safely(func() error {
					out := e.b.ToHost(e.b.FromHost(in))
					if !tensor.SameShape(out.Shape(), in.Shape()) || out.DType() != in.DType() || !sameBits(out, in) {
						return fmt.Errorf("FromHost/ToHost of %v came back as a different %v", in, out)
					}
					return nil
				})
				if err != nil {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		}},
		{"RowsView", func(e *env) error {
			x := e.normal(1, 6, 5)
			return e.collect(
				trial{name: "read rows 2..5", op: "Slice", run: func(b tensor.Backend) []*tensor.Tensor {
					return []*tensor.Tensor{up(b, x.t).Rows(2, 5)}
				}, outs: []expect{{name: "view", want: x.v[10:25], exact: true}}},
				trial{name: "fill through a view", op: "Slice", run: func(b tensor.Backend) []*tensor.Tensor {
					t := up(b, x.t)
					b.Fill(t.Rows(1, 3), 0.5)
					return []*tensor.Tensor{t}
				}, outs: []expect{{name: "parent", want: filled(x.v, 5, 15, 0.5), exact: true}}},
			)
		}},
		{"SyncFree", func(e *env) error {
			return safely(func() error {
				t := e.b.FromHost(e.normal(1, 5, 3).t)
				e.b.Fill(t, 1)
				if err := e.b.Sync(); err != nil {
					return fmt.Errorf("Sync after Fill: %v", err)
				}
				t.Free()
				t.Free() // a second Free is a no-op
				return e.b.Sync()
			})
		}},
		{"Fill", func(e *env) error {
			return e.check(trial{name: "[7,1001]", op: "Fill", run: func(b tensor.Backend) []*tensor.Tensor {
				t := poisoned(b, 7, 1001)
				b.Fill(t, -2.25)
				return []*tensor.Tensor{t}
			}, outs: []expect{{name: "dst", want: filled(make([]float64, 7007), 0, 7007, -2.25), exact: true}}})
		}},
		{"Copy", func(e *env) error {
			x := e.normal(1, 4, 3001)
			ids, iv := e.ints(-1000, 1000, 37)
			iw := make([]float64, len(iv))
			for i, v := range iv {
				iw[i] = float64(v)
			}
			return e.collect(
				trial{name: "F32 [4,3001]", op: "Copy", run: func(b tensor.Backend) []*tensor.Tensor {
					d := poisoned(b, 4, 3001)
					b.Copy(d, up(b, x.t))
					return []*tensor.Tensor{d}
				}, outs: []expect{{name: "dst", want: x.v, exact: true}}},
				trial{name: "I32 [37] into [37,1]", op: "Copy", run: func(b tensor.Backend) []*tensor.Tensor {
					d := b.New(tensor.I32, 37, 1)
					b.Copy(d, up(b, ids))
					return []*tensor.Tensor{d}
				}, outs: []expect{{name: "dst", want: iw, exact: true}}},
			)
		}},
	}
}

// filled returns a copy of v with [lo, hi) set to x.
func filled(v []float64, lo, hi int, x float64) []float64 {
	out := append([]float64(nil), v...)
	for i := lo; i < hi; i++ {
		out[i] = x
	}
	return out
}

// sameBits reports whether two host tensors hold identical storage.
func sameBits(a, b *tensor.Tensor) bool {
	switch a.DType() {
	case tensor.F32:
		x, y := a.F32(), b.F32()
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
				return false
			}
		}
	case tensor.BF16:
		x, y := a.BF16Bits(), b.BF16Bits()
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
	case tensor.I32:
		x, y := a.I32(), b.I32()
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
	case tensor.I64:
		x, y := a.I64(), b.I64()
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
	}
	return true
}
