"""The small, unsigned and complex dtypes on every backend that holds them: promotion by
the Array API's table, arithmetic that wraps as the dtype does (checked against NumPy),
out-of-range scalars refused, complex arithmetic, GEMMs and functions (special values
included) against NumPy's complex128."""

import math

import numpy as np
import pytest

import ember
from ember import dtypes as dt
from ember.ops.movement import scatter_add
from ember.testing.checks import expect

PROMOTIONS = [  # (left, right, result): the standard's table, and PyTorch's across kinds
    ("uint8", "int8", "int16"), ("uint16", "int8", "int32"), ("uint32", "int16", "int64"),
    ("uint8", "uint32", "uint32"), ("int8", "int64", "int64"), ("bool", "uint8", "uint8"),
    ("uint64", "float16", "float16"), ("int8", "complex64", "complex64"),
    ("float64", "complex64", "complex128"), ("float32", "complex64", "complex64"),
    ("complex64", "complex128", "complex128"), ("bfloat16", "complex64", "complex64"),
]


def _need(backend, *names):
    missing = [n for n in names if dt.dtype(n) not in backend.dtypes]
    if missing:
        pytest.skip(f"backend {backend.name} does not hold {', '.join(missing)}")


@pytest.mark.parametrize("left,right,result", PROMOTIONS)
def test_promotion_table(backend, left, right, result):
    _need(backend, left, right, result)
    a = ember.tensor(np.array([1, 0]).astype(dt.dtype(left).np))
    b = ember.tensor(np.array([1, 1]).astype(dt.dtype(right).np))
    expect((a + b).dtype is dt.dtype(result) and (b * a).dtype is dt.dtype(result),
           f"{left} with {right}: {(a + b).dtype}, want {result}")


def test_uint64_with_a_signed_integer_is_refused_by_name(backend):
    _need(backend, "uint64", "int64")
    a = ember.tensor(np.array([1], np.uint64))
    with pytest.raises(ember.DTypeError, match="uint64 with int64: no integer dtype holds both"):
        a + ember.tensor(np.array([1], np.int64))


@pytest.mark.parametrize("name", ["int8", "int16", "uint8", "uint16", "uint32", "uint64"])
def test_integer_arithmetic_wraps_as_numpy(backend, name):
    """+, -, *, //, %, &, |, ^, <<, >> and ~ between tensors of one small dtype keep the dtype
    and wrap around exactly as NumPy's fixed-width integers do."""
    _need(backend, name)
    info = np.iinfo(name)
    rng = np.random.default_rng(0)
    x = rng.integers(info.min, info.max, 64, dtype=name, endpoint=True)
    y = rng.integers(1, info.max, 64, dtype=name, endpoint=True)
    a, b = ember.tensor(x), ember.tensor(y)
    with np.errstate(over="ignore"):
        for op in ("__add__", "__sub__", "__mul__", "__floordiv__", "__mod__", "__and__", "__or__",
                   "__xor__"):
            got = getattr(a, op)(b)
            want = getattr(x, op)(y)
            expect(got.dtype.name == name, f"{name} {op}: {got.dtype}")
            np.testing.assert_array_equal(got.numpy(), want, err_msg=f"{name} {op}")
    np.testing.assert_array_equal((~a).numpy(), ~x)
    np.testing.assert_array_equal((a >> 1).numpy(), x >> 1)
    np.testing.assert_array_equal((a + 1).numpy(), x + np.array(1, name), err_msg="a + 1 wraps")


@pytest.mark.parametrize("name", ["int8", "uint8", "int32", "int64", "uint64"])
def test_reductions_at_the_integer_limits(backend, name):
    """argmin and argmax at the dtype's minimum and maximum (argmin once negated -x, which
    wraps at int8's -128 and at unsigned 0 - 1), and sums widened to 64 bits."""
    _need(backend, name)
    info = np.iinfo(name)
    x = np.array([5, info.max, info.min, 0, info.min, info.max], dtype=name)
    t = ember.tensor(x)
    expect(int(t.argmin()) == int(np.argmin(x)) and int(t.argmax()) == int(np.argmax(x)),
           f"{name}: argmin {int(t.argmin())} argmax {int(t.argmax())}")
    expect(int(t.min()) == info.min and int(t.max()) == info.max, f"{name}: min and max")
    if backend.default_int is ember.int64:     # wgpu sums in its int32, as it must
        small = np.full(300, info.max if info.max < 2 ** 31 else 1, dtype=name)
        expect(int(ember.tensor(small).sum()) == int(small.astype(object).sum()),
               f"{name}: a sum of 300 maxima widens")


