// adamw.cu: one AdamW step in PyTorch's formulation (torch.optim.AdamW), as
// the CPU reference (tensor/cpu_adamw.go) does it:
//
//   param ← param·decay                           decay = 1 − lr·wd
//   m ← lerp(m, g, w1)                            w1 = 1 − β1
//   v ← β2·v + w2·g·g                             w2 = 1 − β2
//   param ← param − step·m / (√v / bc2sqrt + eps)
//
// with step = lr/(1 − β1ᵗ) and bc2sqrt = √(1 − β2ᵗ) computed on the host in
// float64. The __f*_rn intrinsics round every operation separately, as the
// CPU does, instead of letting the compiler fuse them into FMAs.
#include "common.cuh"

// lerp is torch.lerp: exact at both ends.
__device__ __forceinline__ float lerp_t(float a, float b, float w) {
    float diff = __fsub_rn(b, a);
    if (w < 0.5f) return __fadd_rn(a, __fmul_rn(w, diff));
    return __fsub_rn(b, __fmul_rn(diff, __fsub_rn(1.0f, w)));
}

extern "C" __global__ void adamw_f32(float *param, const float *grad, float *m, float *v, long long n, float decay,
                                     float step, float bc2sqrt, float w1, float beta2, float w2, float eps) {
    DLLM_FOR(i, n) {
        float g = grad[i];
        float p = __fmul_rn(param[i], decay);
        float mi = lerp_t(m[i], g, w1);
        float vi = __fadd_rn(__fmul_rn(v[i], beta2), __fmul_rn(__fmul_rn(w2, g), g));
        float denom = __fadd_rn(__fdiv_rn(sqrtf(vi), bc2sqrt), eps);
        p = __fadd_rn(p, __fdiv_rn(__fmul_rn(-step, mi), denom));
        param[i] = p;
        m[i] = mi;
        v[i] = vi;
    }
}
