package conformance

import "math"

// NumericalGradient returns the gradient of f at x by central differences in
// float64: (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h with h = 6e-6·max(1, |xᵢ|), about
// the cube root of float64's epsilon, which balances the O(h²) truncation
// error against the O(ε/h) rounding error; both stay near 1e-10 relative for
// the smooth functions here. x is restored before it returns.
//
// The backward checks apply it to L(x) = Σ r ⊙ F(x) with F a float64
// reference forward and r the random output gradient handed to the backend,
// so that one scalar loss checks the gradient of every input element.
func NumericalGradient(f func(x []float64) float64, x []float64) []float64 {
	g := make([]float64, len(x))
	for i, xi := range x {
		h := 6e-6 * math.Max(1, math.Abs(xi))
		xp, xm := xi+h, xi-h // divide by the step actually taken
		x[i] = xp
		fp := f(x)
		x[i] = xm
		fm := f(x)
		x[i] = xi
		g[i] = (fp - fm) / (xp - xm)
	}
	return g
}

// projected returns x ↦ Σ r ⊙ F(x): the scalar loss whose gradient a
// backward op computes when it is handed r as the output gradient.
func projected(r []float64, forward func(x []float64) []float64) func([]float64) float64 {
	return func(x []float64) float64 { return dot(r, forward(x)) }
}
