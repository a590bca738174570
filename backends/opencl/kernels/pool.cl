// Max pooling of packed NCHW planes with the offset of each window's winner, and its
// adjoint. Defines: T, FLOAT (1: NaN checks), and the window as constants so that it
// unrolls: KH, KW (size), SH, SW (stride), DH, DW (dilation).

#ifdef NEED_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

// One work-item per output element; the first largest wins, and a window's first NaN.
__kernel void max_pool(__global T* out, __global int* index, __global const T* x,
                       const long h, const long w, const long oh, const long ow,
                       const long total) {
    const long o = get_global_id(0);
    if (o >= total) return;
    const long j = o % ow, i = (o / ow) % oh, plane = o / (ow * oh);
    __global const T* window = x + (plane * h + i * SH) * w + j * SW;
    T best = window[0];
    int k = 0;
    for (int p = 0; p < KH; p++) {
        for (int q = 0; q < KW; q++) {
            const T v = window[p * DH * w + q * DW];
#if FLOAT
            if (v > best || (isnan(v) && !isnan(best))) { best = v; k = p * KW + q; }
#else
            if (v > best) { best = v; k = p * KW + q; }
#endif
        }
    }
    out[o] = best;
    index[o] = k;
}

// One work-item per input element: the sum of the gradients of the windows it won
// (gathered, so overlapping windows need no atomics).
__kernel void max_unpool(__global T* out, __global const T* g, __global const int* index,
                         const long h, const long w, const long oh, const long ow,
                         const long total) {
    const long e = get_global_id(0);
    if (e >= total) return;
    const long c = e % w, r = (e / w) % h, plane = e / (w * h);
    T sum = 0;
    for (int p = 0; p < KH; p++) {
        const long rows = r - p * DH;
        if (rows < 0 || rows % SH || rows / SH >= oh) continue;
        for (int q = 0; q < KW; q++) {
            const long cols = c - q * DW;
            if (cols < 0 || cols % SW || cols / SW >= ow) continue;
            const long o = (plane * oh + rows / SH) * ow + cols / SW;
            if (index[o] == p * KW + q) sum += g[o];
        }
    }
    out[e] = sum;
}
