// Package graphs records a model's repeated forward passes as graphs and
// replays them, for any model family: the service behind the samplers'
// fast path on a GPU.
//
// A sampler asks for logits once per denoising step, with the same shapes
// step after step. On a GPU one forward pass is hundreds of small kernel
// launches that each cost more than their work. When the backend can record
// its ops as a graph (tensor.GraphCapturer: CUDA graphs), a Recorder records
// the forward pass once per key (the shapes) and replays it with one launch.
// A graph replays its kernels on the device addresses it recorded, so the
// inputs live in device buffers that belong to the key and that each call
// overwrites; the output is read back after the replay.
//
// The first call for a key runs eagerly, then records: the eager run
// compiles the kernels and fills the caches (position ids, rotary tables,
// GEMM plans) that would otherwise copy from the host inside the recording,
// which a graph cannot do; recording queues nothing, so the eager result is
// that call's answer. Later calls with the key replay. If recording fails the
// key stays eager.
//
// Graphs only pay when shapes repeat, and a sampler's number of requested
// rows shrinks as tokens are unmasked. PadRows rounds the row count up to a
// multiple of RowQuantum by repeating the first row (the caller drops the
// extra logits), so that one graph serves every step of a block.
//
// A forward pass that a Recorder may record must only queue device ops: no
// copies from or to the host, no waiting for the device, and no host state
// that changes between calls (the graph would keep the first call's). Every
// tensor it reads must outlive the Recorder's graphs, or be one of its input
// buffers.
package graphs
