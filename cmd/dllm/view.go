package main

import (
	"io"
	"time"

	"github.com/dllmgo/dllm/editflow"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/mdlm/live"
	"github.com/dllmgo/dllm/modeldir"
)

// liveView shows the denoising of an answer when enabled; disabled, its
// trace is nil and the sampler pays nothing.
type liveView struct {
	v     *live.View
	trace mdlm.TraceFunc
	// edits is the trace of an Edit Flows model's sampler (row 0's edits).
	edits func(editflow.Step)
}

func newLiveView(b *modeldir.Bundle, w io.Writer, enabled bool) *liveView {
	if !enabled {
		return &liveView{}
	}
	opts := live.Options{}
	if live.IsTerminal(w) {
		// A tiny model on a CPU finishes a step in milliseconds: slow the
		// replay down enough for a person to watch the answer form.
		opts.Delay = 40 * time.Millisecond
	}
	v := live.New(w, func(id int32) string { return b.Tokenizer.DecodeToken(int(id)) }, opts)
	edits := func(s editflow.Step) {
		v.Edit(live.EditFrame{Step: s.Index, MaxSteps: s.MaxSteps, Before: s.Rows[0], PromptLen: s.PromptLens[0],
			Edits: s.Edits[0], MaskID: b.MaskID})
	}
	return &liveView{v: v, trace: v.Frame, edits: edits}
}

func (l *liveView) done() {
	if l.v != nil {
		l.v.Close()
	}
}
