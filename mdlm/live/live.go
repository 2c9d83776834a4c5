package live

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dllmgo/dllm/mdlm"
	"golang.org/x/term"
	"golang.org/x/text/width"
)

// Mode selects how frames are written.
type Mode int

const (
	// Auto draws in place on a terminal and writes plain lines otherwise.
	Auto Mode = iota
	// Plain writes one line per step.
	Plain
	// ANSI redraws in place with escape codes.
	ANSI
)

// Options configures a View. The zero value shows row 0's generated region,
// sized to the terminal.
type Options struct {
	Mode Mode
	// Row is the batch row to show.
	Row int
	// ShowPrompt draws the prompt as well as the generated region. It is off
	// by default: in a chat the prompt is the whole conversation so far.
	ShowPrompt bool
	// Width and Height bound the drawing, in terminal cells; 0 asks the
	// terminal (80×24 when it cannot say).
	Width, Height int
	// Delay pauses after each drawn frame, so that a fast run can be
	// watched step by step.
	Delay time.Duration
	// MaskGlyph stands for one [MASK] on the canvas ("░").
	MaskGlyph string
}

// Escape sequences (SGR styles and cursor movement, ECMA-48).
const (
	styleReset    = "\x1b[0m"
	styleMask     = "\x1b[2m"    // dim
	styleRevealed = "\x1b[1;32m" // bold green
	clearBelow    = "\x1b[J"
)

// View draws the frames of one row. Its methods are not safe for concurrent
// use; samplers call the trace from one goroutine.
type View struct {
	w      io.Writer
	render func(int32) string
	opts   Options
	ansi   bool
	width  int
	height int
	drawn  int // lines the previous ANSI frame occupies
	last   *mdlm.Frame
	// lastEdit is the last frame of an edit sampler (Edit).
	lastEdit *EditFrame
	err      error
}

// New returns a View writing to w. render turns one token id into its text
// (a tokenizer's DecodeToken).
func New(w io.Writer, render func(id int32) string, opts Options) *View {
	if opts.MaskGlyph == "" {
		opts.MaskGlyph = "░"
	}
	v := &View{w: w, render: render, opts: opts}
	switch opts.Mode {
	case ANSI:
		v.ansi = true
	case Auto:
		v.ansi = IsTerminal(w)
	}
	v.width, v.height = opts.Width, opts.Height
	if f, ok := w.(*os.File); ok && (v.width == 0 || v.height == 0) {
		if tw, th, err := term.GetSize(int(f.Fd())); err == nil {
			v.width, v.height = orDefault(v.width, tw), orDefault(v.height, th)
		}
	}
	v.width, v.height = orDefault(v.width, 80), orDefault(v.height, 24)
	return v
}

// sleep pauses the replay (a variable for tests).
var sleep = time.Sleep

