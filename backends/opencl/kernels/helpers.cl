// Put ahead of every elementwise kernel, eager or fused, that StridedBackend._fused_code
// renders (OpenCLBackend._compile).

#ifdef NEED_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

// bfloat16 is stored as its 16 bits and computed in float: the high half of a float32,
// rounded to nearest even (NaN to the quiet NaN of its sign, as ml_dtypes)
inline float ember_from_bf16(ushort b) { return as_float((uint)b << 16); }

inline ushort ember_to_bf16(float f) {
    uint u = as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 31) ? (ushort)0xffc0 : (ushort)0x7fc0;
    return (ushort)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

inline float ember_round_bf16(float f) { return ember_from_bf16(ember_to_bf16(f)); }

// float16 is stored as half and computed in float (no cl_khr_fp16 needed)
inline float ember_round_half(float f) {
    ushort bits;                  // a half variable needs cl_khr_fp16; a pointer to one does not
    vstore_half_rte(f, 0, (half *)&bits);
    return vload_half(0, (const half *)&bits);
}

#ifdef NEED_FP64
// float64 to a 16-bit float in one rounding (through float, it would round twice): to
// float rounding to odd (the lowest bit keeps what was dropped), then to nearest even
inline float ember_bf16_of_double(double d) {
    float f = convert_float_rtz(d);
    if ((double)f != d && !isnan(d)) f = as_float(as_uint(f) | 1u);
    return ember_round_bf16(f);
}

inline float ember_half_of_double(double d) {
    ushort bits;
    vstore_half_rte(d, 0, (half *)&bits);
    return vload_half(0, (const half *)&bits);
}
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

