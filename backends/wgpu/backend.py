"""WebGPU through wgpu-py: every primitive as a WGSL compute shader from kernels/*.wgsl,
dispatched into one open compute pass that is submitted only when the host needs a
result (a readback) or many dispatches have queued, so ops never wait on each other.

WGSL has no 64-bit types, so this backend stores bool (as u32), the integers up to 32
bits (int8 and int16 as i32, uint8 and uint16 as u32, wrapped after each op), float32,
float16 and bfloat16 (as the f32 of their values, rounded to nearest even after each op:
WGSL's f16 needs the shader-f16 feature, which llvmpipe lacks) and complex64
(as vec2<f32>); int32 is its default integer (Python ints, sums, argmax and indices)."""

import os
import re
import tempfile
import threading

import numpy as np

from ember import dtypes as dt
from ember.errors import BackendError

from ..strided import (COMPLEX_CALLS, FLOAT8, REDUCE_BLOCK, KernelLanguage, StridedArray,
                       StridedBackend, batch_offsets, by_parts, c_strides, computed_wide,
                       float8_bits, floating, int_limits, saturating_casts, work_group)
from .kernels import ShaderCache, matmul_block, wgsl_type

_USAGE_NAMES = ("STORAGE", "COPY_SRC", "COPY_DST")
_MAX_GROUPS = 65535         # workgroups per dispatch dimension (WebGPU's default limit)
_FLUSH_EVERY = 256          # dispatches queued before a submit without a readback
_PER_INVOCATION = 8         # elements per invocation of the elementwise grid-stride loop
#: the host dtype of each dtype stored in a wider one
_STORAGE = {np.dtype(np.bool_): np.dtype(np.uint32), np.dtype(np.int8): np.dtype(np.int32),
            np.dtype(np.int16): np.dtype(np.int32), np.dtype(np.uint8): np.dtype(np.uint32),
            np.dtype(np.uint16): np.dtype(np.uint32)}
#: the bits each of them keeps, wrapped after each op (_WGSL.round)
_NARROW = {np.dtype(np.int8): 8, np.dtype(np.int16): 16, np.dtype(np.uint8): 8,
           np.dtype(np.uint16): 16}
#: the 16-bit floats, held as the f32 of their values and rounded after each op by these
_ROUND = {np.dtype(np.float16): "ember_round_half",
          **({} if dt.bfloat16.np is None else {dt.bfloat16.np: "ember_round_bf16"})}
_STORAGE.update({d: np.dtype(np.float32) for d in _ROUND})
_STORAGE.update({d: np.dtype(np.uint32) for d in FLOAT8})    # their bits


def _stored(array):
    """A host array as its buffer holds it (8-bit floats: their bits, widened)."""
    if array.dtype in FLOAT8:
        return np.ascontiguousarray(array.view(np.uint8), dtype=np.uint32)
    return np.ascontiguousarray(array, dtype=_STORAGE.get(array.dtype, array.dtype))


def _import_wgpu():
    if not os.environ.get("XDG_RUNTIME_DIR"):   # Mesa warns on every start without one
        os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="ember-xdg-")
    import wgpu
    return wgpu


def _adapters():
    """Every adapter wgpu-native finds, GPUs first: index 0 is the first GPU, else the CPU one."""
    wgpu = _import_wgpu()
    found = wgpu.gpu.enumerate_adapters_sync()
    return sorted(found, key=lambda a: (a.info.get("adapter_type") == "CPU", found.index(a)))


class _Pool:
    """GPU buffers by byte size. The pool owns every buffer it hands out (so the
    garbage collector never finalizes one that a dying view would hand back), and a
    buffer no view holds is reused: dispatches run in submission order, so a later
    write to a recycled buffer comes after every earlier read of it. Past
    ``limit`` bytes of idle buffers, the idle ones are let go (wgpu frees each once
    no queued work uses it)."""

    def __init__(self, device, usage, limit=1 << 30):
        self.device, self.usage, self.limit = device, usage, limit
        self.owned, self.free, self.idle_bytes = set(), {}, 0
        self.generation = 0       # bumped when buffers are let go (ids may be reused)

    def take(self, nbytes):
        """(block, fresh): fresh buffers are zeros (WebGPU clears new buffers)."""
        free = self.free.get(nbytes)
        if free:
            self.idle_bytes -= nbytes
            return _Block(free.pop(), self), False
        return self.adopt(self.device.create_buffer(size=nbytes, usage=self.usage)), True

    def adopt(self, gpu):
        self.owned.add(gpu)
        return _Block(gpu, self)

    def give_back(self, gpu):
        self.free.setdefault(gpu.size, []).append(gpu)
        self.idle_bytes += gpu.size
        if self.idle_bytes > self.limit:
            for buffers in self.free.values():
                self.owned.difference_update(buffers)
            self.free.clear()
            self.idle_bytes = 0
            self.generation += 1


class _Block:
    """A pooled GPU buffer, shared by every view of it; back to the pool when they die."""

    __slots__ = ("gpu", "pool")

    def __init__(self, gpu, pool):
        self.gpu, self.pool = gpu, pool

    def __del__(self):
        self.pool.give_back(self.gpu)


def _wgsl_literal(v, dtype):
    """A WGSL literal of v in dtype; floats by their bits, so NaN and infinities are exact."""
    if dtype.kind == "c":
        part = np.dtype(np.float32)
        return f"vec2<f32>({_wgsl_literal(v.real, part)}, {_wgsl_literal(v.imag, part)})"
    if dtype in FLOAT8:
        return f"{float8_bits(v, dtype)}u"
    if floating(dtype):
        bits = int(np.array([v], dtype=np.float32).view(np.uint32)[0])
        return f"bitcast<f32>({bits}u)"
    if dtype == np.bool_:
        return f"{int(bool(v))}u"
    return f"{int(v)}u" if dtype.kind == "u" else f"i32({int(v)})"


def _itemsize(dtype):
    """Bytes per element in a buffer: 4 (narrower dtypes are held in 32 bits), complex 8."""
    return 8 if np.dtype(dtype).kind == "c" else 4


def _isnan(v):
    return f"((bitcast<u32>({v}) & 0x7fffffffu) > 0x7f800000u)"


def _saturating_cast(d, top, bottom):
    """A float to integer conversion that saturates and takes NaN to 0: WGSL's i32() and
    u32() of such values are undefined (llvmpipe gives INT_MIN), and int8 ... uint16,
    held as i32 or u32, would wrap."""
    info = np.iinfo(d.np)
    low = "(-2147483647 - 1)" if info.min == -2 ** 31 else str(info.min)
    return (f"select(select(select(TO(x), TO({info.max}), f32(x) >= {top!r}), TO({low}), "
            f"f32(x) <= {bottom!r}), TO(0), {_isnan('f32(x)')})")


def _guard_polling(device):
    """A lock held by the device's poll thread while it is in wgpu-native: wgpu-py polls
    in a thread of its own while a buffer maps, and its callback wakes the waiting caller
    before that poll returns. (A no-op lock where wgpu-py polls otherwise.)"""
    lock = threading.Lock()
    poller = getattr(device, "_poller", None)
    poll = getattr(poller, "_poll_func", None)
    if callable(poll):
        def guarded(block):
            with lock:
                poll(block)
        poller._poll_func = guarded
    return lock


def _isfinite(v):
    return f"((bitcast<u32>({v}) & 0x7f800000u) != 0x7f800000u)"


#: x / y of f32s as the device rounds it (WGSL allows 2.5 ULP); a test puts an inexact
#: quotient here to check that ember_div corrects it
_QUOTIENT = "x / y"


def _div_helper():
    """ember_div: x / y rounded once where the device's / is not (WGSL allows 2.5 ULP, and
    NVIDIA's Vulkan driver takes it: uint8 images scaled by 1/255 came out a ULP off
    there, docs/gpu.md). The residual x - q y is computed exactly from q and y cut by
    their bits into 12-bit halves (every product of halves is exact; a cut by bits, unlike
    Veltkamp's, stays exact when a compiler fuses a multiply and an add, and WGSL's fma
    need not be fused: llvmpipe's is not), and corrects q by one Newton step. Quotients below 2^-87 (their correction would be
    subnormal), infinite or NaN, and dividends so small or large that a product of halves
    would leave float32's normal range, keep the device's /."""
    return f"""
fn ember_div(x: f32, y: f32) -> f32 {{
    let q = {_QUOTIENT};
    let ex = (bitcast<u32>(x) >> 23u) & 0xffu;
    let eq = (bitcast<u32>(q) >> 23u) & 0xffu;
    let ey = (bitcast<u32>(y) >> 23u) & 0xffu;
    if (ex < 32u || ex > 250u || eq < 40u || eq == 255u || ey == 0u || ey == 255u) {{
        return q;
    }}
    let qh = bitcast<f32>(bitcast<u32>(q) & 0xfffff000u);
    let yh = bitcast<f32>(bitcast<u32>(y) & 0xfffff000u);
    let ql = q - qh;
    let yl = y - yh;
    let r = (((x - qh * yh) - qh * yl) - ql * yh) - ql * yl;
    return q + r / y;
}}
"""


