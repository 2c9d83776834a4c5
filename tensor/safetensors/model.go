package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// Names of a Hugging Face checkpoint's weight files within a model directory.
const (
	SingleFileName = "model.safetensors"
	IndexFileName  = "model.safetensors.index.json"
)

// Model is one name -> tensor view over a checkpoint that may be split into
// several shard files.
type Model struct {
	dir   string
	files []*File          // in the order first referenced
	where map[string]*File // tensor name -> the file holding it
	names []string         // sorted
}

// OpenModel opens the weights of the Hugging Face model directory dir:
// model.safetensors if present (as transformers prefers it), otherwise the shards
// listed in model.safetensors.index.json.
func OpenModel(dir string) (*Model, error) { return openModel(dir, Open) }

// openModel is OpenModel opening each file with open (Open or Map).
func openModel(dir string, open func(path string) (*File, error)) (*Model, error) {
	single := filepath.Join(dir, SingleFileName)
	if _, err := os.Stat(single); err == nil {
		f, err := open(single)
		if err != nil {
			return nil, err
		}
		return ModelOf(dir, f)
	}
	index := filepath.Join(dir, IndexFileName)
	if _, err := os.Stat(index); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: no %s or %s", dir, SingleFileName, IndexFileName)
	}
	return openSharded(dir, index, open)
}

// ModelOf views already opened files as one model; a tensor name may appear in
// only one of them. dir is used in error messages.
func ModelOf(dir string, files ...*File) (*Model, error) {
	m := &Model{dir: dir, where: map[string]*File{}}
	for _, f := range files {
		m.files = append(m.files, f)
		for _, name := range f.names {
			if other, dup := m.where[name]; dup {
				return nil, fmt.Errorf("%s: tensor %q is in both %s and %s", dir, name, other.where(), f.where())
			}
			m.where[name] = f
			m.names = append(m.names, name)
		}
	}
	slices.Sort(m.names)
	return m, nil
}

// shardIndex is model.safetensors.index.json. Its "metadata" (total_size) is not
// needed: every shard is validated on its own.
type shardIndex struct {
	WeightMap map[string]string `json:"weight_map"`
}

func openSharded(dir, index string, open func(path string) (*File, error)) (*Model, error) {
	data, err := os.ReadFile(index)
	if err != nil {
		return nil, err
	}
	var idx shardIndex
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("%s: %v", index, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: weight_map is missing or empty", index)
	}
	if dup := duplicateKey(data); dup != "" {
		return nil, fmt.Errorf("%s: weight_map lists tensor %q twice", index, dup)
	}
	opened := map[string]*File{}
	m := &Model{dir: dir, where: map[string]*File{}}
	for _, name := range sortedKeys(idx.WeightMap) {
		shard := idx.WeightMap[name]
		// A shard must be a file inside dir: a hostile index could otherwise
		// point at any file on the machine.
		if !filepath.IsLocal(shard) || filepath.Base(shard) != shard {
			return nil, fmt.Errorf("%s: tensor %q: shard %q is not a file name in the model directory", index, name, shard)
		}
		f := opened[shard]
		if f == nil {
			if f, err = open(filepath.Join(dir, shard)); err != nil {
				return nil, err
			}
			opened[shard] = f
			m.files = append(m.files, f)
		}
		if _, ok := f.tensors[name]; !ok {
			return nil, fmt.Errorf("%s: tensor %q is listed for %s but not stored there", index, name, shard)
		}
		m.where[name] = f
		m.names = append(m.names, name)
	}
	// Every tensor a shard stores must be the one the index names: a copy
	// in a second shard, or one the index leaves out, would be read or
	// dropped depending on the reader.
	for _, f := range m.files {
		for _, name := range f.names {
			switch owner := m.where[name]; {
			case owner == nil:
				return nil, fmt.Errorf("%s: %s stores tensor %q, which the index does not list", index, filepath.Base(f.path), name)
			case owner != f:
				return nil, fmt.Errorf("%s: tensor %q is listed for %s but also stored in %s", index, name, filepath.Base(owner.path), filepath.Base(f.path))
			}
		}
	}
	return m, nil
}

// duplicateKey returns a key that weight_map holds twice (JSON objects may
// repeat keys; encoding/json keeps the last), or "".
func duplicateKey(data []byte) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				depth++
			} else {
				depth--
			}
		case string:
			if depth == 1 && t == "weight_map" && dec.More() {
				if open, err := dec.Token(); err == nil && open == json.Delim('{') {
					seen := map[string]bool{}
					for dec.More() {
						k, err := dec.Token()
						if err != nil {
							return ""
						}
						key, _ := k.(string)
						if seen[key] {
							return key
						}
						seen[key] = true
						var skip json.RawMessage
						if err := dec.Decode(&skip); err != nil {
							return ""
						}
					}
					return ""
				}
			}
		}
	}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Dir returns the model directory.
func (m *Model) Dir() string { return m.dir }

// Files returns the files the model's tensors come from.
func (m *Model) Files() []*File { return slices.Clone(m.files) }

// Len returns the number of tensors.
func (m *Model) Len() int { return len(m.names) }

// Names returns all tensor names, sorted.
func (m *Model) Names() []string { return slices.Clone(m.names) }

// File returns the file holding the tensor called name.
func (m *Model) File(name string) (*File, bool) {
	f, ok := m.where[name]
	return f, ok
}

// Info describes the tensor called name.
func (m *Model) Info(name string) (TensorInfo, bool) {
	if f, ok := m.where[name]; ok {
		return f.Info(name)
	}
	return TensorInfo{}, false
}

// Raw returns the stored bytes of the tensor called name (aliasing the file).
func (m *Model) Raw(name string) ([]byte, bool) {
	if f, ok := m.where[name]; ok {
		return f.Raw(name)
	}
	return nil, false
}

// F32 returns the tensor called name as float32 values; see File.F32.
func (m *Model) F32(name string) ([]float32, []int, error) {
	f, err := m.file(name)
	if err != nil {
		return nil, nil, err
	}
	return f.F32(name)
}

// I64 returns the tensor called name as int64 values; see File.I64.
func (m *Model) I64(name string) ([]int64, []int, error) {
	f, err := m.file(name)
	if err != nil {
		return nil, nil, err
	}
	return f.I64(name)
}

// I32 returns the tensor called name as int32 values; see File.I32.
func (m *Model) I32(name string) ([]int32, []int, error) {
	f, err := m.file(name)
	if err != nil {
		return nil, nil, err
	}
	return f.I32(name)
}

func (m *Model) file(name string) (*File, error) {
	f, ok := m.where[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w: %q", m.dir, ErrNotFound, name)
	}
	return f, nil
}
