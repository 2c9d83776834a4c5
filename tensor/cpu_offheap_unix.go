//go:build unix

package tensor

import "syscall"

// mapAnon maps n zero bytes, private and anonymous; nil when n is 0 or the
// system refuses (the caller then allocates on the heap).
func mapAnon(n int) []byte {
	if n == 0 {
		return nil
	}
	mem, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil
	}
	return mem
}

// unmapAnon returns a mapping of mapAnon to the system.
func unmapAnon(mem []byte) { _ = syscall.Munmap(mem) }
