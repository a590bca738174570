// gather (numpy.take along one axis) and its adjoint scatter_add, on contiguous
// data viewed as (pre, axis, post); idx is a flat list of n indices.
// Defines: T, and ATOMIC (below) choosing the atomic add for the element type.

#ifdef NEED_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif
#pragma OPENCL EXTENSION cl_khr_int64_base_atomics : enable

// ATOMIC: 1 float, 2 double, 3 int or uint, 4 long or ulong, 5 uchar (bool: or, last writer
// wins), 0 none (complex: scatter_add runs on the parts, so only gather is built)
#if ATOMIC == 1
inline void ATOMIC_ADD(volatile __global float* p, float v) {
    union { unsigned int u; float f; } old, upd;
    do { old.f = *p; upd.f = old.f + v; }
    while (atomic_cmpxchg((volatile __global unsigned int*)p, old.u, upd.u) != old.u);
}
#elif ATOMIC == 2
inline void ATOMIC_ADD(volatile __global double* p, double v) {
    union { unsigned long u; double f; } old, upd;
    do { old.f = *p; upd.f = old.f + v; }
    while (atom_cmpxchg((volatile __global unsigned long*)p, old.u, upd.u) != old.u);
}
#elif ATOMIC == 3
#define ATOMIC_ADD(p, v) atomic_add((p), (v))
#elif ATOMIC == 4
#define ATOMIC_ADD(p, v) atom_add((p), (v))
#elif ATOMIC == 5
#define ATOMIC_ADD(p, v) (*(p) = (uchar)(*(p) | (v)))
#endif

// Element i of the (pre, n, post) index space lies at this position of the data.
inline long data_position(const long i, __global const long* idx, const long axis_len,
                          const long n, const long post) {
    const long q = i % post;
    const long j = (i / post) % n;
    const long p = i / (post * n);
    return (p * axis_len + idx[j]) * post + q;
}

__kernel void gather(__global T* out, __global const T* x, __global const long* idx,
                     const long axis_len, const long n, const long post, const long total) {
    const long i = get_global_id(0);
    if (i < total) out[i] = x[data_position(i, idx, axis_len, n, post)];
}

#if ATOMIC
__kernel void scatter_add(__global T* out, __global const T* src, __global const long* idx,
                          const long axis_len, const long n, const long post, const long total) {
    const long i = get_global_id(0);
    if (i < total) ATOMIC_ADD(out + data_position(i, idx, axis_len, n, post), src[i]);
}
#endif
