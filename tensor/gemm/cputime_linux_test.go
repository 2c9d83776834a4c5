//go:build linux

package gemm

import (
	"syscall"
	"time"
	"unsafe"
)

// processCPU returns the CPU time used by all threads of this process, or 0
// where it cannot be read.
func processCPU() time.Duration {
	const clockProcessCPUTimeID = 2
	var ts syscall.Timespec
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockProcessCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}
