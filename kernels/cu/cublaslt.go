package cu

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// DataType is a cudaDataType_t (library_types.h).
type DataType int32

// The element types dllm hands to cuBLASLt.
const (
	R32F  DataType = 0  // CUDA_R_32F
	R16BF DataType = 14 // CUDA_R_16BF
)

// cuBLASLt enum values (cublasLt.h, cublas_api.h).
const (
	cublasCompute32F = 68 // CUBLAS_COMPUTE_32F: f32 accumulate, no TF32

	cublasOpN = 0 // CUBLAS_OP_N
	cublasOpT = 1 // CUBLAS_OP_T

	matmulDescTransA = 3 // CUBLASLT_MATMUL_DESC_TRANSA (int32 cublasOperation_t)
	matmulDescTransB = 4 // CUBLASLT_MATMUL_DESC_TRANSB

	layoutBatchCount         = 5 // CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT (int32)
	layoutStridedBatchOffset = 6 // CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET (int64, elements)

	prefMaxWorkspaceBytes = 1 // CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES (uint64)
)

// ltWorkspaceBytes is the scratch memory cuBLASLt may use; NVIDIA recommends
// 32 MiB on Hopper.
const ltWorkspaceBytes = 32 << 20

// heuristicResultBytes is room for one cublasLtMatmulHeuristicResult_t
// (96 bytes today: a 64-byte cublasLtMatmulAlgo_t, size_t workspaceSize, int
// state, float wavesCount, int reserved[4]) with a wide margin should a
// later version grow it. The algo is its first field.
const heuristicResultBytes = 1024

// ltLib holds cuBLASLt's functions. All return cublasStatus_t (int32).
type ltLib struct {
	path string
	// cublasStatus_t cublasLtCreate(cublasLtHandle_t *lightHandle)
	create func(h *uintptr) int32
	// cublasStatus_t cublasLtDestroy(cublasLtHandle_t lightHandle)
	destroy func(h uintptr) int32
	// cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *matmulDesc,
	//   cublasComputeType_t computeType, cudaDataType_t scaleType)
	descCreate func(d *uintptr, compute int32, scale DataType) int32
	// cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t matmulDesc)
	descDestroy func(d uintptr) int32
	// cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t matmulDesc,
	//   cublasLtMatmulDescAttributes_t attr, const void *buf, size_t sizeInBytes)
	descSetAttribute func(d uintptr, attr int32, buf unsafe.Pointer, size uintptr) int32
	// cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *matLayout,
	//   cudaDataType type, uint64_t rows, uint64_t cols, int64_t ld)
	layoutCreate func(l *uintptr, typ DataType, rows, cols uint64, ld int64) int32
	// cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t matLayout)
	layoutDestroy func(l uintptr) int32
	// cublasStatus_t cublasLtMatrixLayoutSetAttribute(cublasLtMatrixLayout_t matLayout,
	//   cublasLtMatrixLayoutAttribute_t attr, const void *buf, size_t sizeInBytes)
	layoutSetAttribute func(l uintptr, attr int32, buf unsafe.Pointer, size uintptr) int32
	// cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *pref)
	prefCreate func(p *uintptr) int32
	// cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t pref)
	prefDestroy func(p uintptr) int32
	// cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t pref,
	//   cublasLtMatmulPreferenceAttributes_t attr, const void *buf, size_t sizeInBytes)
	prefSetAttribute func(p uintptr, attr int32, buf unsafe.Pointer, size uintptr) int32
	// cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t lightHandle,
	//   cublasLtMatmulDesc_t operationDesc, cublasLtMatrixLayout_t Adesc,
	//   cublasLtMatrixLayout_t Bdesc, cublasLtMatrixLayout_t Cdesc,
	//   cublasLtMatrixLayout_t Ddesc, cublasLtMatmulPreference_t preference,
	//   int requestedAlgoCount, cublasLtMatmulHeuristicResult_t heuristicResultsArray[],
	//   int *returnAlgoCount)
	algoGetHeuristic func(h, desc, a, b, c, d, pref uintptr, requested int32, results unsafe.Pointer, returned *int32) int32
	// cublasStatus_t cublasLtMatmul(cublasLtHandle_t lightHandle,
	//   cublasLtMatmulDesc_t computeDesc, const void *alpha, const void *A,
	//   cublasLtMatrixLayout_t Adesc, const void *B, cublasLtMatrixLayout_t Bdesc,
	//   const void *beta, const void *C, cublasLtMatrixLayout_t Cdesc, void *D,
	//   cublasLtMatrixLayout_t Ddesc, const cublasLtMatmulAlgo_t *algo,
	//   void *workspace, size_t workspaceSizeInBytes, cudaStream_t stream)
	matmul func(h, desc uintptr, alpha unsafe.Pointer, a DevicePtr, aDesc uintptr, b DevicePtr, bDesc uintptr,
		beta unsafe.Pointer, c DevicePtr, cDesc uintptr, d DevicePtr, dDesc uintptr,
		algo unsafe.Pointer, workspace DevicePtr, workspaceBytes uintptr, s Stream) int32
	// const char *cublasLtGetStatusString(cublasStatus_t status); optional.
	statusString func(s int32) string
}