// orDefault returns a unless it is 0.
func orDefault(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Frame draws one frame; frames of other rows are ignored. Write errors are
// kept for Close, since a trace cannot return them.
func (v *View) Frame(f mdlm.Frame) {
	if f.Row != v.opts.Row || v.err != nil {
		return
	}
	v.last = &f
	if v.ansi {
		v.drawANSI(f)
	} else {
		v.writePlain(f)
	}
	if v.opts.Delay > 0 {
		sleep(v.opts.Delay)
	}
}

// Close finishes the drawing and returns the first write error. In plain
// mode it writes the final canvas; on a terminal the last frame stays.
func (v *View) Close() error {
	if v.err == nil && !v.ansi && v.last != nil {
		v.printf("result: %s\n", v.plainText(*v.last))
	}
	if v.err == nil && !v.ansi && v.lastEdit != nil {
		v.printf("result: %s\n", v.editText(*v.lastEdit))
	}
	return v.err
}

func (v *View) printf(format string, args ...any) {
	if v.err == nil {
		_, v.err = fmt.Fprintf(v.w, format, args...)
	}
}

func (v *View) writePlain(f mdlm.Frame) {
	if f.Step == 0 {
		v.printf("denoising %d masks in at most %d steps\n", f.Total, f.MaxSteps)
		return
	}
	var toks []string
	for _, p := range f.Revealed {
		toks = append(toks, fmt.Sprintf("%q", v.render(f.Canvas[p])))
	}
	v.printf("step %d/%d  masks %d/%d  +%d: %s\n", f.Step, f.MaxSteps, f.Masked, f.Total, len(f.Revealed), strings.Join(toks, " "))
}

// plainText is the shown region as text, masks written [MASK].
func (v *View) plainText(f mdlm.Frame) string {
	var b strings.Builder
	for _, id := range f.Canvas[v.start(f):] {
		if id == f.MaskID {
			b.WriteString("[MASK]")
		} else {
			b.WriteString(v.render(id))
		}
	}
	return b.String()
}

func (v *View) start(f mdlm.Frame) int {
	if v.opts.ShowPrompt {
		return 0
	}
	return min(f.PromptLen, len(f.Canvas))
}

// cell is one glyph on screen with its style.
type cell struct {
	r     rune
	style string
	pos   int // canvas position it belongs to
}

func (v *View) drawANSI(f mdlm.Frame) {
	revealed := make(map[int]bool, len(f.Revealed))
	for _, p := range f.Revealed {
		revealed[p] = true
	}
	// Lay the canvas out as lines of styled cells, wrapping one cell short
	// of the width so that no terminal wraps a line on its own (the line
	// count is what the next frame moves the cursor up by).
	limit := max(v.width-1, 8)
	var lines [][]cell
	var line []cell
	col := 0
	put := func(c cell) {
		if c.r == '\n' {
			lines, line, col = append(lines, line), nil, 0
			return
		}
		w := runeWidth(c.r)
		if col+w > limit {
			lines, line, col = append(lines, line), nil, 0
		}
		line = append(line, c)
		col += w
	}
	for p := v.start(f); p < len(f.Canvas); p++ {
		id := f.Canvas[p]
		if id == f.MaskID {
			for _, r := range v.opts.MaskGlyph {
				put(cell{r, styleMask, p})
			}
			continue
		}
		style := ""
		if revealed[p] {
			style = styleRevealed
		}
		for _, r := range sanitize(v.render(id)) {
			put(cell{r, style, p})
		}
	}
	lines = append(lines, line)
	v.paint(v.window(lines, f), status(f, limit))
}

// paint redraws the frame in place: the lines of styled cells, then the
// status line.
func (v *View) paint(lines [][]cell, statusLine string) {
	var b strings.Builder
	if v.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dF%s", v.drawn, clearBelow) // to the start of the previous frame, then clear it
	}
	for _, l := range lines {
		style := ""
		for _, c := range l {
			if c.style != style {
				if style != "" {
					b.WriteString(styleReset)
				}
				b.WriteString(c.style)
				style = c.style
			}
			b.WriteRune(c.r)
		}
		if style != "" {
			b.WriteString(styleReset)
		}
		b.WriteByte('\n')
	}
	b.WriteString(statusLine)
	b.WriteByte('\n')
	if v.err == nil {
		_, v.err = io.WriteString(v.w, b.String())
	}
	v.drawn = len(lines) + 1
}

// window keeps the canvas within the terminal's height (one line is the
// status line): the lines around the first remaining mask, where the
// sampler is working.
func (v *View) window(lines [][]cell, f mdlm.Frame) [][]cell {
	avail := max(v.height-2, 1)
	if len(lines) <= avail {
		return lines
	}
	focus := -1
	for i := 0; i < len(lines) && focus < 0; i++ {
		for _, c := range lines[i] {
			if f.Canvas[c.pos] == f.MaskID {
				focus = i
				break
			}
		}
	}
	if focus < 0 {
		focus = len(lines) - 1
	}
	start := min(max(focus-avail/2, 0), len(lines)-avail)
	return lines[start : start+avail]
}

// status is the line under the canvas: a progress bar of revealed tokens,
// the step and the masks left, fitted into limit cells (a line the terminal
// wrapped would throw off the next frame's cursor movement).
func status(f mdlm.Frame, limit int) string {
	frac := 1.0
	if f.Total > 0 {
		frac = float64(f.Total-f.Masked) / float64(f.Total)
	}
	steps := fmt.Sprintf("step %d", f.Step)
	if f.MaxSteps > 0 {
		steps += fmt.Sprintf("/%d", f.MaxSteps)
	}
	text := fmt.Sprintf("%3d%%  %s  masks %d/%d", int(frac*100+0.5), steps, f.Masked, f.Total)
	if barWidth := min(30, limit-len(text)-3); barWidth >= 4 {
		filled := int(frac*float64(barWidth) + 0.5)
		text = "[" + strings.Repeat("█", filled) + strings.Repeat("░", barWidth-filled) + "] " + text
	}
	if r := []rune(text); len(r) > limit {
		text = string(r[:limit])
	}
	return text
}

// sanitize makes token text safe to print: a model can emit any bytes,
// including escape sequences that would take over the terminal. Tabs become
// spaces, carriage returns go, other control characters and invalid UTF-8
// become U+FFFD. Newlines stay: they are part of the text.
func sanitize(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		s = s[n:]
		switch {
		case r == '\n':
			b.WriteRune(r)
		case r == '\t':
			b.WriteString("    ")
		case r == '\r':
		case r == utf8.RuneError && n == 1, unicode.IsControl(r):
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// runeWidth is the number of terminal cells r takes: 2 for East Asian wide
// and fullwidth characters, 0 for combining marks, else 1.
func runeWidth(r rune) int {
	if unicode.Is(unicode.Mn, r) {
		return 0
	}
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return 2
	}
	return 1
}