_ROUND_HELPERS = """
// bfloat16 values live in f32: rounded to nearest even on the 16 high bits (NaN to the
// quiet NaN of its sign, as ml_dtypes)
fn ember_round_bf16(x: f32) -> f32 {
    let u = bitcast<u32>(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        return bitcast<f32>(select(0x7fc00000u, 0xffc00000u, (u >> 31u) == 1u));
    }
    return bitcast<f32>(((u + 0x7fffu + ((u >> 16u) & 1u)) >> 16u) << 16u);
}

// float16 values live in f32 (where the adapter has no shader-f16, llvmpipe among them):
// rounded to nearest even at 11 bits, below 2**-14 to multiples of 2**-24 (float16's
// subnormals), from 65520 on to infinity, as NumPy's float16
fn ember_round_half(x: f32) -> f32 {
    let u = bitcast<u32>(x);
    let a = u & 0x7fffffffu;
    if (a > 0x7f800000u) {
        return x;
    }
    if (a >= 0x477ff000u) {
        return bitcast<f32>((u & 0x80000000u) | 0x7f800000u);
    }
    if (a < 0x38800000u) {
        return round(x * 16777216.0) * 5.9604644775390625e-8;   // round: ties to even
    }
    return bitcast<f32>(((u + 0xfffu + ((u >> 13u) & 1u)) >> 13u) << 13u);
}
"""

