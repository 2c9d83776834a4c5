// axpby.cu: dst = alpha·src + beta·dst over F32. Scale is beta = 0 (dst is
// then not read, so NaNs in it do not leak through); AXPY is beta = 1.
#include "common.cuh"

extern "C" __global__ void axpby_f32(float *dst, const float *src, float alpha, float beta, long long n) {
    DLLM_FOR(i, n) {
        float v = alpha * src[i];
        if (beta != 0.0f) v += beta * dst[i];
        dst[i] = v;
    }
}
