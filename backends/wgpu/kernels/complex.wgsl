// complex64 as vec2<f32> (re, im): kernels/complex.cl of the OpenCL backend in WGSL, with
// the same special values (C11 Annex G, as NumPy's complex functions) and NumPy's
// arithmetic. WGSL promises nothing of NaN and infinities, so they are tested by their
// bits, and exp, log, expm1 are ember's own (the float helpers, pasted beside these).

fn ember_c_nan(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

fn ember_c_inf(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u;
}

fn ember_c_finite(x: f32) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) < 0x7f800000u;
}

fn ember_c_quiet_nan() -> f32 {
    return bitcast<f32>(0x7fc00000u);
}

fn ember_c_copysign(x: f32, s: f32) -> f32 {
    return bitcast<f32>((bitcast<u32>(x) & 0x7fffffffu) | (bitcast<u32>(s) & 0x80000000u));
}

// sqrt(x**2 + y**2) without overflow or underflow; inf wins over NaN, as C's hypot
fn ember_hypot(x: f32, y: f32) -> f32 {
    let a = abs(x);
    let b = abs(y);
    if (ember_c_inf(a) || ember_c_inf(b)) {
        return bitcast<f32>(0x7f800000u);
    }
    if (ember_c_nan(a) || ember_c_nan(b)) {
        return ember_c_quiet_nan();
    }
    let m = max(a, b);
    if (m == 0.0) {
        return 0.0;
    }
    let r = min(a, b) / m;
    return m * sqrt(1.0 + r * r);
}

// one product exact in each part, as NumPy's fmaddsub loops
fn ember_cmul(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(fma(a.x, b.x, -(a.y * b.y)), fma(a.x, b.y, a.y * b.x));
}

// Smith's quotient, NumPy's
fn ember_cdiv(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    let br = abs(b.x);
    let bi = abs(b.y);
    if (ember_c_nan(br) || ember_c_nan(bi)) {
        return vec2<f32>(ember_c_quiet_nan(), ember_c_quiet_nan());
    }
    if (br >= bi) {
        if (br == 0.0 && bi == 0.0) {
            return vec2<f32>(a.x / br, a.y / bi);
        }
        let rat = b.y / b.x;
        let scl = 1.0 / (b.x + b.y * rat);
        return vec2<f32>((a.x + a.y * rat) * scl, (a.y - a.x * rat) * scl);
    }
    let rat = b.x / b.y;
    let scl = 1.0 / (b.y + b.x * rat);
    return vec2<f32>((a.x * rat + a.y) * scl, (a.y * rat - a.x) * scl);
}

fn ember_cexp(z: vec2<f32>) -> vec2<f32> {
    let x = z.x;
    let y = z.y;
    let nan = ember_c_quiet_nan();
    if (ember_c_nan(x)) {
        return vec2<f32>(x, select(nan, y, y == 0.0));
    }
    if (y == 0.0) {
        return vec2<f32>(ember_exp(x), y);
    }
    if (ember_c_inf(x) && x < 0.0) {
        if (ember_c_finite(y)) {
            return vec2<f32>(0.0 * ember_cos(y), 0.0 * ember_sin(y));
        }
        return vec2<f32>(0.0, 0.0);
    }
    if (!ember_c_finite(y)) {
        return vec2<f32>(select(nan, x, ember_c_inf(x)), nan);
    }
    if (ember_c_inf(x)) {
        return vec2<f32>(x * ember_cos(y), x * ember_sin(y));
    }
    let e = ember_exp(x * 0.5);           // in two halves where e**x alone overflows
    return vec2<f32>(e * ember_cos(y) * e, e * ember_sin(y) * e);
}

fn ember_clog(z: vec2<f32>) -> vec2<f32> {
    return vec2<f32>(ember_log(ember_hypot(z.x, z.y)), ember_c_atan2(z.y, z.x));
}

