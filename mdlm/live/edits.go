package live

import (
	"fmt"
	"strings"

	"github.com/dllmgo/dllm/editflow"
)

// Styles of the edits of an edit sampler (Edit Flows).
const (
	styleInserted    = "\x1b[1;32m"   // bold green
	styleSubstituted = "\x1b[1;33m"   // bold yellow
	styleDeleted     = "\x1b[2;9;31m" // dim, crossed out, red
)

// EditFrame is one step of an edit sampler: the sequence before the step
// and the edits the step applies to it (rows of Before).
type EditFrame struct {
	Step, MaxSteps int
	// Row is the row of the batch this frame shows.
	Row int
	// Before is the sequence (prompt included) before the step.
	Before    []int32
	PromptLen int
	Edits     []editflow.Edit
	MaskID    int32
}

// editItem is one token of an edit frame as drawn: a kept, substituted,
// inserted or deleted token.
type editItem struct {
	id    int32
	style string
	mark  byte // ' ', '~', '+', '-' for plain text
}

// items lays the step out left to right as Apply does, keeping the deleted
// tokens (to be drawn crossed out) in place.
func (f EditFrame) items(from int) []editItem {
	sub := map[int]int32{}
	del := map[int]bool{}
	ins := map[int][]int32{}
	for _, e := range f.Edits {
		switch e.Kind {
		case editflow.Sub:
			sub[e.Row] = e.Token
		case editflow.Del:
			del[e.Row] = true
		case editflow.Ins:
			ins[e.Row] = append(ins[e.Row], e.Token)
		}
	}
	var out []editItem
	for i, id := range f.Before {
		if i >= from {
			switch t, ok := sub[i]; {
			case del[i]:
				out = append(out, editItem{id, styleDeleted, '-'})
			case ok:
				out = append(out, editItem{t, styleSubstituted, '~'})
			default:
				style := ""
				if id == f.MaskID {
					style = styleMask
				}
				out = append(out, editItem{id, style, ' '})
			}
		}
		for _, t := range ins[i] {
			out = append(out, editItem{t, styleInserted, '+'})
		}
	}
	return out
}

// Edit draws one step of an edit sampler: on a terminal the sequence after
// it, inserted tokens green, substituted ones yellow and deleted ones
// crossed out in red for this frame; otherwise one line per step listing
// the edits (+inserted ~substituted -deleted). Frames of other rows are
// ignored.
func (v *View) Edit(f EditFrame) {
	if f.Row != v.opts.Row || v.err != nil {
		return
	}
	from := 0
	if !v.opts.ShowPrompt {
		from = min(f.PromptLen, len(f.Before))
	}
	items := f.items(from)
	var n [3]int
	for _, e := range f.Edits {
		n[e.Kind]++
	}
	after := len(f.Before) + n[editflow.Ins] - n[editflow.Del]
	statusLine := fmt.Sprintf("step %d/%d  length %d  +%d ~%d -%d", f.Step+1, f.MaxSteps, after-f.PromptLen,
		n[editflow.Ins], n[editflow.Sub], n[editflow.Del])
	v.lastEdit = &f
	if v.ansi {
		limit := max(v.width-1, 8)
		var lines [][]cell
		var line []cell
		col := 0
		for k, it := range items {
			text := v.render(it.id)
			if it.id == f.MaskID {
				text = v.opts.MaskGlyph
			}
			for _, r := range sanitize(text) {
				if r == '\n' {
					lines, line, col = append(lines, line), nil, 0
					continue
				}
				w := runeWidth(r)
				if col+w > limit {
					lines, line, col = append(lines, line), nil, 0
				}
				line = append(line, cell{r, it.style, k})
				col += w
			}
		}
		lines = append(lines, line)
		if avail := max(v.height-2, 1); len(lines) > avail {
			lines = lines[len(lines)-avail:]
		}
		if r := []rune(statusLine); len(r) > limit {
			statusLine = string(r[:limit])
		}
		v.paint(lines, statusLine)
	} else if len(f.Edits) > 0 {
		var toks []string
		for _, it := range items {
			if it.mark != ' ' {
				toks = append(toks, fmt.Sprintf("%c%q", it.mark, v.render(it.id)))
			}
		}
		v.printf("%s: %s\n", statusLine, strings.Join(toks, " "))
	}
	if v.opts.Delay > 0 && len(f.Edits) > 0 {
		sleep(v.opts.Delay)
	}
}

// editText is the sequence after an edit frame, masks written [MASK].
func (v *View) editText(f EditFrame) string {
	var b strings.Builder
	for _, id := range editflow.Apply(f.Before, f.Edits)[min(f.PromptLen, len(f.Before)):] {
		if id == f.MaskID {
			b.WriteString("[MASK]")
		} else {
			b.WriteString(v.render(id))
		}
	}
	return b.String()
}
