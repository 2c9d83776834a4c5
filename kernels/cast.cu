// cast.cu: dtype conversions. F32 -> BF16 rounds to nearest even; BF16 -> F32
// is exact; I64 -> I32 keeps the low 32 bits (the Go wrapper documents that
// values must fit, as the contract says).
#include "common.cuh"

extern "C" __global__ void cast_f32_bf16(bf16 *dst, const float *src, long long n) {
    DLLM_FOR(i, n) dst[i] = f32_to_bf16(src[i]);
}

extern "C" __global__ void cast_bf16_f32(float *dst, const bf16 *src, long long n) {
    DLLM_FOR(i, n) dst[i] = bf16_to_f32(src[i]);
}

extern "C" __global__ void cast_i32_i64(long long *dst, const int *src, long long n) {
    DLLM_FOR(i, n) dst[i] = (long long)src[i];
}

extern "C" __global__ void cast_i64_i32(int *dst, const long long *src, long long n) {
    DLLM_FOR(i, n) dst[i] = (int)src[i];
}