// atan2 with C's values at zeros, infinities and NaN (WGSL's are unspecified there)
fn ember_c_atan2(y: f32, x: f32) -> f32 {
    let pi = 3.14159265358979;
    if (ember_c_nan(x) || ember_c_nan(y)) {
        return ember_c_quiet_nan();
    }
    let negative_x = (bitcast<u32>(x) & 0x80000000u) != 0u;
    if (y == 0.0) {
        return ember_c_copysign(select(0.0, pi, negative_x), y);
    }
    if (ember_c_inf(y)) {
        if (ember_c_inf(x)) {
            return ember_c_copysign(select(pi / 4.0, 3.0 * pi / 4.0, negative_x), y);
        }
        return ember_c_copysign(pi / 2.0, y);
    }
    if (ember_c_inf(x)) {
        return ember_c_copysign(select(0.0, pi, negative_x), y);
    }
    if (x == 0.0) {
        return ember_c_copysign(pi / 2.0, y);
    }
    if (abs(y) < abs(x) * 0.000244140625) {  // atan(r) = r - r**3 / 3: r itself to f32
        return select(y / x, ember_c_copysign(pi, y) + y / x, x < 0.0);
    }
    return atan2(y, x);
}

fn ember_csqrt(z: vec2<f32>) -> vec2<f32> {
    let x = z.x;
    let y = z.y;
    if (x == 0.0 && y == 0.0) {
        return vec2<f32>(0.0, y);
    }
    if (ember_c_inf(y)) {
        return vec2<f32>(bitcast<f32>(0x7f800000u), y);
    }
    if (ember_c_nan(x)) {
        return vec2<f32>(x, x);
    }
    if (ember_c_inf(x)) {
        if (x > 0.0) {
            return vec2<f32>(x, select(ember_c_copysign(0.0, y), y, ember_c_nan(y)));
        }
        return vec2<f32>(select(0.0, ember_c_quiet_nan(), ember_c_nan(y)), ember_c_copysign(-x, y));
    }
    if (ember_c_nan(y)) {
        return vec2<f32>(y, y);
    }
    // t = sqrt((|x| + |z|) / 2), scaled by 1/4 near the top of the range
    let big = abs(x) > 8.5e37 || abs(y) > 8.5e37;
    let s = select(1.0, 0.25, big);
    let t = sqrt((abs(x * s) + ember_hypot(x * s, y * s)) * 0.5) * select(1.0, 2.0, big);
    if (x >= 0.0) {
        return vec2<f32>(t, y / (2.0 * t));
    }
    return vec2<f32>(abs(y) / (2.0 * t), ember_c_copysign(t, y));
}

// sinh and cosh of a real from expm1 and exp: WGSL's sinh cancels near 0
fn ember_c_sinh(x: f32) -> f32 {
    if (abs(x) > 88.0) {
        let e = ember_exp(abs(x) * 0.5);
        return ember_c_copysign(e * 0.5 * e, x);
    }
    return (ember_expm1(x) - ember_expm1(-x)) * 0.5;
}

fn ember_c_cosh(x: f32) -> f32 {
    let e = ember_exp(abs(x) * 0.5);
    return select((ember_exp(x) + ember_exp(-x)) * 0.5, e * 0.5 * e, abs(x) > 88.0);
}

fn ember_csinh(z: vec2<f32>) -> vec2<f32> {
    let x = z.x;
    let y = z.y;
    let nan = ember_c_quiet_nan();
    if (y == 0.0) {
        return vec2<f32>(select(ember_c_sinh(x), x, ember_c_nan(x) || ember_c_inf(x)), y);
    }
    if (!ember_c_finite(y)) {
        return vec2<f32>(select(nan, x, x == 0.0 || ember_c_inf(x)), nan);
    }
    if (ember_c_nan(x)) {
        return vec2<f32>(x, x);
    }
    return vec2<f32>(ember_c_sinh(x) * ember_cos(y), ember_c_cosh(x) * ember_sin(y));
}

fn ember_ccosh(z: vec2<f32>) -> vec2<f32> {
    let x = z.x;
    let y = z.y;
    let nan = ember_c_quiet_nan();
    if (y == 0.0) {
        return vec2<f32>(select(ember_c_cosh(x), abs(x), ember_c_nan(x) || ember_c_inf(x)),
                         ember_c_copysign(0.0, x) * y);
    }
    if (!ember_c_finite(y)) {
        return vec2<f32>(select(nan, abs(x), ember_c_inf(x)), select(nan, 0.0, x == 0.0));
    }
    if (ember_c_nan(x)) {
        return vec2<f32>(x, x);
    }
    return vec2<f32>(ember_c_cosh(x) * ember_cos(y), ember_c_sinh(x) * ember_sin(y));
}

