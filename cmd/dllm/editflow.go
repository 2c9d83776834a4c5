package main

import (
	"math"
	"slices"

	"github.com/dllmgo/dllm/editflow"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/modeldir"
)

// editFlowsSample runs tau-leaping on an Edit Flows model with the
// sampler settings that carry over from the masked samplers: the canvas of
// masks it starts from (MaxNewTokens, capped to twice that in the end), the
// steps (τ = 1/Steps), the temperature and the seed. The result has the
// masked samplers' shape, each answer cut at the first [PAD], EOS or stop
// sequence, with any mask left dropped.
func editFlowsSample(b *modeldir.Bundle, m *editflow.Model, prompts [][]int32, c mdlm.SamplerConfig, seed uint64, trace func(editflow.Step)) (*mdlm.Output, error) {
	o := editflow.SampleOptions{MaskLength: c.MaxNewTokens, Temperature: c.Temperature, Seed: seed,
		StreamOffset: c.StreamOffset, BOS: b.BOSID, OnStep: trace}
	if c.MaxNewTokens <= 0 {
		o.MaskLength = -1
	}
	if c.Steps > 0 {
		o.Tau = 1 / float64(c.Steps)
	}
	longest := 0
	for _, p := range prompts {
		longest = max(longest, len(p))
	}
	o.MaxLength = longest + 1 + 2*max(c.MaxNewTokens, 1)
	res, err := m.Sample(prompts, o)
	if err != nil {
		return nil, err
	}
	tau := o.Tau
	if tau == 0 {
		tau = editflow.DefaultSampleOptions().Tau
	}
	out := &mdlm.Output{Steps: int(math.Ceil(1 / tau))}
	for r, ans := range res {
		cut, stopped := cutAnswer(b, ans)
		out.Samples = append(out.Samples, mdlm.Sample{Canvas: append(slices.Clone(prompts[r]), ans...),
			PromptLen: len(prompts[r]), Answer: cut, Stopped: stopped})
	}
	return out, nil
}

// cutAnswer ends an answer at its first [PAD], EOS or stop sequence and
// drops the masks the sampler left.
func cutAnswer(b *modeldir.Bundle, ans []int32) ([]int32, bool) {
	end, stopped := len(ans), false
	for i, t := range ans {
		if t == b.PadID || (b.EOSID >= 0 && t == b.EOSID) {
			end, stopped = i, true
			break
		}
	}
	for _, s := range b.Stops {
		if len(s) == 0 {
			continue
		}
		for i := 0; i+len(s) <= end; i++ {
			if slices.Equal(ans[i:i+len(s)], s) {
				end, stopped = i, true
				break
			}
		}
	}
	var out []int32
	for _, t := range ans[:end] {
		if t != b.MaskID {
			out = append(out, t)
		}
	}
	return out, stopped
}
