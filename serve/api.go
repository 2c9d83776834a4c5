package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/mdlm"
)

// apiError is an error in OpenAI's shape with its HTTP status.
type apiError struct {
	status  int
	typ     string
	param   string
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

// errorBody is the JSON of an error response.
type errorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func (e *apiError) body() errorBody {
	var b errorBody
	b.Error.Message, b.Error.Type = e.message, e.typ
	if e.param != "" {
		b.Error.Param = &e.param
	}
	if e.code != "" {
		b.Error.Code = &e.code
	}
	return b
}

// invalid is a 400 about one parameter.
func invalid(param, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", param: param, message: fmt.Sprintf(format, args...)}
}

// Limits bound what one request may ask for.
type Limits struct {
	// MaxBodyBytes bounds a request body (1 MiB).
	MaxBodyBytes int64
	// MaxTokens bounds max_tokens and steps (1024).
	MaxTokens int
	// MaxN bounds n (8).
	MaxN int
	// MaxMessages bounds the messages of a chat request (256).
	MaxMessages int
	// MaxPrompts bounds the prompts of one completions request, and its
	// choices (prompts times n) (32).
	MaxPrompts int
}

// DefaultLimits are the limits of a server that sets none.
var DefaultLimits = Limits{MaxBodyBytes: 1 << 20, MaxTokens: 1024, MaxN: 8, MaxMessages: 256, MaxPrompts: 32}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	if l.MaxTokens <= 0 {
		l.MaxTokens = d.MaxTokens
	}
	if l.MaxN <= 0 {
		l.MaxN = d.MaxN
	}
	if l.MaxMessages <= 0 {
		l.MaxMessages = d.MaxMessages
	}
	if l.MaxPrompts <= 0 {
		l.MaxPrompts = d.MaxPrompts
	}
	return l
}

// Sampling holds the request fields shared by both completion endpoints:
// OpenAI's and the diffusion sampler's.
type Sampling struct {
	MaxTokens           *int           `json:"max_tokens"`
	MaxCompletionTokens *int           `json:"max_completion_tokens"`
	Temperature         *float64       `json:"temperature"`
	TopP                *float64       `json:"top_p"`
	Seed                *int64         `json:"seed"`
	Stop                StopList       `json:"stop"`
	N                   *int           `json:"n"`
	Stream              bool           `json:"stream"`
	StreamOptions       *StreamOptions `json:"stream_options"`

	Steps     *int     `json:"steps"`
	BlockSize *int     `json:"block_size"`
	Threshold *float64 `json:"threshold"`
	CFG       *float64 `json:"cfg"`
	Remasking *string  `json:"remasking"`
}

// StreamOptions are the streaming switches: OpenAI's include_usage, and
// denoising, which sends the canvas after every step.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
	Denoising    bool `json:"denoising"`
}

// StopList is OpenAI's stop: a string or an array of strings.
type StopList []string

func (s *StopList) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*s = nil
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = StopList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("stop must be a string or an array of strings")
	}
	*s = many
	return nil
}

// ChatRequest is the body of POST /v1/chat/completions.
type ChatRequest struct {
	Model    string        `json:"model"`
	Messages []ChatMessage `json:"messages"`
	Sampling
}

// ChatMessage is one message; Content is a string or an array of text parts.
type ChatMessage struct {
	Role    string  `json:"role"`
	Content Content `json:"content"`
}

// Content is a message's text: OpenAI sends a string, or an array of parts
// of which only "text" parts are understood.
type Content string

func (c *Content) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*c = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*c = Content(s)
		return nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(b, &parts); err != nil {
		return errors.New("content must be a string or an array of text parts")
	}
	var sb strings.Builder
	for _, p := range parts {
		if p.Type != "text" {
			return fmt.Errorf("content part of type %q: only text is supported", p.Type)
		}
		sb.WriteString(p.Text)
	}
	*c = Content(sb.String())
	return nil
}

// CompletionRequest is the body of POST /v1/completions.
type CompletionRequest struct {
	Model    string      `json:"model"`
	Prompt   PromptField `json:"prompt"`
	Echo     bool        `json:"echo"`
	Logprobs *int        `json:"logprobs"`
	Sampling
}

// PromptField is a completion prompt: a string, an array of strings, an
// array of token ids or an array of such arrays. Each entry is one prompt.
type PromptField struct {
	Texts []string
	IDs   [][]int32
}