// sin z = -i sinh(iz), cos z = cosh(iz)
fn ember_csin(z: vec2<f32>) -> vec2<f32> {
    if (!ember_c_finite(z.x) && ember_c_inf(z.y)) {
        return vec2<f32>(ember_c_quiet_nan(), bitcast<f32>(0x7f800000u));   // NumPy's sign
    }
    let s = ember_csinh(vec2<f32>(-z.y, z.x));
    return vec2<f32>(s.y, -s.x);
}

fn ember_ccos(z: vec2<f32>) -> vec2<f32> {
    return ember_ccosh(vec2<f32>(-z.y, z.x));
}

// tanh(x + iy) = (sinh 2x, sin 2y) / (cosh 2x + cos 2y), as (1, 0) for large |x|
fn ember_ctanh(z: vec2<f32>) -> vec2<f32> {
    let x = z.x;
    let y = z.y;
    let nan = ember_c_quiet_nan();
    if (ember_c_nan(x)) {
        return vec2<f32>(x, select(nan, y, y == 0.0));
    }
    if (ember_c_inf(x)) {
        let im = select(y, ember_sin(2.0 * y), ember_c_finite(y));
        return vec2<f32>(ember_c_copysign(1.0, x), ember_c_copysign(0.0, im));
    }
    if (!ember_c_finite(y)) {
        return vec2<f32>(select(nan, x, x == 0.0), nan);
    }
    if (abs(x) > 11.0) {                  // tanh x rounds to +-1 there
        let e = ember_exp(-2.0 * abs(x));
        return vec2<f32>(ember_c_copysign(1.0, x), 4.0 * ember_sin(y) * ember_cos(y) * e);
    }
    let d = ember_c_cosh(2.0 * x) + ember_cos(2.0 * y);
    return vec2<f32>(ember_c_sinh(2.0 * x) / d, ember_sin(2.0 * y) / d);
}

fn ember_cexpm1(z: vec2<f32>) -> vec2<f32> {
    let a = ember_sin(z.y * 0.5);
    return vec2<f32>(ember_expm1(z.x) * ember_cos(z.y) - 2.0 * a * a, ember_exp(z.x) * ember_sin(z.y));
}

fn ember_clog1p(z: vec2<f32>) -> vec2<f32> {
    return ember_clog(vec2<f32>(z.x + 1.0, z.y));
}

// z ** w = exp(w log z); 0 ** w is 0 for Re w > 0, and z ** 0 is 1
fn ember_cpow(z: vec2<f32>, w: vec2<f32>) -> vec2<f32> {
    if (w.x == 0.0 && w.y == 0.0) {
        return vec2<f32>(1.0, 0.0);
    }
    if (z.x == 0.0 && z.y == 0.0 && w.x > 0.0 && w.y == 0.0) {
        return vec2<f32>(0.0, 0.0);
    }
    return ember_cexp(ember_cmul(w, ember_clog(z)));
}

// z / |z|; an infinite part alone gives its direction, both NaN; 0 gives 0
fn ember_csign(z: vec2<f32>) -> vec2<f32> {
    if (ember_c_inf(z.x) || ember_c_inf(z.y)) {
        if (ember_c_inf(z.x) && ember_c_inf(z.y)) {
            return vec2<f32>(ember_c_quiet_nan(), ember_c_quiet_nan());
        }
        if (ember_c_inf(z.x)) {
            return vec2<f32>(ember_c_copysign(1.0, z.x), 0.0);
        }
        return vec2<f32>(0.0, ember_c_copysign(1.0, z.y));
    }
    if (z.x == 0.0 && z.y == 0.0) {
        return vec2<f32>(0.0, 0.0);
    }
    return z / ember_hypot(z.x, z.y);
}
