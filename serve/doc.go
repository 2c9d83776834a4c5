// Package serve is an OpenAI-compatible HTTP server for diffusion language
// models, on net/http alone.
//
// Endpoints:
//
//	POST /v1/chat/completions  chat, streamed (Server-Sent Events) or not
//	POST /v1/completions       raw-text completion; echo + logprobs score text
//	GET  /v1/models            the one model served
//	GET  /health               liveness, never behind the API key
//	GET  /metrics              Prometheus text format
//	GET  /                     a page that shows answers being denoised live
//
// Requests take OpenAI's fields (max_tokens, temperature, seed, stop, n,
// stream) and the diffusion knobs as extra fields (steps, block_size,
// threshold, cfg, remasking); what a request leaves out comes from the
// model's generation defaults. Errors have OpenAI's shape,
// {"error": {"message", "type", "param", "code"}}, with a 4xx status for
// anything wrong with the request.
//
// Concurrent requests share forward passes. Every choice of every request is
// an mdlm.Sequence with its own canvas, settings, step schedule and random
// stream; one scheduler goroutine advances all running sequences by one
// denoising step per model call (mdlm.StepSequences), and requests join and
// leave the batch at step boundaries. A request's answer for a given seed is
// therefore the same whatever else runs beside it, and the same as
// `dllm generate --seed` gives. The queue in front of the batch is bounded
// (429 when full); a request that times out or whose client goes away leaves
// the batch at the next step.
//
// With "stream": true the answer arrives in chat.completion.chunk events, a
// chunk each time a block of the answer is committed. With
// "stream_options": {"denoising": true} every denoising step also sends a
// chunk with an empty delta and a "denoising" object: the step, the planned
// number of steps and the answer region's tokens, null where still masked.
//
// The server talks to the model through Model, a small interface that a
// model folder adapts to.
package serve