@pytest.mark.parametrize("name,value", [("uint8", 256), ("uint8", -1), ("int8", 128),
                                        ("int16", -40000), ("uint32", 2 ** 32)])
def test_a_scalar_the_dtype_cannot_hold_is_refused(backend, name, value):
    _need(backend, name)
    t = ember.tensor(np.array([1, 2], dtype=name))
    with pytest.raises(ember.RangeError, match=f"{value} does not fit in {name}"):
        t + value


def test_uint8_images_keep_their_dtype_and_scale_to_float(backend):
    """What image files and MNIST hold: uint8 in, float32 out of a division."""
    _need(backend, "uint8")
    pixels = np.array([[0, 128, 255]], dtype=np.uint8)
    t = ember.tensor(pixels)
    expect(t.dtype is ember.uint8, f"{t.dtype}")
    scaled = t / 255.0
    expect(scaled.dtype is ember.float32, f"{scaled.dtype}")
    np.testing.assert_allclose(scaled.numpy(), pixels / np.float32(255.0), rtol=1e-7)


#: float values whose integer cast is at an edge: NaN, infinities, past every limit, just
#: inside and outside the 8, 16, 32 and 64-bit ranges, and fractions (truncated toward 0)
CAST_EDGES = [math.nan, math.inf, -math.inf, 1e30, -1e30, 300.0, 255.9, 256.0, -0.9, -1.0,
              -128.5, -129.0, 127.9, 65535.5, 65536.0, -32769.0, 2.0 ** 31, -2.0 ** 31,
              -2.0 ** 31 - 4096, 2.0 ** 32, 2.0 ** 63, -2.0 ** 63, 2.0 ** 64, 0.0, -0.0, 7.5]


@pytest.mark.parametrize("name", ["int8", "uint8", "int16", "uint16", "int32", "uint32",
                                  "int64", "uint64"])
@pytest.mark.parametrize("source", ["float32", "float64", "float16"])
def test_float_to_integer_casts_saturate_and_take_nan_to_zero(backend, name, source):
    """ember's float to integer cast truncates toward zero, saturates at the dtype's
    limits and takes NaN to 0, on every backend and in compiled code alike (C's and
    WGSL's casts leave those undefined, NumPy's warns: x86 gives INT_MIN, so
    uint8(300.0) was 44 and uint8(nan) 0 on one backend and 255 on another)."""
    _need(backend, name, source)
    with np.errstate(over="ignore"):                      # 1e30 in float16 is inf
        values = np.array(CAST_EDGES, dtype=source)      # what the source dtype holds
    info = np.iinfo(name)
    want = [0 if math.isnan(v) else max(info.min, min(info.max, int(v))) if math.isfinite(v)
            else (info.max if v > 0 else info.min) for v in values.astype(np.float64)]
    t = ember.tensor(values, dtype=source)
    got = t.to(name)
    expect(got.dtype is dt.dtype(name) and got.numpy().tolist() == want,
           f"{source} -> {name}: {got.numpy().tolist()}, expected {want}")
    compiled = ember.compile(lambda x: (x * 1.0).to(name))(t)
    expect(compiled.numpy().tolist() == want, f"compiled {source} -> {name}: "
                                              f"{compiled.numpy().tolist()}")


def _complex_values(name):
    rng = np.random.default_rng(1)
    z = rng.standard_normal(32) + 1j * rng.standard_normal(32)
    z[:4] = [0j, -0.0 + 0j, 1e-30 + 1e30j, 3 - 4j]
    return z.astype(name)


