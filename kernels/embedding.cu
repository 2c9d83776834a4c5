// embedding.cu: row gathers and their backward scatters, for Embedding,
// EmbeddingBackward, GatherRows and ScatterAddRows.
//
// gather: dst[m, :] = src[idx[m], :] for src [nsrc, d].
// scatter_add: dst[idx[m], :] += src[m, :], skipping rows whose index is skip
// (the padding id; −1 skips none). Indices repeat (a token occurs many times),
// so the adds are atomic. An index outside [0, n) is a caller bug that the
// kernel cannot report; it writes NaN (gather) or drops the row (scatter)
// rather than touch memory outside the table.
#include "common.cuh"

extern "C" __global__ void gather_rows_f32(float *dst, const float *src, const int *idx, long long m, int d, int nsrc) {
    long long n = m * d;
    DLLM_FOR(i, n) {
        long long r = i / d;
        int c = (int)(i - r * d);
        int id = idx[r];
        dst[i] = (id >= 0 && id < nsrc) ? src[(long long)id * d + c] : __int_as_float(0x7fc00000);
    }
}

extern "C" __global__ void scatter_add_rows_f32(float *dst, const float *src, const int *idx, long long m, int d,
                                                int ndst, int skip) {
    long long n = m * d;
    DLLM_FOR(i, n) {
        long long r = i / d;
        int c = (int)(i - r * d);
        int id = idx[r];
        if (id == skip || id < 0 || id >= ndst) continue;
        atomicAdd(dst + (long long)id * d + c, src[i]);
    }
}
