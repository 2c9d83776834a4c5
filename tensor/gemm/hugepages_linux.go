//go:build linux

package gemm

import (
	"syscall"
	"unsafe"
)

// mapHuge returns n floats in an anonymous mapping aligned to a huge page
// and advised to be backed by huge pages, with the mapping to unmap, or nil
// where the system refuses. The pages are faulted in when first written,
// as huge pages when the kernel has them free.
func mapHuge(n int) ([]float32, []byte) {
	bytes := (n*4 + hugePage - 1) &^ (hugePage - 1)
	mem, err := syscall.Mmap(-1, 0, bytes+hugePage, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, nil
	}
	off := (hugePage - int(uintptr(unsafe.Pointer(&mem[0]))%hugePage)) % hugePage
	const madvHugePage = 14 // MADV_HUGEPAGE; refused by kernels without THP, which is harmless
	_ = syscall.Madvise(mem[off:off+bytes], madvHugePage)
	return unsafe.Slice((*float32)(unsafe.Pointer(&mem[off])), n), mem
}

func unmapHuge(mem []byte) { _ = syscall.Munmap(mem) }
