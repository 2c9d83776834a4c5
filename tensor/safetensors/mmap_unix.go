//go:build unix && !purego

package safetensors

import (
	"os"
	"syscall"
)

// mapReadOnly maps the first size bytes of fh, shared and read-only.
func mapReadOnly(fh *os.File, size int) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	return syscall.Mmap(int(fh.Fd()), 0, size, syscall.PROT_READ, syscall.MAP_SHARED)
}
