// Complex numbers as vectors of two (re, im): R is the real type, C its vector of two.
// Included once per real type a kernel uses (float, double), so every function is
// overloadable. Special values follow C11 Annex G, as NumPy's complex functions do, and
// the arithmetic is NumPy's: nothing contracted into fma but where NumPy's SIMD loops do.
#pragma OPENCL FP_CONTRACT OFF

// one product exact in each part, as NumPy's fmaddsub loops: (1e30 + 1e30i)**2 in float32
// is -inf + inf i, not NaN + inf i
inline C __attribute__((overloadable)) ember_cmul(const C a, const C b) {
    return (C)(fma(a.x, b.x, -(a.y * b.y)), fma(a.x, b.y, a.y * b.x));
}

// Smith's quotient, NumPy's: no overflow for large denominators
inline C __attribute__((overloadable)) ember_cdiv(const C a, const C b) {
    const R br = fabs(b.x), bi = fabs(b.y);
    if (br >= bi) {
        if (br == 0 && bi == 0) return (C)(a.x / br, a.y / bi);
        const R rat = b.y / b.x, scl = (R)1 / (b.x + b.y * rat);
        return (C)((a.x + a.y * rat) * scl, (a.y - a.x * rat) * scl);
    }
    const R rat = b.x / b.y, scl = (R)1 / (b.y + b.x * rat);
    return (C)((a.x * rat + a.y) * scl, (a.y * rat - a.x) * scl);
}

// e**x * (cos y, sin y), in two halves where e**x alone would overflow
inline C __attribute__((overloadable)) ember_cis_scaled(const R x, const R y) {
    const R e = exp(x * (R)0.5);
    return (C)(e * cos(y) * e, e * sin(y) * e);
}

inline C __attribute__((overloadable)) ember_cexp(const C z) {
    const R x = z.x, y = z.y;
    if (isnan(x)) return (C)(x, y == 0 ? y : x);
    if (y == 0) return (C)(exp(x), y);
    if (isinf(x) && x < 0) return isfinite(y) ? (C)(0 * cos(y), 0 * sin(y)) : (C)(0, 0);
    if (!isfinite(y)) return isinf(x) ? (C)(x, y - y) : (C)(y - y, y - y);
    if (isinf(x)) return (C)(x * cos(y), x * sin(y));
    return ember_cis_scaled(x, y);
}

// log|z| + i arg z; |z| by hypot, so neither huge nor tiny parts over- or underflow
inline C __attribute__((overloadable)) ember_clog(const C z) {
    return (C)(log(hypot(z.x, z.y)), atan2(z.y, z.x));
}

inline C __attribute__((overloadable)) ember_csqrt(const C z) {
    const R x = z.x, y = z.y;
    if (x == 0 && y == 0) return (C)(0, y);
    if (isinf(y)) return (C)(INFINITY, y);
    if (isnan(x)) return (C)(x, x);
    if (isinf(x)) {
        if (x > 0) return (C)(x, isnan(y) ? y : copysign((R)0, y));
        return (C)(fabs(y - y), copysign(-x, y));   // (NaN or 0, +-inf)
    }
    // t = sqrt((|x| + |z|) / 2), scaled by 1/4 near the top of the range
    const bool big = fabs(x) > (R)(MAXFLOAT / 4) || fabs(y) > (R)(MAXFLOAT / 4);
    const R s = big ? (R)0.25 : (R)1;
    const R t = sqrt((fabs(x * s) + hypot(x * s, y * s)) * (R)0.5) * (big ? (R)2 : (R)1);
    if (x >= 0) return (C)(t, y / (2 * t));
    return (C)(fabs(y) / (2 * t), copysign(t, y));
}

// sinh and cosh of x + iy: (sinh x cos y, cosh x sin y) and (cosh x cos y, sinh x sin y),
// with Annex G's values where y is 0 or not finite
inline C __attribute__((overloadable)) ember_csinh(const C z) {
    const R x = z.x, y = z.y;
    if (y == 0) return (C)(sinh(x), y);
    if (!isfinite(y)) return (C)(x == 0 || isinf(x) ? x : y - y, y - y);
    return (C)(sinh(x) * cos(y), cosh(x) * sin(y));
}

inline C __attribute__((overloadable)) ember_ccosh(const C z) {
    const R x = z.x, y = z.y;
    if (y == 0) return (C)(cosh(x), copysign((R)0, x) * y);
    if (!isfinite(y)) return (C)(isinf(x) ? fabs(x) : y - y, x == 0 ? (R)0 : y - y);
    return (C)(cosh(x) * cos(y), sinh(x) * sin(y));
}

// sin z = -i sinh(iz), cos z = cosh(iz)
inline C __attribute__((overloadable)) ember_csin(const C z) {
    if (!isfinite(z.x) && isinf(z.y)) return (C)(z.x - z.x, INFINITY);   // NumPy's sign
    const C s = ember_csinh((C)(-z.y, z.x));
    return (C)(s.y, -s.x);
}

inline C __attribute__((overloadable)) ember_ccos(const C z) {
    return ember_ccosh((C)(-z.y, z.x));
}

// tanh(x + iy) = (sinh 2x, sin 2y) / (cosh 2x + cos 2y), as (1, 0) for large |x|
inline C __attribute__((overloadable)) ember_ctanh(const C z) {
    const R x = z.x, y = z.y;
    if (isnan(x)) return (C)(x, y == 0 ? y : x);
    if (isinf(x)) return (C)(copysign((R)1, x), isfinite(y) ? copysign((R)0, sin(2 * y)) : copysign((R)0, y));
    if (!isfinite(y)) return (C)(x == 0 ? x : y - y, y - y);
    if (fabs(x) > (R)(sizeof(R) == 8 ? 22 : 11)) {  // tanh x rounds to +-1 there
        const R e = exp(-2 * fabs(x));
        return (C)(copysign((R)1, x), 4 * sin(y) * cos(y) * e);
    }
    const R d = cosh(2 * x) + cos(2 * y);
    return (C)(sinh(2 * x) / d, sin(2 * y) / d);
}

// exp(z) - 1 and log(1 + z) as NumPy computes them
inline C __attribute__((overloadable)) ember_cexpm1(const C z) {
    const R a = sin(z.y * (R)0.5);
    return (C)(expm1(z.x) * cos(z.y) - 2 * a * a, exp(z.x) * sin(z.y));
}

inline C __attribute__((overloadable)) ember_clog1p(const C z) {
    return ember_clog((C)(z.x + 1, z.y));
}

// z ** w = exp(w log z); 0 ** w is 0 for Re w > 0, and z ** 0 is 1
inline C __attribute__((overloadable)) ember_cpow(const C z, const C w) {
    if (w.x == 0 && w.y == 0) return (C)(1, 0);
    if (z.x == 0 && z.y == 0 && w.x > 0 && w.y == 0) return (C)(0, 0);
    return ember_cexp(ember_cmul(w, ember_clog(z)));
}

// z / |z|; an infinite part alone gives its direction, both NaN; 0 gives 0
inline C __attribute__((overloadable)) ember_csign(const C z) {
    if (isinf(z.x) || isinf(z.y)) {
        if (isinf(z.x) && isinf(z.y)) return (C)(NAN, NAN);
        return isinf(z.x) ? (C)(copysign((R)1, z.x), 0) : (C)(0, copysign((R)1, z.y));
    }
    if (z.x == 0 && z.y == 0) return (C)(0, 0);
    return z / hypot(z.x, z.y);
}
