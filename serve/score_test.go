package serve

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/mdlm"
)

// TestEchoLogprobs: the echoed token_logprobs of a prompt sum, from any
// split point to the generated token, to the ELBO estimate of that suffix
// given the rest, as a harness reads them; the first token and the
// generated one have none.
func TestEchoLogprobs(t *testing.T) {
	m := newTestModel(t, "tiny")
	s, ts := newTestServer(t, m, Options{LikelihoodSamples: 4})
	const text = "the quick brown fox jumps"
	code, b := post(t, ts.URL+"/v1/completions", `{"prompt":"`+text+`","echo":true,"logprobs":1,"max_tokens":1,"temperature":0,"seed":1234}`)
	require.Equal(t, http.StatusOK, code, string(b))
	r := decodeChat(t, b)
	require.Len(t, r.Choices, 1)
	lp := r.Choices[0].Logprobs
	require.NotNil(t, lp)
	ids := m.Encode(text)
	n := len(ids)
	require.Len(t, lp.TokenLogprobs, n+1)
	require.Len(t, lp.Tokens, n+1)
	assert.True(t, strings.HasPrefix(r.Choices[0].Text, text))
	assert.Nil(t, lp.TokenLogprobs[0])
	assert.Nil(t, lp.TokenLogprobs[n])

	// The estimates the server made, in its order.
	rng := mdlm.NewRand(mdlm.NewRand(1234).Uint64())
	est := make([]float64, n+1)
	for i := n - 1; i >= 1; i-- {
		ll, err := mdlm.LogLikelihood(m.Denoiser(), ids[:i], ids[i:], mdlm.LikelihoodOptions{Samples: s.o.LikelihoodSamples, MaskID: m.mask}, rng)
		require.NoError(t, err)
		est[i] = ll
	}
	for ctx := 1; ctx < n; ctx++ {
		sum := 0.0
		for _, v := range lp.TokenLogprobs[ctx:n] {
			require.NotNil(t, v)
			sum += *v
		}
		assert.InDelta(t, est[ctx], sum, 1e-9, "context of %d tokens", ctx)
		assert.Negative(t, sum)
	}
}
