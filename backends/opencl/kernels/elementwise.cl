// One strided, broadcasting elementwise kernel for every unary, binary and ternary
// primitive. Built per (operation, types, rank) with these defines:
//   TO, TA, TB, TC   element types of the output and the inputs
//   OP(a, b, c)      the expression (unary ops ignore b and c)
//   NDIM             rank of the output; 0 selects the contiguous variant
//   IDX              int or long: the type of the index arithmetic
// meta holds, for NDIM > 0: shape[NDIM], then the strides (in elements) of out, a, b, c.
// helpers.cl comes first (ember_ipow).


#if NDIM == 0
__kernel void ew(__global TO* out, const long oo, __global const TA* a, const long oa,
                 __global const TB* b, const long ob, __global const TC* c, const long oc,
                 __global const long* meta, const long n) {
    const long i = get_global_id(0);
    if (i >= n) return;
    const TA x = a[oa + i];
#if NARGS > 1
    const TB y = b[ob + i];
#else
    const TB y = 0;
#endif
#if NARGS > 2
    const TC z = c[oc + i];
#else
    const TC z = 0;
#endif
    out[oo + i] = OP(x, y, z);
}
#else
__kernel void ew(__global TO* out, const long oo, __global const TA* a, const long oa,
                 __global const TB* b, const long ob, __global const TC* c, const long oc,
                 __global const long* meta, const long n) {
    const long i = get_global_id(0);
    if (i >= n) return;
    long po = oo, pa = oa, pb = ob, pc = oc;
    IDX rem = (IDX)i;
    for (int d = NDIM - 1; d >= 0; --d) {
        const IDX extent = (IDX)meta[d];
        const IDX k = rem % extent;    // IDX is int when the output has < 2^31 elements
        rem /= extent;
        po += k * meta[NDIM + d];
        pa += k * meta[2 * NDIM + d];
        pb += k * meta[3 * NDIM + d];
        pc += k * meta[4 * NDIM + d];
    }
    const TA x = a[pa];
#if NARGS > 1
    const TB y = b[pb];
#else
    const TB y = 0;
#endif
#if NARGS > 2
    const TC z = c[pc];
#else
    const TC z = 0;
#endif
    out[po] = OP(x, y, z);
}
#endif
