//go:build unix

package tokenizer

import "syscall"

// processCPUSeconds is the CPU time this process has used (user + system, all
// threads). On a shared machine it measures work better than the wall clock.
func processCPUSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	sec := func(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }
	return sec(ru.Utime) + sec(ru.Stime)
}
