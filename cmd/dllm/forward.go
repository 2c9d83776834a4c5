package main

import (
	"fmt"
	"io"
	"os"

	"github.com/dllmgo/dllm/data"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/mdlm"
	"github.com/dllmgo/dllm/nn"
	"github.com/dllmgo/dllm/tensor"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

// dllm forward is the Hugging Face parity tool: one batch through the model,
// every output (and optionally every gradient) written to a safetensors file
// that can be compared with what transformers computes.
func init() {
	register(&command{
		name:    "forward",
		summary: "run one batch through a model and write logits, hidden states, loss and gradients",
		run:     runForward,
	})
}

func runForward(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("forward", stderr)
	modelDir := fs.String("model", "", "model directory (config.json + model.safetensors)")
	batchPath := fs.String("batch", "", "input .safetensors with input_ids [B,S] (I64 or I32), optional attention_mask, position_ids and labels (-100 ignored), each [B,S]")
	outPath := fs.String("out", "", "output .safetensors (F32 logits, last_hidden_state, loss, grad.<name>)")
	grads := fs.Bool("grads", false, "also write the gradient of the loss for every parameter (needs labels)")
	device := fs.String("device", "cpu", "device: cpu or cuda")
	precision := fs.String("precision", "f32", "arithmetic: f32, or bf16 (bf16 operands, f32 sums), to compare a GPU's bf16 path with Hugging Face's autocast")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dllm forward --model DIR --batch IN.safetensors --out OUT.safetensors [--grads] [--device cpu|cuda] [--precision f32|bf16]")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *modelDir == "" || *batchPath == "" || *outPath == "" {
		return badInput("--model, --batch and --out are required")
	}
	prec, err := nn.ParsePrecision(*precision)
	if err != nil {
		return badInput("--precision: %v", err)
	}
	be, err := openDevice(*device)
	if err != nil {
		return err
	}
	m, err := loadModel(*modelDir, be, inferenceOptions(prec, be))
	if err != nil {
		return err
	}
	in, err := readForwardBatch(*batchPath, m.VocabSize())
	if err != nil {
		return err
	}
	if *grads && in.labels == nil {
		return badInput("%s: --grads needs labels in the batch", *batchPath)
	}
	if !fitsModel(m, in.s) {
		return badInput("%s: sequence length %d exceeds the model's maximum of %d", *batchPath, in.s, m.Spec().MaxPositions)
	}

	n := in.b * in.s
	tp := nn.NoGrad(be)
	if *grads {
		tp = nn.NewTape(be)
	}
	tp.Precision = prec
	fin := lm.Input{IDs: be.FromHost(tensor.FromI32(in.ids, in.b, in.s))}
	if in.mask != nil {
		fin.KeyMask = be.FromHost(tensor.FromI32(in.mask, in.b, in.s))
	}
	if in.positions != nil {
		fin.Positions = be.FromHost(tensor.FromI32(in.positions, n))
	}
	out := m.Forward(tp, fin)
	h, v := out.Hidden.Value.Dim(1), m.VocabSize()
	ts := []safetensors.Tensor{
		safetensors.F32Tensor("logits", []int{in.b, in.s, v}, out.Logits.Value.ToCPU().F32()),
		safetensors.F32Tensor("last_hidden_state", []int{in.b, in.s, h}, out.Hidden.Value.ToCPU().F32()),
	}
	if in.labels != nil {
		// Hugging Face's masked-LM loss: the mean cross-entropy over the
		// labels that are not -100.
		count := 0
		for _, l := range in.labels {
			if l != data.IgnoreIndex {
				count++
			}
		}
		w := make([]float32, n)
		for i := range w {
			w[i] = 1 / float32(max(count, 1))
		}
		logits, labels := out.Logits, in.labels
		if m.Spec().ShiftLogits && count > 0 {
			// A shifted model (Dream, A2D) predicts position i from the
			// logits at i−1: the labelled positions read the rows before.
			var rows []int32
			labels = nil
			for i, l := range in.labels {
				if l != data.IgnoreIndex {
					rows, labels = append(rows, int32(i)), append(labels, l)
				}
			}
			rows = mdlm.ShiftRows(rows, in.s)
			logits = tp.GatherRows(logits, be.FromHost(tensor.FromI32(rows, len(rows))))
			w = w[:len(rows)]
		}
		loss := tp.CrossEntropy(logits, be.FromHost(tensor.FromI32(labels, len(labels))), be.FromHost(tensor.FromF32(w, len(w))), data.IgnoreIndex)
		ts = append(ts, safetensors.F32Tensor("loss", []int{1}, loss.Value.ToCPU().F32()))
		if *grads {
			tp.Backward(loss)
			for _, p := range m.Params() {
				g := make([]float32, p.Value.Numel())
				if p.Grad != nil {
					g = p.Grad.ToCPU().F32()
				}
				ts = append(ts, safetensors.F32Tensor("grad."+p.Name, p.Value.Shape(), g))
			}
		}
	}
	return safetensors.Write(*outPath, ts, map[string]string{"format": "pt"})
}

