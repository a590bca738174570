// Put ahead of every elementwise kernel, eager or fused, that StridedBackend._fused_code
// renders (OpenCLBackend._compile): the lines above the first section, and each section
// that defines a name the kernel or an included section uses. A section starts at its
// "//@" line, which lists the names it defines (kernels.helpers_for); a section uses only
// those defined above it.

#ifdef NEED_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
#endif

//@ ember_from_bf16 ember_to_bf16 ember_round_bf16
// bfloat16 is stored as its 16 bits and computed in float: the high half of a float32,
// rounded to nearest even (NaN to the quiet NaN of its sign, as ml_dtypes)
inline float ember_from_bf16(ushort b) { return as_float((uint)b << 16); }

inline ushort ember_to_bf16(float f) {
    uint u = as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 31) ? (ushort)0xffc0 : (ushort)0x7fc0;
    return (ushort)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

inline float ember_round_bf16(float f) { return ember_from_bf16(ember_to_bf16(f)); }

//@ ember_round_half
// float16 is stored as half and computed in float (no cl_khr_fp16 needed)
inline float ember_round_half(float f) {
    ushort bits;                  // a half variable needs cl_khr_fp16; a pointer to one does not
    vstore_half_rte(f, 0, (half *)&bits);
    return vload_half(0, (const half *)&bits);
}

//@ EMBER_FLOAT_DIVISION EMBER_INT_DIVISION ember_remainder ember_floor_divide
// Python's // and % (ember.ops.division composes them of fmod; here one kernel): the
// remainder takes y's sign, a float's floored quotient is (x - fmod) / y corrected by a
// rounding (exact where floor(x / y) would round), floor(x / y) past an infinity; an
// integer // or % by 0 is 0 and INT_MIN // -1 wraps (C leaves both undefined)
#define EMBER_FLOAT_DIVISION(T) \
inline __attribute__((overloadable)) T ember_remainder(const T x, const T y) { \
    const T r = fmod(x, y); \
    return r == (T)0 ? copysign((T)0, y) : ((r < (T)0) != (y < (T)0)) ? r + y : r; \
} \
inline __attribute__((overloadable)) T ember_floor_divide(const T x, const T y) { \
    if (y == (T)0) return x / y; \
    if (isinf(x) || isinf(y)) return floor(x / y); \
    const T mod = fmod(x, y); \
    T q = (x - mod) / y; \
    if (mod != (T)0 && (mod < (T)0) != (y < (T)0)) q -= (T)1; \
    if (q == (T)0) return copysign((T)0, x / y); \
    const T f = floor(q); \
    return q - f > (T)0.5 ? f + (T)1 : f; \
}
#define EMBER_INT_DIVISION(T) \
inline __attribute__((overloadable)) T ember_remainder(const T x, const T y) { \
    if (y == (T)0 || ((T)-1 < (T)0 && y == (T)-1)) return (T)0; \
    const T r = x % y; \
    return (r != (T)0 && ((r < (T)0) != (y < (T)0))) ? (T)(r + y) : r; \
} \
inline __attribute__((overloadable)) T ember_floor_divide(const T x, const T y) { \
    if (y == (T)0) return (T)0; \
    if ((T)-1 < (T)0 && y == (T)-1) return (T)(-x); \
    const T q = x / y, r = (T)(x - q * y); \
    return (r != (T)0 && ((r < (T)0) != (y < (T)0))) ? (T)(q - (T)1) : q; \
}
EMBER_FLOAT_DIVISION(float)
EMBER_INT_DIVISION(char)
EMBER_INT_DIVISION(uchar)
EMBER_INT_DIVISION(short)
EMBER_INT_DIVISION(ushort)
EMBER_INT_DIVISION(int)
EMBER_INT_DIVISION(uint)
EMBER_INT_DIVISION(long)
EMBER_INT_DIVISION(ulong)

