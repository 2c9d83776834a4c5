//go:build !unix

package tensor

// mapAnon maps nothing here: NewOffHeap allocates on the heap.
func mapAnon(int) []byte { return nil }

func unmapAnon([]byte) {}