func (p *PromptField) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		p.Texts = []string{s}
		return nil
	}
	var ss []string
	if json.Unmarshal(b, &ss) == nil {
		p.Texts = ss
		return nil
	}
	var ids []int32
	if json.Unmarshal(b, &ids) == nil {
		p.IDs = [][]int32{ids}
		return nil
	}
	var idss [][]int32
	if json.Unmarshal(b, &idss) == nil {
		p.IDs = idss
		return nil
	}
	return errors.New("prompt must be a string, an array of strings, an array of token ids or an array of such arrays")
}

func (p PromptField) count() int { return len(p.Texts) + len(p.IDs) }

// decodeJSON reads one JSON object from r into v; anything malformed is a
// 400 naming the problem, a body over the limit a 413.
func decodeJSON(r io.Reader, v any) error {
	dec := json.NewDecoder(r)
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooBig):
			return &apiError{status: http.StatusRequestEntityTooLarge, typ: "invalid_request_error",
				message: fmt.Sprintf("request body exceeds %d bytes", tooBig.Limit)}
		case errors.As(err, &typeErr):
			field := strings.TrimPrefix(typeErr.Field, "Sampling.")
			return invalid(field, "field %q: expected %s, got JSON %s", field, typeErr.Type, typeErr.Value)
		case errors.Is(err, io.EOF):
			return invalid("", "empty request body: expected a JSON object")
		}
		return invalid("", "malformed JSON body: %v", err)
	}
	if dec.More() {
		return invalid("", "malformed JSON body: data after the object")
	}
	return nil
}

// DecodeChatRequest reads and checks a chat request, without the model:
// every field's type and range against the limits.
func DecodeChatRequest(r io.Reader, lim Limits) (*ChatRequest, error) {
	var req ChatRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	lim = lim.withDefaults()
	switch {
	case len(req.Messages) == 0:
		return nil, invalid("messages", "messages must hold at least one message")
	case len(req.Messages) > lim.MaxMessages:
		return nil, invalid("messages", "%d messages exceed the limit of %d", len(req.Messages), lim.MaxMessages)
	}
	for i, m := range req.Messages {
		switch m.Role {
		case data.RoleUser, data.RoleAssistant:
		case data.RoleSystem, "developer":
			if i != 0 {
				return nil, invalid("messages", "messages[%d]: a %s message may only come first", i, m.Role)
			}
		default:
			return nil, invalid("messages", "messages[%d]: unknown role %q (want system, user or assistant)", i, m.Role)
		}
	}
	if last := req.Messages[len(req.Messages)-1].Role; last != data.RoleUser {
		return nil, invalid("messages", "the last message must be the user's, not %q", last)
	}
	if err := req.Sampling.check(lim, 1); err != nil {
		return nil, err
	}
	return &req, nil
}

// DecodeCompletionRequest reads and checks a completions request, without
// the model.
func DecodeCompletionRequest(r io.Reader, lim Limits) (*CompletionRequest, error) {
	var req CompletionRequest
	if err := decodeJSON(r, &req); err != nil {
		return nil, err
	}
	lim = lim.withDefaults()
	n := req.Prompt.count()
	switch {
	case n == 0:
		return nil, invalid("prompt", "prompt is required")
	case n > lim.MaxPrompts:
		return nil, invalid("prompt", "%d prompts exceed the limit of %d", n, lim.MaxPrompts)
	case req.Logprobs != nil && (*req.Logprobs < 0 || *req.Logprobs > 5):
		return nil, invalid("logprobs", "logprobs must be between 0 and 5, got %d", *req.Logprobs)
	case req.Logprobs != nil && !req.Echo:
		return nil, invalid("logprobs", "logprobs are given for the echoed prompt only: set echo to true")
	case req.Echo && req.Stream:
		return nil, invalid("echo", "echo cannot be streamed")
	}
	if err := req.Sampling.check(lim, n); err != nil {
		return nil, err
	}
	return &req, nil
}

