package live

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dllmgo/dllm/mdlm"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const mask = 99

// words renders token i as "w<i> "; 7 renders as text with an escape
// sequence and a newline, 8 as a wide character.
func words(id int32) string {
	switch id {
	case 7:
		return "\x1b[31mred\n"
	case 8:
		return "世"
	}
	return fmt.Sprintf("w%d ", id)
}

func frames() []mdlm.Frame {
	return []mdlm.Frame{
		{Step: 0, MaxSteps: 3, Canvas: []int32{1, 2, mask, mask, mask, mask}, PromptLen: 2, Masked: 4, Total: 4, MaskID: mask},
		{Step: 1, MaxSteps: 3, Canvas: []int32{1, 2, 3, mask, mask, mask}, PromptLen: 2, Revealed: []int{2}, Masked: 3, Total: 4, MaskID: mask},
		{Step: 1, Row: 1, MaxSteps: 3, Canvas: []int32{4, 5, 5, 5}, PromptLen: 1, Revealed: []int{1, 2, 3}, Total: 3, MaskID: mask},
		{Step: 2, MaxSteps: 3, Canvas: []int32{1, 2, 3, 7, 8, mask}, PromptLen: 2, Revealed: []int{3, 4}, Masked: 1, Total: 4, MaskID: mask},
		{Step: 3, MaxSteps: 3, Canvas: []int32{1, 2, 3, 7, 8, 4}, PromptLen: 2, Revealed: []int{5}, Masked: 0, Total: 4, MaskID: mask},
	}
}

func TestPlain(t *testing.T) {
	var buf bytes.Buffer
	v := New(&buf, words, Options{}) // a buffer is not a terminal: plain
	for _, f := range frames() {
		v.Frame(f)
	}
	require.NoError(t, v.Close())
	want := strings.Join([]string{
		`denoising 4 masks in at most 3 steps`,
		`step 1/3  masks 3/4  +1: "w3 "`,
		`step 2/3  masks 1/4  +2: "\x1b[31mred\n" "世"`,
		`step 3/3  masks 0/4  +1: "w4 "`,
		"result: w3 \x1b[31mred\n世w4 ",
		``,
	}, "\n")
	assert.Equal(t, want, buf.String())

	buf.Reset()
	v = New(&buf, words, Options{Row: 1, ShowPrompt: true})
	for _, f := range frames() {
		v.Frame(f)
	}
	require.NoError(t, v.Close())
	assert.Equal(t, "step 1/3  masks 0/3  +3: \"w5 \" \"w5 \" \"w5 \"\nresult: w4 w5 w5 w5 \n", buf.String())
}

var (
	csi      = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)
	moveUp   = regexp.MustCompile(`^\x1b\[(\d+)F\x1b\[J`)
	revealed = regexp.MustCompile(`\x1b\[1;32m([^\x1b]*)\x1b\[0m`)
)

// TestANSIStructure draws the frames into a buffer and checks the escape
// codes: every frame after the first moves the cursor up exactly over the
// previous one and clears; masks are dim glyphs; newly revealed tokens are
// highlighted; nothing the tokens carried escapes; no line exceeds the width.
func TestANSIStructure(t *testing.T) {
	var buf bytes.Buffer
	v := New(&buf, words, Options{Mode: ANSI, Width: 30, Height: 40})
	var outs []string
	for _, f := range frames() {
		before := buf.Len()
		v.Frame(f)
		outs = append(outs, buf.String()[before:])
	}
	require.NoError(t, v.Close())
	require.Len(t, outs, 5)
	assert.Empty(t, outs[2], "row 1 is not shown")
	outs = append(outs[:2], outs[3:]...)

	prevLines := 0
	for i, out := range outs {
		m := moveUp.FindStringSubmatch(out)
		if i == 0 {
			assert.Nil(t, m, "first frame draws from where the cursor is")
		} else {
			require.NotNil(t, m, "frame %d: %q", i, out)
			assert.Equal(t, fmt.Sprint(prevLines), m[1], "frame %d moves up over the previous frame", i)
			out = out[len(m[0]):]
		}
		require.True(t, strings.HasSuffix(out, "\n"))
		prevLines = strings.Count(out, "\n")
		// The only escape sequences are our own SGR codes.
		for _, code := range csi.FindAllString(out, -1) {
			assert.Contains(t, []string{styleReset, styleMask, styleRevealed}, code, "frame %d", i)
		}
		assert.NotContains(t, out, "\x1b[31m", "token text must not inject escapes")
		plain := csi.ReplaceAllString(out, "")
		for _, line := range strings.Split(strings.TrimSuffix(plain, "\n"), "\n") {
			w := 0
			for _, r := range line {
				w += runeWidth(r)
			}
			assert.LessOrEqual(t, w, 29, "frame %d line %q", i, line)
		}
	}
	// Frame 0: four dim masks, nothing highlighted, 0% and masks 4/4.
	assert.Contains(t, outs[0], styleMask+"░░░░"+styleReset)
	assert.Empty(t, revealed.FindAllString(outs[0], -1))
	assert.Contains(t, outs[0], "  0%  step 0/3  masks 4/4")
	// Frame 1: "w3 " highlighted, three masks left.
	assert.Equal(t, [][]string{{styleRevealed + "w3 " + styleReset, "w3 "}}, revealed.FindAllStringSubmatch(outs[1], -1))
	assert.Contains(t, outs[1], styleMask+"░░░"+styleReset)
	assert.Contains(t, outs[1], " 25%  step 1/3  masks 3/4")
	// Frame 2: the escape became U+FFFD, the newline broke the line, the wide
	// character is highlighted, and w3 is no longer highlighted.
	hl := revealed.FindAllStringSubmatch(outs[2], -1)
	require.Len(t, hl, 2)
	assert.Equal(t, "\uFFFD[31mred", hl[0][1])
	assert.Equal(t, "世", hl[1][1])
	assert.Contains(t, csi.ReplaceAllString(outs[2], ""), "w3 \uFFFD[31mred\n世░\n")
	assert.Contains(t, outs[3], "100%  step 3/3  masks 0/4")

	// A wider terminal has room for the bar.
	buf.Reset()
	v = New(&buf, words, Options{Mode: ANSI, Width: 60})
	v.Frame(frames()[1])
	assert.Contains(t, buf.String(), "\n[████████░░░░░░░░░░░░░░░░░░░░░░]  25%  step 1/3  masks 3/4\n")
}

