"""Differential fuzzing against NumPy: hypothesis draws an op of the table, a dtype, shapes
that broadcast, a memory layout and values mixed from the op's domain and the dtype's edges
(±0, subnormals, the limits, ±inf, NaN; integer limits), and every backend must agree with
the float64 (or exact integer) reference.

CI runs ``EMBER_FUZZ_EXAMPLES`` (default 150) examples per backend, derandomized so that a
run is reproducible; a long run sets it higher (``EMBER_FUZZ_EXAMPLES=100000``) and
``EMBER_FUZZ_SEED`` to explore new draws.
"""

import os

import numpy as np
import pytest

from ember import dtypes as dt
from ember.testing.cases import BINARY, OPS, UNARY, edge_values
from ember.testing.checks import assert_close, assert_ulp, expect, reference_dtype
from ember.testing.suite.test_ops import _expected_dtype, _make

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies
hnp = pytest.importorskip("hypothesis.extra.numpy")

BY_NAME = {c.name: c for c in OPS}
EXAMPLES = int(os.environ.get("EMBER_FUZZ_EXAMPLES", "150"))
SEED = os.environ.get("EMBER_FUZZ_SEED")


def _elementwise(case):
    return case.shapes is UNARY or case.shapes is BINARY


def _shapes(case):
    """Free shapes (0 to 3 axes, sizes 0 to 4) that broadcast, for elementwise ops; the
    case's own shape sets for the rest (their axes and layouts are part of the op)."""
    if _elementwise(case):
        return hnp.mutually_broadcastable_shapes(num_shapes=len(case.shapes[0]), max_dims=3,
                                                 max_side=4).map(lambda b: b.input_shapes)
    return st.sampled_from(case.shapes)


def _values(case, dtype, backend):
    """Elements: the op's domain and (for float dtypes) the edge values; an op that cancels
    or multiplies gets no ±max, whose sums and products overflow or not depending on the
    order of the terms."""
    lo, hi = case.domain
    if not dtype.is_float:
        info = np.iinfo(dtype.np)
        edges = [0, 1, -1, int(info.max), int(info.min)] if _elementwise(case) else [0, 1, -1]
        # drawn into int64 arrays, then cast: uint64's max is drawn as the int64 that wraps to it
        edges = [(v + 2 ** 63) % 2 ** 64 - 2 ** 63 for v in edges]
        return st.one_of(st.integers(int(lo * 3), int(hi * 3)), st.sampled_from(edges))
    edges = [float(v) for v in edge_values(case, dtype)]
    if case.cancels or case.order_overflows:
        edges = [v for v in edges if not np.isfinite(v) or abs(v) <= 1e4]
    if backend.flushes_subnormals:
        tiny = float(dt.finfo(dtype).tiny)
        edges = [v for v in edges if v == 0 or not abs(v) < tiny]
    return st.one_of(st.floats(lo, hi), st.sampled_from(edges))


@st.composite
def _draws(draw, backend):
    names = [c.name for c in OPS if not c.conditioned and all(d in backend.dtypes for d in c.needs)
             and any(d in backend.dtypes and d is not dt.bool_ for d in c.dtypes)]
    case = BY_NAME[draw(st.sampled_from(names))]
    dtype = draw(st.sampled_from([d for d in case.dtypes if d in backend.dtypes
                                  and d is not dt.bool_]))
    values = _values(case, dtype, backend)
    arrays = [draw(hnp.arrays(np.float64 if dtype.is_float else np.int64, shape,
                              elements=values)) for shape in draw(_shapes(case))]
    layout = draw(st.sampled_from(["contiguous", "strided"]))
    return case.name, dtype.name, arrays, layout


def _check(backend, name, dtype, arrays, layout):
    case, dtype = BY_NAME[name], dt.dtype(dtype)
    with np.errstate(all="ignore"):
        cast = [a.astype(dtype.np) for a in arrays]
        ref = [c.astype(reference_dtype(dtype)) for c in cast]
        want = np.asarray(case.ref(*ref))
    got = case.fn(*[_make(c, backend, dtype, layout) for c in cast])
    what = f"{backend.device}: {name} ({dtype.name}, {layout}) of {', '.join(map(repr, ref))}"
    expect(got.dtype is _expected_dtype(case, dtype, backend), f"{what}: dtype {got.dtype}")
    expect(got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}")
    if not got.dtype.is_float:   # integers wrap as the dtype does; bools and indices are exact
        with np.errstate(all="ignore"):
            want = want.astype(got.dtype.np)
        np.testing.assert_array_equal(got.numpy(), want, err_msg=what)
    elif _elementwise(case):
        bound = max(case.ulps[dtype], backend.ulp_bounds.get(case.name, 0))
        assert_ulp(got.numpy(), want, dtype, bound, what,
                   flushes_subnormals=backend.flushes_subnormals)
    else:
        finite = [np.abs(r[np.isfinite(r)]).max() for r in ref if np.isfinite(r).any()]
        floor = float(max(finite, default=0.0)) if case.cancels else 0.0
        assert_close(got, want, dtype, case.scale, what, floor=floor)


def test_ops_agree_with_numpy_on_fuzzed_inputs(backend):
    """Ops, dtypes, broadcast shapes, layouts and edge values drawn by hypothesis."""
    settings = hypothesis.settings(
        max_examples=EXAMPLES, deadline=None, database=None, derandomize=SEED is None,
        suppress_health_check=list(hypothesis.HealthCheck), print_blob=True)

    @settings
    @hypothesis.given(_draws(backend))
    def run(draw):
        _check(backend, *draw)

    if SEED is not None:
        run = hypothesis.seed(int(SEED))(run)
    run()
