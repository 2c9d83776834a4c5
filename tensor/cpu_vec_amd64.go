//go:build amd64 && !purego

package tensor

import "golang.org/x/sys/cpu"

// useVec says whether the AVX2+FMA kernels of cpu_vec_amd64.s run; tests
// switch it off to compare them with the scalar code.
var useVec = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func expSumAVX2(dst, src *float32, n int, shift float64) float64

//go:noescape
func sumExpAVX2(src *float32, n int, shift float64) float64

//go:noescape
func addExpAVX2(acc, x *float32, n int, shift, a float64)

//go:noescape
func geluAVX2(y, x *float32, n int)

//go:noescape
func geluGradAVX2(val, grad, x *float32, n int)

//go:noescape
func maxNaNAVX2(x *float32, n int) (m float32, nan bool)

//go:noescape
func addF32AVX2(dst, x, v *float32, n int)

//go:noescape
func indexEqAVX2(x *float32, n int, v float32) int

//go:noescape
func scaleF64AVX2(x *float32, n int, s float64)
