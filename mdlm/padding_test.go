package mdlm

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKeyMaskMarksPadding checks the key mask every sampler hands the model:
// 0 exactly at the padding that fills a row out to the batch's width, 1 at
// every position of the row's own text, including a [PAD] the model
// generated there, and no mask at all when none of the rows sent is padded.
// Rows are told apart by their first token, which is never masked.
func TestKeyMaskMarksPadding(t *testing.T) {
	const vocab, mask, pad = 30, 29, 28
	// A model that writes token 1 + (pos+first)%20 (never [PAD] or [MASK]),
	// or [PAD] where padAt says so.
	model := func(padAt func(first int32, pos int) bool) *fakeModel {
		return &fakeModel{vocab: vocab, fn: func(seq []int32, pos int) []float32 {
			if padAt != nil && padAt(seq[0], pos) {
				return oneHotLogits(vocab, pad, 5)
			}
			return oneHotLogits(vocab, 1+(pos+int(seq[0]))%20, 5)
		}}
	}
	prompts := [][]int32{{1, 2, 3}, {4}, {5, 6, 7, 8, 9, 10}}
	texts := [][]int32{{11, mask, 12}, {13, mask, mask, 14, mask, 15}, {16, mask}}
	cfg := SamplerConfig{MaxNewTokens: 4, Steps: 4, BlockSize: 2, MaskID: mask, PadID: pad}
	with := func(f func(*SamplerConfig)) SamplerConfig {
		c := cfg
		f(&c)
		return c
	}
	// The length of each row's own text, by its first token: prompt plus
	// MaxNewTokens, or the infill text.
	hi := map[int32]int{1: 7, 4: 5, 5: 10, 11: 3, 13: 6, 16: 2, 20: 9}

	const (
		masked = iota // some call carries a mask (rows that are done are not sent)
		plain         // no call does
		mixed         // some do, some do not: the rows left are not padded
	)
	cases := []struct {
		name   string
		padAt  func(first int32, pos int) bool
		run    func(d Denoiser) error
		guided bool // the second half of each call is the unconditional copy
		kind   int
	}{
		{name: "generate", kind: masked, run: func(d Denoiser) error {
			_, err := Generate(d, prompts, cfg, NewRand(1))
			return err
		}},
		{name: "generate guided", guided: true, kind: masked, run: func(d Denoiser) error {
			_, err := Generate(d, prompts, with(func(c *SamplerConfig) { c.CFGScale = 1 }), NewRand(1))
			return err
		}},
		{name: "generate threshold", kind: masked, run: func(d Denoiser) error {
			_, err := Generate(d, prompts, with(func(c *SamplerConfig) { c.Threshold = 0.9 }), NewRand(1))
			return err
		}},
		{
			name:  "generate, short rows end and the longest goes on alone",
			padAt: func(first int32, _ int) bool { return first != 5 },
			kind:  mixed,
			run: func(d Denoiser) error {
				_, err := Generate(d, prompts, cfg, NewRand(1))
				return err
			},
		},
		{
			name:  "generate full canvas, generated [PAD]s stay visible",
			padAt: func(_ int32, pos int) bool { return pos%3 == 0 },
			kind:  masked,
			run: func(d Denoiser) error {
				_, err := Generate(d, prompts, with(func(c *SamplerConfig) { c.FullCanvas = true }), NewRand(1))
				return err
			},
		},
		{name: "ancestral", kind: masked, run: func(d Denoiser) error {
			_, err := Ancestral(d, prompts, cfg, NewRand(1))
			return err
		}},
		{name: "infill", kind: masked, run: func(d Denoiser) error {
			_, err := Infill(d, texts, cfg, NewRand(1))
			return err
		}},
		{name: "infill guided", guided: true, kind: masked, run: func(d Denoiser) error {
			_, err := Infill(d, texts, with(func(c *SamplerConfig) { c.CFGScale = 1 }), NewRand(1))
			return err
		}},
		{name: "single prompt", kind: plain, run: func(d Denoiser) error {
			_, err := Generate(d, prompts[2:], cfg, NewRand(1))
			return err
		}},
		{name: "prompts of one length", guided: true, kind: plain, run: func(d Denoiser) error {
			_, err := Generate(d, [][]int32{{1, 2, 3}, {20, 21, 22}}, with(func(c *SamplerConfig) { c.CFGScale = 1 }), NewRand(1))
			return err
		}},
		{name: "likelihood", guided: true, kind: plain, run: func(d Denoiser) error {
			_, err := LogLikelihood(d, []int32{20, 21}, []int32{22, 23, 24, 25, 26, 27, 1}, LikelihoodOptions{Samples: 8, BatchSize: 4, MaskID: mask, CFGScale: 1}, NewRand(1))
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := model(tc.padAt)
			require.NoError(t, tc.run(m))
			require.NotEmpty(t, m.calls)
			withMask, generatedPad := 0, false
			for i, c := range m.calls {
				rows := c.batch
				if tc.guided {
					require.Zero(t, rows%2, "call %d: a guided call has two copies", i)
					rows /= 2
				}
				var want []int32
				for b := range rows {
					n, ok := hi[c.ids[b*c.seqLen]]
					require.True(t, ok, "call %d: unknown row starting with %d", i, c.ids[b*c.seqLen])
					if n < c.seqLen && want == nil {
						want = make([]int32, c.batch*c.seqLen)
					}
				}
				if want != nil {
					for b := range c.batch {
						n := hi[c.ids[b%rows*c.seqLen]]
						for s := range n {
							want[b*c.seqLen+s] = 1
						}
					}
				}
				require.Equal(t, want, c.keyMask, "call %d", i)
				for j, f := range c.keyMask {
					if f == 0 {
						assert.Equal(t, int32(pad), c.ids[j], "call %d: masked position %d is not [PAD]", i, j)
					} else if c.ids[j] == pad {
						generatedPad = true
					}
				}
				if c.keyMask != nil {
					withMask++
				}
			}
			switch tc.kind {
			case masked:
				assert.Positive(t, withMask, "calls with padded rows")
			case plain:
				assert.Zero(t, withMask, "no call is padded")
			case mixed:
				assert.Positive(t, withMask, "calls with padded rows")
				assert.Less(t, withMask, len(m.calls), "calls without")
			}
			if tc.padAt != nil && tc.kind == masked {
				assert.True(t, generatedPad, "some generated [PAD] was sent, and not masked")
			}
		})
	}
}

// TestKeyMaskNilWithoutPadding: the mask-free path is taken whenever the
// rows sent fill the canvas, whatever the other rows do.
func TestKeyMaskNilWithoutPadding(t *testing.T) {
	cv, err := newPromptCanvas([][]int32{{1, 2}, {3, 4, 5, 6}}, 3, SamplerConfig{MaskID: 9, PadID: 8})
	require.NoError(t, err)
	for _, tc := range []struct {
		rows   []int
		copies int
		want   []int32
	}{
		{[]int{1}, 1, nil},
		{[]int{1}, 2, nil},
		{[]int{0}, 1, []int32{1, 1, 1, 1, 1, 0, 0}},
		{[]int{1, 0}, 2, slices.Concat(
			[]int32{1, 1, 1, 1, 1, 1, 1}, []int32{1, 1, 1, 1, 1, 0, 0},
			[]int32{1, 1, 1, 1, 1, 1, 1}, []int32{1, 1, 1, 1, 1, 0, 0})},
	} {
		assert.Equal(t, tc.want, cv.keyMask(tc.rows, tc.copies), "rows %v, copies %d", tc.rows, tc.copies)
	}
}
