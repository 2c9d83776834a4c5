package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/dllmgo/dllm/bd3lm"
	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/editflow"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/serve"
)

// dllm serve answers OpenAI-style requests over HTTP, batching concurrent
// requests into shared denoising steps.
func init() {
	register(&command{
		name:    "serve",
		summary: "serve a model over an OpenAI-compatible HTTP API, batching concurrent requests",
		run: func(args []string, stdout, stderr io.Writer) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runServe(ctx, args, stdout, stderr, nil)
		},
	})
}

// servedModel adapts a model folder to serve.Model.
type servedModel struct{ *modeldir.Bundle }

func (m servedModel) ChatPrompt(msgs []data.Message) ([]int32, error) { return m.Prompt(msgs) }
func (m servedModel) EndOfTurn() string                               { return m.Template.EndOfTurn() }
func (m servedModel) Encode(text string) []int32 {
	ids := m.Tokenizer.Encode(text, false)
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = int32(id)
	}
	return out
}

// runServe serves until ctx ends; ready, if set, gets the address once the
// server listens.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(addr string)) error {
	fs := newFlagSet("serve", stderr)
	modelDir := fs.String("model", "", "model folder (required)")
	host := fs.String("host", "127.0.0.1", "address to listen on (0.0.0.0 exposes the server to the network: set --api-key)")
	port := fs.Int("port", 8000, "port to listen on (0: any free port)")
	device := fs.String("device", "cpu", "device: cpu or cuda")
	precision := fs.String("precision", "f32", "inference arithmetic: f32 or bf16")
	name := fs.String("name", "", "model id the API reports (default: the folder's name)")
	apiKey := fs.String("api-key", os.Getenv("DLLM_API_KEY"), "require Authorization: Bearer KEY on every endpoint but /health and the page (default $DLLM_API_KEY)")
	maxBatch := fs.Int("max-batch", 16, "most rows per forward pass (a guided choice takes two)")
	queue := fs.Int("queue", 64, "requests that may wait for the batch before more get 429")
	timeout := fs.Duration("timeout", 5*time.Minute, "longest time one request may take")
	samples := fs.Int("likelihood-samples", 32, "Monte Carlo samples of the ELBO behind echoed logprobs")
	lim := serve.DefaultLimits
	fs.Int64Var(&lim.MaxBodyBytes, "max-body", lim.MaxBodyBytes, "largest request body in bytes")
	fs.IntVar(&lim.MaxTokens, "max-tokens", lim.MaxTokens, "largest max_tokens and steps a request may ask for")
	fs.IntVar(&lim.MaxN, "max-n", lim.MaxN, "largest n (choices per prompt)")
	fs.IntVar(&lim.MaxMessages, "max-messages", lim.MaxMessages, "most messages per chat request")
	fs.IntVar(&lim.MaxPrompts, "max-prompts", lim.MaxPrompts, "most prompts per completions request, and most choices (prompts times n)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	switch {
	case *modelDir == "":
		return badInput("--model is required")
	case *port < 0 || *port > 65535:
		return badInput("--port must be between 0 and 65535, got %d", *port)
	case *maxBatch < 1 || *queue < 1 || *samples < 1 || *timeout <= 0:
		return badInput("--max-batch, --queue, --likelihood-samples and --timeout must be positive")
	case lim.MaxBodyBytes < 1 || lim.MaxTokens < 1 || lim.MaxN < 1 || lim.MaxMessages < 1 || lim.MaxPrompts < 1:
		return badInput("--max-body, --max-tokens, --max-n, --max-messages and --max-prompts must be positive")
	}
	prec, err := nn.ParsePrecision(*precision)
	if err != nil {
		return badInput("--precision: %v", err)
	}
	be, err := openDevice(*device)
	if err != nil {
		return err
	}
	b, err := loadBundle(*modelDir, be, inferenceOptions(prec, be))
	if err != nil {
		return err
	}
	// The server steps mdlm's block sampler; these samplers are not stepped yet.
	if _, ok := b.Model.(*editflow.Model); ok {
		return badInput("%s: an Edit Flows model cannot be served yet (dllm generate samples it by tau-leaping)", *modelDir)
	}
	if b.Generation.Sampler == bd3lm.ObjectiveName {
		return badInput("%s: a BD3LM model cannot be served yet (dllm generate samples it block by block)", *modelDir)
	}
	if ps, ok := b.Model.(lm.PrecisionSetter); ok {
		ps.SetPrecision(prec)
	}
	lm.KeepPacked(b.Model) // the weights do not change while serving
	if *name == "" {
		abs, _ := filepath.Abs(*modelDir)
		*name = filepath.Base(abs)
	}
	srv := serve.New(servedModel{b}, serve.Options{
		Name: *name, APIKey: *apiKey, Limits: lim, Queue: *queue, MaxBatch: *maxBatch,
		Timeout: *timeout, LikelihoodSamples: *samples,
	})
	defer srv.Close()

	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		return badInput("--host/--port: %v", err)
	}
	addr := ln.Addr().String()
	if ip := net.ParseIP(*host); *apiKey == "" && (ip == nil || !ip.IsLoopback()) {
		fmt.Fprintf(stderr, "dllm serve: warning: listening on %s without --api-key\n", *host)
	}
	// No write timeout: streams last as long as --timeout lets a request run.
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	fmt.Fprintf(stdout, "dllm serve: %s (%s) on http://%s\n", *name, describeModel(b.Model), addr)
	if ready != nil {
		ready(addr)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Requests in progress get 5 seconds to finish; then the batch loop
	// stops and fails the rest.
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = hs.Shutdown(shut)
	srv.Close()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	fmt.Fprintln(stdout, "dllm serve: stopped")
	return nil
}
