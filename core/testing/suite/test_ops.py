"""Every op of the table: forward against float64 NumPy, gradients, second order."""

import numpy as np
import pytest

import ember
from ember import dtypes as dt
from ember.testing.cases import OPS, UNARY, edge_values
from ember.testing.checks import (assert_close, assert_ulp, expect, gradcheck, gradgradcheck,
                                  reference_dtype)


def _host_inputs(case, shapes, dtype, seed=0):
    """Inputs rounded to ``dtype``, and the reference's copies of them."""
    arrays = case.arrays(shapes, seed)
    if dtype is dt.bool_:
        arrays = [a > 0 for a in arrays]
    elif not dtype.is_float:
        arrays = [np.round(a * 3) for a in arrays]
        arrays = [np.abs(a) for a in arrays] if dtype.is_unsigned else arrays
    cast = [a.astype(dtype.np) for a in arrays]
    ref = [c if dtype is dt.bool_ else c.astype(reference_dtype(dtype)) for c in cast]
    return cast, ref


def _make(a, backend, dtype, layout):
    """A tensor of ``a`` that is contiguous, or a strided view that starts past the
    beginning of its buffer (transposed, or stepped)."""
    if layout == "contiguous" or a.ndim == 0 or a.size == 0:
        return ember.tensor(a, dtype=dtype, backend=backend)
    if a.ndim >= 2:
        swapped = np.swapaxes(a, -1, -2)
        base = ember.tensor(np.concatenate([swapped[:1], swapped]), dtype=dtype, backend=backend)
        return base[1:].transpose(-1, -2)
    base = ember.tensor(np.repeat(a, 2), dtype=dtype, backend=backend)
    return base[1::2]


def _expected_dtype(case, dtype, backend):
    if case.out == "bool":
        return dt.bool_
    if case.out == "index":
        return backend.default_int
    if case.out == "sum" and not dtype.is_float:
        return dtype if dtype is dt.uint64 else backend.default_int
    return dtype


#: one test per (op, dtype): each of its shapes, contiguous and strided, inside it (a
#: pytest item costs 4 ms of CPU under xdist, and this table made 34k of them)
FORWARD = [pytest.param(c, d, id=f"{c.name}-{d.name}") for c in OPS for d in c.dtypes]
LAYOUTS = ("contiguous", "strided")


def _skip_unsupported(backend, dtypes):
    for d in dtypes:
        if d not in backend.dtypes:
            pytest.skip(f"backend {backend.name} does not support {d.name}")


@pytest.mark.parametrize("case,dtype", FORWARD)
def test_forward(backend, case, dtype):
    """The op at each of its shapes, on contiguous tensors and on strided views, against
    float64 NumPy; every failing shape and layout is reported, not only the first."""
    _skip_unsupported(backend, (dtype,) + case.needs)
    failures = []
    for shape_index, shapes in enumerate(case.shapes):
        for layout in LAYOUTS:
            try:
                _check_forward(backend, case, shapes, dtype, layout)
            except AssertionError as exc:
                failures.append(f"s{shape_index} {shapes} {layout}: {exc}")
            except Exception as exc:
                exc.add_note(f"{case.name} at s{shape_index} {shapes}, {layout}")
                raise
    if failures:
        raise AssertionError(f"{case.name} {dtype.name}: {len(failures)} of "
                             f"{len(case.shapes) * len(LAYOUTS)} failed\n" + "\n".join(failures))


def _check_forward(backend, case, shapes, dtype, layout):
    cast, ref = _host_inputs(case, shapes, dtype)
    with np.errstate(all="ignore"):
        expected = np.asarray(case.ref(*ref))
    out = case.fn(*[_make(a, backend, dtype, layout) for a in cast])
    if out.dtype.is_int and expected.dtype.kind in "iu":
        expected = expected.astype(out.dtype.np)      # the dtype's wraparound
    expect(out.dtype is _expected_dtype(case, dtype, backend),
           f"{case.name}: dtype {out.dtype}, expected {_expected_dtype(case, dtype, backend)}")
    expect(out.shape == expected.shape,
           f"{case.name}: shape {out.shape}, expected {expected.shape}")
    assert_close(out, expected, dtype if out.dtype.is_float else out.dtype, case.scale, case.name,
                 floor=_floor(case, ref))