//@ EMBER_TO_FLOAT8 ember_to_e4m3fn ember_to_e5m2 ember_to_e4m3fnuz ember_to_e5m2fnuz
//@ EMBER_FROM_FLOAT8 ember_from_e4m3fn ember_from_e5m2 ember_from_e4m3fnuz ember_from_e5m2fnuz
// the 8-bit floats are stored as their bits (uchar) and only cast: decoded to float,
// encoded from float rounding to nearest even; float8_e4m3fn saturates at +-448 (as
// PyTorch's cast), float8_e5m2 overflows to inf, the fnuz ones to their one NaN (0x80,
// and they have no -0); NaN coded as ml_dtypes codes it
#define EMBER_TO_FLOAT8(NAME, M, BIAS, NAN_BITS, OVER, OVER_BITS, MIN_NORMAL, SUB_SCALE,      \
                        SIGNED_ZERO)                                                          \
inline uchar ember_to_##NAME(float f) {                                                   \
    uchar s = (uchar)((as_uint(f) >> 24) & 0x80u), r;                                     \
    float a = fabs(f);                                                                    \
    if (isnan(f)) return s | NAN_BITS;                                                    \
    if (a >= OVER) return s | OVER_BITS;                                                  \
    if (a < MIN_NORMAL) {                                                                 \
        r = (uchar)rint(a * SUB_SCALE);                                                   \
    } else {                                                                              \
        uint u = as_uint(a);                                                              \
        u = (u + ((1u << (22 - M)) - 1u) + ((u >> (23 - M)) & 1u)) >> (23 - M);           \
        r = (uchar)(u - ((127u - BIAS) << M));                                            \
    }                                                                                     \
    return (r == 0 && !SIGNED_ZERO) ? (uchar)0 : s | r;                                   \
}
EMBER_TO_FLOAT8(e4m3fn, 3, 7, 0x7f, 464.0f, 0x7e, 0x1p-6f, 0x1p9f, 1)
EMBER_TO_FLOAT8(e5m2, 2, 15, 0x7e, 61440.0f, 0x7c, 0x1p-14f, 0x1p16f, 1)
EMBER_TO_FLOAT8(e4m3fnuz, 3, 8, 0x80, 248.0f, 0x80, 0x1p-7f, 0x1p10f, 0)
EMBER_TO_FLOAT8(e5m2fnuz, 2, 16, 0x80, 61440.0f, 0x80, 0x1p-15f, 0x1p17f, 0)

// decoded: NAN_TEST on the exponent e and significand m, or (fnuz) the code 0x80
#define EMBER_FROM_FLOAT8(NAME, M, BIAS, SUB_STEP, SPECIAL)                                \
inline float ember_from_##NAME(uchar b) {                                                 \
    uint e = (b & 0x7fu) >> M, m = b & ((1u << M) - 1u);                                  \
    float v = e == 0 ? (float)m * SUB_STEP : as_float(((e + 127u - BIAS) << 23) | (m << (23 - M))); \
    SPECIAL                                                                               \
    return (b & 0x80) ? -v : v;                                                           \
}
EMBER_FROM_FLOAT8(e4m3fn, 3, 7, 0x1p-9f, if (e == 15 && m == 7) return NAN;)
EMBER_FROM_FLOAT8(e5m2, 2, 15, 0x1p-16f, if (e == 31) return m ? NAN : (b & 0x80) ? -INFINITY : INFINITY;)
EMBER_FROM_FLOAT8(e4m3fnuz, 3, 8, 0x1p-10f, if (b == 0x80) return NAN;)
EMBER_FROM_FLOAT8(e5m2fnuz, 2, 16, 0x1p-17f, if (b == 0x80) return NAN;)

//@ ember_remainder ember_floor_divide
#ifdef NEED_FP64
EMBER_FLOAT_DIVISION(double)
#endif

