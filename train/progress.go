package train

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws a one-line bar (steps, tokens/s, loss, ETA) redrawn in
// place on a terminal, or prints a line every few percent elsewhere so logs
// stay readable.
type progress struct {
	w        io.Writer
	terminal bool
	total    int
	start    time.Time
	lastLine int // last step printed in line mode
	drawn    bool
}

func newProgress(w io.Writer, terminal bool, total int) *progress {
	return &progress{w: w, terminal: terminal, total: total, start: time.Now()}
}

func (p *progress) update(step int, loss, tokensPerSec, lr float64) {
	if p.w == nil {
		return
	}
	if p.total <= 0 {
		return // a time-budgeted run before its length is known
	}
	elapsed := time.Since(p.start)
	eta := time.Duration(float64(elapsed) / float64(max(step, 1)) * float64(p.total-step))
	if p.terminal {
		const width = 24
		done := width * step / max(p.total, 1)
		bar := strings.Repeat("█", done) + strings.Repeat("░", width-done)
		fmt.Fprintf(p.w, "\r\x1b[K%s %d/%d  loss %.4f  %.0f tok/s  lr %.2e  ETA %s",
			bar, step, p.total, loss, tokensPerSec, lr, eta.Round(time.Second))
		p.drawn = true
		return
	}
	every := max(p.total/20, 1)
	if step%every == 0 || step == p.total || step == 1 {
		fmt.Fprintf(p.w, "step %d/%d  loss %.4f  %.0f tok/s  lr %.2e  elapsed %s  ETA %s\n",
			step, p.total, loss, tokensPerSec, lr, elapsed.Round(time.Second), eta.Round(time.Second))
		p.lastLine = step
	}
}

// message prints a line above the bar.
func (p *progress) message(s string) {
	if p.w == nil {
		return
	}
	p.clear()
	fmt.Fprintln(p.w, s)
}

// clear erases the bar so other output starts on a clean line.
func (p *progress) clear() {
	if p.terminal && p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

func (p *progress) finish() {
	if p.w != nil && p.terminal && p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
