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
	// from is the step the session started at: the ETA divides the time
	// since start by the steps made since then.
	from     int
	now      func() time.Time
	lastLine int // last step printed in line mode
	drawn    bool
}

func newProgress(w io.Writer, terminal bool, total, from int, now func() time.Time) *progress {
	return &progress{w: w, terminal: terminal, total: total, from: from, start: now(), now: now}
}

// eta is the time left at step: the steps left at the mean time of the
// steps this session made.
func (p *progress) eta(step int) time.Duration {
	done := step - p.from
	if done <= 0 || p.total <= step {
		return 0
	}
	return time.Duration(float64(p.now().Sub(p.start)) / float64(done) * float64(p.total-step))
}

func (p *progress) update(step int, loss, tokensPerSec, lr float64) {
	if p.w == nil {
		return
	}
	if p.total <= 0 {
		return // a time-budgeted run before its length is known
	}
	elapsed := p.now().Sub(p.start)
	eta := p.eta(step)
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