//@ ember_float_odd ember_bf16_of_double ember_half_of_double
#ifdef NEED_FP64
// float64 to float rounding to odd, whose rounding to a narrower float is then the one
// rounding (through float to nearest, it would round twice)
inline float ember_float_odd(double d) {
    float f = convert_float_rtz(d);
    return ((double)f != d && !isnan(d)) ? as_float(as_uint(f) | 1u) : f;
}

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

//@ ember_ipow
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

//@ EMBER_EXP_LOG ember_exp ember_log ember_log1p
// float32 exp, log and log1p that pocl's work-group vectorizer can vectorize: pocl's
// log and log1p call SLEEF's scalar functions, which keeps a kernel to one element at a
// time (17 and 25 times slower than exp), and its exp is 1.6 times slower than this one.
// Cephes' polynomials; worst over all floats: exp 1.010 ULP, log 0.827, log1p 1.437
// (tests/test_opencl.py). Written for float (T) with int (I) and for float16 with int16,
// the lanes of a vector kernel (OpenCLBackend._lanes): the same steps, lane by lane, so
// every lane's bits are the scalar function's. A comparison is then -1 where it holds,
// so it serves only as a ?: condition.
#define EMBER_EXP_LOG(T, I) \
inline __attribute__((overloadable, always_inline)) T ember_exp(const T x) { \
    /* 2^k exp(r), r = x - k ln2 in [-ln2/2, ln2/2]; 2^k in two factors, so a result \
       past FLT_MAX is inf and one below FLT_MIN rounds once, to a subnormal or 0. The \
       clamp keeps a NaN, which every step then carries */ \
    const T xc = x < -104.0f ? -104.0f : x > 89.0f ? 89.0f : x; \
    const T k = fma(xc, 1.44269504088896341f, 12582912.0f) - 12582912.0f;   /* rint */ \
    const T r = fma(k, 2.12194440e-4f, fma(k, -0.693359375f, xc)); \
    T p = fma(1.9875691500e-4f, r, 1.3981999507e-3f); \
    p = fma(p, r, 8.3334519073e-3f); \
    p = fma(p, r, 4.1665795894e-2f); \
    p = fma(p, r, 1.6666665459e-1f); \
    p = fma(p, r, 5.0000001201e-1f); \
    p = fma(p, r * r, r) + 1.0f; \
    const I ki = convert_##I(k), k1 = ki >> 1; \
    return p * as_##T((k1 + 127) << 23) * as_##T((ki - k1 + 127) << 23); \
} \
inline __attribute__((overloadable, always_inline)) T ember_log(const T x) { \
    /* x = m 2^e with m in [sqrt(1/2), sqrt(2)): log x = e ln2 + log(1 + f), f = m - 1 \
       exact; a subnormal x is scaled by 2^23 first */ \
    const I sub = x < 0x1p-126f; \
    const I bits = as_##I(sub ? x * 0x1p23f : x); \
    const T m = as_##T((bits & 0x007fffff) | 0x3f800000);       /* in [1, 2) */ \
    const I big = m > 1.41421356f; \
    const T f = (big ? m * 0.5f : m) - 1.0f; \
    const T e = convert_##T(((bits >> 23) & 0xff) - 127 + (big ? 1 : 0) - (sub ? 23 : 0)); \
    const T z = f * f; \
    T p = fma(7.0376836292e-2f, f, -1.1514610310e-1f); \
    p = fma(p, f, 1.1676998740e-1f); \
    p = fma(p, f, -1.2420140846e-1f); \
    p = fma(p, f, 1.4249322787e-1f); \
    p = fma(p, f, -1.6668057665e-1f); \
    p = fma(p, f, 2.0000714765e-1f); \
    p = fma(p, f, -2.4999993993e-1f); \
    p = fma(p, f, 3.3333331174e-1f); \
    T y = fma(e, -2.12194440e-4f, p * f * z); \
    y = fma(z, -0.5f, y); \
    const T r = fma(e, 0.693359375f, f + y); \
    return x != x ? x : x < 0.0f ? NAN : x == 0.0f ? -INFINITY : x == INFINITY ? x : r; \
} \
inline __attribute__((overloadable, always_inline)) T ember_log1p(const T x) { \
    /* log(u) + c / u, u = 1 + x rounded and c = x - (u - 1) what the rounding dropped */ \
    const T u = 1.0f + x; \
    const T r = ember_log(u) + (x - (u - 1.0f)) / u; \
    return (u == 1.0f || x == INFINITY) ? x : u == 0.0f ? -INFINITY : r; \
}
EMBER_EXP_LOG(float, int)
EMBER_EXP_LOG(float16, int16)
#ifdef NEED_FP64
inline __attribute__((overloadable)) double ember_exp(const double x) { return exp(x); }
inline __attribute__((overloadable)) double ember_log(const double x) { return log(x); }
inline __attribute__((overloadable)) double ember_log1p(const double x) { return log1p(x); }
#endif

