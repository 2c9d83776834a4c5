package serve

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/mdlm"
)

// Options configure a Server; zero fields take the defaults.
type Options struct {
	// Name is the model id /v1/models reports and requests may name ("dllm").
	Name string
	// APIKey, if set, is required as "Authorization: Bearer KEY" on every
	// endpoint but /health and the page at /.
	APIKey string
	// Limits bound each request.
	Limits Limits
	// Queue is how many requests may wait for room in the batch before
	// further ones get 429 (64).
	Queue int
	// MaxBatch is the most rows one forward pass takes (16); a guided
	// choice takes two. A request with more choices runs alone.
	MaxBatch int
	// Timeout bounds each request from arrival to its last byte (5 minutes).
	Timeout time.Duration
	// LikelihoodSamples is the number of Monte Carlo samples of the ELBO
	// behind echoed logprobs (32).
	LikelihoodSamples int
}

// Server is the HTTP handler of the API. Close it to stop its batch loop.
type Server struct {
	m       Model
	o       Options
	sch     *scheduler
	met     *metrics
	mux     *http.ServeMux
	created int64
	nextID  atomic.Uint64
}

// New starts a server's batch loop for m.
func New(m Model, o Options) *Server {
	if o.Name == "" {
		o.Name = "dllm"
	}
	o.Limits = o.Limits.withDefaults()
	if o.Queue <= 0 {
		o.Queue = 64
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 16
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.LikelihoodSamples <= 0 {
		o.LikelihoodSamples = 32
	}
	s := &Server{m: m, o: o, met: newMetrics(), created: time.Now().Unix()}
	s.sch = newScheduler(m.Denoiser(), o.Queue, o.MaxBatch, s.met)
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("/v1/chat/completions", s.endpoint("chat", http.MethodPost, s.chat))
	s.mux.HandleFunc("/v1/completions", s.endpoint("completions", http.MethodPost, s.completions))
	s.mux.HandleFunc("/v1/models", s.endpoint("models", http.MethodGet, s.models))
	s.mux.HandleFunc("/health", s.endpoint("health", http.MethodGet, s.health))
	s.mux.HandleFunc("/metrics", s.endpoint("metrics", http.MethodGet, s.metrics))
	s.mux.HandleFunc("/", s.endpoint("page", http.MethodGet, s.page))
	return s
}

// Close fails the queued and running requests and stops the batch loop.
func (s *Server) Close() { s.sch.close() }

// Options returns the options in effect, defaults filled in.
func (s *Server) Options() Options { return s.o }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// recorder remembers the status code for the metrics.
type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// endpoint wraps a handler with the method check, authentication, the body
// limit, error responses and the metrics.
func (s *Server) endpoint(name, method string, h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	open := name == "health" || name == "page"
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		err := func() error {
			if !open && !s.authorized(r) {
				return &apiError{status: http.StatusUnauthorized, typ: "invalid_request_error", code: "invalid_api_key",
					message: "missing or wrong API key: send Authorization: Bearer KEY"}
			}
			if name == "page" && r.URL.Path != "/" {
				return &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "not_found",
					message: fmt.Sprintf("no endpoint %s", r.URL.Path)}
			}
			if r.Method != method {
				rec.Header().Set("Allow", method)
				return &apiError{status: http.StatusMethodNotAllowed, typ: "invalid_request_error",
					message: fmt.Sprintf("%s takes %s, not %s", r.URL.Path, method, r.Method)}
			}
			r.Body = http.MaxBytesReader(rec, r.Body, s.o.Limits.MaxBodyBytes)
			return h(rec, r)
		}()
		if err != nil {
			writeError(rec, err)
		}
		code := rec.code
		if r.Context().Err() != nil && code == 0 {
			code = 499 // the client went away
		}
		s.met.observe(name, code, time.Since(start))
	}
}

func (s *Server) authorized(r *http.Request) bool {
	if s.o.APIKey == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.o.APIKey)) == 1
}