_FLOAT_HELPERS = """
// the 8-bit floats are held as their bits in a u32 and only cast: encoded from f32
// rounding to nearest even (float8_e4m3fn saturating at +-448, as PyTorch's cast;
// float8_e5m2 overflowing to inf, the fnuz ones to their one NaN, 0x80, and they have no
// -0; NaN as ml_dtypes codes it), decoded to f32
fn ember_to_float8(f: f32, m: u32, bias: u32, nan_bits: u32, over: f32, over_bits: u32,
                   min_normal: f32, sub_scale: f32, signed_zero: bool) -> u32 {
    let u = bitcast<u32>(f);
    let s = (u >> 24u) & 0x80u;
    let a = abs(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        return s | nan_bits;
    }
    if (a >= over) {
        return s | over_bits;
    }
    var r: u32;
    if (a < min_normal) {
        r = u32(round(a * sub_scale));                 // round: ties to even
    } else {
        let b = bitcast<u32>(a);
        r = ((b + ((1u << (22u - m)) - 1u) + ((b >> (23u - m)) & 1u)) >> (23u - m))
            - ((127u - bias) << m);
    }
    return select(s | r, 0u, r == 0u && !signed_zero);
}

fn ember_to_e4m3fn(f: f32) -> u32 {
    return ember_to_float8(f, 3u, 7u, 0x7fu, 464.0, 0x7eu, 0.015625, 512.0, true);
}

fn ember_to_e5m2(f: f32) -> u32 {
    return ember_to_float8(f, 2u, 15u, 0x7eu, 61440.0, 0x7cu, 6.103515625e-05, 65536.0, true);
}

fn ember_to_e4m3fnuz(f: f32) -> u32 {
    return ember_to_float8(f, 3u, 8u, 0x80u, 248.0, 0x80u, 0.0078125, 1024.0, false);
}

fn ember_to_e5m2fnuz(f: f32) -> u32 {
    return ember_to_float8(f, 2u, 16u, 0x80u, 61440.0, 0x80u, 3.0517578125e-05, 131072.0, false);
}

// |value| of code b: the subnormals m * step, the normals by their fields
fn ember_from_float8(b: u32, m_bits: u32, bias: u32, step: f32) -> f32 {
    let e = (b & 0x7fu) >> m_bits;
    let m = b & ((1u << m_bits) - 1u);
    let v = select(bitcast<f32>(((e + 127u - bias) << 23u) | (m << (23u - m_bits))),
                   f32(m) * step, e == 0u);
    return select(v, -v, (b & 0x80u) != 0u);
}

fn ember_from_e4m3fn(b: u32) -> f32 {
    return select(ember_from_float8(b, 3u, 7u, 0.001953125), bitcast<f32>(0x7fc00000u),
                  (b & 0x7fu) == 0x7fu);
}

fn ember_from_e5m2(b: u32) -> f32 {
    if ((b & 0x7cu) == 0x7cu) {
        let inf = select(bitcast<f32>(0x7f800000u), bitcast<f32>(0xff800000u), (b & 0x80u) != 0u);
        return select(bitcast<f32>(0x7fc00000u), inf, (b & 3u) == 0u);
    }
    return ember_from_float8(b, 2u, 15u, 1.52587890625e-05);
}

fn ember_from_e4m3fnuz(b: u32) -> f32 {
    return select(ember_from_float8(b, 3u, 8u, 0.0009765625), bitcast<f32>(0x7fc00000u), b == 0x80u);
}

fn ember_from_e5m2fnuz(b: u32) -> f32 {
    return select(ember_from_float8(b, 2u, 16u, 7.62939453125e-06), bitcast<f32>(0x7fc00000u),
                  b == 0x80u);
}

// Python's // and % (ember.ops.division composes them; here one kernel): the remainder
// takes y's sign, a float's floored quotient is (x - fmod) / y corrected by a rounding,
// floor(x / y) past an infinity; an integer // or % by 0 is 0 (WGSL's / gives x there)
fn ember_remainder_f32(x: f32, y: f32) -> f32 {
    let r = ember_fmod(x, y);
    if (r == 0.0) {                                    // zero of y's sign
        return bitcast<f32>(bitcast<u32>(y) & 0x80000000u);
    }
    return select(r, r + y, (r < 0.0) != (y < 0.0));
}

fn ember_floor_divide_f32(x: f32, y: f32) -> f32 {
    let infinite = (bitcast<u32>(x) << 1u) == 0xff000000u || (bitcast<u32>(y) << 1u) == 0xff000000u;
    if (y == 0.0 || infinite) {
        return select(x / y, floor(x / y), infinite && y != 0.0);
    }
    let m = ember_fmod(x, y);
    var q = (x - m) / y;
    if (m != 0.0 && (m < 0.0) != (y < 0.0)) {
        q -= 1.0;
    }
    if (q == 0.0) {                                    // zero of x / y's sign
        return bitcast<f32>(bitcast<u32>(x / y) & 0x80000000u);
    }
    let f = floor(q);
    return select(f, f + 1.0, q - f > 0.5);
}

fn ember_remainder_i32(x: i32, y: i32) -> i32 {
    if (y == 0) {
        return 0;
    }
    let r = x - (x / y) * y;        // not x % y: naga's gives x for a negative y here
    return select(r, r + y, r != 0 && (r < 0) != (y < 0));
}

fn ember_floor_divide_i32(x: i32, y: i32) -> i32 {
    if (y == 0) {
        return 0;
    }
    let q = x / y;                                     // WGSL's: INT_MIN for INT_MIN / -1
    let r = x - q * y;
    return select(q, q - 1, r != 0 && (r < 0) != (y < 0));
}

fn ember_remainder_u32(x: u32, y: u32) -> u32 {
    return select(x - (x / y) * y, 0u, y == 0u);
}

fn ember_floor_divide_u32(x: u32, y: u32) -> u32 {
    return select(x / y, 0u, y == 0u);
}

// a finite nonzero f32's significand with its leading bit at bit 23, and its exponent
// field (below 1 for a subnormal, as normalized)
struct EmberSignificand {
    m: u32,
    e: i32,
}

fn ember_significand(u: u32) -> EmberSignificand {
    var e = i32((u >> 23u) & 0xffu);
    if (e != 0) {
        return EmberSignificand((u & 0x007fffffu) | 0x00800000u, e);
    }
    var i = u << 9u;
    while ((i >> 31u) == 0u) {
        e -= 1;
        i = i << 1u;
    }
    return EmberSignificand(u << u32(1 - e), e);
}

// C's fmod, exact: the significands' long division, a bit a step (musl's fmodf)
fn ember_fmod(x: f32, y: f32) -> f32 {
    let sx = bitcast<u32>(x) & 0x80000000u;
    let ax = bitcast<u32>(x) << 1u;
    let ay = bitcast<u32>(y) << 1u;
    if (ay == 0u || ay > 0xff000000u || ax >= 0xff000000u) {
        return bitcast<f32>(0x7fc00000u);         // y 0 or NaN, x inf or NaN
    }
    if (ax <= ay) {
        return select(x, bitcast<f32>(sx), ax == ay);
    }
    let sigx = ember_significand(bitcast<u32>(x));
    let sigy = ember_significand(bitcast<u32>(y));
    var ux = sigx.m;
    var ex = sigx.e;
    let uy = sigy.m;
    let ey = sigy.e;
    while (ex > ey) {
        if (ux >= uy) {
            ux -= uy;
            if (ux == 0u) {
                return bitcast<f32>(sx);
            }
        }
        ux = ux << 1u;
        ex -= 1;
    }
    if (ux >= uy) {
        ux -= uy;
        if (ux == 0u) {
            return bitcast<f32>(sx);
        }
    }
    while ((ux >> 23u) == 0u) {
        ux = ux << 1u;
        ex -= 1;
    }
    if (ex > 0) {
        ux = (ux - 0x00800000u) | (u32(ex) << 23u);
    } else {
        ux = ux >> u32(1 - ex);
    }
    return bitcast<f32>(ux | sx);
}

// WGSL's builtins promise nothing for NaN (llvmpipe's tanh gives -1), so NaN is tested
fn ember_tanh(x: TA) -> TA {
    if (((bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u)) {
        return x;
    }
    if (abs(x) > TA(15)) {
        return sign(x);
    }
    if (abs(x) < TA(0.000244140625)) {
        return x;                           // x**3 / 3 is below x's rounding; keeps -0
    }
    if (abs(x) < TA(0.55)) {                // llvmpipe's tanh cancels near 0
        let e = ember_expm1(TA(2) * x);
        return e / (e + TA(2));
    }
    return tanh(x);
}

// exp(x) as 2**n * 2**f: WGSL bounds exp only at 3 + 2|x| ULP (llvmpipe's is exp2(x *
// log2(e)), 60 ULP off near -80). x * log2(e) is taken exactly as xh * LH (12 bits
// each, exact) plus the small rest; the split is by bit masks, which fast-math cannot
// fold away as it folded Cody-Waite's x - n * hi - n * lo. 2**f is its Taylor series
// to f**8 on |f| <= 1/2, 2**n two exact powers of two (llvmpipe's ldexp rounds).
fn ember_exp(x: TA) -> TA {
    if (((bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u)) {
        return x;
    }
    if (x > bitcast<f32>(0x42b17218u)) {    // 88.72284, the last x with a finite exp
        return bitcast<f32>(0x7f800000u);
    }
    let c = max(x, TA(-104));
    let xh = bitcast<f32>(bitcast<u32>(c) & 0xfffff000u);
    let yh = xh * bitcast<f32>(0x3fb8a000u);                 // log2(e)'s first 12 bits
    let n = round(yh);
    let f = (yh - n) + ((c - xh) * bitcast<f32>(0x3fb8a000u) + c * bitcast<f32>(0x39a3b296u));
    let p = TA(1) + f * (bitcast<f32>(0x3f317218u) + f * (bitcast<f32>(0x3e75fdf0u)
        + f * (bitcast<f32>(0x3d635847u) + f * (bitcast<f32>(0x3c1d955bu) + f * (bitcast<f32>(0x3aaec3ffu)
        + f * (bitcast<f32>(0x39218489u) + f * (bitcast<f32>(0x377fe5feu) + f * bitcast<f32>(0x35b16011u))))))));
    let k = i32(n);
    let k1 = k >> 1u;
    return p * bitcast<f32>(u32(k1 + 127) << 23u) * bitcast<f32>(u32(k - k1 + 127) << 23u);
}

// sin and cos: WGSL bounds its builtins only inside [-pi, pi], and llvmpipe's lose every
// digit past 1e8. |x| 2/pi is reduced with integers (Payne and Hanek; fast-math cannot
// reassociate them): the 24-bit mantissa times the 96 bits of 2/pi that matter at its
// exponent gives the quarter turns mod 4 and their fraction to 2^-70; the fraction
// times pi/2 in integers too, r to float once, and sin and cos of r, |r| <= pi/4, are
// Cephes' polynomials. Worst over all floats within 2 ULP (tests/test_wgpu.py).
fn ember_mul_wide(a: u32, b: u32) -> vec2<u32> {       // a b as (low, high) words
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
    return vec2<u32>((p00 & 0xffffu) | (mid << 16u), a1 * b1 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u));
}

fn ember_two_over_pi(i: u32) -> u32 {                  // word i of 2/pi, after a word of 0
    var t = array<u32, 8>(0u, 0xa2f9836eu, 0x4e441529u, 0xfc2757d1u, 0xf534ddc0u, 0xdb629599u,
                          0x3c439041u, 0xfe5163abu);
    return t[i];
}

fn ember_window(p: u32) -> u32 {                       // 32 bits of 2/pi from bit p
    let sh = p & 31u;
    let hi = ember_two_over_pi(p >> 5u);
    return select((hi << sh) | (ember_two_over_pi((p >> 5u) + 1u) >> ((32u - sh) & 31u)), hi, sh == 0u);
}

// (r, quadrant): a = (4 k + quadrant) pi/2 + r with |r| <= pi/4, for finite a >= pi/4
fn ember_quarter_turns(a: f32) -> vec2<f32> {
    let bits = bitcast<u32>(a);
    let m = (bits & 0x7fffffu) | 0x800000u;             // a = m 2**s
    let p = (bits >> 23u) - 120u;                       // 2/pi's bit s - 1, in ember_two_over_pi
    let g0 = ember_window(p);                           // 2**s 2/pi mod 4, 2 integer bits
    let g1 = ember_window(p + 32u);
    let g2 = ember_window(p + 64u);
    let l2 = ember_mul_wide(m, g2);                     // m g mod 2**96, 94 fraction bits
    let l1 = ember_mul_wide(m, g1);
    var w1 = l2.y + l1.x;
    var w2 = l1.y + m * g0 + select(0u, 1u, w1 < l2.y);
    var w0 = l2.x;
    var q = w2 >> 30u;
    let up = (w2 >> 29u) & 1u;                          // fraction >= 1/2: the next turn, less
    if (up == 1u) {
        q = (q + 1u) & 3u;
        w2 = ~w2;
        w1 = ~w1;
        w0 = ~w0 + 1u;
        w1 = w1 + select(0u, 1u, w0 == 0u);
        w2 = w2 + select(0u, 1u, w0 == 0u && w1 == 0u);
    }
    w2 = w2 & 0x3fffffffu;
    // the fraction's first 32 significant bits, to float once
    var top = (w2 << 2u) | (w1 >> 30u);
    var low = (w1 << 2u) | (w0 >> 30u);
    var shift = 0u;
    if (top == 0u) {
        top = low;
        low = w0 << 2u;
        shift = 32u;
    }
    let z = countLeadingZeros(top);
    top = select((top << z) | (low >> ((32u - z) & 31u)), top, z == 0u);
    // times pi/2 = 0xc90fdaa2 2**-31, the product's first 32 bits to float once
    let pr = ember_mul_wide(top, 0xc90fdaa2u);
    let adj = select(0u, 1u, pr.y < 0x80000000u);
    let hi = select(pr.y, (pr.y << 1u) | (pr.x >> 31u), adj == 1u);
    let r = f32(hi) * bitcast<f32>((127u - 31u - adj - shift - z) << 23u);
    return vec2<f32>(select(r, -r, up == 1u), f32(q));
}

fn ember_sin_poly(r: f32) -> f32 {
    let z = r * r;
    return r + r * z * (-1.6666654611e-1 + z * (8.3321608736e-3 + z * -1.9515295891e-4));
}

fn ember_cos_poly(r: f32) -> f32 {
    let z = r * r;
    return 1.0 - 0.5 * z + z * z * (4.166664568298827e-2 + z * (-1.388731625493765e-3
        + z * 2.443315711809948e-5));
}

fn ember_sin(x: TA) -> TA {
    let a = abs(x);
    if ((bitcast<u32>(a)) >= 0x7f800000u) {             // NaN, or sin(inf): NaN (fast-math
        return select(bitcast<f32>(0x7fc00000u), x, bitcast<u32>(a) > 0x7f800000u);  // makes x - x 0)
    }
    if (a < 0.000244140625) {                          // x**3 / 6 is below x's rounding; keeps -0
        return x;
    }
    if (a < bitcast<f32>(0x3f490fdbu)) {                // pi/4
        return ember_sin_poly(x);
    }
    let t = ember_quarter_turns(a);
    let q = u32(t.y);
    let v = select(ember_sin_poly(t.x), ember_cos_poly(t.x), (q & 1u) == 1u);
    return select(v, -v, (q >= 2u) != (x < 0.0));
}

fn ember_cos(x: TA) -> TA {
    let a = abs(x);
    if ((bitcast<u32>(a)) >= 0x7f800000u) {
        return select(bitcast<f32>(0x7fc00000u), x, bitcast<u32>(a) > 0x7f800000u);
    }
    if (a < bitcast<f32>(0x3f490fdbu)) {
        return ember_cos_poly(a);
    }
    let t = ember_quarter_turns(a);
    let q = u32(t.y);
    let v = select(ember_cos_poly(t.x), ember_sin_poly(t.x), (q & 1u) == 1u);
    return select(v, -v, q == 1u || q == 2u);
}

// exp(x) - 1: Taylor to x**9 / 9! for |x| < 0.5 (its remainder is below float32's
// rounding there), where exp(x) - 1 cancels
fn ember_expm1(x: TA) -> TA {
    if (((bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u)) {
        return x;
    }
    if (abs(x) < TA(0.5)) {
        return x * (TA(1) + x * (TA(0.5) + x * (TA(0.16666666666666666) + x * (TA(0.041666666666666664)
            + x * (TA(0.008333333333333333) + x * (TA(0.001388888888888889) + x * (TA(0.0001984126984126984)
            + x * (TA(2.48015873015873e-05) + x * TA(2.7557319223985893e-06)))))))));
    }
    return ember_exp(x) - TA(1);
}

// k log(2) + log(1 + f) for |f| <= sqrt(2) - 1, as fdlibm: log(1 + f) = 2 atanh(s) with
// s = f / (2 + f), written f - (f**2 / 2 - s (f**2 / 2 + R(s**2))) so that the rounding
// falls on the small terms; log(2) in two parts, k times the first exact
fn ember_log_parts(k: TA, f: TA) -> TA {
    let s = f / (TA(2) + f);
    let z = s * s;
    let r = z * (TA(2) * bitcast<f32>(0x3eaaaaabu) + z * (TA(2) * bitcast<f32>(0x3e4ccccdu)
        + z * (TA(2) * bitcast<f32>(0x3e124925u) + z * (TA(2) * bitcast<f32>(0x3de38e39u)
        + z * TA(2) * bitcast<f32>(0x3dba2e8cu)))));
    let h = TA(0.5) * f * f;
    return k * bitcast<f32>(0x3f317000u) + ((k * bitcast<f32>(0x3805fdf4u) + s * (h + r)) - h + f);
}

// log(x) for x = 2**k m with sqrt(1/2) <= m < sqrt(2), m from x's bits (subnormals
// too): WGSL bounds log only absolutely (2**-21) near 1
fn ember_log(x: TA) -> TA {
    if (((bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u) || x == bitcast<f32>(0x7f800000u)) {
        return x;
    }
    if (x <= TA(0)) {                       // -0 and subnormals a device flushes give -inf
        return select(bitcast<f32>(0x7fc00000u), bitcast<f32>(0xff800000u), x == TA(0));
    }
    var b = bitcast<u32>(x);
    var k = i32(b >> 23u) - 127;
    if (b < 0x00800000u) {                  // subnormal: shift the leading one to bit 23
        let z = countLeadingZeros(b) - 8u;
        b = b << z;
        k = -126 - i32(z);
    }
    var m = (b & 0x007fffffu) | 0x3f800000u;
    if (m > 0x3fb504f3u) {                  // past sqrt(2): halve m
        m -= 0x00800000u;
        k += 1;
    }
    return ember_log_parts(TA(k), bitcast<f32>(m) - TA(1));
}

// log(1 + x): log's parts with 1 + x = 2**k (1 + f), f = (2**-k - 1) + x 2**-k rounded
// once (1 + x itself loses x's low bits)
fn ember_log1p(x: TA) -> TA {
    if (((bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u) || x == TA(0)) {
        return x;                           // NaN, and +-0 (1 + -0 would lose its sign)
    }
    if (x <= TA(-1) || x >= TA(16777216)) { // -1 -> -inf, below NaN; beyond 2**24 1 + x is x
        return ember_log(select(x, TA(1) + x, x <= TA(-1)));
    }
    let b = bitcast<u32>(TA(1) + x);
    let k = i32(b >> 23u) - 127 + select(0, 1, (b & 0x007fffffu) > 0x003504f3u);
    let scale = bitcast<f32>(u32(127 - k) << 23u);
    return ember_log_parts(TA(k), (scale - TA(1)) + x * scale);
}

// 1 / (1 + exp(-x)) as where(x >= 0, 1, e) / (1 + e) with e = exp(-|x|): no overflow,
// and the negative tail keeps its relative precision
fn ember_sigmoid(x: TA) -> TA {
    if (((bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u)) {
        return x;
    }
    let e = ember_exp(-abs(x));
    return select(e, TA(1), x >= TA(0)) / (TA(1) + e);
}

// x ** y: whole exponents up to 32 as repeated products (exact where NumPy is: x * x),
// others through pow (exp2(y * log2(x))) of |x| with the sign of an odd power.
fn ember_pow(x: TA, y: TA) -> TA {
    // C's pow at every special value (WGSL leaves x < 0, zeros and infinities undefined)
    if (y == TA(0) || x == TA(1)) {
        return TA(1);                       // even for a NaN operand
    }
    if (((bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u) || ((bitcast<u32>(y) & 0x7fffffffu) > 0x7f800000u)) {
        return x + y;                       // NaN
    }
    let inf = bitcast<f32>(0x7f800000u);
    let ay = abs(y);
    let integer = y == floor(y);
    let odd = integer && ay < TA(16777216) && (u32(ay) & 1u) == 1u;
    let negative = (bitcast<u32>(x) & 0x80000000u) != 0u;
    if (x == TA(0)) {                       // ±0: inf for y < 0, 0 for y > 0; odd y keeps the sign
        let m = select(TA(0), inf, y < TA(0));
        return select(m, -m, odd && negative);
    }
    if (ay == inf) {                        // |x| against 1 decides; (-1) ** ±inf is 1
        if (abs(x) == TA(1)) {
            return TA(1);
        }
        return select(TA(0), inf, (abs(x) > TA(1)) == (y > TA(0)));
    }
    if (!integer) {
        if (negative) {                     // (-inf) ** y is inf or 0; a finite x < 0 has no real power
            return select(bitcast<f32>(0x7fc00000u), select(TA(0), inf, y > TA(0)), abs(x) == inf);
        }
        return pow(x, y);
    }
    if (ay > TA(32)) {                      // |x| ** y with x's sign for odd y
        let m = pow(abs(x), y);
        return select(m, -m, odd && negative);
    }
    var e = u32(ay);                        // small integer powers exactly as repeated products
    var b = x;
    var r = TA(1);
    while (e != 0u) {
        if ((e & 1u) != 0u) {
            r *= b;
        }
        b *= b;
        e = e >> 1u;
    }
    return select(r, TA(1) / r, y < TA(0));
}
"""

