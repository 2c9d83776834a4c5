package bd3lm_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/dllmgo/dllm/bd3lm"
	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
)

// BenchmarkTrainStep is the cost of one training step's loss and backward
// pass, MDLM against BD3LM at blocks of 4, 8 and 16, on the tiny preset with
// a batch shaped like the demo's (32 rows of 48 tokens, the second half the
// answer). BD3LM's input is the noisy and the clean copy side by side, so
// its step does about twice MDLM's work; the tokens/s it reports count the
// training tokens once, as the trainer's log does.
//
//	go test ./bd3lm -run '^$' -bench TrainStep -benchtime 5x
func BenchmarkTrainStep(b *testing.B) {
	cfg, err := bert.Preset("tiny")
	if err != nil {
		b.Fatal(err)
	}
	const vocab, rows, seq = 1024, 32, 48
	cfg.VocabSize, cfg.PadTokenID, cfg.MaskTokenID = vocab, vocab-2, vocab-1
	m := bert.New(cfg, tensor.CPU())
	m.Init(rand.New(rand.NewPCG(1, 2)))
	rng := rand.New(rand.NewPCG(3, 4))
	batch := data.Batch{B: rows, S: seq, InputIDs: make([]int32, rows*seq), Labels: make([]int32, rows*seq)}
	for i := range batch.InputIDs {
		batch.InputIDs[i] = int32(rng.IntN(vocab - 3))
		batch.Labels[i] = data.IgnoreIndex
		if i%seq >= seq/2 {
			batch.Labels[i] = batch.InputIDs[i]
		}
	}
	mo := mdlm.ObjectiveOptions{MaskID: int32(cfg.MaskTokenID)}
	objs := []struct {
		name string
		obj  lm.Objective
	}{{"mdlm", mdlm.NewObjective(mo)}}
	for _, bs := range []int{4, 8, 16} {
		objs = append(objs, struct {
			name string
			obj  lm.Objective
		}{fmt.Sprintf("bd3lm-%d", bs), bd3lm.NewObjective(bd3lm.Options{MDLM: mo, BlockSize: bs})})
	}
	for _, o := range objs {
		b.Run(o.name, func(b *testing.B) {
			noise := rand.New(rand.NewPCG(5, 6))
			for b.Loop() {
				tp := nn.NewTape(m.Backend())
				loss, err := o.obj.Loss(tp, m, batch, noise, 1)
				if err != nil {
					b.Fatal(err)
				}
				tp.Backward(loss)
				for _, p := range m.Params() {
					p.ZeroGrad()
				}
			}
			b.ReportMetric(float64(rows*seq*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
