//go:build linux

package gemm

// The block sizes in kernel_amd64.go were chosen with TestTune. It measures
// one goroutine in its OS thread's CPU time instead of wall time, so a run on
// a machine that other programs share still compares configurations fairly
// (cache pollution from them remains). Run it with
//
//	GEMM_TUNE=1 go test -run 'TestTune' -v ./tensor/gemm      # sweep kc, mc
//	GEMM_TUNE=quick go test -run 'TestTune' -v ./tensor/gemm  # current blocks only

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// threadCPU returns the CPU time of the calling OS thread.
func threadCPU() time.Duration {
	const clockThreadCPUTimeID = 3
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

// cpuRate runs f reps times per trial on one locked OS thread and returns the
// best rate over 7 trials, in units (flops, floats, ...) per CPU nanosecond.
func cpuRate(units float64, reps int, f func()) float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	f()
	best := 0.0
	for range 7 {
		t0 := threadCPU()
		for range reps {
			f()
		}
		d := threadCPU() - t0
		best = max(best, units*float64(reps)/float64(d.Nanoseconds()))
	}
	return best
}

func skipUnlessTuning(t *testing.T) {
	if os.Getenv("GEMM_TUNE") == "" {
		t.Skip("set GEMM_TUNE=1 (sweep) or GEMM_TUNE=quick to measure")
	}
}

// TestTune reports single-thread GFLOP/s per CPU second for block sizes.
func TestTune(t *testing.T) {
	skipUnlessTuning(t)
	shapes := append([]benchShape(nil), benchShapes...)
	for _, name := range Kernels() {
		base := lookup(name)
		kcs, mcTiles := []int{128, 192, 256, 320}, []int{16, 32, 64}
		if os.Getenv("GEMM_TUNE") == "quick" || name == Generic {
			kcs, mcTiles = []int{base.kc}, []int{base.mc / base.mr}
		}
		for _, kc := range kcs {
			for _, tiles := range mcTiles {
				kern := *base
				kern.kc, kern.mc = kc, tiles*kern.mr
				line := fmt.Sprintf("%s kc=%d mc=%d:", name, kern.kc, kern.mc)
				for _, s := range shapes {
					if name == Generic && s.m*s.n*s.k > 1<<29 {
						continue
					}
					a, b, c := make([]float32, s.m*s.k), make([]float32, s.k*s.n), make([]float32, s.m*s.n)
					for i := range a {
						a[i] = float32(i%7) - 3
					}
					for i := range b {
						b[i] = float32(i%5) - 2
					}
					g := newProblem("tune", false, false, s.m, s.n, s.k, 1, a, s.k, b, s.n, 0, c, s.n)
					gf := cpuRate(2*float64(s.m*s.n*s.k), 2, func() { g.run(&kern, 1) })
					line += fmt.Sprintf("  %s %.1f", s, gf)
				}
				t.Log(line)
			}
		}
	}
}

// TestTuneTile reports each micro-kernel's GFLOP/s per CPU second on panels
// that sit in L1: the ceiling for the blocked loops.
func TestTuneTile(t *testing.T) {
	skipUnlessTuning(t)
	for _, name := range Kernels() {
		kern := lookup(name)
		const kc = 128
		a, b := alignedFloats(kern.mr*kc), alignedFloats(kern.nr*kc)
		c := alignedFloats(kern.mr * kern.nr)
		for i := range a {
			a[i] = float32(i%7) - 3
		}
		for i := range b {
			b[i] = float32(i%5) - 2
		}
		gf := cpuRate(2*float64(kern.mr*kern.nr*kc), 20000, func() { kern.tile(kc, a, b, c, kern.nr, 1, 0) })
		t.Logf("%s %dx%d tile: %.1f GFLOP/s", name, kern.mr, kern.nr, gf)
	}
}

// TestTunePack reports packing speed in CPU nanoseconds per float, for one
// cache block of each operand in both source layouts.
func TestTunePack(t *testing.T) {
	skipUnlessTuning(t)
	const ld = 1024
	src := make([]float32, ld*ld)
	for i := range src {
		src[i] = float32(i % 13)
	}
	for _, name := range Kernels() {
		kern := lookup(name)
		for _, tc := range []struct {
			what   string
			kMajor bool
			w, nq  int
		}{
			{"A rows", false, kern.mr, kern.mc},
			{"A k-major", true, kern.mr, kern.mc},
			{"B k-major", true, kern.nr, 1024},
			{"B rows", false, kern.nr, 1024},
		} {
			dst := alignedFloats(ceilDiv(tc.nq, tc.w)*tc.w*kern.kc + 16)
			rate := cpuRate(float64(tc.nq*kern.kc), 20, func() {
				packPanels(dst, src, ld, tc.kMajor, 0, tc.nq, 0, kern.kc, tc.w, kern.pack)
			})
			t.Logf("%s %s: %.3f ns/float", name, tc.what, 1/rate)
		}
	}
}