#: a call of a _FLOAT_HELPERS function (a shader includes the helpers it calls)
_FLOAT_CALL = re.compile(r"\bember_(?!ipow\b|upow\b|div\b)\w+\(")

#: base ** exponent of integers by repeated squaring, wrapping: NAME of type TA, for an
#: exponent >= 0
_POW_LOOP = """
fn NAME(base: TA, exponent: TA) -> TA {
    var r: TA = 1;
    var b = base;
    var e = exponent;
    while (e != 0) {
        if ((e & 1) != 0) {
            r *= b;
        }
        b *= b;
        e = e >> 1u;
    }
    return r;
}
"""
#: i32 powers: a negative exponent as C's integer division (0 unless |base| == 1)
_IPOW = """
fn ember_ipow(base: i32, exponent: i32) -> i32 {
    if (exponent < 0) {
        if (base == 1) {
            return 1;
        }
        return select(0, select(1, -1, (exponent & 1) != 0), base == -1);
    }
    return ember_ipow_loop(base, exponent);
}
""" + _POW_LOOP.replace("NAME", "ember_ipow_loop").replace("TA", "i32")


def _int_helpers(code):
    """The integer power helpers that ``code`` calls."""
    return ((_IPOW if "ember_ipow(" in code else "") +
            (_POW_LOOP.replace("NAME", "ember_upow").replace("TA", "u32")
             if "ember_upow(" in code else ""))


