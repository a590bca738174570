// Put ahead of every elementwise kernel, eager or fused, that StridedBackend._fused_code
// renders (OpenCLBackend._compile).

#ifdef NEED_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

// integer power by squaring; negative exponents follow C integer division (0 unless |b| == 1)
inline long ember_ipow(long b, long e) {
    if (e < 0) return b == 1 ? 1 : (b == -1 ? ((e & 1) ? -1 : 1) : 0);
    long r = 1;
    while (e) {
        if (e & 1) r *= b;
        b *= b;
        e >>= 1;
    }
    return r;
}

