package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/dllmgo/dllm/modeldir"
)

func init() {
	register(&command{
		name:    "convert a2d",
		summary: "turn a causal Llama, Qwen2 or Qwen3 folder into an A2D (diffusion) folder",
		run:     runConvertA2D,
	})
}

func runConvertA2D(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("convert a2d", stderr)
	from := fs.String("from", "", "the causal model `folder` (config.json, weights, tokenizer.json) (required)")
	out := fs.String("out", "", "the A2D `folder` to write; it must not exist (required)")
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, "Usage: dllm convert a2d --from DIR --out DIR")
		fmt.Fprintln(w, "\nAs the reference's A2D conversion: model_type becomes a2d-llama/a2d-qwen2/a2d-qwen3,")
		fmt.Fprintln(w, "architectures and auto_map go, the weights are copied unchanged, and the tokenizer gains")
		fmt.Fprintln(w, "the mask token <|mask|>; when its id falls outside the embedding, the embedding (and an")
		fmt.Fprintln(w, "untied lm_head) grow to hold it. The folder appears complete or not at all.")
		fmt.Fprintln(w, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *from == "" || *out == "" {
		return badInput("--from and --out are required")
	}
	report, err := modeldir.Convert("a2d", *from, *out)
	if errors.Is(err, modeldir.ErrConvertInput) {
		return badInput("%v", err)
	}
	if err != nil {
		return err
	}
	for _, line := range report {
		fmt.Fprintln(stdout, line)
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}
