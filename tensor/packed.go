package tensor

import (
	"sync"

	"github.com/dllmgo/dllm/tensor/gemm"
)

// Weights packed for inference.
//
// A matrix product packs its right operand into the panels the GEMM
// micro-kernel reads (see package gemm) on every call. For a weight that
// does not change between calls — a model sampling — that copy is repeated
// work, and for a short left operand it dominates: a sampling step multiplies
// about 16 rows by the 768×50368 decoder weight, and packing that weight
// reads and writes 155 MB where the product itself is 1.2 GFLOP.
//
// KeepPacked marks weights whose packed form the backend may keep. The CPU
// backend packs a marked F32 matrix the first time it is the b operand of a
// MatMul (for that call's transB; a product with the other transB packs as
// usual) and reuses the packed copy in every later product, whose results
// are bit for bit those of packing it afresh. The copy costs one more F32
// copy of each weight used that way, rounded up to whole panels of 32
// columns (16 with AVX2): for ModernBERT-base's tied 50368×768 decoder,
// 155 MB. Other backends ignore the mark.
//
// Marking a view (Reshape, Rows) marks it and the tensor it views: a
// model's packed q/k/v projections are row views of one matrix, and the
// product reads that matrix.
//
// The mark is a promise that the values do not change behind the backend's
// back. The backend's own writes into a marked tensor or into a view of it —
// AdamW, Copy, Fill, Cast, Scale, AXPY with it as the destination — drop
// the packed copy, which the next product packs again; a write through the
// slice that F32 returns must be followed by DropPacked.

// KeepPacked marks ts as weights whose packed form their backend may keep
// between matrix products. Tensors of other dtypes or ranks than F32
// matrices are left unmarked.
func KeepPacked(ts ...*Tensor) {
	for _, t := range ts {
		if t == nil {
			continue
		}
		for _, x := range []*Tensor{t, t.root()} {
			if x.dtype == F32 && x.Rank() == 2 && x.pack == nil {
				x.pack = new(packState)
			}
		}
	}
}

// Unpack removes the mark of KeepPacked from t and the tensor it views, and
// frees their packed copies.
func (t *Tensor) Unpack() { t.pack, t.root().pack = nil, nil }

// DropPacked frees the packed copies of a marked tensor whose values
// changed, and of the tensor it views; the next product packs them again.
// A no-op on unmarked tensors.
func (t *Tensor) DropPacked() {
	for _, x := range []*Tensor{t, t.base} {
		if x == nil {
			continue
		}
		if s := x.pack; s != nil {
			s.mu.Lock()
			s.b = nil
			s.mu.Unlock()
		}
	}
}

// PackedBytes is the memory the tensor's packed copy holds now (0 if it has
// none).
func (t *Tensor) PackedBytes() int {
	s := t.pack
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b == nil {
		return 0
	}
	return s.b.Bytes()
}

// packState is a marked tensor's packed copy, made by the first product
// that reads it; the mutex lets concurrent products (a server's requests)
// share one.
type packState struct {
	mu    sync.Mutex
	trans bool
	b     *gemm.PackedB
}

// packedB returns t's packed copy for use as op(b) with transB, packing it
// now if t is marked and has none; nil if t is not marked or was packed for
// the other transB.
func (t *Tensor) packedB(transB bool) *gemm.PackedB {
	s := t.pack
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.b == nil {
		n, k := t.shape[0], t.shape[1]
		if !transB {
			n, k = k, n
		}
		s.b, s.trans = gemm.PackB(transB, n, k, t.F32(), max(1, t.shape[1])), transB
	}
	if s.trans != transB {
		return nil
	}
	return s.b
}
