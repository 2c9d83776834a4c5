package mdlm

import (
	"fmt"
	"testing"

	"github.com/dllmgo/dllm/data"
)

// tableModel answers every request from one fixed table of logits per
// position, so a benchmark measures the sampler, not a network.
type tableModel struct {
	vocab int
	rows  [][]float32
}

func (m *tableModel) VocabSize() int { return m.vocab }
func (m *tableModel) Logits(ids []int32, batch, seqLen int, keyMask, rows []int32) ([]float32, error) {
	out := make([]float32, 0, len(rows)*m.vocab)
	for _, r := range rows {
		out = append(out, m.rows[int(r)%seqLen%len(m.rows)]...)
	}
	return out, nil
}

// BenchmarkGenerateOverhead is the sampler's own cost per generated token at
// ModernBERT's vocabulary (softmax, Gumbel noise, ranking), with a model that
// costs only a copy: the budget a GPU forward pass must be compared with.
func BenchmarkGenerateOverhead(b *testing.B) {
	const vocab = 50368
	rng := NewRand(1)
	m := &tableModel{vocab: vocab}
	for range 64 {
		m.rows = append(m.rows, randomLogits(rng, vocab))
	}
	for _, temp := range []float64{0, 1} {
		b.Run(fmt.Sprintf("T=%v", temp), func(b *testing.B) {
			cfg := SamplerConfig{MaxNewTokens: 64, Steps: 64, BlockSize: 32, Temperature: temp, MaskID: 50284, PadID: 50283, FullCanvas: true}
			for b.Loop() {
				if _, err := Generate(m, [][]int32{{1, 2, 3}}, cfg, rng); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cfg.MaxNewTokens*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

func BenchmarkCorrupt(b *testing.B) {
	const rows, seqLen = 32, 1024
	rng := NewRand(2)
	batch := data.Batch{InputIDs: make([]int32, rows*seqLen), B: rows, S: seqLen}
	for i := range batch.InputIDs {
		batch.InputIDs[i] = rng.Int32N(50000)
	}
	for b.Loop() {
		if _, err := Corrupt(batch, ObjectiveOptions{MaskID: 50284}, rng); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows*seqLen*b.N)/b.Elapsed().Seconds(), "tokens/s")
}

func BenchmarkLossFromLogits(b *testing.B) {
	const vocab, n = 50368, 64
	rng := NewRand(3)
	logits := randomLogits(rng, n*vocab)
	targets := make([]int32, n)
	weights := make([]float64, n)
	for i := range targets {
		targets[i], weights[i] = rng.Int32N(vocab), 1
	}
	for b.Loop() {
		if _, err := LossFromLogits(logits, targets, weights); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(4*len(logits)*b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}