//@ EMBER_GELU_TANH ember_gelu_tanh_e ember_gelu_tanh ember_gelu_tanh_grad
// GELU's tanh form and its gradient (ember.ops.activation.GeluTanh, GeluTanhGrad: the
// same steps as its primitives, in one kernel), with e = exp(-2u), u = c (x + a x^3)
#define EMBER_GELU_TANH(T) \
inline __attribute__((overloadable, always_inline)) T ember_gelu_tanh_e(const T x) { \
    return ember_exp((x + x * x * x * (T)0.044715) * (T)-1.5957691216057308); \
} \
inline __attribute__((overloadable, always_inline)) T ember_gelu_tanh(const T x) { \
    return x / (ember_gelu_tanh_e(x) + (T)1); \
} \
inline __attribute__((overloadable, always_inline)) T ember_gelu_tanh_grad(const T g, \
                                                                           const T x) { \
    const T s = (T)1 / (ember_gelu_tanh_e(x) + (T)1), xc = fmin(fmax(x, (T)-100), (T)100); \
    const T du = (xc * xc * (T)0.134145 + (T)1) * (T)1.5957691216057308; \
    return g * (xc * du * s * ((T)1 - s) + s); \
}
EMBER_GELU_TANH(float)
#ifdef NEED_FP64
EMBER_GELU_TANH(double)
#endif

//@ EMBER_ERF_OF_BUILTINS ember_erf ember_gelu ember_gelu_grad
// erf, the exact GELU and its gradient from the builtins, in type T: double's own
// precision, and float's on a device without float64 (below: float through float64)
#define EMBER_ERF_OF_BUILTINS(T) \
inline __attribute__((overloadable)) T ember_erf(const T x) { return erf(x); } \
inline __attribute__((overloadable)) T ember_gelu(const T x) { \
    const T e = erfc(fabs(x) * (T)0.7071067811865476); \
    return (T)0.5 * x * (x < (T)0 ? e : (T)2 - e); \
} \
inline __attribute__((overloadable)) T ember_gelu_grad(const T g, const T x) { \
    const T e = erfc(fabs(x) * (T)0.7071067811865476), held = fmin(fmax(x, (T)-100), (T)100); \
    return g * ((T)0.5 * (x < (T)0 ? e : (T)2 - e) \
                + held * exp((T)-0.5 * x * x) * (T)0.3989422804014327); \
}

//@ ember_rint ember_exp_tail ember_exp2_wide
// float32 pow, expm1, sin, cos, erf and GELU through float64 where the device has it
// (pocl's are scalar SLEEF calls, 40 to 150 times slower than exp), below
#ifdef cl_khr_fp64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
// the nearest integer to a, |a| <= 2^51 (pocl's rint is a slow library call)
inline __attribute__((always_inline)) double ember_rint(const double a) {
    return (a + 0x1.8p52) - 0x1.8p52;
}

