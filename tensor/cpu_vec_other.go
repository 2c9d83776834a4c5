//go:build !amd64 || purego

package tensor

// Without the amd64 kernels every vector helper takes its scalar path.
var useVec = false

func expSumAVX2(dst, src *float32, n int, shift float64) float64 { panic("unreachable") }
func sumExpAVX2(src *float32, n int, shift float64) float64      { panic("unreachable") }
func maxNaNAVX2(x *float32, n int) (float32, bool)               { panic("unreachable") }
func addF32AVX2(dst, x, v *float32, n int)                       { panic("unreachable") }

func adamwAVX2(param, grad, m, v *float32, n int, k *adamwConsts)            { panic("unreachable") }
func scaleF64AVX2(x *float32, n int, s float64)                              { panic("unreachable") }
func subMulAVX2(d, p *float32, n int, s float32)                             { panic("unreachable") }
func lnOutAVX2(out, x, gamma, beta *float32, n int, mu, inv float64)         { panic("unreachable") }
func lnDxAVX2(dx, x, dy, gamma *float32, n int, mu, inv, sg, sgx float64)    { panic("unreachable") }
func lnColsAVX2(accG, accB *float64, x, dy *float32, n int, mu, inv float64) { panic("unreachable") }
func ropeAVX2(y, x, cs, sn *float32, heads, d, half int)                     { panic("unreachable") }
func ropeBackAVX2(gx, gy, cs, sn *float32, heads, d, half int)               { panic("unreachable") }
func indexEqAVX2(x *float32, n int, v float32) int                           { panic("unreachable") }

func exp32AVX2(dst, src *float32, n int, shift float32)                 { panic("unreachable") }
func expSum32AVX2(dst, src *float32, n int, shift float32) float64      { panic("unreachable") }
func addExp32AVX2(acc, x *float32, n int, shift, a float32, write bool) { panic("unreachable") }
func gelu32AVX2(y, x *float32, n int)                                   { panic("unreachable") }
func geluBack32AVX2(dx, x, dy *float32, n int)                          { panic("unreachable") }
func geglu32AVX2(o, u, gate *float32, n int)                            { panic("unreachable") }
func gegluBack32AVX2(du, dg, u, gate, dy *float32, n int, write bool)   { panic("unreachable") }
