// Package bench holds the end-to-end benchmarks that PERF.md's targets are
// checked against, and the workloads they time.
//
// The CPU reference workload is a small ModernBERT (width 256, 6 layers,
// vocabulary 4096) trained on batches of 8 × 256 random tokens with logits at
// every position and AdamW: the same work that modernbert_torch.py does in
// PyTorch, so that run-cpu-reference.sh can report one ratio measured on one
// machine in one run. Absolute numbers only mean something next to the
// machine they came from; the ratio is what a change is judged by.
//
// The benchmarks live in the test files:
//
//	go test -run '^$' -bench ModernBERT -benchtime 3x ./bench
//
// and the memory acceptance test (ModernBERT-base inference in under 2 GB)
// runs with the ordinary tests.
package bench
