package mdlm

// Shifted adapts a model whose logits are shifted by one position (Dream:
// the logits at position i predict the token at i+1) to the
// samplers, which ask for the logits that predict each masked position: it
// asks d for the row before each requested one (ShiftRows). Wrap a model
// whose lm.Spec says ShiftLogits; any other model is used as it is.
func Shifted(d Denoiser) Denoiser { return shifted{d} }

type shifted struct{ d Denoiser }

func (s shifted) VocabSize() int { return s.d.VocabSize() }

func (s shifted) Logits(ids []int32, batch, seqLen int, keyMask, rows []int32) ([]float32, error) {
	if seqLen <= 0 {
		return s.d.Logits(ids, batch, seqLen, keyMask, rows)
	}
	return s.d.Logits(ids, batch, seqLen, keyMask, ShiftRows(rows, seqLen))
}
