// Package live draws a sampler's denoising trace in a terminal: the canvas
// is redrawn in place after every step, masks shown as dim blocks, the tokens
// revealed in that step highlighted, with the number of masks left and a
// progress bar underneath. When the output is not a terminal (a log file, a
// pipe) it writes one plain line per step instead, so scripts get a readable
// record and no escape codes.
//
// A View is a mdlm.TraceFunc:
//
//	v := live.New(os.Stdout, tok.DecodeToken, live.Options{})
//	cfg.Trace = v.Frame
//	out, err := mdlm.Generate(model, prompts, cfg, rng)
//	v.Close()
package live