@pytest.mark.parametrize("name", ["complex64", "complex128"])
def test_complex_parts_and_arithmetic_match_numpy(backend, name):
    _need(backend, name)
    z = _complex_values(name)
    w = (z[::-1] + (0.5 + 0.5j)).astype(name)     # nonzero divisors
    a, b = ember.tensor(z), ember.tensor(w)
    real = dt.real_of(dt.dtype(name))
    for got, want, what in ((ember.real(a), z.real, "real"), (ember.imag(a), z.imag, "imag"),
                            (ember.abs(a), np.abs(z.astype(np.complex128)), "abs")):
        expect(got.dtype is real, f"{what}: {got.dtype}, want {real}")
        np.testing.assert_allclose(got.numpy(), want, rtol=4 * np.finfo(real.np).eps,
                                   err_msg=what)
    np.testing.assert_array_equal(ember.conj(a).numpy(), np.conj(z))
    eps = np.finfo(real.np).eps
    exact = z.astype(np.complex128), w.astype(np.complex128)
    for got, want, what in ((a * b, exact[0] * exact[1], "mul"), (a + b, exact[0] + exact[1], "add"),
                            (a / b, exact[0] / exact[1], "div"), (ember.exp(a[4:]), np.exp(exact[0][4:]), "exp"),
                            (a.sum(), exact[0].sum(), "sum")):
        expect(got.dtype.name == name, f"{what}: {got.dtype}")
        err = np.abs(got.numpy() - want) / np.maximum(np.abs(want), np.finfo(real.np).tiny)
        expect(np.all(err <= 16 * eps), f"{what}: relative error {err.max():.2e} > 16 eps")


@pytest.mark.parametrize("name", ["complex64", "complex128"])
def test_complex_matmul_reductions_and_indexing_match_numpy(backend, name):
    """Complex GEMMs (a backend may build them from real ones), sums and means, gathers,
    scatter_add (the primitive: no public op reaches it without gradients) and movement,
    against complex128 NumPy."""
    _need(backend, name)
    z = _complex_values(name)[:24]
    a, b = z[:12].reshape(3, 4), z[12:].reshape(4, 3)
    eps = np.finfo(dt.real_of(dt.dtype(name)).np).eps
    ta, tb = ember.tensor(a), ember.tensor(b)
    wide = a.astype(np.complex128), b.astype(np.complex128)
    got = (ta @ tb).numpy()
    bound = np.abs(wide[0]) @ np.abs(wide[1])          # the products' magnitudes
    expect(np.all(np.abs(got - wide[0] @ wide[1]) <= 16 * eps * bound), f"matmul: {got}")
    for got, want, what in ((ta.sum(axis=0), wide[0].sum(axis=0), "sum"),
                            (ta.mean(axis=1), wide[0].mean(axis=1), "mean")):
        bound = np.abs(wide[0]).sum(axis=0 if what == "sum" else 1)
        expect(np.all(np.abs(got.numpy() - want) <= 16 * eps * bound), f"{what}: {got}")
    index = np.array([2, 0, 2, 1])
    np.testing.assert_array_equal(ta[index].numpy(), a[index])
    np.testing.assert_array_equal(ta.transpose(0, 1)[1:, ::-1].numpy(), a.T[1:, ::-1])
    np.testing.assert_array_equal(ember.concatenate([ta, ta[:1]]).numpy(), np.concatenate([a, a[:1]]))
    added = scatter_add((3, 4), 0, ember.tensor(np.array([0, 2, 0])), ta)   # rows 0 and 2 of 0
    want = np.zeros((3, 4), np.complex128)
    np.add.at(want, np.array([0, 2, 0]), wide[0])
    expect(np.all(np.abs(added.numpy() - want) <= 4 * eps * np.abs(want)), f"scatter_add: {added}")


_SPECIAL = [0.0, -0.0, 1.0, -2.5, np.inf, -np.inf, np.nan, 1e30, 1e-20]
#: the complex functions that take sin and cos of a part
_TRIG_OF_PARTS = ("exp", "sin", "cos", "tanh", "expm1")


@pytest.mark.parametrize("name", ["complex64", "complex128"])
@pytest.mark.parametrize("op", ["exp", "log", "sqrt", "sin", "cos", "tanh", "expm1", "log1p",
                                "sign", "abs", "square", "reciprocal"])
