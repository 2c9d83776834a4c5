package a2d

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/dllmgo/dllm/data/tokenizer"
	"github.com/dllmgo/dllm/tensor/safetensors"
)

// MaskToken is the mask token the reference adds to an A2D model's
// tokenizer (get_tokenizer: add_special_tokens({"mask_token": "<|mask|>"})).
const MaskToken = "<|mask|>"

// sourceTypes maps a causal model_type to its A2D one.
var sourceTypes = map[string]string{"llama": Llama, "qwen2": Qwen2, "qwen3": Qwen3}

// ConvertError is input the conversion refuses: the message names the
// file and the problem.
type ConvertError struct{ Err error }

func (e *ConvertError) Error() string { return e.Err.Error() }
func (e *ConvertError) Unwrap() error { return e.Err }

func refuse(format string, args ...any) error {
	return &ConvertError{fmt.Errorf(format, args...)}
}

// Convert turns the causal Llama, Qwen2 or Qwen3 folder from into an A2D
// folder out, as the reference's convert.py does (A2D.md §1), and returns
// what it changed, one line each:
//
//   - config.json: model_type becomes a2d-llama, a2d-qwen2 or a2d-qwen3;
//     architectures and auto_map are removed; no other key changes;
//   - the weights are copied unchanged (the parameter names are the same);
//   - the tokenizer gains the mask token <|mask|> (a special added token at
//     the next free id; the one it has when it has it already), named as
//     mask_token in tokenizer_config.json (and special_tokens_map.json);
//   - unlike the reference, when that id falls outside the embedding (a
//     Llama-3 tokenizer fills it), the embedding, and lm_head when it is
//     not tied, gain rows up to it, each the mean of the existing rows, and
//     vocab_size follows;
//   - every other file of the folder is copied as it is.
//
// out must not exist; the folder is written beside it under a temporary
// name and renamed into place once complete, so a failed conversion leaves
// nothing. Input the conversion refuses is a *ConvertError.
func Convert(from, out string) ([]string, error) {
	if _, err := os.Stat(out); err == nil {
		return nil, refuse("%s already exists; choose a new --out folder", out)
	}
	cfgPath := filepath.Join(from, "config.json")
	js, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, refuse("%v", err)
	}
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(js, &cfg); err != nil {
		return nil, refuse("%s: %v", cfgPath, err)
	}
	var srcType string
	_ = json.Unmarshal(cfg["model_type"], &srcType)
	dstType, ok := sourceTypes[srcType]
	if !ok {
		return nil, refuse("%s: model_type %q is not a causal Llama, Qwen2 or Qwen3 model (want llama, qwen2 or qwen3)", cfgPath, srcType)
	}
	var tied struct {
		Tie       *bool `json:"tie_word_embeddings"`
		VocabSize int   `json:"vocab_size"`
	}
	_ = json.Unmarshal(js, &tied)

	tokPath := filepath.Join(from, "tokenizer.json")
	tok, err := tokenizer.Load(tokPath)
	if err != nil {
		return nil, refuse("%v (the mask token is added to the tokenizer)", err)
	}
	weights, err := safetensors.OpenModel(from)
	if err != nil {
		return nil, refuse("%v", err)
	}
	emb, ok := weights.Info("model.embed_tokens.weight")
	if !ok || len(emb.Shape) != 2 {
		return nil, refuse("%s: no 2-D model.embed_tokens.weight among the weights", from)
	}
	rows := emb.Shape[0]

	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(out)), "."+filepath.Base(out)+".tmp*")
	if err != nil {
		return nil, err
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	var report []string

	// The mask token.
	maskID, had := tok.TokenToID(MaskToken)
	if had {
		report = append(report, fmt.Sprintf("tokenizer: %s is already token %d", MaskToken, maskID))
		if err := copyFile(tokPath, filepath.Join(tmp, "tokenizer.json")); err != nil {
			return nil, err
		}
	} else {
		maskID = tok.VocabSize()
		if err := addMaskToken(tokPath, filepath.Join(tmp, "tokenizer.json"), maskID); err != nil {
			return nil, err
		}
		report = append(report, fmt.Sprintf("tokenizer.json: added %s as special token %d", MaskToken, maskID))
	}
	if err := setMaskToken(filepath.Join(from, "tokenizer_config.json"), filepath.Join(tmp, "tokenizer_config.json"), maskID, !had); err != nil {
		return nil, err
	}
	report = append(report, fmt.Sprintf("tokenizer_config.json: mask_token %s", MaskToken))
	if _, err := os.Stat(filepath.Join(from, "special_tokens_map.json")); err == nil {
		if err := setMaskToken(filepath.Join(from, "special_tokens_map.json"), filepath.Join(tmp, "special_tokens_map.json"), -1, false); err != nil {
			return nil, err
		}
	}

	// The weights: copied, or with the embedding grown to hold the mask.
	resized := map[string]bool{}
	if maskID >= rows {
		resized["model.embed_tokens.weight"] = true
		if _, ok := weights.Info("lm_head.weight"); ok && (tied.Tie == nil || !*tied.Tie) {
			resized["lm_head.weight"] = true
		}
		cfg["vocab_size"] = json.RawMessage(strconv.Itoa(maskID + 1))
		report = append(report, fmt.Sprintf("weights: the mask id %d is outside the embedding of %d rows: %s grown to %d rows (each new row the mean of the others); config.json: vocab_size %d -> %d",
			maskID, rows, joinKeys(resized), maskID+1, tied.VocabSize, maskID+1))
	} else {
		report = append(report, fmt.Sprintf("weights: unchanged (the mask id %d is inside the embedding of %d rows: an untrained row, as in the reference)", maskID, rows))
	}
	sizes := map[string]int64{}
	for _, f := range weights.Files() {
		name := filepath.Base(f.Path())
		dst := filepath.Join(tmp, name)
		grow := slices.ContainsFunc(f.Names(), func(n string) bool { return resized[n] })
		if !grow {
			if err := copyFile(f.Path(), dst); err != nil {
				return nil, err
			}
		} else if err := growShard(f, dst, resized, maskID+1); err != nil {
			return nil, err
		}
		st, err := os.Stat(dst)
		if err != nil {
			return nil, err
		}
		sizes[name] = st.Size()
	}
	if idx := filepath.Join(from, "model.safetensors.index.json"); len(weights.Files()) > 0 && fileExists(idx) {
		var total int64 // the tensors' bytes, grown
		for _, name := range weights.Names() {
			info, _ := weights.Info(name)
			total += int64(info.Bytes)
			if resized[name] {
				total += int64(info.Bytes / info.Shape[0] * (maskID + 1 - info.Shape[0]))
			}
		}
		if err := rewriteIndex(idx, filepath.Join(tmp, "model.safetensors.index.json"), total, len(resized) > 0); err != nil {
			return nil, err
		}
	}

	// config.json.
	for _, k := range []string{"architectures", "auto_map"} {
		if _, ok := cfg[k]; ok {
			delete(cfg, k)
			report = append(report, "config.json: removed "+k)
		}
	}
	cfg["model_type"] = json.RawMessage(strconv.Quote(dstType))
	report = append(report, fmt.Sprintf("config.json: model_type %s -> %s", srcType, dstType))
	if err := writeJSON(filepath.Join(tmp, "config.json"), cfg); err != nil {
		return nil, err
	}
	newCfg, err := os.ReadFile(filepath.Join(tmp, "config.json"))
	if err != nil {
		return nil, err
	}
	if _, err := ParseConfig(newCfg); err != nil {
		return nil, refuse("%s: %v", cfgPath, err)
	}

	// Every other file, as it is.
	entries, err := os.ReadDir(from)
	if err != nil {
		return nil, err
	}
	copied := 0
	for _, e := range entries {
		if !e.Type().IsRegular() || fileExists(filepath.Join(tmp, e.Name())) {
			continue
		}
		if err := copyFile(filepath.Join(from, e.Name()), filepath.Join(tmp, e.Name())); err != nil {
			return nil, err
		}
		copied++
	}
	if copied > 0 {
		report = append(report, fmt.Sprintf("copied %d other files unchanged", copied))
	}
	if err := os.Rename(tmp, out); err != nil {
		return nil, err
	}
	done = true
	return report, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func joinKeys(m map[string]bool) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s := keys[0]
	for _, k := range keys[1:] {
		s += " and " + k
	}
	return s
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	w, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, st.Mode().Perm()|0o200)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, in); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

