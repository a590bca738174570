// argmax along the rows of a contiguous (rows, length) matrix: one work-group per row,
// each work-item scanning a strided share of the row, then a tree in local memory.
// Defines: T (element), WG (work-group size, a power of two), GREATER(a, b).
// (sum, max and min are rendered by StridedBackend._fused_code.)

#ifdef NEED_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

// The first index of the largest value (NaN counts as largest, as NumPy).
__kernel void argmax_rows(__global long* out, __global const T* x, const long length) {
    __local T best[WG];
    __local long where[WG];
    const long row = get_group_id(0);
    const int lid = get_local_id(0);
    __global const T* r = x + row * length;
    T b = r[0];
    long w = 0;
    for (long j = lid; j < length; j += WG) {
        const T v = r[j];
        if (GREATER(v, b) || (j < w && !GREATER(b, v))) { b = v; w = j; }
    }
    best[lid] = b;
    where[lid] = w;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = WG / 2; s > 0; s >>= 1) {
        if (lid < s) {
            const T v = best[lid + s];
            const long k = where[lid + s];
            if (GREATER(v, best[lid]) || (!GREATER(best[lid], v) && k < where[lid])) {
                best[lid] = v;
                where[lid] = k;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) out[row] = where[0];
}
