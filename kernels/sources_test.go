package kernels

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dllmgo/dllm/kernels/cu"
)

// cParam is a kernel parameter's Go type, as cu.Thread.LaunchKernel needs it.
type cParam string

const (
	pPtr   cParam = "pointer"
	pInt   cParam = "int"
	pInt64 cParam = "long long"
	pFloat cParam = "float"
)

var (
	entryRE = regexp.MustCompile(`extern "C" __global__ void (?:__launch_bounds__\(\d+\) )?(\w+?)(##DM)?\s*\(([^)]*)\)`)
	// The head-size classes ATTN_ENTRIES and ATTN_MMA_ENTRIES are
	// instantiated with.
	instRE = regexp.MustCompile(`(?m)^ATTN_(?:MMA_)?ENTRIES\((\d+)\)`)
)

// kernelSignatures parses every extern "C" kernel of a source into its
// parameter types, expanding the macro-generated attention entries.
func kernelSignatures(t *testing.T, file string) map[string][]cParam {
	t.Helper()
	src, err := source(file)
	require.NoError(t, err)
	flat := strings.ReplaceAll(src, "\\\n", " ")
	flat = regexp.MustCompile(`\s+`).ReplaceAllString(flat, " ")
	sigs := map[string][]cParam{}
	for _, m := range entryRE.FindAllStringSubmatch(flat, -1) {
		params := parseParams(t, file, m[1], m[3])
		if m[2] == "" {
			sigs[m[1]] = params
			continue
		}
		insts := instRE.FindAllStringSubmatch(src, -1)
		require.NotEmpty(t, insts, "%s: %s##DM is never instantiated", file, m[1])
		for _, in := range insts {
			sigs[m[1]+in[1]] = params
		}
	}
	return sigs
}

func parseParams(t *testing.T, file, name, list string) []cParam {
	var out []cParam
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(p), "const "))
		switch {
		case strings.Contains(p, "*"):
			out = append(out, pPtr)
		case strings.HasPrefix(p, "long long "):
			out = append(out, pInt64)
		case strings.HasPrefix(p, "int "):
			out = append(out, pInt)
		case strings.HasPrefix(p, "float "):
			out = append(out, pFloat)
		default:
			t.Fatalf("%s: %s: parameter %q has a type the test does not know", file, name, p)
		}
	}
	return out
}

// goParam is the C parameter type a Go launch argument stands for.
func goParam(a any) (cParam, error) {
	switch a.(type) {
	case cu.DevicePtr:
		return pPtr, nil
	case int32:
		return pInt, nil
	case int64:
		return pInt64, nil
	case float32:
		return pFloat, nil
	}
	return "", fmt.Errorf("argument of Go type %T", a)
}

// TestSourcesDefineTheirEntries checks that every file of kernelEntries is
// embedded, includes the common header and defines exactly the entries the
// Go wrappers launch, and that no embedded .cu file is left out.
func TestSourcesDefineTheirEntries(t *testing.T) {
	embedded, err := sourceFS.ReadDir(".")
	require.NoError(t, err)
	var files []string
	for _, e := range embedded {
		if strings.HasSuffix(e.Name(), ".cu") {
			files = append(files, e.Name())
		}
	}
	assert.Equal(t, SourceFiles(), files, "embedded .cu files and kernelEntries differ")
	for _, f := range SourceFiles() {
		src, err := source(f)
		require.NoError(t, err)
		assert.Contains(t, src, `#include "common.cuh"`, f)
		var got []string
		for name := range kernelSignatures(t, f) {
			got = append(got, name)
		}
		sort.Strings(got)
		want := append([]string(nil), kernelEntries[f]...)
		sort.Strings(want)
		assert.Equal(t, want, got, "%s: defined entries", f)
	}
	h, err := source(commonHeader)
	require.NoError(t, err)
	assert.Contains(t, h, "cvt.rn.bf16.f32")
	assert.NotContains(t, h, "#include <", "the header must not need toolkit headers")
}

// TestKernelsCompileWithClang type-checks every kernel as CUDA device code
// with clang, when clang is installed (it is not a project dependency). NVRTC
// is the real compiler; this catches C++ errors on a machine without CUDA.
// The prelude declares the few CUDA built-ins the kernels use, which NVRTC
// provides itself.
func TestKernelsCompileWithClang(t *testing.T) {
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Skip("clang not installed")
	}
	dir := t.TempDir()
	prelude := filepath.Join(dir, "prelude.h")
	require.NoError(t, os.WriteFile(prelude, []byte(clangPrelude), 0o644))
	for _, f := range append(SourceFiles(), commonHeader) {
		src, err := source(f)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte(src), 0o644))
	}
	for _, f := range SourceFiles() {
		cmd := exec.Command(clang, "-x", "cuda", "--cuda-device-only", "-nocudainc", "-nocudalib",
			"--cuda-gpu-arch=sm_80", "-std=c++17", "-fsyntax-only", "-Wall", "-Werror",
			"-include", prelude, filepath.Join(dir, f))
		out, err := cmd.CombinedOutput()
		if err != nil && strings.Contains(string(out), "unsupported") && strings.Contains(string(out), "CUDA") {
			t.Skipf("this clang cannot compile CUDA: %s", out)
		}
		assert.NoError(t, err, "%s:\n%s", f, out)
	}
}

const clangPrelude = `
#define __device__ __attribute__((device))
#define __global__ __attribute__((global))
#define __shared__ __attribute__((shared))
#define __host__ __attribute__((host))
#include <__clang_cuda_builtin_vars.h>
#define __forceinline__ __attribute__((always_inline)) inline
#define __launch_bounds__(...) __attribute__((launch_bounds(__VA_ARGS__)))
struct __attribute__((aligned(16))) float4 { float x, y, z, w; };
__device__ float __uint_as_float(unsigned int);
__device__ float __int_as_float(int);
__device__ float erff(float);
__device__ float expf(float);
__device__ float logf(float);
__device__ float sqrtf(float);
__device__ float fmaxf(float, float);
__device__ float __fmul_rn(float, float);
__device__ float __fadd_rn(float, float);
__device__ float __fsub_rn(float, float);
__device__ float __fdiv_rn(float, float);
__device__ void sincos(double, double *, double *);
__device__ int abs(int);
__device__ int max(int, int);
__device__ int min(int, int);
__device__ float __shfl_xor_sync(unsigned, float, int);
__device__ double __shfl_xor_sync(unsigned, double, int);
__device__ float atomicAdd(float *, float);
__device__ double atomicAdd(double *, double);
__device__ void __syncthreads();
`