#: op(x, y, z) of each elementwise case (StridedBackend._expr decides which applies)
_SPELLING = {
    "cast": "TO(x)", "cast_bool": "select(0u, 1u, x != TA(0))", "where": "select(z, y, x != 0u)",
    **saturating_casts(_saturating_cast),
    **{op: f"select(0u, 1u, x {c} y)" for op, c in (("eq", "=="), ("ne", "!="), ("lt", "<"),
                                                     ("le", "<="), ("gt", ">"), ("ge", ">="))},
    # a float comparison with NaN tested by its bits: a shader compiler that assumes no
    # NaN (NVIDIA's Vulkan driver) folds x != x to false, which broke NaN's place in sort,
    # topk and searchsorted, and nansum and nan_to_num, there
    **{f"{op} float": f"select(0u, 1u, x {c} y && !{_isnan('x')} && !{_isnan('y')})"
       for op, c in (("eq", "=="), ("lt", "<"), ("le", "<="), ("gt", ">"), ("ge", ">="))},
    "ne float": f"select(0u, 1u, x != y || {_isnan('x')} || {_isnan('y')})",
    "neg": "-x", "exp": "ember_exp(x)", "log": "ember_log(x)", "sin": "ember_sin(x)", "cos": "ember_cos(x)",
    "tanh": "ember_tanh(x)", "sqrt": "sqrt(x)",
    "fast_sigmoid": "ember_sigmoid(x)", "fast_log1p": "ember_log1p(x)", "fast_expm1": "ember_expm1(x)",
    "fast_relu float": f"select(TO(0), x, x > TA(0) || {_isnan('x')})",
    "fast_relu int": "max(x, TA(0))",
    # naga lowers abs of a u32 to a signed abs (|4294967294| gave 2); a select is right
    # for i32 (|INT_MIN| wraps to itself) and u32 alike
    "abs float": "abs(x)", "abs int": "select(TO(0) - x, x, x >= TO(0))",
    "sign float": f"select(TO(x > TA(0)) - TO(x < TA(0)), x, {_isnan('x')})",
    "sign int": "TO(x > TA(0)) - TO(x < TA(0))",
    "add": "x + y", "sub": "x - y", "mul": "x * y", "div": "x / y",
    "div float": "ember_div(x, y)",
    # WGSL's float % is x - y * trunc(x / y), which rounds; its integer / gives x where
    # y is 0 (and INT_MIN for INT_MIN / -1, as wanted)
    # to and from the 8-bit floats, through f32 (StridedBackend._float8_cast)
    "float8 of real": "f32(x)", "float8 of complex": "x.x", "bool of float": "select(0u, 1u, x != 0.0)",
    "fast_fmod": "ember_fmod(x, y)",
    "fast_copysign": "bitcast<f32>((bitcast<u32>(x) & 0x7fffffffu) | (bitcast<u32>(y) & 0x80000000u))", "fast_trunc_div": "select(x / y, TO(0), y == TA(0))",
    "fast_bitwise_and": "x & y", "fast_bitwise_or": "x | y", "fast_bitwise_xor": "x ^ y",
    "fast_bitwise_not": "~x",
    # WGSL takes a shift's count modulo 32 (int8 ... uint16 are 32-bit values that wrap
    # after each op, so 32 is their bound too): NumPy's answers past it
    "fast_left_shift": "select(x << u32(y), TO(0), y < TA(0) || y >= TA(32))",
    "fast_right_shift": "select(x >> u32(y), select(TO(0), ~TO(0), x < TA(0)), "
                        "y < TA(0) || y >= TA(32))",
    "add bool": "x | y", "mul bool": "x & y", "maximum bool": "x | y", "minimum bool": "x & y",
    "pow float": "ember_pow(x, y)", "pow int": "ember_ipow(x, y)",
    "maximum float": f"select(y, x, x > y || {_isnan('x')})", "maximum int": "max(x, y)",
    "minimum float": f"select(y, x, x < y || {_isnan('x')})", "minimum int": "min(x, y)",
    # complex64 is vec2<f32> (re, im); kernels/complex.wgsl has the functions
    "cast real complex": "vec2<f32>(f32(x), 0.0)", "cast complex complex": "x",
    "cast complex real": "TO(x.x)", "cast complex bool": "select(0u, 1u, x.x != 0.0 || x.y != 0.0)",
    "complex": "vec2<f32>(x, y)",
    "real complex": "x.x", "imag complex": "x.y", "conj complex": "vec2<f32>(x.x, -x.y)",
    "abs complex": "ember_hypot(x.x, x.y)",
    "eq complex": "select(0u, 1u, x.x == y.x && x.y == y.y)",
    "ne complex": "select(0u, 1u, x.x != y.x || x.y != y.y)",
    **COMPLEX_CALLS,
    "fast_sigmoid complex": "ember_cdiv(vec2<f32>(1.0, 0.0), vec2<f32>(1.0, 0.0) + ember_cexp(-x))",
}


def _wgsl_fold(kind, dtype):
    """(fold of a and b, identity) of a sum, max or min (eager and fused kernels);
    max and min keep NaN."""
    t = wgsl_type(dtype)
    if kind == "sum":
        return "a + b", f"{t}(0)"
    if t == "f32":
        cmp = ">" if kind == "max" else "<"
        return f"select(b, a, a {cmp} b || {_isnan('a')})", \
            f"bitcast<f32>({0xff800000 if kind == 'max' else 0x7f800000}u)"
    lowest, highest = int_limits(dtype)
    return f"{kind}(a, b)", _wgsl_literal(lowest if kind == "max" else highest, dtype)


class _WGSL(KernelLanguage):
    """How StridedBackend._fused_code spells a kernel in WGSL. p holds n, then each
    input's offset; an eager kernel (one of ``eager`` inputs) reads its output's offset
    after them, then its extents and strides. float16 and bfloat16 values are f32s,
    rounded after each op."""

    @staticmethod
    def round(dtype, expr):
        if dtype in _NARROW:        # the low bits, sign-extended for int8 and int16
            bits = _NARROW[dtype]
            if dtype.kind == "u":
                return f"(({expr}) & {(1 << bits) - 1}u)"
            return f"((({expr}) << {32 - bits}u) >> {32 - bits}u)"
        return f"{_ROUND[dtype]}({expr})" if dtype in _ROUND else expr

    literal = staticmethod(_wgsl_literal)
    type = staticmethod(wgsl_type)
    index_type = "i32"

    @staticmethod
    def var(name, value):
        return f"var {name} = {value};"

    def __init__(self, eager=0, group=None):
        self.eager, self.group = eager, group
        self.out_offset = f"p[{eager + 1}]"

    def meta(self, i, extent=False):
        return f"p[{self.eager + 2 + i}]"

    @staticmethod
    def func(name, out, params, expr):
        args = ", ".join(f"{p}: {t}" for t, p in params)
        return f"fn {name}({args}) -> {out} {{\n    return {expr};\n}}"

    @staticmethod
    def let(t, name, value):
        return f"let {name} = {value};"

    @staticmethod
    def index():
        return "var r = g;"

    @staticmethod
    def split(d, extent, outer=False):
        if outer:       # what is left of the index is the outermost one
            return f"let k{d} = r;"
        return f"let k{d} = r % {extent};\n    r = r / {extent};"

    @staticmethod
    def load(m, at, dtype=None):
        return f"i{m}[p[{m + 1}] + {at}]"