func TestANSIWindowKeepsTheWorkInView(t *testing.T) {
	var buf bytes.Buffer
	v := New(&buf, func(id int32) string { return fmt.Sprintf("t%02d ", id) }, Options{Mode: ANSI, Width: 17, Height: 6})
	canvas := make([]int32, 60)
	for i := range canvas {
		canvas[i] = int32(i)
		if i >= 40 {
			canvas[i] = mask
		}
	}
	v.Frame(mdlm.Frame{Step: 5, MaxSteps: 60, Canvas: canvas, Masked: 20, Total: 60, MaskID: mask})
	require.NoError(t, v.Close())
	out := csi.ReplaceAllString(buf.String(), "")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	assert.Len(t, lines, 5, "height 6: four canvas lines and the status line")
	assert.Contains(t, out, "░", "the first masks are in view")
	assert.Contains(t, out, "t39", "and the tokens just before them")
	assert.NotContains(t, out, "t00", "the beginning scrolled away")
}

// TestWithSampler feeds a real sampler run through a View.
func TestWithSampler(t *testing.T) {
	const vocab, pad = 12, 11
	m := &constModel{vocab: vocab}
	var buf bytes.Buffer
	v := New(&buf, func(id int32) string { return fmt.Sprintf("<%d>", id) }, Options{Mode: ANSI, Width: 40, Height: 10})
	cfg := mdlm.SamplerConfig{MaxNewTokens: 16, Steps: 8, BlockSize: 8, MaskID: 10, PadID: pad, Trace: v.Frame}
	out, err := mdlm.Generate(m, [][]int32{{1, 2}}, cfg, mdlm.NewRand(1))
	require.NoError(t, err)
	require.NoError(t, v.Close())
	assert.Equal(t, out.Steps+1, strings.Count(buf.String(), "masks "), "one frame per step plus the first")
	assert.Contains(t, buf.String(), "masks 0/16")
	assert.True(t, utf8.ValidString(buf.String()))
}

// constModel prefers token pos%8 at every position, more strongly to the left.
type constModel struct{ vocab int }

func (m *constModel) VocabSize() int { return m.vocab }
func (m *constModel) Logits(ids []int32, batch, seqLen int, keyMask, rows []int32) ([]float32, error) {
	out := make([]float32, len(rows)*m.vocab)
	for i, r := range rows {
		s := int(r) % seqLen
		out[i*m.vocab+s%8] = float32(5 - 0.1*float64(s))
	}
	return out, nil
}

func TestSanitizeAndWidth(t *testing.T) {
	assert.Equal(t, "a\n    b\uFFFD[0m\uFFFD\uFFFD", sanitize("a\r\n\tb\x1b[0m\x07\xff"))
	assert.Equal(t, 2, runeWidth('世'))
	assert.Equal(t, 1, runeWidth('a'))
	assert.Equal(t, 0, runeWidth('\u0301'))
	assert.False(t, IsTerminal(&bytes.Buffer{}))
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, fmt.Errorf("disk full") }

func TestWriteErrorReachesClose(t *testing.T) {
	for _, mode := range []Mode{Plain, ANSI} {
		v := New(failWriter{}, words, Options{Mode: mode})
		for _, f := range frames() {
			v.Frame(f)
		}
		assert.ErrorContains(t, v.Close(), "disk full")
	}
}

func TestStatusFitsTheWidth(t *testing.T) {
	f := mdlm.Frame{Step: 40, MaxSteps: 128, Masked: 48, Total: 128}
	for _, limit := range []int{10, 30, 45, 79, 200} {
		s := status(f, limit)
		assert.LessOrEqual(t, utf8.RuneCountInString(s), limit, "%q", s)
	}
	assert.Equal(t, " 63%  step 40/128  masks 48/128", status(f, 36), "no room for a bar of 4")
	assert.Equal(t, "[████░░]  63%  step 40/128  masks 48/128", status(f, 40))
	assert.Equal(t, "[███████████████████░░░░░░░░░░░]  63%  step 40/128  masks 48/128", status(f, 79))
}