def test_complex_functions_at_special_values_match_numpy(backend, name, op):
    """Each pair of ±0, finite, huge, tiny, ±inf and NaN parts: NaN where NumPy gives NaN,
    the same infinities, and finite parts within 64 eps of the result's modulus (C11
    Annex G's special values, as NumPy's complex functions)."""
    _need(backend, name)
    special = _SPECIAL
    if op == "square" or (backend.ulp_bounds.get("sin") and op in _TRIG_OF_PARTS):
        # a square of 1e30 parts is inf - inf, which NumPy's FMA loops give as -inf and
        # others as NaN; a backend whose sin and cos hold only inside [-pi, pi] declares
        # so (ulp_bounds), and 1e30 is far outside
        special = [v for v in special if v != 1e30]
    z = np.array([complex(x, y) for x in special for y in special], name)
    fn = {"square": lambda t: t * t, "reciprocal": lambda t: 1 / t}.get(op) or getattr(ember, op)
    ref = {"square": lambda t: t * t, "reciprocal": lambda t: 1 / t}.get(op) or getattr(np, op)
    got = fn(ember.tensor(z)).numpy()
    with np.errstate(all="ignore"):
        want = ref(z)
    eps = np.finfo(dt.real_of(dt.dtype(name)).np).eps
    with np.errstate(all="ignore"):
        scale = np.where(np.isfinite(np.abs(want)), np.abs(want), 0)
    for part in (np.real, np.imag):
        g, w = part(got), part(want)
        with np.errstate(invalid="ignore"):
            wrong = (np.isnan(g) != np.isnan(w)) | (np.isinf(w) & (g != w)) | (
                np.isfinite(w) & ~(np.abs(g - w) <= 64 * eps * scale))
        expect(not wrong.any(), f"{op}({name}): at {z[wrong][:4]} got {got[wrong][:4]}, "
                                f"NumPy {want[wrong][:4]}")


def test_complex_scalars_and_order(backend):
    _need(backend, "complex64")
    x = ember.tensor([1.0, 2.0])
    expect((x * 1j).dtype is ember.complex64, f"float32 * 1j: {(x * 1j).dtype}")
    expect(ember.tensor([1 + 2j]).dtype is ember.complex64, "a Python complex list")
    with pytest.raises(ember.DTypeError, match="complex numbers have no order"):
        ember.tensor([1j]) < ember.tensor([2j])
    z = ember.tensor([1j]).requires_grad_()       # PyTorch's convention: dL/dx + i dL/dy
    ember.abs(z * 2.0).sum().backward()
    expect(z.grad.numpy().tolist() == [2j], f"d|2z|/dz at z = i: {z.grad.numpy()}")


def test_a_backend_without_the_dtype_refuses_it_by_name(backend):
    missing = [d for d in dt.ALL if d not in backend.dtypes and d.np is not None]
    if not missing:
        pytest.skip(f"backend {backend.name} holds every dtype")
    d = missing[0]
    with pytest.raises(ember.DTypeError, match=f"does not support {d.name}"):
        ember.zeros(2, dtype=d)


def test_python_ints_past_int64_are_exact_or_refused(backend):
    """NumPy turns [2**63 + 1, 5] into float64 (2**63); a uint64 tensor of them is exact,
    and a value past uint64 is refused by name."""
    _need(backend, "uint64")
    values = [2 ** 64 - 1024, 2 ** 63 + 1, 5, 0]
    expect(ember.tensor(values, dtype=ember.uint64).tolist() == values, "uint64 from Python ints")
    with pytest.raises(ember.RangeError, match="18446744073709551616 does not fit in uint64"):
        ember.tensor([2 ** 64, 0], dtype=ember.uint64)


