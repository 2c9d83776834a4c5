// emu.cpp: a CPU stand-in for libcuda, libnvrtc and libcublasLt, for the
// tests of package kernels on machines without a GPU (emu_test.go builds it).
//
// It runs the real kernel sources as host C++: every block of a launch runs in
// turn, its threads as real threads of a pool, with __syncthreads as a block
// barrier and warp shuffles as a per-warp exchange between two barriers.
// __shared__ arrays are function statics (blocks run one at a time), and the
// dynamic shared memory is a buffer filled with NaN bytes before each block,
// so a read of unwritten shared memory shows up. The driver API keeps device
// memory in host memory; NVRTC "compiles" a file to its name; cuBLASLt
// multiplies in double precision from the descriptors it was given.
//
// It checks the kernels' logic (indexing, reductions, masks, tiles) and the
// Go backend's use of the API (launch shapes, the dynamic shared memory
// limit). It says nothing about the CUDA memory model, PTX or performance.
#include <algorithm>
#include <chrono>
#include <array>
#include <barrier>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

// ---- The CUDA dialect the kernels use, as host C++ ----

struct dim3_ {
    unsigned int x, y, z;
};
thread_local dim3_ threadIdx, blockIdx;
dim3_ blockDim, gridDim;

#define __device__
#define __global__
#define __host__
#define __shared__ static
#define __forceinline__ inline
#define __launch_bounds__(...)

struct alignas(16) float4 {
    float x, y, z, w;
};

static inline int max(int a, int b) { return a > b ? a : b; }
static inline int min(int a, int b) { return a < b ? a : b; }
static inline float __uint_as_float(unsigned int u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
static inline float __int_as_float(int i) {
    float f;
    std::memcpy(&f, &i, 4);
    return f;
}
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }

static inline unsigned short dllm_emu_f32_to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fff; // canonical NaN, as cvt.rn.bf16.f32
    u += 0x7fffu + ((u >> 16) & 1u);
    return (unsigned short)(u >> 16);
}

// Per-block execution state shared by the block's threads.
struct BlockState {
    std::unique_ptr<std::barrier<>> bar;
    std::vector<std::unique_ptr<std::barrier<>>> warpBar;
    std::vector<std::array<double, 32>> exch;
    std::vector<std::array<uint32_t, 32 * 6>> frags; // per warp: each lane's mma operands
    std::vector<unsigned char> dyn;
};
thread_local BlockState *tBlock;
thread_local int tLane, tWarp;

static void *dllm_emu_dynamic_shared() { return tBlock->dyn.data(); }

static inline void __syncthreads() { tBlock->bar->arrive_and_wait(); }

template <class T> static T shfl_xor(T v, int o) {
    auto &x = tBlock->exch[tWarp];
    auto &b = *tBlock->warpBar[tWarp];
    x[tLane] = (double)v;
    b.arrive_and_wait();
    T r = (T)x[tLane ^ o];
    b.arrive_and_wait();
    return r;
}
static inline float __shfl_xor_sync(unsigned, float v, int o) { return shfl_xor(v, o); }

// dllm_emu_mma_bf16_16816 is mma.sync.m16n8k16.row.col.f32.bf16.bf16.f32:
// every lane posts its A and B registers, then computes its own four C
// elements from the whole warp's, with the fragment layouts of the PTX ISA
// (lane = 4g + t; A reg (r/8) + 2·(k/8) of lane 4·(r%8) + (k%8)/2; B reg k/8
// of lane 4n + (k%8)/2; C element i at row g + 8·(i/2), column 2t + i%2; the
// odd index in the high half). The products of bf16 values are exact in
// double; the sum is rounded to float once, as a tensor core's f32 result
// is at least as accurate as that.
static inline float emu_bf16(uint32_t w, int high) { return __uint_as_float((high ? w >> 16 : w & 0xffffu) << 16); }
static void dllm_emu_mma_bf16_16816(float (&c)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    auto &x = tBlock->frags[tWarp];
    auto &bar = *tBlock->warpBar[tWarp];
    for (int i = 0; i < 4; ++i) x[tLane * 6 + i] = a[i];
    x[tLane * 6 + 4] = b[0];
    x[tLane * 6 + 5] = b[1];
    bar.arrive_and_wait();
    auto A = [&](int r, int k) { return emu_bf16(x[(4 * (r % 8) + (k % 8) / 2) * 6 + r / 8 + 2 * (k / 8)], k & 1); };
    auto B = [&](int k, int n) { return emu_bf16(x[(4 * n + (k % 8) / 2) * 6 + 4 + k / 8], k & 1); };
    const int g = tLane / 4, t = tLane % 4;
    float r[4];
    for (int i = 0; i < 4; ++i) {
        int row = g + 8 * (i / 2), col = 2 * t + i % 2;
        double acc = 0;
        for (int k = 0; k < 16; ++k) acc += (double)A(row, k) * (double)B(k, col);
        r[i] = (float)((double)c[i] + acc);
    }
    bar.arrive_and_wait(); // every lane has read the operands before any posts new ones
    for (int i = 0; i < 4; ++i) c[i] = r[i];
}

