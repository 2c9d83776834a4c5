package conformance

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/dllmgo/dllm/tensor"
)

// A contractCase calls one op with valid operands (ok) and with operands
// that break its contract (bad: a wrong shape, a wrong dtype, a missing
// operand), each of which must be refused.
type contractCase struct {
	op  string
	ok  func()
	bad map[string]func()
}

// RunContracts checks that b enforces every op's contract (package tensor's
// CheckX for op X): the valid call goes through and each broken one panics
// with "tensor: X: ...", before anything runs. It needs no data, so it also
// drives a backend that only records its launches.
func RunContracts(t *testing.T, b tensor.Backend) {
	cases := contractCases(b)
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.op] = true
		t.Run(c.op, func(t *testing.T) {
			for _, f := range c.failures() {
				t.Error(f)
			}
		})
	}
	// Every op of the interface has a case, except memory management, which
	// has no operands to get wrong.
	noContract := map[string]bool{"Name": true, "New": true, "FromHost": true, "ToHost": true, "Slice": true, "Free": true, "Sync": true}
	bt := reflect.TypeFor[tensor.Backend]()
	for i := range bt.NumMethod() {
		if m := bt.Method(i).Name; !noContract[m] && !covered[m] {
			t.Errorf("Backend.%s has no contract case", m)
		}
	}
}

// failures runs c's calls and says what went wrong: the valid call refused,
// a broken one accepted or refused by something other than the contract.
func (c contractCase) failures() []string {
	if msg, ok := panics(c.ok); ok {
		return []string{fmt.Sprintf("valid operands refused: %v", msg)}
	}
	var fs []string
	for name, call := range c.bad {
		msg, ok := panics(call)
		if !ok {
			fs = append(fs, name+": accepted")
			continue
		}
		if prefix := "tensor: " + c.op + ": "; !strings.HasPrefix(fmt.Sprint(msg), prefix) {
			fs = append(fs, fmt.Sprintf("%s: panicked with %q, want the contract's %q...", name, msg, prefix))
		}
	}
	return fs
}

// panics runs f and returns what it panicked with, if it did.
func panics(f func()) (msg any, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			msg, ok = r, true
		}
	}()
	f()
	return nil, false
}

