//go:build !linux

package gemm

// mapHuge maps nothing here: packed weights live on the heap.
func mapHuge(int) ([]float32, []byte) { return nil, nil }

func unmapHuge([]byte) {}