func writeJSON(path string, v any) error {
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(js, '\n'), 0o644)
}

// addMaskToken writes tokenizer.json with the mask token appended to its
// added tokens.
func addMaskToken(src, dst string, id int) error {
	js, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(js, &top); err != nil {
		return refuse("%s: %v", src, err)
	}
	var added []json.RawMessage
	if raw, ok := top["added_tokens"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &added); err != nil {
			return refuse("%s: added_tokens: %v", src, err)
		}
	}
	tokJS, err := json.Marshal(map[string]any{"id": id, "content": MaskToken, "single_word": false, "lstrip": false,
		"rstrip": false, "normalized": false, "special": true})
	if err != nil {
		return err
	}
	top["added_tokens"], err = json.Marshal(append(added, tokJS))
	if err != nil {
		return err
	}
	out, err := json.Marshal(top)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, out, 0o644)
}

// setMaskToken writes a tokenizer_config.json (or special_tokens_map.json)
// naming the mask token, with its added_tokens_decoder entry when id >= 0
// and add; a missing src starts from an empty object.
func setMaskToken(src, dst string, id int, add bool) error {
	cfg := map[string]json.RawMessage{}
	js, err := os.ReadFile(src)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		if err := json.Unmarshal(js, &cfg); err != nil {
			return refuse("%s: %v", src, err)
		}
	}
	cfg["mask_token"] = json.RawMessage(strconv.Quote(MaskToken))
	if add && id >= 0 {
		dec := map[string]json.RawMessage{}
		if raw, ok := cfg["added_tokens_decoder"]; ok {
			if err := json.Unmarshal(raw, &dec); err != nil {
				return refuse("%s: added_tokens_decoder: %v", src, err)
			}
		}
		entry, err := json.Marshal(map[string]any{"content": MaskToken, "lstrip": false, "normalized": false,
			"rstrip": false, "single_word": false, "special": true})
		if err != nil {
			return err
		}
		dec[strconv.Itoa(id)] = entry
		if cfg["added_tokens_decoder"], err = json.Marshal(dec); err != nil {
			return err
		}
	}
	return writeJSON(dst, cfg)
}