// check validates the sampling fields; prompts is the number of prompts the
// request has (every one gets n choices).
func (s *Sampling) check(lim Limits, prompts int) error {
	intIn := func(p *int, name string, lo, hi int) error {
		if p != nil && (*p < lo || *p > hi) {
			return invalid(name, "%s must be between %d and %d, got %d", name, lo, hi, *p)
		}
		return nil
	}
	floatIn := func(p *float64, name string, lo, hi float64) error {
		if p != nil && !(*p >= lo && *p <= hi) {
			return invalid(name, "%s must be between %g and %g, got %g", name, lo, hi, *p)
		}
		return nil
	}
	for _, err := range []error{
		intIn(s.MaxTokens, "max_tokens", 1, lim.MaxTokens),
		intIn(s.MaxCompletionTokens, "max_completion_tokens", 1, lim.MaxTokens),
		intIn(s.N, "n", 1, lim.MaxN),
		intIn(s.Steps, "steps", 1, lim.MaxTokens),
		intIn(s.BlockSize, "block_size", 1, lim.MaxTokens),
		floatIn(s.Temperature, "temperature", 0, 2),
		floatIn(s.Threshold, "threshold", 0, 1),
		floatIn(s.CFG, "cfg", 0, 100),
	} {
		if err != nil {
			return err
		}
	}
	if s.TopP != nil && !(*s.TopP > 0 && *s.TopP <= 1) {
		return invalid("top_p", "top_p must be above 0 and at most 1, got %g", *s.TopP)
	}
	if n := s.choices(); n*prompts > lim.MaxPrompts {
		return invalid("n", "%d prompts × n = %d choices exceed the limit of %d", prompts, n*prompts, lim.MaxPrompts)
	}
	if len(s.Stop) > 4 {
		return invalid("stop", "at most 4 stop sequences, got %d", len(s.Stop))
	}
	for _, st := range s.Stop {
		if st == "" || len(st) > 256 {
			return invalid("stop", "a stop sequence must be 1 to 256 bytes long")
		}
	}
	if s.Remasking != nil {
		if _, err := mdlm.ParseRemasking(*s.Remasking); err != nil {
			return invalid("remasking", "remasking must be low_confidence or random, got %q", *s.Remasking)
		}
		if *s.Remasking == mdlm.RandomRemasking.String() && s.Threshold != nil && *s.Threshold > 0 {
			return invalid("threshold", "threshold decoding ranks by confidence: it cannot use random remasking")
		}
	}
	if s.StreamOptions != nil && !s.Stream {
		return invalid("stream_options", "stream_options needs stream: true")
	}
	return nil
}

func (s *Sampling) choices() int {
	if s.N != nil {
		return *s.N
	}
	return 1
}

// plan is what a checked request asks the sampler for.
type plan struct {
	cfg       mdlm.SamplerConfig
	n         int
	base      uint64   // base seed of the row streams
	stops     []string // cut the text at these
	stream    bool
	usage     bool // include_usage
	denoising bool
}

// plan resolves the sampling fields against the model's defaults.
func (s *Sampling) plan(m Model) plan {
	c := m.SamplerConfig()
	if s.MaxTokens != nil {
		c.MaxNewTokens = *s.MaxTokens
	}
	if s.MaxCompletionTokens != nil {
		c.MaxNewTokens = *s.MaxCompletionTokens
	}
	if s.Steps != nil {
		c.Steps = *s.Steps
	}
	if s.BlockSize != nil {
		c.BlockSize = *s.BlockSize
	}
	c.BlockSize = min(c.BlockSize, c.MaxNewTokens)
	if s.Temperature != nil {
		c.Temperature = *s.Temperature
	}
	if s.Threshold != nil {
		c.Threshold = *s.Threshold
	}
	if s.TopP != nil {
		c.Truncation.TopP = *s.TopP
	}
	if s.CFG != nil {
		c.CFGScale = *s.CFG
	}
	if s.Remasking != nil {
		c.Remasking, _ = mdlm.ParseRemasking(*s.Remasking) // check did
	}
	c.StopSequences = append([][]int32(nil), c.StopSequences...)
	for _, st := range s.Stop {
		if ids := m.Encode(st); len(ids) > 0 {
			c.StopSequences = append(c.StopSequences, ids)
		}
	}
	seed := rand.Uint64()
	if s.Seed != nil {
		seed = uint64(*s.Seed)
	}
	p := plan{cfg: c, n: s.choices(), base: mdlm.NewRand(seed).Uint64(), stops: s.Stop, stream: s.Stream}
	if s.StreamOptions != nil {
		p.usage, p.denoising = s.StreamOptions.IncludeUsage, s.StreamOptions.Denoising
	}
	return p
}

// checkLength refuses a prompt that leaves no room for the answer.
func checkLength(m Model, promptLen, maxNew int, param string) error {
	if limit := m.MaxPositions(); limit > 0 && promptLen+maxNew > limit {
		e := invalid(param, "the prompt (%d tokens) and max_tokens (%d) exceed the model's %d positions", promptLen, maxNew, limit)
		e.code = "context_length_exceeded"
		return e
	}
	if promptLen == 0 {
		return invalid(param, "the prompt is empty")
	}
	return nil
}
