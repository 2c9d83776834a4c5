package kernels

import (
	"fmt"

	"github.com/dllmgo/dllm/kernels/cu"
	"github.com/dllmgo/dllm/tensor"
)

// deviceOrdinal is the GPU Open creates its backend on (UseDevice).
var deviceOrdinal = 0

// UseDevice makes Open use GPU ordinal (of those CUDA_VISIBLE_DEVICES
// shows) instead of GPU 0: a data-parallel rank takes its own GPU. It must
// be called before the first Open; later it returns an error.
func UseDevice(ordinal int) error {
	if openBackend != nil || openErr != nil {
		return fmt.Errorf("kernels: UseDevice(%d) after the backend was opened on GPU %d", ordinal, deviceOrdinal)
	}
	if ordinal < 0 {
		return fmt.Errorf("kernels: UseDevice(%d): negative ordinal", ordinal)
	}
	deviceOrdinal = ordinal
	return nil
}

// OnStream runs f on the backend's context thread with the backend's
// stream and the device addresses of ts (CUDA tensors of this backend), in
// the order of the queued work: what a communication library such as NCCL
// needs to enqueue a collective behind the kernels that computed ts. An
// error of f is the caller's; it is not made sticky.
func (b *Backend) OnStream(ts []*tensor.Tensor, f func(th *cu.Thread, stream cu.Stream, ptrs []cu.DevicePtr) error) error {
	if err := b.Err(); err != nil {
		return err
	}
	ptrs := make([]cu.DevicePtr, len(ts))
	for i, t := range ts {
		ptrs[i] = b.ptr("OnStream", t)
	}
	return b.ctx.Do(func(th *cu.Thread) error { return f(th, th.Stream(), ptrs) })
}