var (
	ltOnce sync.Once
	ltL    *ltLib
	ltErr  error
)

func loadLt() (*ltLib, error) {
	ltOnce.Do(func() { ltL, ltErr = openLt() })
	return ltL, ltErr
}

func openLt() (*ltLib, error) {
	names := []string{"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so.11", "libcublasLt.so"}
	lib, err := openFirst("DLLM_CUBLASLT", names, toolkitDirs())
	if err != nil {
		return nil, fmt.Errorf("cannot load cuBLASLt (set DLLM_CUBLASLT to its path): %v", err)
	}
	l := &ltLib{path: lib.path}
	err = bind(lib, map[string]any{
		"cublasLtCreate":                       &l.create,
		"cublasLtDestroy":                      &l.destroy,
		"cublasLtMatmulDescCreate":             &l.descCreate,
		"cublasLtMatmulDescDestroy":            &l.descDestroy,
		"cublasLtMatmulDescSetAttribute":       &l.descSetAttribute,
		"cublasLtMatrixLayoutCreate":           &l.layoutCreate,
		"cublasLtMatrixLayoutDestroy":          &l.layoutDestroy,
		"cublasLtMatrixLayoutSetAttribute":     &l.layoutSetAttribute,
		"cublasLtMatmulPreferenceCreate":       &l.prefCreate,
		"cublasLtMatmulPreferenceDestroy":      &l.prefDestroy,
		"cublasLtMatmulPreferenceSetAttribute": &l.prefSetAttribute,
		"cublasLtMatmulAlgoGetHeuristic":       &l.algoGetHeuristic,
		"cublasLtMatmul":                       &l.matmul,
	})
	if err != nil {
		return nil, err
	}
	_ = bind(lib, map[string]any{"cublasLtGetStatusString": &l.statusString}) // older versions lack it
	return l, nil
}

// cublasStatusNames are cublasStatus_t's values (cublas_api.h), for messages
// when cublasLtGetStatusString is missing.
var cublasStatusNames = map[int32]string{
	1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED",
	7: "CUBLAS_STATUS_INVALID_VALUE", 8: "CUBLAS_STATUS_ARCH_MISMATCH",
	11: "CUBLAS_STATUS_MAPPING_ERROR", 13: "CUBLAS_STATUS_EXECUTION_FAILED",
	14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED",
	16: "CUBLAS_STATUS_LICENSE_ERROR",
}

func (l *ltLib) check(fn string, s int32) error {
	if s == 0 {
		return nil
	}
	msg := cublasStatusNames[s]
	if l.statusString != nil {
		msg = l.statusString(s)
	}
	return fmt.Errorf("%s: %s (cublasStatus %d)", fn, msg, s)
}

// Lt is a cuBLASLt handle with its workspace and a cache of matmul plans
// (descriptors plus the algorithm the heuristic chose), created on a
// context's thread. Use it only inside that context's Do.
type Lt struct {
	lib       *ltLib
	handle    uintptr
	workspace DevicePtr
	plans     map[Gemm]*ltPlan
}

type ltPlan struct {
	desc, a, b, c uintptr
	algo          [heuristicResultBytes]byte
}

// NewLt loads cuBLASLt, creates a handle and allocates its workspace.
func (t *Thread) NewLt() (*Lt, error) {
	lib, err := loadLt()
	if err != nil {
		return nil, err
	}
	l := &Lt{lib: lib, plans: map[Gemm]*ltPlan{}}
	if err := lib.check("cublasLtCreate", lib.create(&l.handle)); err != nil {
		return nil, err
	}
	if l.workspace, err = t.MemAlloc(ltWorkspaceBytes); err != nil {
		lib.destroy(l.handle)
		return nil, err
	}
	return l, nil
}

// Destroy frees the plans, the workspace and the handle.
func (l *Lt) Destroy(t *Thread) {
	for _, p := range l.plans {
		l.freePlan(p)
	}
	l.plans = nil
	t.Synchronize()
	t.MemFree(l.workspace)
	l.lib.destroy(l.handle)
}

// Gemm is one column-major matmul shape, in BLAS terms:
// D = alpha·op(A)·op(B) + beta·C with op(A) m×k, op(B) k×n, C and D m×n,
// each matrix stored column-major with its leading dimension, Batch times at
// the given element strides (a stride may be 0: one matrix shared by all).
// D is written over C (same memory, same layout).
type Gemm struct {
	TransA, TransB            bool
	M, N, K                   int
	TypeA, TypeB, TypeC       DataType
	LDA, LDB, LDC             int
	Batch                     int
	StrideA, StrideB, StrideC int64
}