static inline double __shfl_xor_sync(unsigned, double v, int o) { return shfl_xor(v, o); }

static inline float atomicAdd(float *p, float v) {
    uint32_t *u = reinterpret_cast<uint32_t *>(p);
    uint32_t old = __atomic_load_n(u, __ATOMIC_RELAXED), nw;
    float f;
    do {
        std::memcpy(&f, &old, 4);
        float s = f + v;
        std::memcpy(&nw, &s, 4);
    } while (!__atomic_compare_exchange_n(u, &old, nw, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return f;
}
static inline double atomicAdd(double *p, double v) {
    uint64_t *u = reinterpret_cast<uint64_t *>(p);
    uint64_t old = __atomic_load_n(u, __ATOMIC_RELAXED), nw;
    double f;
    do {
        std::memcpy(&f, &old, 8);
        double s = f + v;
        std::memcpy(&nw, &s, 8);
    } while (!__atomic_compare_exchange_n(u, &old, nw, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
    return f;
}

#define DLLM_EMULATE 1
#include "kernels.inc" // #include of every .cu file, written by emu_test.go

// ---- Kernel registry: name -> a launcher that unpacks kernelParams ----

struct Kernel {
    std::string name;
    std::vector<size_t> sizes; // bytes of each parameter
    std::function<void(void **)> invoke;
    int maxDynShared = 48 << 10;
};

template <class... A, size_t... I> static void invokeWith(void (*f)(A...), void **p, std::index_sequence<I...>) {
    f(*reinterpret_cast<A *>(p[I])...);
}
template <class... A> static Kernel makeKernel(const char *name, void (*f)(A...)) {
    Kernel k;
    k.name = name;
    k.sizes = {sizeof(A)...};
    k.invoke = [f](void **p) { invokeWith(f, p, std::index_sequence_for<A...>{}); };
    return k;
}
#define DLLM_KERNEL(name) makeKernel(#name, &name),
static std::vector<Kernel> kernels = {
#include "entries.inc" // DLLM_KERNEL(name) for every entry, written by emu_test.go
};

// ---- A pool of threads that run one block at a time ----

class Pool {
  public:
    void run(int n, const std::function<void(int)> &job) {
        std::unique_lock<std::mutex> lk(mu_);
        while ((int)threads_.size() < n) {
            int id = (int)threads_.size();
            uint64_t g0 = gen_; // the job below is generation g0 + 1
            threads_.emplace_back([this, id, g0] { work(id, g0); });
            threads_.back().detach();
        }
        job_ = &job;
        active_ = n;
        remaining_ = n;
        ++gen_;
        cv_.notify_all();
        done_.wait(lk, [this] { return remaining_ == 0; });
        job_ = nullptr;
    }

  private:
    void work(int id, uint64_t seen) {
        std::unique_lock<std::mutex> lk(mu_);
        for (;;) {
            cv_.wait(lk, [&] { return gen_ != seen; });
            seen = gen_;
            if (id >= active_) continue;
            const std::function<void(int)> *job = job_;
            lk.unlock();
            (*job)(id);
            lk.lock();
            if (--remaining_ == 0) done_.notify_all();
        }
    }
    std::mutex mu_;
    std::condition_variable cv_, done_;
    std::vector<std::thread> threads_;
    const std::function<void(int)> *job_ = nullptr;
    int active_ = 0, remaining_ = 0;
    uint64_t gen_ = 0;
};
static Pool pool;

static void runKernel(const Kernel &k, dim3_ grid, dim3_ block, int shmem, void **params) {
    int nt = (int)(block.x * block.y * block.z);
    int nw = (nt + 31) / 32;
    gridDim = grid;
    blockDim = block;
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx) {
                BlockState st;
                st.bar = std::make_unique<std::barrier<>>(nt);
                for (int w = 0; w < nw; ++w)
                    st.warpBar.push_back(std::make_unique<std::barrier<>>(std::min(32, nt - 32 * w)));
                st.exch.resize(nw);
                st.frags.resize(nw);
                st.dyn.assign((size_t)shmem + 16, 0xff); // NaN bytes: unwritten shared memory shows up
                std::function<void(int)> job = [&](int t) {
                    tBlock = &st;
                    tLane = t % 32;
                    tWarp = t / 32;
                    threadIdx = {(unsigned)t % block.x, ((unsigned)t / block.x) % block.y, (unsigned)t / (block.x * block.y)};
                    blockIdx = {bx, by, bz};
                    k.invoke(params);
                    st.warpBar[tWarp]->arrive_and_drop(); // an exited thread no longer takes part
                    st.bar->arrive_and_drop();
                };
                pool.run(nt, job);
            }
}

// ---- Driver API ----

extern "C" {
typedef int CUresult;

CUresult cuInit(unsigned int) { return 0; }
CUresult cuDriverGetVersion(int *v) { *v = 13000; return 0; }
CUresult cuGetErrorString(CUresult r, const char **s) {
    *s = r == 2 ? "emulator: out of memory" : r == 1 ? "emulator: invalid value" : "emulator: error";
    return 0;
}
CUresult cuDeviceGetCount(int *n) { *n = 1; return 0; }
CUresult cuDeviceGet(int *d, int o) { *d = o; return o == 0 ? 0 : 101; }
CUresult cuDeviceGetName(char *name, int len, int) {
    std::strncpy(name, "CPU emulator", len);
    return 0;
}
CUresult cuDeviceGetAttribute(int *v, int attr, int) {
    switch (attr) {
    case 16: *v = 2; break;           // multiprocessors
    case 75: *v = 9; break;           // compute capability 9.0
    case 76: *v = 0; break;
    case 97: *v = 227 << 10; break;   // shared memory opt-in
    default: return 1;
    }
    return 0;
}
CUresult cuDevicePrimaryCtxRetain(void **ctx, int) { *ctx = (void *)0xc0; return 0; }
CUresult cuDevicePrimaryCtxRelease_v2(int) { return 0; }
CUresult cuCtxSetCurrent(void *) { return 0; }

// ---- Failure injection, for the tests of the backend's error handling ----
// dllm_emu_fail(fn, code) makes the next call of driver function fn return
// code. A code that poisons a real context (700 illegal address, 719 launch
// failed, ...) poisons the emulated one too: from then on every call that
// checks returns it, until dllm_emu_reset. Other codes fail one call only.
static std::mutex failMu;
static std::string failFn;
static int failCode = 0, poisonedBy = 0;
static bool poisons(int c) {
    switch (c) {
    case 3: case 4: case 201: case 214: case 700: case 702: case 710: case 714:
    case 715: case 716: case 717: case 718: case 719: case 999:
        return true;
    }
    return false;
}
void dllm_emu_fail(const char *fn, int code) {
    std::lock_guard<std::mutex> l(failMu);
    failFn = fn;
    failCode = code;
}
void dllm_emu_reset() {
    std::lock_guard<std::mutex> l(failMu);
    failCode = poisonedBy = 0;
}
static CUresult injected(const char *fn) {
    std::lock_guard<std::mutex> l(failMu);
    if (poisonedBy) return poisonedBy;
    if (failCode && failFn == fn) {
        int c = failCode;
        failCode = 0;
        if (poisons(c)) poisonedBy = c;
        return c;
    }
    return 0;
}
#define INJECT(fn) \
    if (CUresult r_ = injected(fn)) return r_

CUresult cuCtxSynchronize() {
    INJECT("cuCtxSynchronize");
    return 0;
}

// DLLM_EMU_MEMORY caps the emulated device's memory in bytes (unset: no
// cap), so that the tests can drive the backend into out-of-memory.
static std::mutex memMu;
static std::map<uint64_t, size_t> allocated;
static size_t allocatedBytes = 0;
static size_t memoryCap() {
    const char *s = std::getenv("DLLM_EMU_MEMORY");
    return s ? (size_t)std::strtoull(s, nullptr, 10) : SIZE_MAX;
}
CUresult cuMemAlloc_v2(uint64_t *p, size_t n) {
    std::lock_guard<std::mutex> lk(memMu);
    if (allocatedBytes + n > memoryCap()) return 2;
    void *m = std::aligned_alloc(256, (n + 255) / 256 * 256);
    if (!m) return 2;
    std::memset(m, 0xa5, n); // device memory starts as garbage
    *p = (uint64_t)m;
    allocated[*p] = n;
    allocatedBytes += n;
    return 0;
}
CUresult cuMemFree_v2(uint64_t p) {
    std::lock_guard<std::mutex> lk(memMu);
    auto it = allocated.find(p);
    if (it == allocated.end()) return 1; // not an allocation: CUDA_ERROR_INVALID_VALUE
    allocatedBytes -= it->second;
    allocated.erase(it);
    std::free((void *)p);
    return 0;
}
CUresult cuMemGetInfo_v2(size_t *f, size_t *t) {
    std::lock_guard<std::mutex> lk(memMu);
    *t = memoryCap() == SIZE_MAX ? (size_t)8 << 30 : memoryCap();
    *f = *t > allocatedBytes ? *t - allocatedBytes : 0;
    return 0;
}

// Graph capture: while capturing, stream work is recorded instead of run.
static bool capturing = false;
static std::vector<std::function<void()>> *captured = nullptr;
static CUresult submit(std::function<void()> op) {
    if (capturing) {
        captured->push_back(std::move(op));
        return 0;
    }
    op();
    return 0;
}

CUresult cuMemcpyHtoD_v2(uint64_t d, const void *s, size_t n) { std::memcpy((void *)d, s, n); return 0; }
CUresult cuMemcpyDtoH_v2(void *d, uint64_t s, size_t n) {
    INJECT("cuMemcpyDtoH");
    std::memcpy(d, (void *)s, n);
    return 0;
}
CUresult cuMemcpyDtoD_v2(uint64_t d, uint64_t s, size_t n) { std::memmove((void *)d, (void *)s, n); return 0; }
CUresult cuMemcpyHtoDAsync_v2(uint64_t d, const void *s, size_t n, void *) {
    if (capturing) return 900; // host copies cannot be captured
    std::memcpy((void *)d, s, n);
    return 0;
}
CUresult cuMemcpyDtoHAsync_v2(void *d, uint64_t s, size_t n, void *) {
    if (capturing) return 900;
    std::memcpy(d, (void *)s, n);
    return 0;
}
CUresult cuMemcpyDtoDAsync_v2(uint64_t d, uint64_t s, size_t n, void *) {
    return submit([=] { std::memmove((void *)d, (void *)s, n); });
}
CUresult cuMemsetD8_v2(uint64_t d, unsigned char v, size_t n) { std::memset((void *)d, v, n); return 0; }
CUresult cuMemsetD32_v2(uint64_t d, unsigned int v, size_t n) {
    std::fill((uint32_t *)d, (uint32_t *)d + n, v);
    return 0;
}
CUresult cuMemsetD8Async(uint64_t d, unsigned char v, size_t n, void *) {
    return submit([=] { std::memset((void *)d, v, n); });
}
CUresult cuMemsetD32Async(uint64_t d, unsigned int v, size_t n, void *) {
    return submit([=] { std::fill((uint32_t *)d, (uint32_t *)d + n, v); });
}

// A "cubin" from the fake NVRTC is the source file's name; a module is a
// copy of it; a function is its Kernel.
CUresult cuModuleLoadData(void **m, const void *image) {
    *m = new std::string((const char *)image);
    return 0;
}
CUresult cuModuleUnload(void *m) { delete (std::string *)m; return 0; }
CUresult cuModuleGetFunction(void **f, void *, const char *name) {
    for (auto &k : kernels)
        if (k.name == name) {
            *f = &k;
            return 0;
        }
    return 500; // CUDA_ERROR_NOT_FOUND
}
CUresult cuFuncSetAttribute(void *f, int attr, int v) {
    if (attr != 8 || v > (227 << 10)) return 1;
    ((Kernel *)f)->maxDynShared = v;
    return 0;
}
CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned shmem, void *, void **params, void **extra) {
    INJECT("cuLaunchKernel");
    Kernel *k = (Kernel *)f;
    if (extra || !params) return 1;
    if (bx * by * bz == 0 || bx * by * bz > 1024 || gx == 0 || gy == 0 || gz == 0 || gy > 65535 || gz > 65535) return 1;
    if ((int)shmem > k->maxDynShared) return 1; // as the hardware: raise the limit first
    // Copy the parameter values now, as the driver does.
    auto bytes = std::make_shared<std::vector<std::vector<unsigned char>>>();
    for (size_t i = 0; i < k->sizes.size(); ++i)
        bytes->emplace_back((unsigned char *)params[i], (unsigned char *)params[i] + k->sizes[i]);
    dim3_ grid{gx, gy, gz}, block{bx, by, bz};
    return submit([=] {
        std::vector<void *> p;
        for (auto &b : *bytes) p.push_back(b.data());
        runKernel(*k, grid, block, (int)shmem, p.data());
    });
}

CUresult cuStreamCreate(void **s, unsigned) { *s = (void *)0x5; return 0; }
CUresult cuStreamDestroy_v2(void *) { return 0; }
CUresult cuStreamSynchronize(void *) {
    INJECT("cuStreamSynchronize");
    return capturing ? 900 : 0;
}
CUresult cuEventCreate(void **e, unsigned) { *e = new double(0); return 0; }
CUresult cuEventDestroy_v2(void *e) { delete (double *)e; return 0; }
CUresult cuEventRecord(void *e, void *) {
    *(double *)e = (double)std::chrono::steady_clock::now().time_since_epoch().count() / 1e6;
    return 0;
}
CUresult cuEventSynchronize(void *) { return 0; }
CUresult cuEventElapsedTime(float *ms, void *a, void *b) { *ms = (float)(*(double *)b - *(double *)a); return 0; }

CUresult cuStreamBeginCapture_v2(void *, int) {
    if (capturing) return 900;
    capturing = true;
    captured = new std::vector<std::function<void()>>();
    return 0;
}
CUresult cuStreamEndCapture(void *, void **g) {
    if (!capturing) return 900;
    capturing = false;
    *g = captured;
    captured = nullptr;
    return 0;
}
CUresult cuGraphInstantiateWithFlags(void **e, void *g, unsigned long long) { *e = g; return 0; }
CUresult cuGraphLaunch(void *e, void *) {
    for (auto &op : *(std::vector<std::function<void()>> *)e) submit(op);
    return 0;
}
CUresult cuGraphExecDestroy(void *) { return 0; }
CUresult cuGraphDestroy(void *g) { delete (std::vector<std::function<void()>> *)g; return 0; }

// ---- NVRTC ----

int nvrtcVersion(int *major, int *minor) { *major = 13; *minor = 0; return 0; }
const char *nvrtcGetErrorString(int) { return "emulated NVRTC error"; }
int nvrtcCreateProgram(void **prog, const char *, const char *name, int, const char *const *, const char *const *) {
    *prog = new std::string(name);
    return 0;
}
int nvrtcDestroyProgram(void **prog) { delete (std::string *)*prog; *prog = nullptr; return 0; }
int nvrtcCompileProgram(void *, int, const char *const *) { return 0; }
int nvrtcGetProgramLogSize(void *, size_t *n) { *n = 1; return 0; }
int nvrtcGetProgramLog(void *, char *log) { log[0] = 0; return 0; }
int nvrtcGetCUBINSize(void *prog, size_t *n) { *n = ((std::string *)prog)->size() + 1; return 0; }
int nvrtcGetCUBIN(void *prog, char *out) {
    std::strcpy(out, ((std::string *)prog)->c_str());
    return 0;
}

// ---- cuBLASLt ----

struct LtDesc {
    int transA = 0, transB = 0;
};
struct LtLayout {
    int type;
    uint64_t rows, cols;
    int64_t ld;
    int batch = 1;
    int64_t stride = 0;
};

int cublasLtCreate(void **h) { *h = (void *)0x17; return 0; }
int cublasLtDestroy(void *) { return 0; }
int cublasLtMatmulDescCreate(void **d, int compute, int scale) {
    if (compute != 68 || scale != 0) return 15;
    *d = new LtDesc();
    return 0;
}
int cublasLtMatmulDescDestroy(void *d) { delete (LtDesc *)d; return 0; }
int cublasLtMatmulDescSetAttribute(void *d, int attr, const void *buf, size_t n) {
    if (n != 4) return 7;
    if (attr == 3) ((LtDesc *)d)->transA = *(const int *)buf;
    else if (attr == 4) ((LtDesc *)d)->transB = *(const int *)buf;
    else return 7;
    return 0;
}
int cublasLtMatrixLayoutCreate(void **l, int type, uint64_t rows, uint64_t cols, int64_t ld) {
    if ((type != 0 && type != 14) || ld < (int64_t)rows) return 7;
    *l = new LtLayout{type, rows, cols, ld};
    return 0;
}
int cublasLtMatrixLayoutDestroy(void *l) { delete (LtLayout *)l; return 0; }
int cublasLtMatrixLayoutSetAttribute(void *l, int attr, const void *buf, size_t n) {
    if (attr == 5 && n == 4) ((LtLayout *)l)->batch = *(const int *)buf;
    else if (attr == 6 && n == 8) ((LtLayout *)l)->stride = *(const int64_t *)buf;
    else return 7;
    return 0;
}
int cublasLtMatmulPreferenceCreate(void **p) { *p = (void *)0x19; return 0; }
int cublasLtMatmulPreferenceDestroy(void *) { return 0; }
int cublasLtMatmulPreferenceSetAttribute(void *, int attr, const void *, size_t n) { return attr == 1 && n == 8 ? 0 : 7; }
int cublasLtMatmulAlgoGetHeuristic(void *, void *, void *, void *, void *, void *, void *, int req, void *res, int *found) {
    std::memset(res, 0, 96);
    *found = req > 0 ? 1 : 0;
    return 0;
}

static double ltGet(const LtLayout *l, const void *base, int64_t i) {
    if (l->type == 0) return ((const float *)base)[i];
    uint32_t u = (uint32_t)((const uint16_t *)base)[i] << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
static void ltSet(const LtLayout *l, void *base, int64_t i, double v) {
    if (l->type == 0) ((float *)base)[i] = (float)v;
    else ((uint16_t *)base)[i] = dllm_emu_f32_to_bf16((float)v);
}

int cublasLtMatmul(void *, void *desc, const void *alpha, const void *A, void *Ad, const void *B, void *Bd, const void *beta,
                   const void *C, void *Cd, void *D, void *Dd, const void *algo, void *, size_t, void *) {
    auto *d = (LtDesc *)desc;
    auto *la = (LtLayout *)Ad, *lb = (LtLayout *)Bd, *lc = (LtLayout *)Cd, *ld = (LtLayout *)Dd;
    if (!algo || C != D || lc != ld) return 7; // the backend always computes in place
    int64_t m = ld->rows, n = ld->cols, k = d->transA ? la->rows : la->cols;
    if ((int64_t)(d->transA ? la->cols : la->rows) != m || (int64_t)(d->transB ? lb->cols : lb->rows) != k ||
        (int64_t)(d->transB ? lb->rows : lb->cols) != n)
        return 7;
    if (la->batch != ld->batch || lb->batch != ld->batch) return 7;
    double al = *(const float *)alpha, be = *(const float *)beta;
    submit([=] {
        for (int p = 0; p < ld->batch; ++p) {
            for (int64_t j = 0; j < n; ++j)
                for (int64_t i = 0; i < m; ++i) {
                    double s = 0;
                    for (int64_t l = 0; l < k; ++l) {
                        double av = ltGet(la, A, p * la->stride + (d->transA ? l + i * la->ld : i + l * la->ld));
                        double bv = ltGet(lb, B, p * lb->stride + (d->transB ? j + l * lb->ld : l + j * lb->ld));
                        s += av * bv;
                    }
                    int64_t ci = p * ld->stride + i + j * ld->ld;
                    double v = al * s;
                    if (be != 0) v += be * ltGet(ld, D, ci);
                    ltSet(ld, D, ci, v);
                }
        }
    });
    return 0;
}
}
