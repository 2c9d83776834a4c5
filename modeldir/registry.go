package modeldir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dllmgo/dllm/a2d"
	"github.com/dllmgo/dllm/bert"
	"github.com/dllmgo/dllm/dream"
	"github.com/dllmgo/dllm/llada"
	"github.com/dllmgo/dllm/lladamoe"
	"github.com/dllmgo/dllm/lm"
	"github.com/dllmgo/dllm/tensor"
)

// families is the registry: one line per family. The first is the default
// of `dllm sft/pretrain --family`.
var families = []lm.Family{
	bert.Family,
	llada.Family,
	lladamoe.Family,
	lladamoe.RND1Family,
	dream.Family,
	a2d.Family,
}

// Families returns the registered families, the default first.
func Families() []lm.Family { return slices.Clone(families) }

// DefaultFamily is the family a fresh model gets when none is named.
func DefaultFamily() string { return families[0].Name }

// Family finds a registered family by name.
func Family(name string) (lm.Family, error) {
	for _, f := range families {
		if f.Name == name {
			return f, nil
		}
	}
	return lm.Family{}, fmt.Errorf("unknown model family %q (known: %s)", name, strings.Join(familyNames(), ", "))
}

func familyNames() []string {
	var out []string
	for _, f := range families {
		out = append(out, f.Name)
	}
	return out
}

func modelTypes() []string {
	var out []string
	for _, f := range families {
		out = append(out, f.ModelTypes...)
	}
	return out
}

// New builds a fresh model of a family's preset, sized by f; call its Init.
func New(family, preset string, f lm.Fresh, be tensor.Backend) (lm.Model, error) {
	fam, err := Family(family)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(fam.Presets, preset) {
		return nil, fmt.Errorf("family %s has no preset %q (known: %s)", fam.Name, preset, strings.Join(fam.Presets, ", "))
	}
	return fam.New(preset, f, be)
}

// ConfigFile is the model configuration inside a model folder.
const ConfigFile = "config.json"

// configHead is what the dispatch reads of config.json.
type configHead struct {
	ModelType     string   `json:"model_type"`
	Architectures []string `json:"architectures"`
}

// Detect reads dir's config.json and returns the family that reads it, with
// the file's bytes: the family whose ModelTypes hold its model_type, else
// (no model_type) the first whose Architectures hold one of its
// architectures, else (neither given) the default family. An unknown
// model_type is a one-line error naming the file and the supported types.
func Detect(dir string) (lm.Family, []byte, error) {
	path := filepath.Join(dir, ConfigFile)
	js, err := os.ReadFile(path)
	if err != nil {
		return lm.Family{}, nil, err
	}
	var h configHead
	if err := json.Unmarshal(js, &h); err != nil {
		return lm.Family{}, nil, fmt.Errorf("%s: %v", path, err)
	}
	fam, err := familyFor(h)
	if err != nil {
		return lm.Family{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	return fam, js, nil
}

func familyFor(h configHead) (lm.Family, error) {
	supported := strings.Join(modelTypes(), ", ")
	if h.ModelType != "" {
		for _, f := range families {
			if slices.Contains(f.ModelTypes, h.ModelType) {
				return f, nil
			}
		}
		return lm.Family{}, fmt.Errorf("model_type %q is not supported (supported: %s)", h.ModelType, supported)
	}
	for _, a := range h.Architectures {
		for _, f := range families {
			if slices.Contains(f.Architectures, a) {
				return f, nil
			}
		}
	}
	if len(h.Architectures) > 0 {
		return lm.Family{}, fmt.Errorf("no model_type, and architectures %v are not supported (supported model types: %s)", h.Architectures, supported)
	}
	// A config naming neither is read by the default family, as this
	// project's first versions and hand-written configs expect.
	return families[0], nil
}

// LoadModel reads the model of a folder (config.json and weights) through
// its family, without the tokenizer.
func LoadModel(dir string, be tensor.Backend) (lm.Model, error) {
	return LoadModelWith(dir, be, Options{})
}

// Options are how a folder's weights are read.
type Options struct {
	// BF16Weights keeps the large weights (embedding, head, projections)
	// in BF16 as the checkpoint stores them, memory-mapped where they can
	// be (lm.Family.LoadBF16), for inference at half the memory; a family
	// without LoadBF16 loads as usual.
	BF16Weights bool
}

// LoadModelWith is LoadModel with options.
func LoadModelWith(dir string, be tensor.Backend, opt Options) (lm.Model, error) {
	fam, _, err := Detect(dir)
	if err != nil {
		return nil, err
	}
	return load(fam, dir, be, opt)
}

// Describe reads the config.json of dir without the weights, through its
// family: what `dllm inspect` shows.
func Describe(dir string) (lm.ConfigInfo, error) {
	fam, js, err := Detect(dir)
	if err != nil {
		return lm.ConfigInfo{}, err
	}
	if fam.Describe == nil {
		return lm.ConfigInfo{Lines: []string{fam.Name}}, nil
	}
	info, err := fam.Describe(js)
	if err != nil {
		return lm.ConfigInfo{}, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
	}
	return info, nil
}

// converters are the folder conversions `dllm convert NAME` runs: each
// turns the folder from into a new folder out and returns what it changed,
// one line each; input it refuses is an error wrapping ErrConvertInput.
var converters = map[string]func(from, out string) ([]string, error){
	"a2d": func(from, out string) ([]string, error) {
		report, err := a2d.Convert(from, out)
		var bad *a2d.ConvertError
		if errors.As(err, &bad) {
			err = fmt.Errorf("%w%w", ErrConvertInput, bad)
		}
		return report, err
	},
}

// ErrConvertInput marks a conversion's error as the user's input (a folder
// it cannot convert), not a failure of the machine.
var ErrConvertInput = errors.New("")

// Converters names the conversions Convert knows.
func Converters() []string {
	names := make([]string, 0, len(converters))
	for n := range converters {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Convert runs the conversion name on the folder from, writing out.
func Convert(name, from, out string) ([]string, error) {
	c, ok := converters[name]
	if !ok {
		return nil, fmt.Errorf("%w%s: no such conversion (known: %s)", ErrConvertInput, name, strings.Join(Converters(), ", "))
	}
	return c(from, out)
}
