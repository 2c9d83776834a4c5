package bench

import (
	"os"
	"syscall"
	"time"
)

// processCPUTime is the user plus system time of this process so far.
func processCPUTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// peakRSS is the largest resident set of an exited child, in bytes. Linux
// reports ru_maxrss in KiB (macOS, in bytes, is why this file is Linux-only).
func peakRSS(ps *os.ProcessState) (int64, bool) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return 0, false
	}
	return ru.Maxrss * 1024, true
}
