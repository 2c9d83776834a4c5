//go:build !linux

package serve

import "time"

// processCPU is not measured here: cpu-ms/req reads 0.
func processCPU() time.Duration { return 0 }

// schedTotals is not measured here.
func schedTotals() (run, wait time.Duration) { return 0, 0 }