// (exp(r) - 1 - r) / r^2 by its Taylor series: 1/2 + r/6 + ... + r^8/10!
inline __attribute__((always_inline)) double ember_exp_tail(const double r) {
    double p = fma(r, 1.0 / 3628800, 1.0 / 362880);
    p = fma(p, r, 1.0 / 40320);
    p = fma(p, r, 1.0 / 5040);
    p = fma(p, r, 1.0 / 720);
    p = fma(p, r, 1.0 / 120);
    p = fma(p, r, 1.0 / 24);
    p = fma(p, r, 1.0 / 6);
    return fma(p, r, 0.5);
}

// 2^t = 2^k 2^r, r = t - k in [-1/2, 1/2]: exp(r ln2) by its Taylor series to r^10
inline __attribute__((always_inline)) double ember_exp2_wide(const double t) {
    const double tc = fmin(fmax(t, -200.0), 200.0);
    const double k = ember_rint(tc);
    const double r = (tc - k) * 0.6931471805599453;
    const double p = fma(ember_exp_tail(r) * r, r, r) + 1.0;
    return t != t ? t : p * as_double((long)((int)k + 1023) << 52);
}
#endif

//@ ember_expm1
// expm1 and pow: each float32 result within 2^-31 before its one rounding to float
#ifdef cl_khr_fp64
inline __attribute__((overloadable, always_inline)) float ember_expm1(const float x) {
    // the Taylor series to x^10 where |x| < ln2/2; elsewhere exp(x) - 1 loses 2 bits of 53
    const double d = x;
    const double near0 = fma(ember_exp_tail(d) * d, d, d);
    const double far = ember_exp2_wide(d * 1.4426950408889634) - 1.0;
    return (x == 0.0f || x != x) ? x : (float)(fabs(d) < 0.34657359027997264 ? near0 : far);
}
#else
inline __attribute__((overloadable)) float ember_expm1(const float x) { return expm1(x); }
#endif
#ifdef NEED_FP64
inline __attribute__((overloadable)) double ember_expm1(const double x) { return expm1(x); }
#endif

//@ ember_pow
#ifdef cl_khr_fp64
// |x|^y = 2^(y log2 |x|), log2 from the series of atanh; then C's signs and special cases
inline __attribute__((overloadable, always_inline)) float ember_pow(const float x, const float y) {
    const double ax = fabs((double)x);
    const long bits = as_long(ax);
    const double m0 = as_double((bits & 0x000fffffffffffffL) | 0x3ff0000000000000L);  // [1, 2)
    const int big = m0 > 1.4142135623730951;
    const double m = big ? m0 * 0.5 : m0;
    // log2 m = 2 atanh(s) / ln2, s = (m - 1) / (m + 1) in [-0.172, 0.172]
    const double s = (m - 1.0) / (m + 1.0), s2 = s * s;
    double q = fma(s2, 1.0 / 13, 1.0 / 11);
    q = fma(q, s2, 1.0 / 9);
    q = fma(q, s2, 1.0 / 7);
    q = fma(q, s2, 1.0 / 5);
    q = fma(q, s2, 1.0 / 3);
    q = fma(q, s2, 1.0);
    // float's subnormals are normal doubles; 0 and inf give -inf and inf
    const double e = (double)((int)((bits >> 52) & 0x7ff) - 1023 + big);
    const double l2 = ax != ax ? ax : ax == 0.0 ? -INFINITY : ax == INFINITY ? INFINITY
        : e + s * q * 2.8853900817779268;   // 2 / ln2
    const float mag = (float)ember_exp2_wide((double)y * l2);
    // signs and the cases C's pow names: x^0 = 1^y = 1 (NaN too), (-1)^(+-inf) = 1, a
    // negative x to an odd integer power is negative and to a non-integer one NaN
    const int small = fabs(y) < 0x1p24f;
    const int yi = small ? (int)y : 0;
    const int integer = !small || (float)yi == y;
    const int odd = small && (float)yi == y && (yi & 1);
    return (y == 0.0f || x == 1.0f || (fabs(x) == 1.0f && isinf(y))) ? 1.0f
        : (x < 0.0f && isfinite(x) && !integer) ? NAN
        : (signbit(x) && odd) ? -mag : mag;
}
#else
inline __attribute__((overloadable)) float ember_pow(const float x, const float y) { return pow(x, y); }
#endif
#ifdef NEED_FP64
inline __attribute__((overloadable)) double ember_pow(const double x, const double y) { return pow(x, y); }
#endif

