package serve

import (
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/mdlm"
)

// Model is what the server needs from a model folder.
type Model interface {
	// ChatPrompt renders a conversation with the model's chat template,
	// opening the assistant's answer, as token ids.
	ChatPrompt(messages []data.Message) ([]int32, error)
	// Encode tokenizes raw text without special tokens.
	Encode(text string) []int32
	// Decode turns ids into text, leaving out special tokens.
	Decode(ids []int32) string
	// EndOfTurn is the chat template's end-of-turn text ("" when it has
	// none): what a sampler leaves of it is cut from answers
	// (data.CutEndMarker), as dllm generate cuts it.
	EndOfTurn() string
	// SamplerConfig is the model's sampling defaults with its special
	// tokens, stop sequences and suppressed tokens.
	SamplerConfig() mdlm.SamplerConfig
	// Denoiser is the network the samplers call. The server calls it from
	// one goroutine at a time.
	Denoiser() mdlm.Denoiser
	// MaxPositions is the longest canvas the model takes (0: no limit).
	MaxPositions() int
}
