"""The NumPy backend's 3x3 convolutions by Winograd's F(2x2, 3x3)
(backends/numpy/winograd.py): against float64 sums, at the edges, in chunks over the
cores, and differentiated."""

import numpy as np
import pytest

import ember
from ember.backends.numpy import winograd
from ember.plugins.nn import functional as F
from ember.testing.checks import gradcheck, without_fast_paths

EPS32 = np.finfo(np.float32).eps


def reference(x, w, padding):
    """The convolution in float64, by a sum over the nine kernel offsets."""
    (ph, pw), (n, _, h, wd), o = padding, x.shape, w.shape[0]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = h + 2 * ph - 2, wd + 2 * pw - 2
    out = np.zeros((n, o, oh, ow))
    for i in range(3):
        for j in range(3):
            out += np.einsum("nchw,oc->nohw", xp[:, :, i:i + oh, j:j + ow], w[:, :, i, j])
    return out


@pytest.fixture
def everywhere(monkeypatch):
    """Winograd for every size, in chunks of a few tile rows (several per core, the last
    one short)."""
    monkeypatch.setattr(F, "CONV3X3_MIN_CHANNELS", 1)
    monkeypatch.setattr(winograd, "MIN_OUTPUTS", 1)
    monkeypatch.setattr(winograd, "CHUNK_BYTES", 1)
    monkeypatch.setattr(winograd, "MIN_COLUMNS", 7)


def _through(x, w, padding, fast=True, b=None):
    x, w = ember.tensor(x, dtype=ember.float32), ember.tensor(w, dtype=ember.float32)
    b = None if b is None else ember.tensor(b, dtype=ember.float32)
    if fast:
        return F.conv2d(x, w, b, padding=padding).numpy()
    with without_fast_paths(ember.get_backend("numpy"), "fast_conv3x3"):
        return F.conv2d(x, w, b, padding=padding).numpy()


@pytest.mark.parametrize("shape,out,padding", [
    ((2, 16, 33, 31), 24, (1, 1)),      # odd sizes: the last tiles half outside
    ((4, 64, 20, 20), 32, (0, 0)),
    ((1, 32, 40, 45), 16, (2, 2)),
    ((3, 16, 17, 30), 16, (1, 2)),
])
@pytest.mark.parametrize("chunked", [False, True])
def test_each_output_within_a_few_roundings_of_the_float64_sum(request, shape, out, padding,
                                                               chunked):
    """Each float32 output within 8 eps of sum |w| |x| + |b| from the float64 sum (direct
    im2col's own error here is 1 to 2 eps, Winograd's 0.4 to 1.4), with and without a
    bias (added as the outputs are written)."""
    if chunked:
        request.getfixturevalue("everywhere")
    rng = np.random.default_rng(sum(shape) + out)
    x, w = rng.standard_normal(shape), rng.standard_normal((out, shape[1], 3, 3))
    b = rng.standard_normal(out) * 4 if chunked else np.zeros(out)
    got = _through(x, w, padding, b=b if chunked else None)
    assert min(shape[1], out) >= F.CONV3X3_MIN_CHANNELS
    assert got.shape[0] * got.shape[2] * got.shape[3] >= winograd.MIN_OUTPUTS
    along = (1, out, 1, 1)
    bound = (reference(np.abs(x), np.abs(w), padding) + np.abs(b).reshape(along)) * (8 * EPS32)
    err = np.abs(got - reference(x, w, padding) - b.reshape(along))
    assert got.shape == bound.shape and np.all(err <= bound), np.max(err / bound)


