package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dllmgo/dllm/mdlm"
)

// Denoising is the extension object of a denoising chunk: the answer region
// of one choice after a step.
type Denoising struct {
	Index     int `json:"index"`
	Step      int `json:"step"`
	MaxSteps  int `json:"max_steps"`
	BlockSize int `json:"block_size"`
	// Tokens are the region's tokens as text, null where still masked.
	Tokens []*string `json:"tokens"`
	// Revealed are the region offsets committed in this step.
	Revealed []int `json:"revealed"`
}

// stream answers a job with Server-Sent Events as its frames arrive: a chunk
// whenever a block of a choice's answer is committed, with denoising a
// chunk after every step, and the rest of each answer with its finish reason
// at the end.
func (s *Server) stream(w http.ResponseWriter, ctx context.Context, j *job, f format, id string, p plan, prompts [][]int32) error {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	created := time.Now().Unix()
	var werr error
	send := func(v any) {
		if werr != nil {
			return
		}
		b, err := json.Marshal(v)
		if err != nil {
			werr = err
			return
		}
		if _, werr = fmt.Fprintf(w, "data: %s\n\n", b); werr == nil {
			werr = rc.Flush()
		}
	}
	chunk := func(choices []any) map[string]any {
		return map[string]any{"id": id, "object": f.chunkObject(), "created": created, "model": s.o.Name, "choices": choices}
	}
	sent := make([]string, len(j.seqs))
	advance := func(i int, text string) {
		if len(text) > len(sent[i]) && strings.HasPrefix(text, sent[i]) {
			send(chunk([]any{f.delta(i, text[len(sent[i]):], false, "")}))
			sent[i] = text
		}
	}
	for i := range j.seqs {
		send(chunk([]any{f.delta(i, "", true, "")}))
	}
	handle := func(frames []choiceFrame) {
		for _, cf := range frames {
			if p.denoising {
				c := chunk([]any{f.delta(cf.choice, "", false, "")})
				c["denoising"] = s.denoising(cf.choice, cf.frame, p)
				send(c)
			}
			advance(cf.choice, s.blockText(cf.frame, p))
		}
	}
	for done := false; !done && werr == nil; {
		select {
		case <-j.wake:
			handle(j.takeFrames())
		case <-j.done:
			handle(j.takeFrames())
			done = true
		case <-ctx.Done():
			done = true
		}
	}
	if werr != nil {
		return nil // the client is gone; the job leaves the batch at its next step
	}
	if err := s.jobErr(ctx, j); err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = &apiError{status: http.StatusInternalServerError, typ: "server_error", message: err.Error()}
		}
		send(ae.body())
		return nil
	}
	u := usage{}
	for _, prompt := range prompts {
		u.PromptTokens += len(prompt)
	}
	for i, seq := range j.seqs {
		smp := seq.Output().Samples[0]
		text, cut := s.answerText(smp.Answer, p.stops)
		finish := "length"
		if smp.Stopped || cut {
			finish = "stop"
		}
		rest := ""
		if strings.HasPrefix(text, sent[i]) {
			rest = text[len(sent[i]):]
		}
		send(chunk([]any{f.delta(i, rest, false, finish)}))
		u.CompletionTokens += len(smp.Answer)
	}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	s.met.tokens.Add(int64(u.CompletionTokens))
	if p.usage {
		c := chunk([]any{})
		c["usage"] = u
		send(c)
	}
	if werr == nil {
		fmt.Fprint(w, "data: [DONE]\n\n")
		rc.Flush()
	}
	return nil
}

// blockText is the text of a choice's answer as far as whole blocks of it
// are committed (or the answer has ended), as answerText gives it, without
// a trailing partial character.
func (s *Server) blockText(f mdlm.Frame, p plan) string {
	region := f.Canvas[f.PromptLen:]
	c := p.cfg
	ids := region
	if m := slices.Index(region, c.MaskID); m >= 0 {
		var cut bool
		ids, cut = mdlm.CutAnswer(region[:m], c.PadID, c.StopSequences)
		if !cut {
			ids = region[:m/c.BlockSize*c.BlockSize]
		}
	} else {
		ids, _ = mdlm.CutAnswer(region, c.PadID, c.StopSequences)
	}
	text, _ := s.answerText(ids, p.stops)
	return strings.TrimRight(text, "\uFFFD")
}

// denoising describes one frame of choice i.
func (s *Server) denoising(i int, f mdlm.Frame, p plan) Denoising {
	region := f.Canvas[f.PromptLen:]
	d := Denoising{Index: i, Step: f.Step, MaxSteps: f.MaxSteps, BlockSize: p.cfg.BlockSize,
		Tokens: make([]*string, len(region)), Revealed: []int{}}
	for k, id := range region {
		if id != f.MaskID {
			t := s.m.Decode([]int32{id})
			d.Tokens[k] = &t
		}
	}
	for _, pos := range f.Revealed {
		d.Revealed = append(d.Revealed, pos-f.PromptLen)
	}
	return d
}