def _float8_reference(x, d):
    """float64 x rounded once to the 8-bit float d (nearest, ties to even), as float64:
    by searching the sorted table of d's finite values (ml_dtypes decodes them);
    float8_e4m3fn saturates at +-448 (PyTorch's cast), float8_e5m2 overflows to inf, the
    fnuz ones to NaN, and their zeros have no sign."""
    fnuz = d.name.endswith("fnuz")
    codes = np.arange(256, dtype=np.uint8).view(d.np).astype(np.float64)
    table = np.unique(codes[np.isfinite(codes)])          # -max .. max, one zero
    even = {v: c for c, v in zip(range(256), codes) if np.isfinite(v) and c < 128}
    top = table[-1]
    out = np.empty_like(x)
    for i, v in enumerate(x):
        if np.isnan(v):
            out[i] = np.nan
            continue
        a = abs(v)
        if d is ember.float8_e4m3fn and a >= top:
            r = top
        elif a > top:
            step = top - table[-2]
            r = (np.nan if fnuz else np.inf) if a >= top + step / 2 else top
        else:
            k = np.searchsorted(table, a)
            lo, hi = table[max(k - 1, 0)], table[min(k, len(table) - 1)]
            if a - lo < hi - a or (a - lo == hi - a and even[lo] % 2 == 0):
                r = lo
            else:
                r = hi
        out[i] = r if fnuz and r == 0 else np.copysign(r, v)
    return out


def test_float8_casts_round_once_and_keep_their_bits(backend):
    """Every 8-bit code decodes as ml_dtypes does; float32 (and float64) values round to
    nearest even once, at every midpoint and a hair either side of it, float8_e4m3fn
    saturating at +-448 (infinities too, as PyTorch's cast), float8_e5m2 to inf, the fnuz
    ones to NaN; moves keep the bits; arithmetic and promotion are refused by name, as
    PyTorch refuses them."""
    for d in dt.FLOAT8:
        if d not in backend.dtypes:
            continue
        codes = np.arange(256, dtype=np.uint8).view(d.np)
        got = ember.tensor(codes, backend=backend).to(ember.float32).numpy()
        want = codes.astype(np.float32)
        expect(np.array_equal(got.view(np.uint32), want.view(np.uint32))
               or np.array_equal(np.isnan(got), np.isnan(want)) and np.array_equal(
                   got[~np.isnan(got)], want[~np.isnan(want)]), f"{d.name} decoding")
        values = np.unique(codes.astype(np.float64)[np.isfinite(codes.astype(np.float64))])
        mid = (values[1:] + values[:-1]) / 2
        near = np.concatenate([values, mid, np.nextafter(mid.astype(np.float32), np.inf),
                               np.nextafter(mid.astype(np.float32), -np.inf),
                               [np.inf, -np.inf, np.nan, 1e30, 470.0, 464.0, 61440.0, 1e-30]])
        for wide in (ember.float32, ember.float64):
            if wide not in backend.dtypes:
                continue
            x = near.astype(wide.np)
            if wide is ember.float64:               # a hair past float32's rounding
                x = np.concatenate([x, mid + mid * 2.0 ** -30, mid - mid * 2.0 ** -30])
            out = ember.tensor(x, dtype=wide, backend=backend).to(d)
            got = out.to(ember.float32).numpy().astype(np.float64)
            ref = _float8_reference(x.astype(np.float64), d)
            same = (got == ref) & (np.signbit(got) == np.signbit(ref)) | np.isnan(got) & np.isnan(ref)
            bad = np.flatnonzero(~same)
            expect(bad.size == 0, f"{wide.name} -> {d.name}: " + ", ".join(
                f"{x[i]!r} -> {got[i]}, not {ref[i]}" for i in bad[:4]))
        t = ember.tensor(codes[:24].reshape(4, 6), backend=backend)
        moved = ember.cat([t.T[::-1], ember.pad(t[1:3, ::2].T, ((0, 3), (0, 0)))], axis=1)
        host = codes[:24].reshape(4, 6)
        want = np.concatenate([host.T[::-1], np.pad(host[1:3, ::2].T, ((0, 3), (0, 0)))], axis=1)
        expect(np.array_equal(moved.numpy().view(np.uint8), want.view(np.uint8)), f"{d.name} moves")
        for name, fn in (("add", lambda: t + t), ("sum", lambda: t.sum()), ("lt", lambda: t < t),
                         ("matmul", lambda: t @ t.T)):
            with pytest.raises(ember.DTypeError, match=d.name):
                fn()
        with pytest.raises(ember.DTypeError, match="promotes with no other dtype"):
            t * ember.ones(4, 6, backend=backend)