def test_non_finite_inputs_and_overflow_give_the_direct_sums_values(everywhere):
    """An inf in a tile would meet its own kind in the transforms (inf - inf = NaN where
    the direct sum gives inf): any non-finite output sends the convolution to the direct
    sum, so inf, NaN and overflow come out exactly as without the fast path."""
    rng = np.random.default_rng(0)
    w = rng.uniform(0.5, 1.0, (4, 3, 3, 3))
    for spot in (np.inf, -np.inf, np.nan, 3e38):     # two of 3e38 overflow float32
        x = rng.uniform(0.5, 1.0, (2, 3, 6, 7))
        x[0, 1, 2, 3:5] = spot
        got, direct = _through(x, w, (1, 1)), _through(x, w, (1, 1), fast=False)
        np.testing.assert_array_equal(got, direct)
        assert not np.all(np.isfinite(got))
        if spot == np.inf:     # positive weights: the direct sum's infinities, not NaN
            assert np.isposinf(got[0]).sum() > 0 and not np.isnan(got).any()
    # an infinite or NaN bias: the direct sum's values too
    x = rng.uniform(0.5, 1.0, (2, 3, 6, 7))
    for spot in (-np.inf, np.nan):
        b = np.array([1.0, spot, -2.0, 0.5])
        got, direct = _through(x, w, (1, 1), b=b), _through(x, w, (1, 1), fast=False, b=b)
        np.testing.assert_array_equal(got, direct)
        assert not np.isfinite(got[:, 1]).any() and np.isfinite(got[:, [0, 2, 3]]).all()


@pytest.mark.parametrize("shape", [(2, 5, 9, 8), (1, 2, 2, 3), (1, 1, 1, 1)])
def test_float64_within_a_few_roundings_and_the_smallest_inputs(everywhere, shape):
    """float64 to its own precision; one row of tiles, and a single pixel padded by 1."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(shape), rng.standard_normal((6, shape[1], 3, 3))
    got = F.conv2d(ember.tensor(x), ember.tensor(w), padding=1).numpy()
    want = reference(x, w, (1, 1))
    bound = reference(np.abs(x), np.abs(w), (1, 1)) * (8 * np.finfo(np.float64).eps)
    assert got.dtype == np.float64 and got.shape == want.shape
    assert np.all(np.abs(got - want) <= bound)


@pytest.mark.parametrize("padding", [0, 1, 2, (2, 0)])
def test_gradients_against_finite_differences(everywhere, padding):
    """The input gradient is itself a 3x3 convolution (padding 2 - p), the weight
    gradient im2col's GEMM: both against central differences, and the bias's."""
    backend = ember.get_backend("numpy")
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=padding), [x, w, b], backend)


def test_second_order_gradients_match_the_composed_convolution(everywhere):
    """create_graph through the op: the gradient of a gradient norm, against the same
    through im2col's ops."""
    rng = np.random.default_rng(5)
    x0, w0 = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 3))

    def energy(x, w):
        y = F.conv2d(x, w, padding=1)
        return (y * y).sum()

    def hessian_vector():
        x = ember.tensor(x0, requires_grad=True)
        w = ember.tensor(w0, requires_grad=True)
        gx, gw = ember.grad(energy, (0, 1))(x, w)
        ((gx * gx).sum() + (gw * gw).sum()).backward()
        return x.grad.numpy(), w.grad.numpy()

    fast = hessian_vector()
    with without_fast_paths(ember.get_backend("numpy"), "fast_conv3x3"):
        slow = hessian_vector()
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_what_runs_directly():
    """Thin channels, small outputs, an empty batch, other dtypes: the direct sum."""
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((2, 1, 40, 40)), rng.standard_normal((8, 1, 3, 3))
    np.testing.assert_array_equal(_through(x, w, (1, 1)), _through(x, w, (1, 1), fast=False))
    empty = F.conv2d(ember.zeros(0, 16, 8, 8), ember.zeros(16, 16, 3, 3), padding=1)
    assert empty.shape == (0, 16, 8, 8)
    half = F.conv2d(ember.ones(1, 16, 40, 40, dtype=ember.float16),
                    ember.ones(16, 16, 3, 3, dtype=ember.float16) / 16, padding=1)
    assert half.dtype is ember.float16 and float(half[0, 0, 5, 5]) == 9.0
