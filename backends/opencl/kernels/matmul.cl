// Batched C = A @ B. The host hands A transposed (At: K x M per batch, contiguous) so
// that each k step loads RM values of A and RN values of B as two vectors; each
// work-item keeps an RM x RN block of C in registers and accumulates with fma.
// Tiles on the right or bottom edge take a masked path, so any M, N, K works.
// Defines: T, TV (T vector of RN), TM (T vector of RM), RM, RN (each 4, 8 or 16).
// boff[2 * batch + {0, 1}] are the element offsets of each batch's At and B.

#ifdef NEED_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#define CONCAT(a, b) CONCAT2(a, b)
#define CONCAT2(a, b) a##b
#define VLOADN CONCAT(vload, RN)
#define VSTOREN CONCAT(vstore, RN)
#define VLOADM CONCAT(vload, RM)

#ifdef INTEGER
#define MAD(a, b, c) ((a) * (b) + (c))
#else
#define MAD(a, b, c) fma((a), (b), (c))
#endif

__kernel void matmul(__global T* C, __global const T* At, __global const T* B,
                     __global const long* boff, const int M, const int N, const int K) {
    const int col0 = get_global_id(0) * RN;
    const int row0 = get_global_id(1) * RM;
    const long batch = get_global_id(2);
    if (row0 >= M || col0 >= N) return;
    __global const T* a = At + boff[2 * batch];
    __global const T* b = B + boff[2 * batch + 1];
    __global T* c = C + batch * (long)M * N;
    TV acc[RM];
#pragma unroll
    for (int r = 0; r < RM; ++r) acc[r] = (TV)(0);
    if (row0 + RM <= M && col0 + RN <= N) {
        for (int k = 0; k < K; ++k) {
            const TV bv = VLOADN(0, b + (long)k * N + col0);
            const TM av = VLOADM(0, a + (long)k * M + row0);
#pragma unroll
            for (int r = 0; r < RM; ++r) acc[r] = MAD((TV)(av[r]), bv, acc[r]);
        }
#pragma unroll
        for (int r = 0; r < RM; ++r) VSTOREN(acc[r], 0, c + (long)(row0 + r) * N + col0);
        return;
    }
    for (int k = 0; k < K; ++k) {
        T tb[RN], ta[RM];
        for (int j = 0; j < RN; ++j) tb[j] = col0 + j < N ? b[(long)k * N + col0 + j] : (T)0;
        for (int r = 0; r < RM; ++r) ta[r] = row0 + r < M ? a[(long)k * M + row0 + r] : (T)0;
        const TV bv = VLOADN(0, tb);
        for (int r = 0; r < RM; ++r) acc[r] = MAD((TV)(ta[r]), bv, acc[r]);
    }
    for (int r = 0; r < RM && row0 + r < M; ++r) {
        T out[RN];
        VSTOREN(acc[r], 0, out);
        for (int j = 0; j < RN && col0 + j < N; ++j) c[(long)(row0 + r) * N + col0 + j] = out[j];
    }
}


#ifdef ROWS
// C (M x N) = A (M x K) @ W^T for a few rows (M <= ROWS) against W (N x K) row-major, as
// a decoding step's Linear meets its weight: each work-item takes one column n and reads
// W's row n once, contiguously, for every row of A (no transposed copy of W, no tile of
// C wasted on rows that do not exist). Defines: T, TV (T vector of VW), VW, ROWS.
#define VLOADV CONCAT(vload, VW)
#define VSTOREV CONCAT(vstore, VW)

__kernel void matmul_rows_nt(__global T* C, __global const T* A, __global const T* W,
                             const int M, const int N, const int K) {
    const int n = get_global_id(0);
    if (n >= N) return;
    __global const T* w = W + (long)n * K;
    TV acc[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; ++r) acc[r] = (TV)(0);
    int k = 0;
    for (; k + VW <= K; k += VW) {
        const TV wv = VLOADV(0, w + k);
#pragma unroll
        for (int r = 0; r < ROWS; ++r)
            if (r < M) acc[r] = MAD(VLOADV(0, A + (long)r * K + k), wv, acc[r]);
    }
    for (int r = 0; r < M; ++r) {
        T parts[VW];
        VSTOREV(acc[r], 0, parts);
        T sum = (T)0;
        for (int j = 0; j < VW; ++j) sum += parts[j];
        for (int t = k; t < K; ++t) sum = MAD(A[(long)r * K + t], w[t], sum);
        C[(long)r * N + n] = sum;
    }
}
#endif
