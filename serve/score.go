package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/dllmgo/dllm/mdlm"
)

// Scoring: /v1/completions with echo and logprobs.
//
// A diffusion model has no next-token probabilities, and the server does
// not know where a client will split an echoed prompt into context and
// continuation (lm-evaluation-harness sums token_logprobs[ctxlen:-1]). So
// token_logprobs are built to telescope: with E_i the Monte Carlo ELBO of
// tokens i.. given tokens ..i-1 (mdlm.LogLikelihood, the estimator of
// `dllm eval --task choice`) and E_N = 0,
//
//	token_logprobs[i] = E_i - E_{i+1}
//
// and the sum over any suffix i.. is exactly the estimate E_i of that
// suffix's log-likelihood given the rest. Single entries are differences of
// two estimates, not per-token probabilities. top_logprobs name only the
// token itself, so a harness's "is greedy" check always passes. The
// max_tokens generated tokens follow with null logprobs. It costs one
// estimate per prompt token: a request runs alone, between two batch steps.

// logprobs is the logprobs object of a completion choice.
type logprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []*float64           `json:"token_logprobs"`
	TopLogprobs   []map[string]float64 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

func (s *Server) score(w http.ResponseWriter, r *http.Request, prompts [][]int32, p plan, top *int) error {
	ctx, cancel := context.WithTimeout(r.Context(), s.o.Timeout)
	defer cancel()
	d := s.m.Denoiser()
	type result struct {
		lp     logprobs
		text   string
		finish string
		gen    int
	}
	results := make([][]result, len(prompts))
	j := newJob(ctx)
	j.run = func() error {
		for pi, ids := range prompts {
			for k := range p.n {
				rng := mdlm.NewRand(p.base + uint64(k))
				opts := mdlm.LikelihoodOptions{Samples: s.o.LikelihoodSamples, MaskID: p.cfg.MaskID}
				n := len(ids)
				est := make([]float64, n+1) // est[i]: tokens i.. given ..i-1; est[n] = 0
				for i := n - 1; i >= 1; i-- {
					if err := ctx.Err(); err != nil {
						return err
					}
					ll, err := mdlm.LogLikelihood(d, ids[:i], ids[i:], opts, rng)
					if err != nil {
						return err
					}
					est[i] = ll
				}
				c := p.cfg
				c.StreamOffset = k
				out, err := mdlm.Generate(d, [][]int32{ids}, c, mdlm.NewRand(p.base))
				if err != nil {
					return err
				}
				smp := out.Samples[0]
				var res result
				offset := 0
				for i, id := range append(append([]int32(nil), ids...), smp.Canvas[smp.PromptLen:]...) {
					tok := s.m.Decode([]int32{id})
					res.lp.Tokens = append(res.lp.Tokens, tok)
					res.lp.TextOffset = append(res.lp.TextOffset, offset)
					offset += len(tok)
					if i == 0 || i >= n {
						res.lp.TokenLogprobs = append(res.lp.TokenLogprobs, nil)
						res.lp.TopLogprobs = append(res.lp.TopLogprobs, nil)
						continue
					}
					v := est[i] - est[i+1]
					res.lp.TokenLogprobs = append(res.lp.TokenLogprobs, &v)
					var tl map[string]float64
					if *top > 0 {
						tl = map[string]float64{tok: v}
					}
					res.lp.TopLogprobs = append(res.lp.TopLogprobs, tl)
				}
				text, cut := s.answerText(smp.Answer, p.stops)
				res.text = s.m.Decode(ids) + text
				res.finish = "length"
				if smp.Stopped || cut {
					res.finish = "stop"
				}
				res.gen = len(smp.Canvas) - smp.PromptLen
				results[pi] = append(results[pi], res)
			}
		}
		return nil
	}
	if err := s.sch.submit(j); err != nil {
		if errors.Is(err, errQueueFull) {
			return &apiError{status: http.StatusTooManyRequests, typ: "rate_limit_error", code: "queue_full",
				message: fmt.Sprintf("the server is busy: %d requests are waiting; retry later", s.o.Queue)}
		}
		return &apiError{status: http.StatusServiceUnavailable, typ: "server_error", message: err.Error()}
	}
	select {
	case <-j.done:
	case <-ctx.Done():
	}
	if err := s.jobErr(ctx, j); err != nil {
		return err
	}
	var choices []any
	u := usage{}
	for pi, rs := range results {
		u.PromptTokens += len(prompts[pi])
		for _, res := range rs {
			choices = append(choices, map[string]any{"index": len(choices), "text": res.text, "logprobs": res.lp, "finish_reason": res.finish})
			u.CompletionTokens += res.gen
		}
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	writeJSON(w, http.StatusOK, map[string]any{
		"id": fmt.Sprintf("cmpl-%d-%d", s.created, s.nextID.Add(1)), "object": "text_completion",
		"created": time.Now().Unix(), "model": s.o.Name, "choices": choices, "usage": u,
	})
	return nil
}