// writeError answers with err in OpenAI's shape; errors that are not
// apiErrors are the server's own (500).
func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{status: http.StatusInternalServerError, typ: "server_error", message: err.Error()}
	}
	writeJSON(w, ae.status, ae.body())
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []map[string]any{
		{"id": s.o.Name, "object": "model", "created": s.created, "owned_by": "dllm"},
	}})
	return nil
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.met.write(w)
	return nil
}

// checkName refuses a request for a model this server does not serve.
func (s *Server) checkName(name string) error {
	if name != "" && name != s.o.Name {
		return &apiError{status: http.StatusNotFound, typ: "invalid_request_error", param: "model", code: "model_not_found",
			message: fmt.Sprintf("model %q is not served here (this server serves %q)", name, s.o.Name)}
	}
	return nil
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) error {
	req, err := DecodeChatRequest(r.Body, s.o.Limits)
	if err != nil {
		return err
	}
	if err := s.checkName(req.Model); err != nil {
		return err
	}
	msgs := make([]data.Message, len(req.Messages))
	for i, m := range req.Messages {
		role := m.Role
		if role == "developer" {
			role = data.RoleSystem
		}
		msgs[i] = data.Message{Role: role, Content: string(m.Content)}
	}
	prompt, err := s.m.ChatPrompt(msgs)
	if err != nil {
		return invalid("messages", "%v", err)
	}
	p := req.Sampling.plan(s.m)
	if err := checkLength(s.m, len(prompt), p.cfg.MaxNewTokens, "messages"); err != nil {
		return err
	}
	return s.generate(w, r, chatFormat{}, [][]int32{prompt}, p, nil)
}

func (s *Server) completions(w http.ResponseWriter, r *http.Request) error {
	req, err := DecodeCompletionRequest(r.Body, s.o.Limits)
	if err != nil {
		return err
	}
	if err := s.checkName(req.Model); err != nil {
		return err
	}
	prompts := req.Prompt.IDs
	for _, t := range req.Prompt.Texts {
		prompts = append(prompts, s.m.Encode(t))
	}
	p := req.Sampling.plan(s.m)
	vocab := s.m.Denoiser().VocabSize()
	for i, ids := range prompts {
		if err := checkLength(s.m, len(ids), p.cfg.MaxNewTokens, "prompt"); err != nil {
			return err
		}
		for _, id := range ids {
			if id < 0 || int(id) >= vocab || id == p.cfg.MaskID {
				return invalid("prompt", "prompt %d: token id %d is outside the vocabulary of %d or the mask", i, id, vocab)
			}
		}
	}
	var echo [][]int32
	if req.Echo {
		echo = prompts
	}
	if req.Logprobs != nil {
		return s.score(w, r, prompts, p, req.Logprobs)
	}
	return s.generate(w, r, completionFormat{}, prompts, p, echo)
}

// answerText is the text of answer ids: decoded, what a sampler left of the
// end-of-turn marker cut (data.CutEndMarker, as dllm generate does),
// trimmed, cut at the first stop string; cut says a stop string was found.
func (s *Server) answerText(ids []int32, stops []string) (text string, cut bool) {
	text = data.CutEndMarker(s.m.Decode(ids), s.m.EndOfTurn())
	for _, st := range stops {
		if i := strings.Index(text, st); i >= 0 {
			text, cut = strings.TrimSpace(text[:i]), true
		}
	}
	return text, cut
}

