//go:build !linux

package bench

import (
	"os"
	"time"
)

// processCPUTime and peakRSS are measured only on Linux; elsewhere the
// benchmarks leave out CPU time and the memory test skips.
func processCPUTime() (time.Duration, bool) { return 0, false }

func peakRSS(*os.ProcessState) (int64, bool) { return 0, false }
