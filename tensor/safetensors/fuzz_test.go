package safetensors

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the parser. Run it with
//
//	go test -run '^$' -fuzz FuzzParse ./tensor/safetensors
//
// The seed corpus is testdata/fuzz/FuzzParse (DLLM_WRITE_FUZZ_SEEDS=1 regenerates
// it, see TestWriteFuzzSeeds). Properties: Parse never panics; a rejection is a
// FormatError; an accepted file's tensors are consistent, convert without panics,
// and survive a write and re-read unchanged.
func FuzzParse(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("rejection is not a FormatError: %v", err)
			}
			return
		}
		var tensors []Tensor
		for _, name := range file.Names() {
			info, ok := file.Info(name)
			raw, ok2 := file.Raw(name)
			if !ok || !ok2 || len(raw) != info.Bytes || info.Bytes != info.NumElements()*info.DType.Size() {
				t.Fatalf("tensor %q: inconsistent info %+v with %d bytes", name, info, len(raw))
			}
			_, _, _ = file.F32(name) // must not panic whatever the dtype
			_, _, _ = file.I64(name)
			_, _, _ = file.I32(name)
			tensors = append(tensors, Tensor{Name: name, DType: info.DType, Shape: info.Shape, Data: raw})
		}
		out, err := Marshal(tensors, file.Metadata())
		if err != nil {
			t.Fatalf("cannot rewrite an accepted file: %v", err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("cannot re-read a rewritten file: %v", err)
		}
		if fmt.Sprint(again.Metadata()) != fmt.Sprint(file.Metadata()) || again.Len() != file.Len() {
			t.Fatalf("rewrite changed the file")
		}
		for _, tensor := range tensors {
			info, _ := again.Info(tensor.Name)
			raw, _ := again.Raw(tensor.Name)
			if info.DType != tensor.DType || fmt.Sprint(info.Shape) != fmt.Sprint(tensor.Shape) || string(raw) != string(tensor.Data) {
				t.Fatalf("rewrite changed tensor %q", tensor.Name)
			}
		}
	})
}

// fuzzSeeds returns small valid files of every dtype and a few malformed ones.
func fuzzSeeds() [][]byte {
	rng := rand.New(rand.NewPCG(13, 14))
	var seeds [][]byte
	all, _ := Marshal(randomTensors(rng), map[string]string{"format": "pt"})
	seeds = append(seeds, all)
	for d := DType(0); d < numDTypes; d++ {
		n := d.Size() * 3
		one, _ := Marshal([]Tensor{{Name: "w", DType: d, Shape: []int{3}, Data: make([]byte, n)}}, nil)
		seeds = append(seeds, one)
	}
	empty, _ := Marshal(nil, nil)
	seeds = append(seeds, empty,
		build(`{"__metadata__":{"a":"b"},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"e":{"dtype":"F16","shape":[0,4],"data_offsets":[4,4]}}`, make([]byte, 4)),
		build(`{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, make([]byte, 4)),
		build(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}`, make([]byte, 3)),
		withLen(1<<40, "{}", nil),
	)
	return seeds
}

// TestWriteFuzzSeeds regenerates the checked-in seed corpus when
// DLLM_WRITE_FUZZ_SEEDS=1; otherwise it only checks that the corpus exists.
func TestWriteFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	if os.Getenv("DLLM_WRITE_FUZZ_SEEDS") != "1" {
		entries, err := os.ReadDir(dir)
		if err != nil || len(entries) == 0 {
			t.Fatalf("seed corpus %s is missing: run with DLLM_WRITE_FUZZ_SEEDS=1", dir)
		}
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, seed := range fuzzSeeds() {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seed)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
