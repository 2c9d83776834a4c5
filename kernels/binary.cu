// binary.cu: dst = a (op) b elementwise over F32, op 0 add, 1 subtract,
// 2 multiply. dst may alias a or b: each element is read before it is written
// by the same thread.
#include "common.cuh"

extern "C" __global__ void binary_f32(float *dst, const float *a, const float *b, long long n, int op) {
    DLLM_FOR(i, n) {
        float x = a[i], y = b[i];
        dst[i] = op == 0 ? x + y : (op == 1 ? x - y : x * y);
    }
}
