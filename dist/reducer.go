package dist

import (
	"fmt"

	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// BucketBytes is the default size of a gradient bucket: big enough that a
// collective's latency is small against its transfer, small enough that a
// few buckets make up a model (ModernBERT-large's 395M parameters are about
// 50 of them).
const BucketBytes = 32 << 20

// Reducer averages the gradients of a fixed list of parameters across the
// ranks of a Comm, packed into a few flat buffers.
type Reducer struct {
	c       Comm
	params  []*nn.Param
	be      tensor.Backend
	buckets []bucket
	extra   int // floats reserved at the end of the last bucket
}

// bucket is one flat buffer and the parameters packed into it, in order.
type bucket struct {
	buf    *tensor.Tensor
	params []*nn.Param
	offs   []int // offset of each parameter's gradient in buf
	used   int   // floats of gradients (the extras follow in the last one)
}

// NewReducer packs params, in order, into buckets of about bucketBytes
// (BucketBytes if 0); the last bucket has room for extra floats more
// (the step's loss, say), averaged with the gradients.
func NewReducer(c Comm, params []*nn.Param, bucketBytes, extra int) *Reducer {
	if bucketBytes <= 0 {
		bucketBytes = BucketBytes
	}
	limit := max(bucketBytes/4, 1)
	r := &Reducer{c: c, params: params, extra: extra}
	if len(params) > 0 {
		r.be = params[0].Value.Backend()
	}
	var cur bucket
	flush := func() {
		r.buckets = append(r.buckets, cur)
		cur = bucket{}
	}
	for _, p := range params {
		n := p.Value.Numel()
		if cur.used > 0 && cur.used+n > limit {
			flush()
		}
		cur.params = append(cur.params, p)
		cur.offs = append(cur.offs, cur.used)
		cur.used += n
	}
	if cur.used > 0 || len(r.buckets) == 0 {
		flush()
	}
	return r
}

// Buckets is the number of flat buffers (collective calls per step).
func (r *Reducer) Buckets() int { return len(r.buckets) }

// Floats is the number of float32 values reduced per step.
func (r *Reducer) Floats() int {
	n := r.extra
	for _, b := range r.buckets {
		n += b.used
	}
	return n
}

// alloc creates the buffers on first use, on the parameters' backend.
func (r *Reducer) alloc(be tensor.Backend) {
	if r.buckets[0].buf != nil {
		return
	}
	for i := range r.buckets {
		n := r.buckets[i].used
		if i == len(r.buckets)-1 {
			n += r.extra
		}
		r.buckets[i].buf = be.New(tensor.F32, max(n, 1))
	}
}

// Average replaces every parameter's gradient with its mean over the ranks;
// extra (F32, Numel equal to the extra of NewReducer, on the same backend;
// nil if 0) is averaged too. A parameter without a gradient yet gets a zero
// one, so that every rank packs the same layout. All buckets are packed,
// then reduced (as one group where the Comm is a Grouper), then unpacked.
func (r *Reducer) Average(extra *tensor.Tensor) error {
	if r.c.Size() == 1 {
		return nil
	}
	be := r.be
	if be == nil && extra != nil {
		be = extra.Backend()
	}
	if be == nil {
		return nil
	}
	if (extra == nil) != (r.extra == 0) || (extra != nil && extra.Numel() != r.extra) {
		return fmt.Errorf("dist: Average with %v, the reducer was made for %d extra floats", extra, r.extra)
	}
	r.alloc(be)
	last := len(r.buckets) - 1
	for i, b := range r.buckets {
		for j, p := range b.params {
			if p.Grad == nil {
				p.Grad = be.New(tensor.F32, p.Value.Shape()...)
				be.Fill(p.Grad, 0)
			}
			be.Copy(view(b.buf, b.offs[j], p.Value.Numel()), p.Grad)
		}
		if i == last && extra != nil {
			be.Copy(view(b.buf, b.used, r.extra), extra)
		}
	}
	reduce := func() error {
		for _, b := range r.buckets {
			if err := r.c.AllReduceSum(b.buf); err != nil {
				return err
			}
		}
		return nil
	}
	var err error
	if g, ok := r.c.(Grouper); ok {
		err = g.Group(reduce)
	} else {
		err = reduce()
	}
	if err != nil {
		return err
	}
	inv := 1 / float32(r.c.Size())
	for i, b := range r.buckets {
		be.Scale(b.buf, b.buf, inv)
		for j, p := range b.params {
			be.Copy(p.Grad, view(b.buf, b.offs[j], p.Value.Numel()))
		}
		if i == last && extra != nil {
			be.Copy(extra, view(b.buf, b.used, r.extra))
		}
	}
	return nil
}

// Grouper is a Comm that can launch several collectives as one (NCCL's
// group calls): Group runs f, whose collectives are issued together.
type Grouper interface {
	Group(f func() error) error
}

// view is elements [off, off+n) of a flat tensor.
func view(flat *tensor.Tensor, off, n int) *tensor.Tensor {
	return flat.Rows(off, off+n)
}

// BroadcastParams gives every rank rank 0's parameter values, packed into
// buckets like the gradients.
func BroadcastParams(c Comm, params []*nn.Param) error {
	if c.Size() == 1 || len(params) == 0 {
		return nil
	}
	r := NewReducer(c, params, 0, 0)
	be := params[0].Value.Backend()
	r.alloc(be)
	for _, b := range r.buckets {
		for j, p := range b.params {
			be.Copy(view(b.buf, b.offs[j], p.Value.Numel()), p.Value)
		}
		if err := c.Broadcast(b.buf, 0); err != nil {
			return err
		}
		for j, p := range b.params {
			be.Copy(p.Value, view(b.buf, b.offs[j], p.Value.Numel()))
		}
	}
	for _, b := range r.buckets {
		b.buf.Free()
	}
	return nil
}