def _floor(case, inputs):
    """assert_close's floor: the inputs' largest magnitude for an op that cancels (its
    error is relative to its terms: a multiply-add fused or not differs there), else 0."""
    return max((float(np.abs(r).max()) for r in inputs if r.size), default=0.0) \
        if case.cancels else 0.0


EDGE = [pytest.param(c, d, id=f"{c.name}-{d.name}") for c in OPS
        if c.shapes is UNARY and c.out == "same" for d in c.dtypes if d.is_float]


def _edge_check(backend, case, dtype, keep):
    _skip_unsupported(backend, (dtype,) + case.needs)
    x = edge_values(case, dtype)
    x = x[keep(x)]
    with np.errstate(all="ignore"):
        want = np.asarray(case.ref(x.astype(np.float64)), dtype=np.float64)
    got = case.fn(ember.tensor(x, dtype=dtype, backend=backend)).numpy()
    bound = max(case.ulps[dtype], backend.ulp_bounds.get(case.name, 0))
    assert_ulp(got, want, dtype, bound, case.name, inputs=x,
               flushes_subnormals=backend.flushes_subnormals, signed_zeros=case.signed_zeros)


def _subnormal(x):
    with np.errstate(invalid="ignore"):         # NaN (ml_dtypes 0.6's bfloat16 warns of it)
        return (x != 0) & (np.abs(x) < dt.finfo(dt.dtype(x.dtype)).tiny)


@pytest.mark.parametrize("case,dtype", EDGE)
def test_edge_values(backend, case, dtype):
    """±0, the dtype's limits, ±inf, NaN and the op's own hard inputs, in ULPs."""
    _edge_check(backend, case, dtype, lambda x: ~_subnormal(x))


@pytest.mark.parametrize("case,dtype", EDGE)
def test_subnormal_inputs(backend, case, dtype):
    if backend.flushes_subnormals:
        pytest.skip(f"backend {backend.device} flushes subnormals to zero (flushes_subnormals)")
    _edge_check(backend, case, dtype, _subnormal)


GRAD = [pytest.param(c, i, id=f"{c.name}-s{i}") for c in OPS if c.grad
        for i in range(len(c.shapes))
        if all(0 not in s for s in c.shapes[i])]


@pytest.mark.parametrize("case,shape_index", GRAD)
def test_gradcheck(backend, case, shape_index):
    _skip_unsupported(backend, case.needs)
    gradcheck(case.fn, case.arrays(case.shapes[shape_index], seed=1), backend, scale=case.scale)


DOUBLE = [pytest.param(c, id=c.name) for c in OPS if c.double]


@pytest.mark.parametrize("case", DOUBLE)
def test_second_order(backend, case):
    _skip_unsupported(backend, case.needs)
    shapes = next(s for s in case.shapes if all(0 not in x and len(x) for x in s))
    gradgradcheck(case.fn, case.arrays(shapes, seed=2), backend, scale=case.scale)


def test_every_differentiable_op_is_gradchecked():
    """The table covers each public differentiable op (so a new op needs a case)."""
    names = " ".join(c.name for c in OPS if c.grad)
    for op in ("neg", "abs", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu",
               "clip", "add", "sub", "mul", "div", "pow", "maximum", "minimum", "where",
               "sum", "cumsum", "cumprod", "prod", "mean", "var", "std", "max", "min", "logsumexp", "softmax",
               "log_softmax", "reshape", "transpose", "permute", "broadcast_to", "squeeze",
               "flatten", "concatenate", "stack", "split", "pad", "flip", "cast", "index",
               "matmul"):
        expect(op in names, f"no gradcheck case for {op}")
