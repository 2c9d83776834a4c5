package conformance

// allCases lists every check of Run, op by op in the order of backend.go.
func allCases() []testCase {
	var cs []testCase
	for _, group := range [][]testCase{
		memoryCases(),
		castCases(),
		elementwiseCases(),
		reductionCases(),
		activationCases(),
		layerNormCases(),
		rmsNormCases(),
		swigluCases(),
		ropeCases(),
		attentionCases(),
		embeddingCases(),
		lossCases(),
		matMulCases(),
		adamWCases(),
	} {
		cs = append(cs, group...)
	}
	return cs
}