//@ EMBER_TAKE_WHOLE ember_sin_or_cos ember_sin ember_cos
#ifdef cl_khr_fp64
// sin and cos of float32 through float64 (pocl's are scalar SLEEF calls, 40 times slower
// than exp). x 2/pi is summed from 2/pi in four doubles, the products with the first
// three exact (fma), each term's whole part (mod 4: the quadrant) taken off as it comes
// in, so the remainder keeps its bits for every float32 (3.4e38 included); r = that
// remainder times pi/2, |r| <= pi/4, into the Taylor series of sin and cos. Scalars only:
// a double2 or a pointer to a private variable keeps pocl from vectorizing (30-100x)

// term T into the remainder s (in [-1/2, 1/2]) and its whole quarter turns k: T mod 4 in
// [-2, 2], exactly (a double past 2^54 is 0 mod 4: clamped there), less the nearest
// multiple of 8, then of 4 (no select: one keeps pocl from vectorizing), then its whole part
#define EMBER_TAKE_WHOLE(T) { \
    const double t_ = fmin(fmax((T), -0x1p54), 0x1p54); \
    const double e_ = t_ - ((t_ + 0x1.8p55) - 0x1.8p55); \
    const double u_ = e_ - ((e_ + 0x1.8p54) - 0x1.8p54); \
    const double w_ = ember_rint(u_), v_ = s + (u_ - w_), z_ = ember_rint(v_); \
    s = v_ - z_; \
    k += w_ + z_; \
}

// sin(x) (cosine = 0) or cos(x) (cosine = 1), x = r + k pi/2, |r| <= pi/4
inline __attribute__((always_inline)) float ember_sin_or_cos(const float xf, const int cosine) {
    const double x = xf, c0 = 0.6366197723675814, c1 = -3.935735335036497e-17,
                 c2 = -2.1442872565786008e-33, c3 = 1.6107127853188224e-49;
    const double p0 = x * c0, p1 = x * c1, p2 = x * c2;
    double s = 0.0, k = 0.0;
    EMBER_TAKE_WHOLE(p0)
    EMBER_TAKE_WHOLE(fma(x, c0, -p0))
    EMBER_TAKE_WHOLE(p1)
    EMBER_TAKE_WHOLE(fma(x, c1, -p1))
    EMBER_TAKE_WHOLE(p2)
    EMBER_TAKE_WHOLE(fma(x, c2, -p2))
    EMBER_TAKE_WHOLE(x * c3)
    const double r = s * 1.5707963267948966, z = r * r;
    double ps = fma(z, 1.0 / 6227020800, -1.0 / 39916800);     // sin r to r^13
    ps = fma(ps, z, 1.0 / 362880);
    ps = fma(ps, z, -1.0 / 5040);
    ps = fma(ps, z, 1.0 / 120);
    ps = fma(ps, z, -1.0 / 6);
    const double sin_r = fma(ps * z, r, r);
    double pc = fma(z, 1.0 / 87178291200, -1.0 / 479001600);   // cos r to r^14
    pc = fma(pc, z, 1.0 / 3628800);
    pc = fma(pc, z, -1.0 / 40320);
    pc = fma(pc, z, 1.0 / 720);
    pc = fma(pc, z, -1.0 / 24);
    pc = fma(pc, z, 0.5);
    const double cos_r = fma(-pc, z, 1.0);
    const int q = (int)k + cosine;                  // cos x = sin(x + pi/2)
    const double v = (q & 1) ? cos_r : sin_r;
    return xf - xf != 0.0f ? xf - xf                       /* inf and NaN: NaN */
        : (!cosine && xf == 0.0f) ? xf : (float)((q & 2) ? -v : v);     /* sin(-0) = -0 */
}