// contractCases lists, per op, a valid call and calls that break the
// contract in one way each. Shapes are small: nothing here is about values.
func contractCases(b tensor.Backend) []contractCase {
	f32 := func(shape ...int) *tensor.Tensor { return b.New(tensor.F32, shape...) }
	bf16 := func(shape ...int) *tensor.Tensor { return b.New(tensor.BF16, shape...) }
	i32 := func(shape ...int) *tensor.Tensor { return b.New(tensor.I32, shape...) }
	i64 := func(shape ...int) *tensor.Tensor { return b.New(tensor.I64, shape...) }
	adam := tensor.AdamWParams{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: 1}
	rope := tensor.RoPEParams{Theta: 10000}
	rms := tensor.RMSNormParams{Eps: 1e-6}
	attn := tensor.AttentionParams{Heads: 2, Scale: 0.5}

	return []contractCase{
		{"Fill", func() { b.Fill(f32(3), 1) }, map[string]func(){
			"I32 dst": func() { b.Fill(i32(3), 1) },
		}},
		{"Copy", func() { b.Copy(f32(2, 3), f32(6)) }, map[string]func(){
			"count": func() { b.Copy(f32(2, 3), f32(5)) },
			"dtype": func() { b.Copy(f32(3), i32(3)) },
		}},
		{"Cast", func() { b.Cast(bf16(2, 3), f32(6)) }, map[string]func(){
			"count":       func() { b.Cast(bf16(2, 3), f32(5)) },
			"F32 to I32":  func() { b.Cast(i32(3), f32(3)) },
			"I64 to BF16": func() { b.Cast(bf16(3), i64(3)) },
		}},
		{"Add", func() { b.Add(f32(6), f32(2, 3), f32(3, 2)) }, map[string]func(){
			"count": func() { b.Add(f32(6), f32(2, 3), f32(7)) },
			"dtype": func() { b.Add(f32(6), i32(6), f32(6)) },
		}},
		{"Sub", func() { b.Sub(f32(6), f32(6), f32(6)) }, map[string]func(){
			"count": func() { b.Sub(f32(5), f32(6), f32(6)) },
			"dtype": func() { b.Sub(bf16(6), f32(6), f32(6)) },
		}},
		{"Mul", func() { b.Mul(f32(6), f32(6), f32(6)) }, map[string]func(){
			"count": func() { b.Mul(f32(6), f32(6), f32(5)) },
			"dtype": func() { b.Mul(f32(6), f32(6), i32(6)) },
		}},
		{"Scale", func() { b.Scale(f32(6), f32(6), 2) }, map[string]func(){
			"count": func() { b.Scale(f32(6), f32(5), 2) },
			"dtype": func() { b.Scale(f32(6), bf16(6), 2) },
		}},
		{"AXPY", func() { b.AXPY(f32(6), f32(6), 2) }, map[string]func(){
			"count": func() { b.AXPY(f32(6), f32(7), 2) },
			"dtype": func() { b.AXPY(i32(6), f32(6), 2) },
		}},
		{"AddRowVector", func() { b.AddRowVector(f32(4, 3), f32(3)) }, map[string]func(){
			"width":  func() { b.AddRowVector(f32(4, 3), f32(4)) },
			"scalar": func() { b.AddRowVector(f32(), f32(1)) },
			"dtype":  func() { b.AddRowVector(f32(4, 3), bf16(3)) },
		}},
		{"SumLastAxis", func() { b.SumLastAxis(f32(2, 4), f32(2, 4, 3)) }, map[string]func(){
			"rows":   func() { b.SumLastAxis(f32(3), f32(4, 3)) },
			"scalar": func() { b.SumLastAxis(f32(1), f32()) },
			"dtype":  func() { b.SumLastAxis(f32(4), i32(4, 3)) },
		}},
		{"MeanLastAxis", func() { b.MeanLastAxis(f32(4), f32(4, 3)) }, map[string]func(){
			"rows":  func() { b.MeanLastAxis(f32(3), f32(4, 3)) },
			"empty": func() { b.MeanLastAxis(f32(4), f32(4, 0)) },
			"dtype": func() { b.MeanLastAxis(bf16(4), f32(4, 3)) },
		}},
		{"SumRows", func() { b.SumRows(f32(3), f32(2, 4, 3)) }, map[string]func(){
			"columns": func() { b.SumRows(f32(4), f32(4, 3)) },
			"dtype":   func() { b.SumRows(f32(3), i32(4, 3)) },
		}},
		{"SumSquares", func() { b.SumSquares(f32(5)) }, map[string]func(){
			"dtype": func() { b.SumSquares(bf16(5)) },
		}},
		{"Softmax", func() { b.Softmax(f32(4, 3), f32(4, 3)) }, map[string]func(){
			"shape": func() { b.Softmax(f32(3, 4), f32(4, 3)) },
			"dtype": func() { b.Softmax(bf16(4, 3), bf16(4, 3)) },
		}},
		{"GELU", func() { b.GELU(f32(6), f32(2, 3)) }, map[string]func(){
			"count": func() { b.GELU(f32(5), f32(2, 3)) },
			"dtype": func() { b.GELU(f32(6), i32(6)) },
		}},
		{"GELUBackward", func() { b.GELUBackward(f32(6), f32(6), f32(6)) }, map[string]func(){
			"count": func() { b.GELUBackward(f32(6), f32(6), f32(5)) },
			"dtype": func() { b.GELUBackward(bf16(6), f32(6), f32(6)) },
		}},
		{"LayerNorm", func() { b.LayerNorm(f32(4, 3), f32(4), f32(4), f32(4, 3), f32(3), nil, 1e-5) }, map[string]func(){
			"y shape":     func() { b.LayerNorm(f32(3, 4), nil, nil, f32(4, 3), f32(3), nil, 1e-5) },
			"gamma width": func() { b.LayerNorm(f32(4, 3), nil, nil, f32(4, 3), f32(4), nil, 1e-5) },
			"beta width":  func() { b.LayerNorm(f32(4, 3), nil, nil, f32(4, 3), f32(3), f32(2), 1e-5) },
			"mean rows":   func() { b.LayerNorm(f32(4, 3), f32(3), nil, f32(4, 3), f32(3), nil, 1e-5) },
			"empty rows":  func() { b.LayerNorm(f32(4, 0), nil, nil, f32(4, 0), f32(0), nil, 1e-5) },
			"rstd dtype":  func() { b.LayerNorm(f32(4, 3), nil, i32(4), f32(4, 3), f32(3), nil, 1e-5) },
		}},
		{"LayerNormBackward", func() {
			b.LayerNormBackward(f32(4, 3), f32(3), f32(3), f32(4, 3), f32(4, 3), f32(4), f32(4), f32(3))
		}, map[string]func(){
			"no mean":      func() { b.LayerNormBackward(f32(4, 3), f32(3), nil, f32(4, 3), f32(4, 3), nil, f32(4), f32(3)) },
			"dy shape":     func() { b.LayerNormBackward(f32(4, 3), f32(3), nil, f32(3, 4), f32(4, 3), f32(4), f32(4), f32(3)) },
			"dgamma width": func() { b.LayerNormBackward(f32(4, 3), f32(4), nil, f32(4, 3), f32(4, 3), f32(4), f32(4), f32(3)) },
			"dbeta dtype":  func() { b.LayerNormBackward(f32(4, 3), f32(3), bf16(3), f32(4, 3), f32(4, 3), f32(4), f32(4), f32(3)) },
		}},
		{"GeGLU", func() { b.GeGLU(f32(2, 3), f32(2, 6)) }, map[string]func(){
			"odd":   func() { b.GeGLU(f32(2, 3), f32(2, 7)) },
			"rows":  func() { b.GeGLU(f32(3, 3), f32(2, 6)) },
			"empty": func() { b.GeGLU(f32(2, 3), f32(2, 0)) },
			"dtype": func() { b.GeGLU(bf16(2, 3), f32(2, 6)) },
		}},
		{"GeGLUBackward", func() { b.GeGLUBackward(f32(2, 6), f32(2, 6), f32(2, 3)) }, map[string]func(){
			"dx shape": func() { b.GeGLUBackward(f32(6, 2), f32(2, 6), f32(2, 3)) },
			"dy width": func() { b.GeGLUBackward(f32(2, 6), f32(2, 6), f32(2, 6)) },
			"dtype":    func() { b.GeGLUBackward(i32(2, 6), f32(2, 6), f32(2, 3)) },
		}},
		{"RMSNorm", func() { b.RMSNorm(f32(4, 2, 3), f32(8), f32(4, 2, 3), f32(3), rms) }, map[string]func(){
			"y shape":    func() { b.RMSNorm(f32(3, 4), nil, f32(4, 3), f32(3), rms) },
			"w width":    func() { b.RMSNorm(f32(4, 3), nil, f32(4, 3), f32(4), rms) },
			"rstd rows":  func() { b.RMSNorm(f32(4, 3), f32(3), f32(4, 3), f32(3), rms) },
			"empty rows": func() { b.RMSNorm(f32(4, 0), nil, f32(4, 0), f32(0), rms) },
			"w dtype":    func() { b.RMSNorm(f32(4, 3), nil, f32(4, 3), bf16(3), rms) },
		}},
		{"RMSNormBackward", func() { b.RMSNormBackward(f32(4, 3), f32(3), f32(4, 3), f32(4, 3), f32(4), f32(3), rms) }, map[string]func(){
			"no rstd":  func() { b.RMSNormBackward(f32(4, 3), f32(3), f32(4, 3), f32(4, 3), nil, f32(3), rms) },
			"dy shape": func() { b.RMSNormBackward(f32(4, 3), nil, f32(3, 4), f32(4, 3), f32(4), f32(3), rms) },
			"dw width": func() { b.RMSNormBackward(f32(4, 3), f32(4), f32(4, 3), f32(4, 3), f32(4), f32(3), rms) },
			"dx dtype": func() { b.RMSNormBackward(i32(4, 3), nil, f32(4, 3), f32(4, 3), f32(4), f32(3), rms) },
		}},
		{"SwiGLU", func() { b.SwiGLU(f32(2, 3), f32(2, 6)) }, map[string]func(){
			"odd":   func() { b.SwiGLU(f32(2, 3), f32(2, 7)) },
			"rows":  func() { b.SwiGLU(f32(3, 3), f32(2, 6)) },
			"dtype": func() { b.SwiGLU(f32(2, 3), bf16(2, 6)) },
		}},
		{"SwiGLUBackward", func() { b.SwiGLUBackward(f32(2, 6), f32(2, 6), f32(2, 3)) }, map[string]func(){
			"dx shape": func() { b.SwiGLUBackward(f32(3, 4), f32(2, 6), f32(2, 3)) },
			"dy width": func() { b.SwiGLUBackward(f32(2, 6), f32(2, 6), f32(2, 2)) },
			"dtype":    func() { b.SwiGLUBackward(bf16(2, 6), f32(2, 6), f32(2, 3)) },
		}},
		{"RoPE", func() { b.RoPE(f32(2, 3, 4), f32(2, 3, 4), i32(2), rope) }, map[string]func(){
			"odd head":   func() { b.RoPE(f32(2, 3, 5), f32(2, 3, 5), i32(2), rope) },
			"positions":  func() { b.RoPE(f32(2, 3, 4), f32(2, 3, 4), i32(3), rope) },
			"I64 pos":    func() { b.RoPE(f32(2, 3, 4), f32(2, 3, 4), i64(2), rope) },
			"heads":      func() { b.RoPE(f32(2, 3, 4), f32(2, 3, 4), i32(2), tensor.RoPEParams{Theta: 1e4, Heads: 4}) },
			"theta":      func() { b.RoPE(f32(2, 3, 4), f32(2, 3, 4), i32(2), tensor.RoPEParams{}) },
			"odd rotary": func() { b.RoPE(f32(2, 3, 4), f32(2, 3, 4), i32(2), tensor.RoPEParams{Theta: 1e4, RotaryDim: 3}) },
			"dst count":  func() { b.RoPE(f32(2, 3, 2), f32(2, 3, 4), i32(2), rope) },
		}},
		{"RoPEBackward", func() { b.RoPEBackward(f32(2, 3, 4), f32(2, 3, 4), i32(2), rope) }, map[string]func(){
			"odd head": func() { b.RoPEBackward(f32(2, 3, 5), f32(2, 3, 5), i32(2), rope) },
			"dy count": func() { b.RoPEBackward(f32(2, 3, 4), f32(2, 3, 2), i32(2), rope) },
			"dtype":    func() { b.RoPEBackward(f32(2, 3, 4), bf16(2, 3, 4), i32(2), rope) },
		}},
		{"Attention", func() { b.Attention(f32(2, 5, 2, 4), f32(2, 2, 5), f32(2, 5, 3, 2, 4), i32(2, 5), attn) }, map[string]func(){
			"no heads": func() { b.Attention(f32(2, 5, 2, 4), nil, f32(2, 5, 3, 2, 4), nil, tensor.AttentionParams{Scale: 1}) },
			"kv heads": func() {
				b.Attention(f32(2, 5, 2, 4), nil, f32(2, 5, 3, 2, 4), nil, tensor.AttentionParams{Heads: 2, KVHeads: 3, Scale: 1})
			},
			"gqa rank 5": func() {
				b.Attention(f32(2, 5, 4, 4), nil, f32(2, 5, 3, 2, 4), nil, tensor.AttentionParams{Heads: 4, KVHeads: 1, Scale: 1})
			},
			"qkv split":  func() { b.Attention(f32(2, 5, 2, 4), nil, f32(2, 5, 7), nil, attn) },
			"qkv layout": func() { b.Attention(f32(2, 5, 2, 4), nil, f32(2, 5, 2, 3, 4), nil, attn) },
			"out count":  func() { b.Attention(f32(2, 5, 2, 3), nil, f32(2, 5, 3, 2, 4), nil, attn) },
			"mask dtype": func() { b.Attention(f32(2, 5, 2, 4), nil, f32(2, 5, 3, 2, 4), f32(2, 5), attn) },
			"blocks of two halves, odd S": func() {
				b.Attention(f32(2, 5, 2, 4), nil, f32(2, 5, 3, 2, 4), nil, tensor.AttentionParams{Heads: 2, Scale: 1, Blocks: tensor.BlockPattern{Size: 2, Half: 2}})
			},
			"halves without a block size": func() {
				b.Attention(f32(2, 4, 2, 4), nil, f32(2, 4, 3, 2, 4), nil, tensor.AttentionParams{Heads: 2, Scale: 1, Blocks: tensor.BlockPattern{Half: 2}})
			},
			"negative block size": func() {
				b.Attention(f32(2, 5, 2, 4), nil, f32(2, 5, 3, 2, 4), nil, tensor.AttentionParams{Heads: 2, Scale: 1, Blocks: tensor.BlockPattern{Size: -1}})
			},
			"lse count": func() { b.Attention(f32(2, 5, 2, 4), f32(2, 5), f32(2, 5, 3, 2, 4), nil, attn) },
		}},
		{"AttentionBackward", func() {
			b.AttentionBackward(f32(2, 5, 3, 2, 4), f32(2, 5, 2, 4), f32(2, 5, 3, 2, 4), f32(2, 5, 2, 4), f32(2, 2, 5), nil, attn)
		}, map[string]func(){
			"no lse": func() {
				b.AttentionBackward(f32(2, 5, 3, 2, 4), f32(2, 5, 2, 4), f32(2, 5, 3, 2, 4), f32(2, 5, 2, 4), nil, nil, attn)
			},
			"dqkv count": func() {
				b.AttentionBackward(f32(2, 5, 2, 2, 4), f32(2, 5, 2, 4), f32(2, 5, 3, 2, 4), f32(2, 5, 2, 4), f32(2, 2, 5), nil, attn)
			},
			"dout dtype": func() {
				b.AttentionBackward(f32(2, 5, 3, 2, 4), bf16(2, 5, 2, 4), f32(2, 5, 3, 2, 4), f32(2, 5, 2, 4), f32(2, 2, 5), nil, attn)
			},
		}},
		{"Embedding", func() { b.Embedding(f32(2, 3, 4), f32(5, 4), i32(2, 3)) }, map[string]func(){
			"rows":        func() { b.Embedding(f32(5, 4), f32(5, 4), i32(6)) },
			"I64 ids":     func() { b.Embedding(f32(6, 4), f32(5, 4), i64(6)) },
			"no table":    func() { b.Embedding(f32(1), f32(), i32(1)) },
			"dtype":       func() { b.Embedding(bf16(6, 4), f32(5, 4), i32(6)) },
			"table dtype": func() { b.Embedding(f32(6, 4), i32(5, 4), i32(6)) },
		}},
		{"EmbeddingBackward", func() { b.EmbeddingBackward(f32(5, 4), i32(6), f32(6, 4), 0) }, map[string]func(){
			"dy rows": func() { b.EmbeddingBackward(f32(5, 4), i32(6), f32(6, 3), 0) },
			"dtype":   func() { b.EmbeddingBackward(f32(5, 4), i32(6), i32(6, 4), 0) },
		}},
		{"GatherRows", func() { b.GatherRows(f32(6, 4), f32(5, 4), i32(6)) }, map[string]func(){
			"rows":    func() { b.GatherRows(f32(6, 3), f32(5, 4), i32(6)) },
			"I64 idx": func() { b.GatherRows(f32(6, 4), f32(5, 4), i64(6)) },
		}},
		{"ScatterAddRows", func() { b.ScatterAddRows(f32(5, 4), f32(6, 4), i32(6)) }, map[string]func(){
			"rows":  func() { b.ScatterAddRows(f32(5, 4), f32(5, 4), i32(6)) },
			"dtype": func() { b.ScatterAddRows(bf16(5, 4), f32(6, 4), i32(6)) },
		}},
		{"CrossEntropy", func() { b.CrossEntropy(f32(4), f32(4), f32(4, 7), i32(4), f32(4), -100) }, map[string]func(){
			"rank":          func() { b.CrossEntropy(f32(4), nil, f32(4, 7, 1), i32(4), nil, -100) },
			"targets":       func() { b.CrossEntropy(f32(4), nil, f32(4, 7), i32(3), nil, -100) },
			"I64 targets":   func() { b.CrossEntropy(f32(4), nil, f32(4, 7), i64(4), nil, -100) },
			"weights count": func() { b.CrossEntropy(f32(4), nil, f32(4, 7), i32(4), f32(3), -100) },
			"lse count":     func() { b.CrossEntropy(f32(4), f32(5), f32(4, 7), i32(4), nil, -100) },
			"loss count":    func() { b.CrossEntropy(f32(3), nil, f32(4, 7), i32(4), nil, -100) },
			"loss dtype":    func() { b.CrossEntropy(bf16(4), nil, f32(4, 7), i32(4), nil, -100) },
		}},
		{"CrossEntropyBackward", func() { b.CrossEntropyBackward(f32(4, 7), f32(4, 7), f32(4), i32(4), nil, 1, -100) }, map[string]func(){
			"no lse":        func() { b.CrossEntropyBackward(f32(4, 7), f32(4, 7), nil, i32(4), nil, 1, -100) },
			"dlogits shape": func() { b.CrossEntropyBackward(f32(7, 4), f32(4, 7), f32(4), i32(4), nil, 1, -100) },
			"weights dtype": func() { b.CrossEntropyBackward(f32(4, 7), f32(4, 7), f32(4), i32(4), i32(4), 1, -100) },
		}},
		{"MatMul", func() { b.MatMul(f32(2, 3, 4), f32(2, 3, 5), f32(5, 4), false, false, 1, 0) }, map[string]func(){
			"inner":     func() { b.MatMul(f32(3, 4), f32(3, 5), f32(6, 4), false, false, 1, 0) },
			"c shape":   func() { b.MatMul(f32(4, 3), f32(3, 5), f32(5, 4), false, false, 1, 0) },
			"transpose": func() { b.MatMul(f32(3, 4), f32(3, 5), f32(5, 4), true, false, 1, 0) },
			"rank 1":    func() { b.MatMul(f32(3), f32(3), f32(3), false, false, 1, 0) },
			"c rank":    func() { b.MatMul(f32(3, 4), f32(2, 3, 5), f32(5, 4), false, false, 1, 0) },
			"batch":     func() { b.MatMul(f32(2, 3, 4), f32(2, 3, 5), f32(3, 5, 4), false, false, 1, 0) },
			"I32 a":     func() { b.MatMul(f32(3, 4), i32(3, 5), f32(5, 4), false, false, 1, 0) },
		}},
		{"AdamW", func() { b.AdamW(f32(2, 3), f32(2, 3), f32(2, 3), f32(2, 3), adam) }, map[string]func(){
			"grad shape": func() { b.AdamW(f32(2, 3), f32(3, 2), f32(2, 3), f32(2, 3), adam) },
			"v dtype":    func() { b.AdamW(f32(2, 3), f32(2, 3), f32(2, 3), bf16(2, 3), adam) },
			"step 0": func() {
				b.AdamW(f32(2, 3), f32(2, 3), f32(2, 3), f32(2, 3), tensor.AdamWParams{LR: 1e-3, Beta1: 0.9, Beta2: 0.999})
			},
		}},
	}
}