type forwardBatch struct {
	b, s                         int
	ids, mask, labels, positions []int32
}

// readForwardBatch reads and validates the batch file; every problem is a
// usage error naming the file.
func readForwardBatch(path string, vocab int) (*forwardBatch, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, badInput("%s: %v", path, errorsCause(err))
	}
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, badInput("%v", err)
	}
	ids, shape, err := readIDs(f, "input_ids")
	if err != nil {
		return nil, badInput("%s: %v", path, err)
	}
	if len(shape) != 2 || shape[0] == 0 || shape[1] == 0 {
		return nil, badInput("%s: input_ids has shape %v, want [B, S]", path, shape)
	}
	in := &forwardBatch{b: shape[0], s: shape[1], ids: ids}
	for i, id := range ids {
		if id < 0 || int(id) >= vocab {
			return nil, badInput("%s: input_ids[%d] = %d is outside the vocabulary of %d", path, i, id, vocab)
		}
	}
	for _, name := range []string{"attention_mask", "labels", "position_ids"} {
		if _, ok := f.Info(name); !ok {
			continue
		}
		v, sh, err := readIDs(f, name)
		if err != nil {
			return nil, badInput("%s: %v", path, err)
		}
		if !tensor.SameShape(sh, shape) {
			return nil, badInput("%s: %s has shape %v, input_ids %v", path, name, sh, shape)
		}
		for i, x := range v {
			bad := false
			switch name {
			case "attention_mask":
				bad = x != 0 && x != 1
			case "labels":
				bad = x != data.IgnoreIndex && (x < 0 || int(x) >= vocab)
			case "position_ids":
				bad = x < 0
			}
			if bad {
				return nil, badInput("%s: %s[%d] = %d is invalid", path, name, i, x)
			}
		}
		switch name {
		case "attention_mask":
			in.mask = v
		case "labels":
			in.labels = v
		case "position_ids":
			in.positions = v
		}
	}
	return in, nil
}

// readIDs reads an I64 or I32 tensor as int32.
func readIDs(f *safetensors.File, name string) ([]int32, []int, error) {
	info, ok := f.Info(name)
	if !ok {
		return nil, nil, fmt.Errorf("no tensor %q", name)
	}
	if info.DType == safetensors.I32 {
		return f.I32(name)
	}
	v, shape, err := f.I64(name)
	if err != nil {
		return nil, nil, err
	}
	out := make([]int32, len(v))
	for i, x := range v {
		if x < -1<<31 || x >= 1<<31 {
			return nil, nil, fmt.Errorf("%s[%d] = %d does not fit in int32", name, i, x)
		}
		out[i] = int32(x)
	}
	return out, shape, nil
}