// generate runs the sequences of a request through the batch and answers.
func (s *Server) generate(w http.ResponseWriter, r *http.Request, f format, prompts [][]int32, p plan, echo [][]int32) error {
	ctx, cancel := context.WithTimeout(r.Context(), s.o.Timeout)
	defer cancel()
	j := newJob(ctx)
	j.keepFrames = p.denoising
	for _, prompt := range prompts {
		for k := range p.n {
			c := p.cfg
			c.StreamOffset = k
			if p.stream {
				c.Trace = j.trace(len(j.seqs))
			}
			seq, err := mdlm.NewSequence(s.m.Denoiser(), prompt, c, p.base)
			if err != nil {
				return invalid("", "%v", err)
			}
			j.seqs = append(j.seqs, seq)
		}
	}
	if err := s.sch.submit(j); err != nil {
		if errors.Is(err, errQueueFull) {
			return &apiError{status: http.StatusTooManyRequests, typ: "rate_limit_error", code: "queue_full",
				message: fmt.Sprintf("the server is busy: %d requests are waiting; retry later", s.o.Queue)}
		}
		return &apiError{status: http.StatusServiceUnavailable, typ: "server_error", message: err.Error()}
	}
	id := fmt.Sprintf("%s-%d-%d", f.idPrefix(), s.created, s.nextID.Add(1))
	if p.stream {
		return s.stream(w, ctx, j, f, id, p, prompts)
	}
	select {
	case <-j.done:
	case <-ctx.Done():
	}
	if err := s.jobErr(ctx, j); err != nil {
		return err
	}
	var choices []any
	usage := usage{}
	for _, prompt := range prompts {
		usage.PromptTokens += len(prompt)
	}
	for i, seq := range j.seqs {
		smp := seq.Output().Samples[0]
		text, cut := s.answerText(smp.Answer, p.stops)
		if echo != nil {
			text = s.m.Decode(echo[i/p.n]) + text
		}
		finish := "length"
		if smp.Stopped || cut {
			finish = "stop"
		}
		usage.CompletionTokens += len(smp.Answer)
		choices = append(choices, f.choice(i, text, finish))
	}
	usage.TotalTokens = usage.PromptTokens + usage.CompletionTokens
	s.met.tokens.Add(int64(usage.CompletionTokens))
	writeJSON(w, http.StatusOK, map[string]any{
		"id": id, "object": f.object(), "created": time.Now().Unix(), "model": s.o.Name,
		"choices": choices, "usage": usage,
	})
	return nil
}

// jobErr is the error a finished (or abandoned) job answers with.
func (s *Server) jobErr(ctx context.Context, j *job) error {
	select {
	case <-j.done:
		if j.err == nil {
			for _, seq := range j.seqs {
				if err := seq.Err(); err != nil {
					return err
				}
			}
			return nil
		}
	default:
	}
	err := j.err
	if err == nil {
		err = ctx.Err()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{status: http.StatusGatewayTimeout, typ: "timeout_error",
			message: fmt.Sprintf("the request took longer than the server's limit of %v", s.o.Timeout)}
	case errors.Is(err, context.Canceled):
		return &apiError{status: 499, typ: "invalid_request_error", message: "request cancelled"}
	case errors.Is(err, errStopped):
		return &apiError{status: http.StatusServiceUnavailable, typ: "server_error", message: err.Error()}
	}
	return err
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// format is the shape of one endpoint's responses.
type format interface {
	idPrefix() string
	object() string      // of a whole response
	chunkObject() string // of a stream chunk
	choice(index int, text, finish string) any
	// delta is a stream chunk's choice: first opens the choice, finish
	// (non-empty) closes it.
	delta(index int, text string, first bool, finish string) any
}

type chatFormat struct{}

func (chatFormat) idPrefix() string    { return "chatcmpl" }
func (chatFormat) object() string      { return "chat.completion" }
func (chatFormat) chunkObject() string { return "chat.completion.chunk" }
func (chatFormat) choice(i int, text, finish string) any {
	return map[string]any{"index": i, "message": map[string]string{"role": "assistant", "content": text},
		"finish_reason": finish, "logprobs": nil}
}
func (chatFormat) delta(i int, text string, first bool, finish string) any {
	d := map[string]any{}
	if first {
		d["role"] = "assistant"
	}
	if text != "" || first {
		d["content"] = text
	}
	return map[string]any{"index": i, "delta": d, "finish_reason": nullable(finish), "logprobs": nil}
}

type completionFormat struct{}

func (completionFormat) idPrefix() string    { return "cmpl" }
func (completionFormat) object() string      { return "text_completion" }
func (completionFormat) chunkObject() string { return "text_completion" }
func (completionFormat) choice(i int, text, finish string) any {
	return map[string]any{"index": i, "text": text, "finish_reason": finish, "logprobs": nil}
}
func (completionFormat) delta(i int, text string, _ bool, finish string) any {
	return map[string]any{"index": i, "text": text, "finish_reason": nullable(finish), "logprobs": nil}
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
