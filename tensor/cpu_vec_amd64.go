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
func exp32AVX2(dst, src *float32, n int, shift float32)

//go:noescape
func expSum32AVX2(dst, src *float32, n int, shift float32) float64

//go:noescape
func addExp32AVX2(acc, x *float32, n int, shift, a float32, write bool)

//go:noescape
func gelu32AVX2(y, x *float32, n int)

//go:noescape
func geluBack32AVX2(dx, x, dy *float32, n int)

//go:noescape
func geglu32AVX2(o, u, gate *float32, n int)

//go:noescape
func gegluBack32AVX2(du, dg, u, gate, dy *float32, n int, write bool)

//go:noescape
func maxNaNAVX2(x *float32, n int) (m float32, nan bool)

//go:noescape
func addF32AVX2(dst, x, v *float32, n int)

//go:noescape
func adamwAVX2(param, grad, m, v *float32, n int, k *adamwConsts)

//go:noescape
func scaleF64AVX2(x *float32, n int, s float64)

//go:noescape
func subMulAVX2(d, p *float32, n int, s float32)

//go:noescape
func lnOutAVX2(out, x, gamma, beta *float32, n int, mu, inv float64)

//go:noescape
func lnDxAVX2(dx, x, dy, gamma *float32, n int, mu, inv, sg, sgx float64)

//go:noescape
func lnColsAVX2(accG, accB *float64, x, dy *float32, n int, mu, inv float64)

//go:noescape
func ropeAVX2(y, x, cs, sn *float32, heads, d, half int)

//go:noescape
func ropeBackAVX2(gx, gy, cs, sn *float32, heads, d, half int)

//go:noescape
func indexEqAVX2(x *float32, n int, v float32) int