// growShard writes a copy of shard f with the tensors named in grow given
// rows up to n, each new row the mean of the old ones, in the tensor's own
// dtype.
func growShard(f *safetensors.File, dst string, grow map[string]bool, n int) error {
	var tensors []safetensors.Tensor
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		raw, _ := f.Raw(name)
		if !grow[name] {
			tensors = append(tensors, safetensors.Tensor{Name: name, DType: info.DType, Shape: info.Shape, Data: raw})
			continue
		}
		v, err := safetensors.DecodeF32(info.DType, raw)
		if err != nil {
			return refuse("%s: %s: %v", f.Path(), name, err)
		}
		rows, cols := info.Shape[0], info.Shape[1]
		mean := make([]float64, cols)
		for r := range rows {
			for c := range cols {
				mean[c] += float64(v[r*cols+c])
			}
		}
		out := make([]float32, n*cols)
		copy(out, v)
		for r := rows; r < n; r++ {
			for c := range cols {
				out[r*cols+c] = float32(mean[c] / float64(rows))
			}
		}
		t, err := safetensors.FloatTensor(name, info.DType, []int{n, cols}, out)
		if err != nil {
			return refuse("%s: %v", f.Path(), err)
		}
		tensors = append(tensors, t)
	}
	return safetensors.Write(dst, tensors, f.Metadata())
}

// rewriteIndex copies model.safetensors.index.json, with metadata.total_size
// recomputed when the weights grew.
func rewriteIndex(src, dst string, total int64, grew bool) error {
	if !grew {
		return copyFile(src, dst)
	}
	js, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var idx map[string]json.RawMessage
	if err := json.Unmarshal(js, &idx); err != nil {
		return refuse("%s: %v", src, err)
	}
	meta := map[string]json.RawMessage{}
	if raw, ok := idx["metadata"]; ok {
		_ = json.Unmarshal(raw, &meta)
	}
	meta["total_size"] = json.RawMessage(strconv.FormatInt(total, 10))
	if idx["metadata"], err = json.Marshal(meta); err != nil {
		return err
	}
	return writeJSON(dst, idx)
}
