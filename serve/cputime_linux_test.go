package serve

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// processCPU is the CPU time, user and system, of every thread of the
// process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// schedTotals sums over the process's threads the time they ran and the
// time they waited, runnable, for a CPU that other work held
// (/proc/self/task/*/schedstat). On a quiet machine the wait is about
// zero; on a loaded one, wall × run/(run+wait) estimates the wall time the
// same work would have taken there, whatever the load (a thread that
// exited is not counted).
func schedTotals() (run, wait time.Duration) {
	files, _ := filepath.Glob("/proc/self/task/*/schedstat")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var r, w int64
		if _, err := fmt.Sscan(string(b), &r, &w); err == nil {
			run += time.Duration(r)
			wait += time.Duration(w)
		}
	}
	return run, wait
}
