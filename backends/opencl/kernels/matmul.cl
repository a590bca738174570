// Batched C = A @ B on contiguous row-major blocks, each work-item computing a
// RM x RN block of C in registers with vector loads of B; edges are masked, so any
// M, N, K works. Defines: T, TV (T vector of width RN), RM, RN (RN in {4, 8}).
// boff[batch * 2 + {0, 1}] give each batch's element offsets into A and B.

#ifdef NEED_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

#define VLOAD CONCAT(vload, RN)
#define VSTORE CONCAT(vstore, RN)
#define CONCAT(a, b) CONCAT2(a, b)
#define CONCAT2(a, b) a##b

__kernel void matmul(__global T* C, __global const T* A, __global const T* B,
                     __global const long* boff, const int M, const int N, const int K) {
    const int col0 = get_global_id(0) * RN;
    const int row0 = get_global_id(1) * RM;
    const long batch = get_global_id(2);
    if (row0 >= M || col0 >= N) return;
    __global const T* a = A + boff[2 * batch];
    __global const T* b = B + boff[2 * batch + 1];
    __global T* c = C + batch * (long)M * N;
    TV acc[RM];
    for (int r = 0; r < RM; ++r) acc[r] = (TV)(0);
    const int full = col0 + RN <= N;
    for (int k = 0; k < K; ++k) {
        TV bv;
        if (full) {
            bv = VLOAD(0, b + (long)k * N + col0);
        } else {
            T tmp[RN];
            for (int j = 0; j < RN; ++j) tmp[j] = col0 + j < N ? b[(long)k * N + col0 + j] : (T)0;
            bv = VLOAD(0, tmp);
        }
        for (int r = 0; r < RM; ++r) {
            const int row = row0 + r < M ? row0 + r : M - 1;
            acc[r] += a[(long)row * K + k] * bv;
        }
    }
    for (int r = 0; r < RM; ++r) {
        if (row0 + r >= M) break;
        if (full) {
            VSTORE(acc[r], 0, c + (long)(row0 + r) * N + col0);
        } else {
            T tmp[RN];
            VSTORE(acc[r], 0, tmp);
            for (int j = 0; j < RN && col0 + j < N; ++j) c[(long)(row0 + r) * N + col0 + j] = tmp[j];
        }
    }
}