inline __attribute__((overloadable, always_inline)) float ember_sin(const float x) {
    return ember_sin_or_cos(x, 0);
}

inline __attribute__((overloadable, always_inline)) float ember_cos(const float x) {
    return ember_sin_or_cos(x, 1);
}
#else
inline __attribute__((overloadable)) float ember_sin(const float x) { return sin(x); }
inline __attribute__((overloadable)) float ember_cos(const float x) { return cos(x); }
#endif
#ifdef NEED_FP64
inline __attribute__((overloadable)) double ember_sin(const double x) { return sin(x); }
inline __attribute__((overloadable)) double ember_cos(const double x) { return cos(x); }
#endif

//@ ember_erfcc ember_erf ember_gelu ember_gelu_grad
#ifdef cl_khr_fp64
// erf and the exact GELU (ember.ops.special: the same formulas as the NumPy backend's
// loops), float32 through float64: pocl's erf and erfc are scalar SLEEF calls
// erfc(u), u >= 0: Numerical Recipes' erfcc, t exp(-u^2 + poly(t)), within 1.2e-7
inline __attribute__((always_inline)) double ember_erfcc(const double u) {
    const double t = 1.0 / (1.0 + 0.5 * u);
    double p = fma(t, 0.17087277, -0.82215223);
    p = fma(p, t, 1.48851587);
    p = fma(p, t, -1.13520398);
    p = fma(p, t, 0.27886807);
    p = fma(p, t, -0.18628806);
    p = fma(p, t, 0.09678418);
    p = fma(p, t, 0.37409196);
    p = fma(p, t, 1.00002368);
    p = fma(p, t, -1.26551223);
    return t * ember_exp2_wide((p - u * u) * 1.4426950408889634);
}

// erf's Taylor series where |x| < 3/4, else 1 - erfc
inline __attribute__((overloadable, always_inline)) float ember_erf(const float x) {
    const double v = x, z = v * v;
    double p = fma(z, -1.6365844691234924e-07, 1.6462114365889246e-06);
    p = fma(p, z, -1.492565035840625e-05);
    p = fma(p, z, 0.00012055332981789664);
    p = fma(p, z, -0.0008548327023450852);
    p = fma(p, z, 0.005223977625442188);
    p = fma(p, z, -0.026866170645131252);
    p = fma(p, z, 0.11283791670955126);
    p = fma(p, z, -0.37612638903183754);
    p = fma(p, z, 1.1283791670955126);
    const double far = copysign(1.0 - ember_erfcc(fabs(v)), v);
    return x != x ? x : (float)(fabs(v) < 0.75 ? v * p : far);
}

// x Phi(x), Phi(x) = erfc(-x / sqrt 2) / 2
inline __attribute__((overloadable, always_inline)) float ember_gelu(const float x) {
    const double v = x, e = ember_erfcc(fabs(v) * 0.7071067811865476);
    return x != x ? x : (float)(0.5 * v * (v < 0.0 ? e : 2.0 - e));
}

// g (Phi(x) + x phi(x)), x's factor held to +-100 (phi is 0 there: never inf * 0)
inline __attribute__((overloadable, always_inline)) float ember_gelu_grad(const float g,
                                                                          const float x) {
    const double v = x, e = ember_erfcc(fabs(v) * 0.7071067811865476);
    const double held = fmin(fmax(v, -100.0), 100.0);
    const double slope = 0.5 * (v < 0.0 ? e : 2.0 - e)
        + held * ember_exp2_wide(v * v * -0.7213475204444817) * 0.3989422804014327;
    return x != x ? x : (float)(g * slope);
}
#else
EMBER_ERF_OF_BUILTINS(float)
#endif
#ifdef NEED_FP64
EMBER_ERF_OF_BUILTINS(double)
#endif
