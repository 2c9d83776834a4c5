package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/modeldir"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

// dllm inspect shows what a checkpoint holds without loading a model: the
// configuration, the parameter count, and every tensor's dtype, shape and size.
// It reads a Hugging Face model directory (config.json plus model.safetensors or
// shards) or a single .safetensors file.
func init() {
	register(&command{
		name:    "inspect",
		summary: "show a model directory's or .safetensors file's config and tensors",
		run:     runInspect,
	})
}

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("inspect", stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dllm inspect PATH")
		fmt.Fprintln(stderr, "PATH is a model directory (config.json + model.safetensors or model.safetensors.index.json) or a .safetensors file.")
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return badInput("want one PATH (a model directory or a .safetensors file), got %d arguments", fs.NArg())
	}
	path := fs.Arg(0)
	st, err := os.Stat(path)
	if err != nil {
		return badInput("%s: %v", path, pathCause(err))
	}
	if !st.IsDir() {
		f, err := safetensors.Open(path)
		if err != nil {
			return badInput("%v", err)
		}
		w := &report{out: stdout}
		w.line("file", "%s (%s bytes)", path, thousands(st.Size()))
		return w.weights(f.Metadata(), []*safetensors.File{f}, f, nil)
	}
	return inspectDir(path, stdout)
}

func inspectDir(dir string, stdout io.Writer) error {
	var cfg *lm.ConfigInfo
	cfgPath := filepath.Join(dir, modeldir.ConfigFile)
	if _, err := os.Stat(cfgPath); err == nil {
		c, err := modeldir.Describe(dir)
		if err != nil {
			return badInput("%v", err)
		}
		cfg = &c
	}
	_, errSingle := os.Stat(filepath.Join(dir, safetensors.SingleFileName))
	_, errIndex := os.Stat(filepath.Join(dir, safetensors.IndexFileName))
	hasWeights := errSingle == nil || errIndex == nil
	if cfg == nil && !hasWeights {
		return badInput("%s: no config.json, %s or %s: not a model directory", dir, safetensors.SingleFileName, safetensors.IndexFileName)
	}

	// Open everything before printing anything, so that bad input gives one line.
	var m *safetensors.Model
	if hasWeights {
		var err error
		if m, err = safetensors.OpenModel(dir); err != nil {
			return badInput("%v", err)
		}
	}

	w := &report{out: stdout}
	w.line("model", "%s", dir)
	if cfg != nil {
		w.config(*cfg)
	}
	if m == nil {
		w.line("weights", "none (no %s or %s)", safetensors.SingleFileName, safetensors.IndexFileName)
		w.line("parameters", "%s expected from the config", thousands(cfg.ParamCount))
		return w.err
	}
	var meta map[string]string
	if files := m.Files(); len(files) == 1 {
		meta = files[0].Metadata()
	}
	return w.weights(meta, m.Files(), m, cfg)
}

// tensorSet is what both a single file and a sharded model offer.
type tensorSet interface {
	Names() []string
	Info(name string) (safetensors.TensorInfo, bool)
}

// report writes "label   value" lines and then the tensor table, keeping the
// first write error.
type report struct {
	out io.Writer
	err error
}

func (r *report) line(label, format string, args ...any) {
	if r.err == nil {
		_, r.err = fmt.Fprintf(r.out, "%-11s %s\n", label, fmt.Sprintf(format, args...))
	}
}

func (r *report) config(c lm.ConfigInfo) {
	for i, l := range c.Lines {
		label := ""
		if i == 0 {
			label = "config"
		}
		r.line(label, "%s", l)
	}
}

// weights prints the files, the parameter count (checked against the config
// when there is one) and one row per tensor.
func (r *report) weights(meta map[string]string, files []*safetensors.File, set tensorSet, cfg *lm.ConfigInfo) error {
	var fileNames []string
	for _, f := range files {
		fileNames = append(fileNames, filepath.Base(f.Path()))
	}
	switch {
	case len(files) > 1:
		r.line("weights", "%d files: %s", len(files), strings.Join(fileNames, ", "))
	case cfg != nil:
		r.line("weights", "%s", fileNames[0])
	}
	if len(meta) > 0 {
		keys := make([]string, 0, len(meta))
		for k := range meta {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+meta[k])
		}
		r.line("metadata", "%s", strings.Join(kv, ", "))
	}

	names := set.Names()
	slices.SortFunc(names, naturalCompare)
	if cfg != nil {
		// Parameters in the model's own order (embeddings, layers, head), then
		// anything else.
		rank := map[string]int{}
		for i, name := range cfg.ParamNames {
			rank[name] = i + 1
		}
		slices.SortStableFunc(names, func(a, b string) int {
			ra, rb := rank[a], rank[b]
			switch {
			case ra == 0 && rb == 0:
				return 0
			case ra == 0:
				return 1
			case rb == 0:
				return -1
			}
			return ra - rb
		})
	}
	var elems, bytes int64
	byDType := map[safetensors.DType]int64{}
	for _, n := range names {
		info, _ := set.Info(n)
		elems += int64(info.NumElements())
		bytes += int64(info.Bytes)
		byDType[info.DType] += int64(info.NumElements())
	}
	var kinds []string
	for dt, n := range byDType {
		kinds = append(kinds, fmt.Sprintf("%s %s", dt, thousands(n)))
	}
	slices.Sort(kinds)
	r.line("tensors", "%d, %s bytes of data (%s)", len(names), thousands(bytes), strings.Join(kinds, ", "))
	count := fmt.Sprintf("%s stored", thousands(elems))
	if cfg != nil {
		want := cfg.ParamCount
		_, tied := set.Info("decoder.weight")
		switch {
		case tied:
			count += fmt.Sprintf("; the config's model has %s (decoder.weight is stored as well, tied to the embeddings)", thousands(want))
		case elems == want:
			count += ", as the config expects"
		default:
			count += fmt.Sprintf("; the config expects %s", thousands(want))
		}
	}
	r.line("parameters", "%s", count)
	if r.err != nil {
		return r.err
	}

	// The table: text columns left-aligned, the byte counts right-aligned.
	rows := [][4]string{{"name", "dtype", "shape", "bytes"}}
	for _, n := range names {
		info, _ := set.Info(n)
		rows = append(rows, [4]string{n, info.DType.String(), shapeString(info.Shape), thousands(int64(info.Bytes))})
	}
	var width [4]int
	for _, row := range rows {
		for i, cell := range row {
			width[i] = max(width[i], len(cell))
		}
	}
	fmt.Fprintln(r.out)
	for _, row := range rows {
		_, err := fmt.Fprintf(r.out, "%-*s  %-*s  %-*s  %*s\n", width[0], row[0], width[1], row[1], width[2], row[2], width[3], row[3])
		if err != nil {
			return err
		}
	}
	return nil
}

func shapeString(shape []int) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		parts[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// thousands formats n with commas: 149655232 -> "149,655,232".
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// naturalCompare orders names with their digit runs compared as numbers, so
// that model.layers.2 comes before model.layers.10.
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if c := len(na) - len(nb); c != 0 {
				return c
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		a, b = a[1:], b[1:]
	}
	return len(a) - len(b)
}

func digitRun(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// pathCause drops the path from a *fs.PathError, since the message names it.
func pathCause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