class WgpuBackend(StridedBackend):
    """Any WebGPU adapter; on a machine without a GPU, Mesa's llvmpipe through OpenGL."""

    name = "wgpu"
    dtypes = frozenset({dt.bool_, dt.int8, dt.int16, dt.int32, dt.uint8, dt.uint16, dt.uint32,
                        dt.float16, dt.float32, dt.complex64} |
                       {d for d in (dt.bfloat16, *dt.FLOAT8) if d.np is not None})
    #: the kernel-file primitives run the 16-bit floats in float32, and the 8- and 16-bit integers
    #: in int32
    wide = {**{d: dt.float32 for d in _ROUND}, **{d: dt.int32 for d in _NARROW}}
    default_int = dt.int32
    # WGSL lets an implementation flush subnormals (llvmpipe does) and bounds pow only as
    # exp2(y * log2(x)); exp, log, sin and cos are ember's own (_FLOAT_HELPERS)
    flushes_subnormals = True
    ulp_bounds = {"pow": 256}

    @classmethod
    def availability(cls):
        try:
            _import_wgpu()
        except Exception as exc:
            return False, (f"wgpu-py is not installed ({type(exc).__name__}: {exc}); "
                           f"pip install 'ember[wgpu]'")
        try:
            if not _adapters():
                return False, ("wgpu found no adapter (no Vulkan, Metal, D3D12 or OpenGL driver; "
                               "on Linux install Mesa: apt install libegl-mesa0)")
        except Exception as exc:
            return False, f"wgpu found no adapter ({type(exc).__name__}: {exc})"
        return True, ""

    @classmethod
    def devices(cls):
        return [f"{a.info['device']} ({a.info['backend_type']}, {a.info['adapter_type']})"
                for a in _adapters()]

    def __init__(self, index=0):
        super().__init__(index)
        wgpu = self.wgpu = _import_wgpu()
        self.adapter = _adapters()[index]
        limits = self.adapter.limits
        wanted = ("max-buffer-size", "max-storage-buffer-binding-size",
                  "max-storage-buffers-per-shader-stage")
        self.device_obj = self.adapter.request_device_sync(
            required_limits={k: limits[k] for k in wanted if k in limits})
        self.max_bindings = limits.get("max-storage-buffers-per-shader-stage", 8)
        self.max_tensor_bytes = min(limits["max-storage-buffer-binding-size"],
                                    limits["max-buffer-size"])
        self.usage = 0
        for flag in _USAGE_NAMES:
            self.usage |= getattr(wgpu.BufferUsage, flag)
        self.kernels = ShaderCache(wgpu, self.device_obj)
        self._meta = {}
        self._pool = _Pool(self.device_obj, self.usage)
        self._binds = {}            # (generation, buffer ids) -> bind group
        self._encoder = self._pass = None
        self._queued = 0            # dispatches in the open compute pass
        self._sync_buffer = self.device_obj.create_buffer(size=4, usage=self.usage)
        self._polling = _guard_polling(self.device_obj)

    def info(self):
        i, lim = self.adapter.info, self.adapter.limits
        return [f"adapter: {i['device']} ({i['description']}), {i['adapter_type']}, "
                f"through {i['backend_type']}",
                f"limits: buffer {lim['max-buffer-size'] / 2**20:.0f} MiB, storage binding "
                f"{lim['max-storage-buffer-binding-size'] / 2**20:.0f} MiB, workgroup memory "
                f"{lim['max-compute-workgroup-storage-size'] // 1024} KiB, "
                f"{lim['max-compute-invocations-per-workgroup']} invocations per workgroup",
                "float64, int64, uint64, complex128: no (WGSL has no 64-bit types); float16 and "
                "bfloat16: stored as float32 values, rounded at each op; int8, int16, uint8, "
                "uint16: stored in 32 bits, wrapped at each op; complex64: vec2<f32>; "
                "float8: their bits in 32, moved and cast"]

    # -- submission ----------------------------------------------------------------
    def _compute_pass(self):
        if self._pass is None:
            self._encoder = self.device_obj.create_command_encoder()
            self._pass = self._encoder.begin_compute_pass()
        return self._pass

    def flush(self):
        """Submit every queued dispatch (the host does not wait)."""
        if self._pass is not None:
            self._pass.end()
            self.device_obj.queue.submit([self._encoder.finish()])
            self._encoder = self._pass = None
            self._queued = 0

    def synchronize(self):
        self.flush()
        self._read(self._sync_buffer, 0, 4)

    def _read(self, gpu, offset, size):
        """``size`` bytes of a GPU buffer from ``offset``, once the queue has run: a copy
        into a mappable buffer, mapped. As queue.read_buffer does, but the device's poll
        thread (wgpu-py's, which runs the map's callback) is waited out of wgpu-native
        before the mapped range is read and the buffer dropped: when the two overlapped,
        wgpu-native aborted the process now and then (llvmpipe's GL backend)."""
        usage = self.wgpu.BufferUsage
        tmp = self.device_obj.create_buffer(size=size, usage=usage.COPY_DST | usage.MAP_READ)
        encoder = self.device_obj.create_command_encoder()
        encoder.copy_buffer_to_buffer(gpu, offset, tmp, 0, size)
        self.device_obj.queue.submit([encoder.finish()])
        tmp.map_async("READ_NOSYNC").sync_wait()
        with self._polling:     # the poll thread has returned from wgpu-native
            data = tmp.read_mapped()
        tmp.unmap()
        tmp.destroy()
        return data

    def _dispatch(self, filename, blocks, meta, groups, **fields):
        """Queue one dispatch of a shader over ``blocks`` (output first) and a meta buffer."""
        self._queue(self.kernels.get(filename, len(blocks) + 1, **fields), blocks, meta, groups)

    def _queue(self, shader, blocks, meta, groups):
        pipeline, layout = shader
        buffers = [b.gpu for b in blocks] + [self._meta_buffer(meta)]
        # buffers live as long as the pool and the meta cache keep them (ids stay unique)
        key = (self._pool.generation, id(layout)) + tuple(id(b) for b in buffers)
        bind = self._binds.get(key)
        if bind is None:            # pooled buffers recur, so most steps find theirs
            if len(self._binds) > 8192:
                self._binds.clear()
            entries = [{"binding": i, "resource": {"buffer": b, "offset": 0, "size": b.size}}
                       for i, b in enumerate(buffers)]
            bind = self._binds[key] = self.device_obj.create_bind_group(layout=layout,
                                                                        entries=entries)
        compute = self._compute_pass()
        compute.set_pipeline(pipeline)
        compute.set_bind_group(0, bind)
        compute.dispatch_workgroups(*groups)
        self._queued += 1
        if self._queued >= _FLUSH_EVERY:
            self.flush()

    @staticmethod
    def _grid(count):
        """``count`` workgroups as an (x, y, 1) grid within the per-dimension limit."""
        x = min(count, _MAX_GROUPS)
        return (x, -(-count // x), 1)

    # -- memory ----------------------------------------------------------------------
    def _alloc(self, shape, dtype, zeroed=False):
        """A buffer from the pool (or a new one); ``zeroed`` fills it with zeros."""
        nbytes = self._bytes(shape, dtype)
        block, fresh = self._pool.take(nbytes)
        out = StridedArray(block, shape, dtype)
        if zeroed and not fresh:
            self._dispatch("fill.wgsl", [block], (nbytes // 4, 0), self._grid(-(-nbytes // 1024)),
                           TO="u32")
        return out

    def _bytes(self, shape, dtype):
        n = _itemsize(dtype)
        for d in shape:
            n *= d
        if n > self.max_tensor_bytes:
            raise BackendError(
                f"wgpu: a tensor of shape {tuple(shape)} needs {n / 2**20:.0f} MiB, but "
                f"{self.adapter.info['device']} binds at most "
                f"{self.max_tensor_bytes / 2**20:.0f} MiB per buffer; split it, or use another "
                f"backend (numpy, opencl) for this size")
        return max(n, 4)

    def _meta_buffer(self, values):
        key = tuple(values)
        buf = self._meta.get(key)
        if buf is None:
            if len(self._meta) > 4096:
                self._meta.clear()
                self._binds.clear()     # they named meta buffers that may now die
            data = np.asarray(key if key else (0,), dtype=np.int32)
            buf = self._meta[key] = self.device_obj.create_buffer_with_data(
                data=data, usage=self.wgpu.BufferUsage.STORAGE)
        return buf

    def from_numpy(self, array):
        arr = _stored(array)
        self._bytes(arr.shape, arr.dtype)
        buf = self.device_obj.create_buffer_with_data(
            data=arr if arr.size else np.zeros(1, np.uint32), usage=self.usage)
        return StridedArray(self._pool.adopt(buf), array.shape, array.dtype)

    def to_numpy(self, buf):
        x = buf if buf.contiguous else self._copy(buf)
        stored = _STORAGE.get(x.dtype, x.dtype)
        if x.size == 0:
            return np.empty(x.shape, dtype=x.dtype)
        self.flush()
        size = _itemsize(x.dtype)
        raw = self._read(x.buf.gpu, x.offset * size, x.size * size)
        host = np.frombuffer(raw, dtype=stored).reshape(x.shape)
        if x.dtype in FLOAT8:
            return host.astype(np.uint8).view(x.dtype)
        return host.astype(x.dtype) if stored != x.dtype else host.copy()

    def full(self, shape, value, dtype):
        if dtype.is_complex and value != 0:      # two words: the parts, then together
            value = complex(value)
            return self._ew(self.SPELLING["complex"], dtype.np, [
                self.full(shape, part, dt.float32) for part in (value.real, value.imag)])
        bits = int(_stored(dt.host_array(value, dtype).reshape(1)).view(np.int32)[0])
        out = self._alloc(shape, dtype.np, zeroed=bits == 0)      # -0.0 is not all zeros
        if out.size and bits:
            self._dispatch("fill.wgsl", [out.buf], (out.size, bits),
                           self._grid(-(-out.size // 256)), TO=wgsl_type(dtype.np))
        return out

    # -- kernels rendered by StridedBackend._fused_code ----------------------------------------
    SPELLING = _SPELLING

    def _expr(self, name, dtypes, dtype=None):
        """StridedBackend's, but WGSL has no unary minus on u32, u32 powers need no
        negative exponents (they wrap from 0 and loop), and // and % have a helper per
        type (WGSL has no overloads)."""
        if name in ("fast_remainder", "fast_floor_divide"):     # one helper per WGSL type
            return f"ember_{name[len('fast_'):]}_{wgsl_type(dtypes[0])}(x, y)", np.dtype(dtypes[0])
        expr, out = super()._expr(name, dtypes, dtype)
        if np.dtype(dtypes[0]).kind == "u" and name in ("neg", "pow"):
            expr = "TA(0) - x" if name == "neg" else "ember_upow(x, y)"
        return expr, out

    @staticmethod
    def _language(n, eager=0, group=None):
        return _WGSL(eager, group)

    def _fused(self, spec, exprs):
        """None when the run binds more buffers than the adapter allows."""
        bindings = len(spec.outputs) + (spec.reduce is not None) + len(spec.buffers) + 1
        return None if bindings > self.max_bindings else super()._fused(spec, exprs)

    def _compile(self, spec, exprs, layout, lang, out=None, accumulate=False):
        """The shader of a fused group (or an eager one, ``lang.eager``): the code
        StridedBackend._fused_code writes, in kernels/fused.wgsl's grid-stride loop or
        kernels/fused_reduce.wgsl's rows; returns launch(outs, inputs, n, meta, offset)."""
        reducing = spec.reduce is not None
        n_out, n_in = len(spec.outputs) + reducing, len(spec.buffers)
        decls = [f"@group(0) @binding({m}) var<storage, read_write> o{m}: "
                 f"array<{wgsl_type(spec.nodes[j][3])}>;" for m, j in enumerate(spec.outputs)]
        if reducing:
            kind, reduced, _, shape = spec.reduce
            t = wgsl_type(spec.nodes[reduced][3])
            decls.append(f"@group(0) @binding({n_out - 1}) var<storage, read_write> red: array<{t}>;")
            rows, length, index = self._fused_rows(spec, lang)
        decls += [f"@group(0) @binding({n_out + m}) var<storage, read> i{m}: "
                  f"array<{wgsl_type(spec.inputs[k][1])}>;" for m, k in enumerate(spec.buffers)]
        decls.append(f"@group(0) @binding({n_out + n_in}) var<storage, read> p: array<i32>;")
        funcs, body = self._fused_code(spec, exprs, layout, lang, out, accumulate)
        code = "\n".join(funcs)
        helpers = ((_FLOAT_HELPERS.replace("TA", "f32") if _FLOAT_CALL.search(code) else "")
                   + _int_helpers(code) + (_div_helper() if "ember_div(" in code else "")
                   + (self.kernels.source("complex.wgsl", {}) if "ember_c" in code or
                      "ember_hypot" in code else "")
                   + (_ROUND_HELPERS if "ember_round_" in code + "".join(body) or
                      reducing and spec.nodes[reduced][3] in _ROUND else ""))
        fields = {"DECLS": "\n".join(decls), "FUNCS": "\n\n".join(funcs), "HELPERS": helpers}
        if not reducing:
            shader = self.kernels.get("fused.wgsl", n_out + n_in + 1, writable=n_out,
                                      BODY="\n    ".join(body), **fields)
        else:
            fold, init = _wgsl_fold(kind, np.dtype(spec.nodes[reduced][3]))
            add, total = "acc = fold(acc, b);", "acc"
            if kind == "sum" and t == "f32":       # Kahan's compensation (REDUCE_BLOCK)
                add, total = (f"let y_ = b - comp; let s_ = acc + y_; comp = select(0.0, "
                              f"(s_ - acc) - y_, {_isfinite('s_')}); acc = s_;", "acc - comp")
            shader = self.kernels.get(
                "fused_reduce.wgsl", n_out + n_in + 1, writable=n_out, T=t, BLOCK=REDUCE_BLOCK,
                ADD=add, TOTAL=total,
                WG=lang.group or work_group(length), FOLD=fold, INIT=init, ROWS=rows,
                LENGTH=length, INDEX="\n            ".join(index), X=f"v{reduced}",
                RESULT=lang.round(np.dtype(spec.nodes[reduced][3]), "part[0]"),
                BODY="\n            ".join(body), **fields)

        def launch(outs, inputs, n, meta=(), offset=0):
            """p[0] is n, or a reduction's rows (n rows in an eager kernel)."""
            count = rows if reducing and not lang.eager else n
            p = (count,) + tuple(x.offset for x in inputs)
            if lang.eager:
                p += (offset,) + meta
            self._queue(shader, [o.buf for o in outs] + [x.buf for x in inputs], p,
                        self._grid(count if reducing else -(-n // (64 * _PER_INVOCATION))))
        return launch

    # -- reductions (sum, max and min are StridedBackend._reduce) ------------------------
    @computed_wide(indices=(0,))
    def argmax(self, x, axis, keepdims):
        kept_shape, rows, length, arr = self._rows(x, (axis,))
        out = self._alloc(kept_shape, np.int32)
        if rows:
            greater = "a > b"
            if x.dtype.kind == "f":
                greater = f"a > b || ({_isnan('a')} && !{_isnan('b')})"
            self._dispatch("argmax.wgsl", [out.buf, arr.buf], (rows, length), self._grid(rows),
                           T=wgsl_type(x.dtype), WG=work_group(length), GREATER=greater)
        return self._keep(out, x.shape, (axis,), keepdims)

    # -- max pooling ---------------------------------------------------------------------------
    def _pool_kernel(self, name, arrays, dtype, window, sizes):
        (kh, kw), (sh, sw), (dh, dw) = window
        nan = (f"({_isnan('v')} && !{_isnan('best')})" if dtype.kind == "f" else "false")
        total = arrays[0].size
        shader = self.kernels.get(f"{name}.wgsl", len(arrays) + 1, 2 if name == "max_pool" else 1,
                                  T=wgsl_type(dtype), NAN=nan, KH=kh, KW=kw, SH=sh, SW=sw,
                                  DH=dh, DW=dw)
        self._queue(shader, [a.buf for a in arrays], (total,) + tuple(sizes),
                    self._grid(-(-total // 256)))

    # -- gather and scatter_add ---------------------------------------------------------------
    def _indexed(self, out, data, idx, shape, axis, total, out_type, body):
        """Run gather or scatter_add over ``total`` positions of (pre, len(idx), post)."""
        if total:
            post = 1
            for d in shape[axis + 1:]:
                post *= d
            self._dispatch("index.wgsl", [out.buf, data.buf, idx.buf],
                           (total, shape[axis], idx.size, post), self._grid(-(-total // 256)),
                           T=wgsl_type(data.dtype), OUT=out_type, BODY=body)
        return out

    @computed_wide()
    def gather(self, x, axis, index):
        x, idx = self._packed(x), self._packed(index)
        out = self._alloc(x.shape[:axis] + idx.shape + x.shape[axis + 1:], x.dtype)
        return self._indexed(out, x, idx, x.shape, axis, out.size, wgsl_type(x.dtype), "o[i] = x[q];")

    @by_parts
    @computed_wide()
    def scatter_add(self, shape, axis, index, src):
        out = self._alloc(shape, src.dtype, zeroed=True)
        src, idx = self._packed(src), self._packed(index)
        if src.dtype.kind == "f":      # no float atomics in WGSL: compare-and-swap the bits
            atomic, body = "atomic<u32>", (
                "loop {\n        let old = atomicLoad(&o[q]);\n"
                "        let sum = bitcast<u32>(bitcast<f32>(old) + x[i]);\n"
                "        if (atomicCompareExchangeWeak(&o[q], old, sum).exchanged) {\n"
                "            break;\n        }\n    }")
        elif src.dtype == np.bool_:
            atomic, body = "atomic<u32>", "atomicOr(&o[q], x[i]);"
        else:
            atomic, body = f"atomic<{wgsl_type(src.dtype)}>", "atomicAdd(&o[q], x[i]);"
        return self._indexed(out, src, idx, shape, axis, src.size, atomic, body)

    # -- attention (kernels/attention*.wgsl) ------------------------------------------------
    def _attention_run(self, name, q, k, v, mask, keep, scale, causal, out, *extra):
        """Dispatch attention shader ``name``: q, k and v packed into one buffer (so that
        a shader binds at most seven), a row (query, or key for dk/dv) per invocation;
        ``out`` and ``extra`` are the buffers bound before qkv."""
        q, k, v = (self._packed(x) for x in (q, k, v))
        arrays, batch, offsets, strides = self._attention_layout(q, k, v, mask, keep)
        shift = (0, q.size, q.size + k.size, 0, 0)          # each entry's q, k, v in qkv
        offsets = tuple(o + shift[n % 5] for n, o in enumerate(offsets))
        qkv = self.concatenate([self.reshape(x, (x.size,)) for x in (q, k, v)], 0)
        count = int(np.prod(batch, dtype=np.int64))
        length, source = q.shape[-2], k.shape[-2]
        dummy = self._alloc((1,), np.float32)
        mask, keep = arrays[3:]
        (msl, mss), (ksl, kss) = strides
        bits = int(np.array([scale], np.float32).view(np.int32)[0])
        rows = source if name == "attention_dkv" else length
        bool_mask = mask is not None and mask.dtype == np.bool_
        self._dispatch(
            f"{name}.wgsl", [out.buf, *(x.buf for x in extra), qkv.buf,
                             (dummy if mask is None else mask).buf,
                             (dummy if keep is None else keep).buf],
            (length, source, msl, mss, ksl, kss, bits, count) + offsets,
            self._grid(-(-rows // 64) * count), MT="u32" if bool_mask else "f32", E=q.shape[-1],
            EV=v.shape[-1], CAUSAL=str(bool(causal)).lower(), MASK=0 if mask is None else
            (1 if bool_mask else 2), KEEP=str(keep is not None).lower(),
            HELPERS=_FLOAT_HELPERS.replace("TA", "f32"))

    @computed_wide(state=True)
    def fast_attention(self, q, k, v, mask, keep, scale, causal):
        """Flash attention (kernels/attention.wgsl): a query row per invocation streams
        the keys with an online softmax; the state kept for backward is each row's
        log-sum-exp."""
        batch = tuple(np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2]))
        count = int(np.prod(batch, dtype=np.int64))
        length, ev = q.shape[-2], v.shape[-1]
        both = self._alloc((count * length * (ev + 1),), np.float32)   # out, then lse
        if length and count:
            # how many of v's values are not finite (by their bits: WGSL may take
            # 0 * x as 0), so that keys weighing 0 count where there are any
            poison = self._reduce("sum", self._ew(
                "select(0.0, 1.0, (bitcast<u32>(x) & 0x7fffffffu) >= 0x7f800000u)",
                np.float32, [v]), tuple(range(v.ndim)), False)
            self._attention_run("attention", q, k, v, mask, keep, scale, causal, both, poison)
        out = both.view(batch + (length, ev), c_strides(batch + (length, ev)), 0)
        return both.view(batch + (length,), c_strides(batch + (length,)), count * length * ev), out

    @computed_wide()
    def fast_attention_grad(self, g, q, k, v, mask, keep, scale, causal, lse, out):
        """dq over the query rows, then dk and dv over the key rows, each probability
        recomputed from the saved log-sum-exp; rowsum(g * out) comes first, from the
        primitives."""
        batch = out.shape[:-2]
        length, source = q.shape[-2], k.shape[-2]
        count = int(np.prod(batch, dtype=np.int64))
        e, ev = q.shape[-1], v.shape[-1]
        if not (length and source and count):    # no query sees a key: zero gradients
            return tuple(self.full(batch + x.shape[-2:], 0, dt.float32) for x in (q, k, v))
        g = self._packed(self.expand(g, out.shape))
        rowdot = self._reduce("sum", self.mul(g, out), (out.ndim - 1,), False)
        lr = self.concatenate([self.reshape(x, (x.size,)) for x in (lse, rowdot)], 0)
        dq = self._alloc(batch + (length, e), np.float32)
        self._attention_run("attention_dq", q, k, v, mask, keep, scale, causal, dq, g, lr)
        dkv = self._alloc((count * source * (e + ev),), np.float32)     # dk, then dv
        self._attention_run("attention_dkv", q, k, v, mask, keep, scale, causal, dkv, g, lr)
        return dq, dkv.view(batch + (source, e), c_strides(batch + (source, e)), 0), \
            dkv.view(batch + (source, ev), c_strides(batch + (source, ev)), count * source * e)

    matmul = by_parts(computed_wide()(StridedBackend.matmul))
    fast_max_pool2d = computed_wide(indices=(1,))(StridedBackend.fast_max_pool2d)
    fast_max_unpool2d = computed_wide()(StridedBackend.fast_max_unpool2d)

    # -- matmul ----------------------------------------------------------------------------------
    def _padded(self, x, width):
        """A contiguous copy of x whose last axis is widened with zeros to ``width``."""
        out = self._alloc(x.shape[:-1] + (width,), x.dtype, zeroed=width != x.shape[-1])
        self._copy(x, out.view(x.shape, out.strides, 0))
        return out

    def tuning_name(self):
        i = self.adapter.info
        return f"wgpu:{i['device']}:{i['description']}:{i['backend_type']}"

    def _matmul_candidates(self, dtype, m_tile, n_tile):
        """(RB, C, WX, WY): blocks of 4 * RB rows and C vec4 columns of C per invocation,
        up to 16 x 16 (as OpenCL's), in workgroups of WX x WY invocations; the default
        first, the largest block (llvmpipe, 512 a side: 18 GFLOP/s, 8 x 4 blocks 8)."""
        rb, c = m_tile // 4, n_tile // 4
        blocks = [(rb, c)] + [(r, j) for r in (4, 2, 1) for j in (4, 2, 1)
                              if r <= rb and j <= c and (r, j) != (rb, c)]
        return [(r, j, 8, 8) for r, j in blocks] + [(rb, c, 16, 4), (rb, c, 64, 1)]

    def _matmul(self, a, b, m, k, n, batch, count, choice):
        rb, c, wx, wy = choice
        m4, n4 = -(-m // 4), -(-n // 4)
        swap = tuple(range(a.ndim - 2)) + (a.ndim - 1, a.ndim - 2)
        at = self._padded(self.permute(a, swap), 4 * m4)                  # (..., K, Mp)
        if not (4 * n4 == n and b.contiguous and b.offset == 0):
            b = self._padded(b, 4 * n4)                                    # (..., K, Np)
        out = self._alloc(batch + (m, 4 * n4), a.dtype)
        offsets = batch_offsets(batch, (at.shape[:-2], k * m4, 0), (b.shape[:-2], k * n4, 0))
        for first in range(0, count, _MAX_GROUPS):          # batches along z, 65535 a dispatch
            self._dispatch("matmul.wgsl", [out.buf, at.buf, b.buf],
                           (m, m4, n4, k, first) + offsets,
                           (-(-n4 // (c * wx)), -(-m4 // (rb * wy)),
                            min(count - first, _MAX_GROUPS)),
                           T=wgsl_type(a.dtype), WX=wx, WY=wy, **matmul_block(rb, c))
        return out if 4 * n4 == n else out.view(batch + (m, n), out.strides, 0)
