package kernels

import (
	"embed"
	"fmt"
	"sort"
)

// The CUDA C++ sources, embedded in the binary and compiled at first use.
//
//go:embed *.cu common.cuh
var sourceFS embed.FS

// commonHeader is the header every kernel includes; NVRTC receives it by name.
const commonHeader = "common.cuh"

// kernelEntries lists, per source file, every extern "C" kernel the Go
// wrappers launch. Each launch names its file and entry from this table (see
// launch), and a test checks that every file embeds and defines exactly
// these entries, so a typo cannot reach a GPU.
var kernelEntries = map[string][]string{
	"binary.cu":         {"binary_f32"},
	"axpby.cu":          {"axpby_f32"},
	"add_row_vector.cu": {"add_row_vector_f32"},
	"cast.cu":           {"cast_f32_bf16", "cast_bf16_f32", "cast_i32_i64", "cast_i64_i32"},
	"row_sum.cu":        {"row_sum_f32"},
	"col_sum.cu":        {"col_sum_f32"},
	"sum_squares.cu":    {"sum_squares_f32"},
	"softmax.cu":        {"softmax_f32"},
	"gelu.cu":           {"gelu_fwd_f32", "gelu_bwd_f32"},
	"layernorm.cu":      {"layernorm_fwd_f32", "layernorm_bwd_dx_f32", "layernorm_bwd_params_f32"},
	"geglu.cu":          {"geglu_fwd_f32", "geglu_bwd_f32", "geglu_fwd_f32x4", "geglu_bwd_f32x4"},
	"rmsnorm.cu":        {"rmsnorm_fwd_f32", "rmsnorm_bwd_dx_f32", "rmsnorm_bwd_dw_f32"},
	"swiglu.cu":         {"swiglu_fwd_f32", "swiglu_bwd_f32", "swiglu_fwd_f32x4", "swiglu_bwd_f32x4"},
	"rope.cu":           {"rope_fwd_f32", "rope_bwd_f32"},
	"attention.cu": {
		"attn_bwd_dsum",
		"attn_fwd_d32", "attn_bwd_dq_d32", "attn_bwd_dkv_d32",
		"attn_fwd_d64", "attn_bwd_dq_d64", "attn_bwd_dkv_d64",
		"attn_fwd_d128", "attn_bwd_dq_d128", "attn_bwd_dkv_d128",
	},
	"attention_mma.cu": {
		"attn_mma_fwd_d32", "attn_mma_dq_d32", "attn_mma_dkv_d32",
		"attn_mma_fwd_d64", "attn_mma_dq_d64", "attn_mma_dkv_d64",
		"attn_mma_fwd_d128", "attn_mma_dq_d128", "attn_mma_dkv_d128",
	},
	"embedding.cu":     {"gather_rows_f32", "scatter_add_rows_f32"},
	"cross_entropy.cu": {"cross_entropy_fwd_f32", "cross_entropy_bwd_f32"},
	"adamw.cu":         {"adamw_f32"},
}

// source returns an embedded file's text.
func source(name string) (string, error) {
	b, err := sourceFS.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("kernels: no embedded source %s", name)
	}
	return string(b), nil
}

// SourceFiles lists the kernel sources in a stable order.
func SourceFiles() []string {
	names := make([]string, 0, len(kernelEntries))
	for n := range kernelEntries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
