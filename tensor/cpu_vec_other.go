//go:build !amd64 || purego

package tensor

// Without the amd64 kernels every vector helper takes its scalar path.
var useVec = false

func expSumAVX2(dst, src *float32, n int, shift float64) float64 { panic("unreachable") }
func sumExpAVX2(src *float32, n int, shift float64) float64      { panic("unreachable") }
func addExpAVX2(acc, x *float32, n int, shift, a float64)        { panic("unreachable") }
func geluAVX2(y, x *float32, n int)                              { panic("unreachable") }
func geluGradAVX2(val, grad, x *float32, n int)                  { panic("unreachable") }
func maxNaNAVX2(x *float32, n int) (float32, bool)               { panic("unreachable") }
func addF32AVX2(dst, x, v *float32, n int)                       { panic("unreachable") }
func indexEqAVX2(x *float32, n int, v float32) int               { panic("unreachable") }
func scaleF64AVX2(x *float32, n int, s float64)                  { panic("unreachable") }