// Matmul queues one Gemm on the thread's stream; C is both input (scaled by
// beta) and output.
func (l *Lt) Matmul(t *Thread, g Gemm, a, b, c DevicePtr, alpha, beta float32) error {
	p, err := l.plan(g)
	if err != nil {
		return err
	}
	var pin runtime.Pinner
	pin.Pin(&alpha)
	pin.Pin(&beta)
	pin.Pin(&p.algo[0])
	defer pin.Unpin()
	s := l.lib.matmul(l.handle, p.desc, unsafe.Pointer(&alpha), a, p.a, b, p.b,
		unsafe.Pointer(&beta), c, p.c, c, p.c,
		unsafe.Pointer(&p.algo[0]), l.workspace, ltWorkspaceBytes, t.Stream())
	return l.lib.check("cublasLtMatmul", s)
}

func (l *Lt) plan(g Gemm) (*ltPlan, error) {
	if p, ok := l.plans[g]; ok {
		return p, nil
	}
	p, err := l.newPlan(g)
	if err != nil {
		return nil, fmt.Errorf("cuBLASLt plan for %+v: %w", g, err)
	}
	l.plans[g] = p
	return p, nil
}

func (l *Lt) newPlan(g Gemm) (p *ltPlan, err error) {
	lib := l.lib
	p = &ltPlan{}
	defer func() {
		if err != nil {
			l.freePlan(p)
		}
	}()
	if err = lib.check("cublasLtMatmulDescCreate", lib.descCreate(&p.desc, cublasCompute32F, R32F)); err != nil {
		return nil, err
	}
	for _, tr := range []struct {
		attr  int32
		trans bool
	}{{matmulDescTransA, g.TransA}, {matmulDescTransB, g.TransB}} {
		op := int32(cublasOpN)
		if tr.trans {
			op = cublasOpT
		}
		if err = lib.check("cublasLtMatmulDescSetAttribute", lib.descSetAttribute(p.desc, tr.attr, unsafe.Pointer(&op), 4)); err != nil {
			return nil, err
		}
	}
	// Stored shapes: A is m×k, or k×m when transposed; likewise B.
	aRows, aCols := g.M, g.K
	if g.TransA {
		aRows, aCols = g.K, g.M
	}
	bRows, bCols := g.K, g.N
	if g.TransB {
		bRows, bCols = g.N, g.K
	}
	for _, m := range []struct {
		dst        *uintptr
		typ        DataType
		rows, cols int
		ld         int
		stride     int64
	}{
		{&p.a, g.TypeA, aRows, aCols, g.LDA, g.StrideA},
		{&p.b, g.TypeB, bRows, bCols, g.LDB, g.StrideB},
		{&p.c, g.TypeC, g.M, g.N, g.LDC, g.StrideC},
	} {
		if err = lib.check("cublasLtMatrixLayoutCreate", lib.layoutCreate(m.dst, m.typ, uint64(m.rows), uint64(m.cols), int64(m.ld))); err != nil {
			return nil, err
		}
		if g.Batch > 1 {
			count, stride := int32(g.Batch), m.stride
			if err = lib.check("cublasLtMatrixLayoutSetAttribute", lib.layoutSetAttribute(*m.dst, layoutBatchCount, unsafe.Pointer(&count), 4)); err != nil {
				return nil, err
			}
			if err = lib.check("cublasLtMatrixLayoutSetAttribute", lib.layoutSetAttribute(*m.dst, layoutStridedBatchOffset, unsafe.Pointer(&stride), 8)); err != nil {
				return nil, err
			}
		}
	}
	var pref uintptr
	if err = lib.check("cublasLtMatmulPreferenceCreate", lib.prefCreate(&pref)); err != nil {
		return nil, err
	}
	defer lib.prefDestroy(pref)
	ws := uint64(ltWorkspaceBytes)
	if err = lib.check("cublasLtMatmulPreferenceSetAttribute", lib.prefSetAttribute(pref, prefMaxWorkspaceBytes, unsafe.Pointer(&ws), 8)); err != nil {
		return nil, err
	}
	var found int32
	if err = lib.check("cublasLtMatmulAlgoGetHeuristic", lib.algoGetHeuristic(l.handle, p.desc, p.a, p.b, p.c, p.c, pref, 1, unsafe.Pointer(&p.algo[0]), &found)); err != nil {
		return nil, err
	}
	if found == 0 {
		return nil, fmt.Errorf("cublasLtMatmulAlgoGetHeuristic: no algorithm for this shape")
	}
	return p, nil
}

func (l *Lt) freePlan(p *ltPlan) {
	for _, h := range []uintptr{p.a, p.b, p.c} {
		if h != 0 {
			l.lib.layoutDestroy(h)
		}
	}
	if p.desc != 0 {
		l.lib.descDestroy(p.desc)
	}
}
