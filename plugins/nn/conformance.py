"""Conformance checks for every registered layer and initializer, on every backend.

Contributed to ``ember.testing`` through the ``ember_conformance_modules`` hook,
so a layer that another package registers is checked with no change here.
Each layer class declares a ``LayerExample`` through ``example()``.
"""

import numpy as np
import pytest

import ember
from ember.registry import registry
from ember.testing.checks import (build_example, expect, grad_dtype, gradcheck, other_backend,
                                  tolerance, without_fast_paths)

from .module import Module, functional_call

LAYERS = registry.names("layers")
INITIALIZERS = registry.names("initializers")


def _build(name, backend, dtype=None, seed=0):
    return build_example("layers", name, backend, dtype, seed)


def _input_array(ex, seed=1):
    rng = np.random.default_rng(seed)
    if ex.integer_high is not None:
        return rng.integers(0, ex.integer_high, ex.shape)
    return rng.uniform(ex.low, ex.high, ex.shape)


def _input(ex, backend, dtype, seed=1):
    a = _input_array(ex, seed)
    if ex.integer_high is not None:
        return ember.tensor(a, dtype=ember.get_backend(backend).default_int, backend=backend)
    return ember.tensor(a, dtype=dtype, backend=backend)


def _apply(layer, ex, x):
    return ex.call(layer, x) if ex.call is not None else layer(x)


class _Calling(Module):
    """A layer called as its example says (for functional_call): its parameters are
    those of ``layer``, under the prefix "layer."."""

    def __init__(self, layer, call):
        super().__init__()
        self.layer = layer
        object.__setattr__(self, "call", call)

    def forward(self, x):
        return self.call(self.layer, x)


def _forward(layer, x, seed=5):
    ember.manual_seed(seed)   # the same dropout masks in every run
    return _apply(layer, layer.example(), x)


@pytest.mark.parametrize("name", LAYERS)
def test_layer_forward_matches_float64_numpy(backend, name):
    """float32 on the backend against the same layer (same seed) run on NumPy in float64."""
    layer, ex = _build(name, backend)
    ref, _ = _build(name, "numpy", dtype=ember.float64)
    for mode in ("train", "eval"):
        layer.train(mode == "train")
        ref.train(mode == "train")
        got = _forward(layer, _input(ex, backend, ember.float32))
        want = _forward(ref, _input(ex, "numpy", ember.float64))
        expect(got.shape == want.shape, f"{name} ({mode}): shape {got.shape} != {want.shape}")
        expect(got.dtype is ember.float32, f"{name} ({mode}): output dtype {got.dtype}")
        rtol, atol = tolerance(ember.float32, 10 * ex.scale)
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"{name} in {mode} mode")


@pytest.mark.parametrize("name", LAYERS)
def test_layer_gradcheck_inputs_and_parameters(backend, name):
    dtype = grad_dtype(backend)
    layer, ex = _build(name, backend, dtype=dtype)
    params = [n for n, _ in layer.named_parameters()]
    arrays = [p.numpy().astype(np.float64) for _, p in layer.named_parameters()]
    takes_grad = ex.integer_high is None
    x_fixed = _input(ex, backend, dtype)
    if takes_grad:
        arrays = [_input_array(ex)] + arrays
    if not arrays:
        pytest.skip(f"layer {name} has no float input or parameter to differentiate")

    def calling(layer, x_fixed):
        wrapped = _Calling(layer, ex.call) if ex.call is not None else None

        def fn(*tensors):
            x = tensors[0] if takes_grad else x_fixed
            given = tensors[1:] if takes_grad else tensors
            ember.manual_seed(5)
            if wrapped is not None:
                return functional_call(wrapped, {"layer." + n: t for n, t in zip(params, given)},
                                       x)
            return functional_call(layer, dict(zip(params, given)), x)
        return fn

    twin = _build(name, "numpy", dtype=ember.float64)[0]   # float64 reference where needed
    gradcheck(calling(layer, x_fixed), arrays, backend, scale=ex.scale,
              reference=calling(twin, _input(ex, "numpy", ember.float64)))


@pytest.mark.parametrize("name", LAYERS)
def test_layer_state_dict_round_trip(backend, name):
    a, ex = _build(name, backend, seed=0)
    b, _ = _build(name, backend, seed=1)
    state = a.state_dict()
    expected_keys = [n for n, _ in a.named_parameters()] + [n for n, _ in a.named_buffers()]
    expect(list(state) == expected_keys, f"{name}: state_dict keys {list(state)}")
    b.load_state_dict(state)
    a.eval()
    b.eval()
    x = _input(ex, backend, ember.float32)
    np.testing.assert_array_equal(_apply(a, ex, x).numpy(), _apply(b, ex, x).numpy(),
                                  err_msg=name)
    if state:
        first = next(iter(state))
        with pytest.raises(ember.StateDictError, match=f"missing keys {first}"):
            b.load_state_dict({k: v for k, v in state.items() if k != first})
        with pytest.raises(ember.StateDictError, match="unexpected keys extra.weight"):
            b.load_state_dict({**state, "extra.weight": state[first]})
        wrong = {**state, first: ember.zeros(*state[first].shape, 2, dtype=state[first].dtype)}
        with pytest.raises(ember.ShapeError, match=f"load_state_dict: {first} has shape"):
            b.load_state_dict(wrong)


@pytest.mark.parametrize("name", LAYERS)
def test_layer_train_eval(backend, name):
    layer, ex = _build(name, backend)
    expect(layer.training and all(m.training for m in layer.modules()), f"{name}: starts in train")
    layer.eval()
    expect(not any(m.training for m in layer.modules()), f"{name}: eval() reaches every child")
    x = _input(ex, backend, ember.float32)
    np.testing.assert_array_equal(_forward(layer, x, 1).numpy(), _forward(layer, x, 2).numpy(),
                                  err_msg=f"{name}: eval mode must be deterministic")
    layer.train()
    if ex.random_in_train:
        a, b = _forward(layer, x, 1).numpy(), _forward(layer, x, 2).numpy()
        expect(not np.array_equal(a, b), f"{name}: train mode should draw new randomness")
    expect(type(layer).__name__ in repr(layer), f"{name}: repr names the class")


@pytest.mark.parametrize("name", [n for n in LAYERS      # those that take any shape have no case
                                  if registry.get("layers", n).example().bad_shape is not None])
def test_layer_refuses_bad_shapes(backend, name):
    layer, ex = _build(name, backend)
    bad = np.zeros(ex.bad_shape)
    x = ember.tensor(bad.astype(np.int64) if ex.integer_high else bad,
                     dtype=None if ex.integer_high else ember.float32)
    with pytest.raises(ember.ShapeError):
        _apply(layer, ex, x)


@pytest.mark.parametrize("name", [n for n in LAYERS if registry.get("layers", n).example().call
                                  is None])
def test_layer_refuses_none_by_name(backend, name):
    """layer(None) (a forgotten return upstream) names the layer and its input, rather
    than an AttributeError from inside forward."""
    layer, _ = _build(name, backend)
    with pytest.raises(ember.DTypeError, match=f"{type(layer).__name__}: .* is None"):
        layer(None)


#: layers whose example's first axis is not a batch an empty one leaves alone: a recurrent
#: layer's time axis (a sequence needs a step, as PyTorch's), and the fractional pools'
#: examples, which fix their random samples for a batch of 2
_EMPTY_REFUSED = {"gru": "no time steps", "lstm": "no time steps", "rnn": "no time steps",
                  "fractional_max_pool2d": "_random_samples", "fractional_max_pool3d":
                  "_random_samples"}


@pytest.mark.parametrize("name", LAYERS)
def test_layer_takes_an_empty_batch(backend, name):
    """The example's input with no rows along its first axis gives outputs with none
    (max_unpool reshaped to (0, C, -1), which no size resolves)."""
    layer, ex = _build(name, backend)
    if len(ex.shape) < 2:
        pytest.skip(f"layer {name}'s example input has no batch axis")
    layer.eval()
    empty = (0,) + tuple(ex.shape[1:])
    dtype = ember.get_backend(backend).default_int if ex.integer_high else ember.float32
    x = ember.zeros(empty, dtype=dtype, backend=backend)
    if name in _EMPTY_REFUSED:
        with pytest.raises(ember.ShapeError, match=_EMPTY_REFUSED[name]):
            _apply(layer, ex, x)
        return
    out = _apply(layer, ex, x)
    for y in out if isinstance(out, (tuple, list)) else (out,):
        expect(not isinstance(y, ember.Tensor) or (y.ndim and y.shape[0] == 0),
               f"{name}: an input of shape {empty} gave {getattr(y, 'shape', y)}")


@pytest.mark.parametrize("name", LAYERS)
def test_layer_refuses_an_input_on_another_backend(backend, name):
    """A layer holding parameters or buffers on one backend, given input on another, raises
    the BackendError arithmetic raises (not an AttributeError from a backend's buffers)."""
    layer, ex = _build(name, backend)
    if not any(True for _ in layer.parameters()) and not any(True for _ in layer.buffers()):
        pytest.skip(f"layer {name} holds no tensors: it runs wherever its input is")
    x = _input(ex, other_backend(backend).name, ember.float32)
    with pytest.raises(ember.BackendError, match="different backends|is on|are on"):
        _apply(layer, ex, x)


def test_embedding_refuses_indices_out_of_range(backend):
    """As PyTorch: negative indices do not wrap, and every bad index is an IndexingError."""
    table = registry.get("layers", "embedding")(4, 2)
    for bad, shown in (([[1, 4]], 4), ([0, -1], -1), ([-5], -5)):
        with pytest.raises(ember.IndexingError, match=f"index {shown} is out of range for a "
                                                      f"table of 4 rows"):
            table(ember.tensor(bad, dtype=backend.default_int))
    expect(table(ember.tensor([3, 0], dtype=backend.default_int)).shape == (2, 2), "in range")


@pytest.mark.parametrize("name", INITIALIZERS)
def test_initializer_is_bit_identical_to_numpy(backend, name):
    fn = registry.get("initializers", name)
    ember.manual_seed(3)
    got = fn((6, 4, 3), backend=backend)
    ember.manual_seed(3)
    want = fn((6, 4, 3), backend="numpy")
    expect(got.shape == (6, 4, 3) and got.dtype is ember.float32 and got.device == backend.device,
           f"{name}: {got.shape} {got.dtype} {got.device}")
    np.testing.assert_array_equal(got.numpy(), want.numpy(), err_msg=name)


WINDOW_PATHS = ("fast_im2col", "fast_col2im", "fast_max_pool2d", "fast_max_unpool2d")


def test_conv_and_pool_agree_with_and_without_the_window_fast_paths(backend):
    """The backend's im2col and max-pool fast paths against the composed slices, forward
    and backward, through strides, padding, dilation, groups and overlapping windows."""
    from . import functional as F
    if all(getattr(backend, name) is None for name in WINDOW_PATHS):
        pytest.skip(f"backend {backend.name} has no window fast path")
    rng = np.random.default_rng(0)
    x0, w0 = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 2))

    def run_once():
        x = ember.tensor(x0, dtype=ember.float32, requires_grad=True)
        w = ember.tensor(w0, dtype=ember.float32, requires_grad=True)
        out = F.conv2d(x, w, None, stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
        pooled = F.max_pool2d(out, 2, padding=1) + F.avg_pool2d(out, 2, padding=1)
        overlapping = F.max_pool2d(out, 3, stride=1, padding=1, dilation=(1, 2))
        ((pooled * pooled).sum() + (overlapping * overlapping).sum()).backward()
        return out.numpy(), pooled.numpy(), overlapping.numpy(), x.grad.numpy(), w.grad.numpy()

    fast = run_once()
    with without_fast_paths(backend, *WINDOW_PATHS):
        slow = run_once()
    for a, b, what in zip(fast, slow, ("conv", "pools", "overlapping pool", "input gradient",
                                       "weight gradient")):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=what)


def test_conv3x3_fast_path_agrees_with_the_composed_convolution(backend):
    """A backend's own 3x3 convolution (fast_conv3x3) against im2col's GEMM, forward and
    backward, at the paddings it takes; an infinity gives the composed values."""
    from . import functional as F
    if backend.fast_conv3x3 is None:
        pytest.skip(f"backend {backend.name} has no fast_conv3x3")
    rng = np.random.default_rng(0)
    x0, w0 = rng.standard_normal((4, 16, 17, 16)), rng.standard_normal((16, 16, 3, 3))
    b0 = rng.standard_normal(16)

    def run_once(padding, spot=None):
        x = ember.tensor(x0, dtype=ember.float32, backend=backend, requires_grad=True)
        w = ember.tensor(w0, dtype=ember.float32, backend=backend, requires_grad=True)
        b = ember.tensor(b0, dtype=ember.float32, backend=backend, requires_grad=True)
        if spot is not None:
            x = x + ember.tensor(spot, dtype=ember.float32, backend=backend)
        out = F.conv2d(x, w, b, padding=padding)
        if spot is not None:
            return (out.numpy(),)
        (out * out).sum().backward()
        return out.numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()

    inf = np.zeros(x0.shape)
    inf[1, 2, 3, 4] = np.inf
    for padding, spot in ((0, None), (1, None), (2, None), ((1, 2), None), (1, inf)):
        fast = run_once(padding, spot)
        with without_fast_paths(backend, "fast_conv3x3"):
            slow = run_once(padding, spot)
        for a, b, what in zip(fast, slow, ("conv", "input gradient", "weight gradient",
                                           "bias gradient")):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(b[np.isfinite(b)]).max(),
                                       err_msg=f"{what}, padding {padding}")


def test_addmm_fast_path_gives_matmul_then_add_to_the_bit(backend):
    """A backend's GEMM with its bias added into the product (fast_addmm) against matmul
    then add: a column (a convolution's bias), a row (Linear's) and a full matrix, an
    empty inner dimension, infinities and NaN in the bias; through Linear and conv2d."""
    from . import functional as F
    if backend.fast_addmm is None:
        pytest.skip(f"backend {backend.name} has no fast_addmm")
    rng = np.random.default_rng(7)
    for dtype in (ember.float32, ember.float64):
        if dtype not in backend.dtypes:
            continue
        up = lambda a: backend.from_numpy(np.asarray(a, dtype.np))     # noqa: E731
        for (m, k, n), c_shape in (((5, 7, 3), (5, 1)), ((6, 4, 9), (9,)), ((3, 8, 4), (3, 4)),
                                   ((4, 0, 5), (1, 5))):
            a, b = up(rng.standard_normal((m, k))), up(rng.standard_normal((k, n)))
            c = rng.standard_normal(c_shape)
            c.flat[0], c.flat[-1] = np.inf, np.nan
            got = backend.to_numpy(backend.fast_addmm(up(c), a, b))
            want = backend.add(backend.matmul(a, b), up(c))
            relu = backend.to_numpy(backend.fast_addmm(up(c), a, b, True))
            want_relu = ember.relu(ember.tensor(backend.to_numpy(want), backend=backend)).numpy()
            want = backend.to_numpy(want)
            expect(got.shape == want.shape == relu.shape == (m, n),
                   f"fast_addmm's shape {got.shape}, matmul then add's {want.shape}")
            np.testing.assert_array_equal(got, want, err_msg=f"{dtype.name}, {(m, k, n)}")
            np.testing.assert_array_equal(relu.view(f"u{relu.itemsize}"),
                                          want_relu.view(f"u{relu.itemsize}"),
                                          err_msg=f"relu, {dtype.name}, {(m, k, n)}")
    x = ember.tensor(rng.standard_normal((3, 2, 4, 5)), dtype=ember.float32, backend=backend)
    w = ember.tensor(rng.standard_normal((6, 2, 2, 2)), dtype=ember.float32, backend=backend)
    lw = ember.tensor(rng.standard_normal((7, 5)), dtype=ember.float32, backend=backend)
    bias = ember.tensor(rng.standard_normal(7), dtype=ember.float32, backend=backend)
    fast = F.conv2d(x, w, bias[:6], stride=2).numpy(), F.linear(x, lw, bias).numpy()
    with without_fast_paths(backend, "fast_addmm"):
        slow = F.conv2d(x, w, bias[:6], stride=2).numpy(), F.linear(x, lw, bias).numpy()
    for a, b in zip(fast, slow):
        np.testing.assert_array_equal(a, b)


def test_conv2d_relu_gives_relu_of_conv2d_plus_residual_to_the_bit(backend):
    """F.conv2d_relu against relu(conv2d + residual), composed, forward and backward, to
    the bit: through each way a backend may fuse them (numpy: Winograd's 3x3, with an
    infinity that sends it to the direct sum; the im2col GEMM's fast_addmm) and those it
    does not (depthwise, a residual after im2col); residuals with -0, +-inf and NaN."""
    from . import functional as F
    rng = np.random.default_rng(3)
    for x_shape, w_shape, stride, padding, groups in (
            ((2, 16, 26, 25), (16, 16, 3, 3), 1, 1, 1), ((2, 16, 26, 25), (16, 16, 3, 3), 1, 0, 1),
            ((2, 3, 15, 15), (8, 3, 7, 7), 2, 3, 1), ((2, 8, 9, 9), (16, 8, 1, 1), 2, 0, 1),
            ((2, 8, 9, 9), (8, 1, 3, 3), 1, 1, 8)):
        x0, w0 = rng.standard_normal(x_shape), rng.standard_normal(w_shape) * 0.3
        b0 = rng.standard_normal(w_shape[0])
        if w_shape[2:] == (3, 3) and groups == 1 and padding == 0:
            x0[1, 2, 3, 4] = np.inf
        out_shape = F.conv2d(ember.tensor(x0, dtype=ember.float32, backend=backend),
                             ember.tensor(w0, dtype=ember.float32, backend=backend),
                             stride=stride, padding=padding, groups=groups).shape
        r0 = rng.standard_normal(out_shape)
        r0.flat[:4] = -0.0, np.inf, -np.inf, np.nan
        g0 = rng.standard_normal(out_shape)
        for with_residual in (False, True):
            def run_once(fused):
                x, w, b = (ember.tensor(a, dtype=ember.float32, backend=backend, requires_grad=True)
                           for a in (x0, w0, b0))
                r = ember.tensor(r0, dtype=ember.float32, backend=backend, requires_grad=True) \
                    if with_residual else None
                if fused:
                    y = F.conv2d_relu(x, w, b, stride, padding, groups=groups, residual=r)
                else:
                    y = F.conv2d(x, w, b, stride, padding, groups=groups)
                    y = ember.relu(y + r if with_residual else y)
                y.backward(ember.tensor(g0, dtype=ember.float32, backend=backend))
                return [y.numpy()] + [t.grad.numpy() for t in (x, w, b, r) if t is not None]
            for got, want, what in zip(run_once(True), run_once(False),
                                       ("output", "input gradient", "weight gradient",
                                        "bias gradient", "residual gradient")):
                np.testing.assert_array_equal(got.view("u4"), want.view("u4"),
                                              err_msg=f"{what}, weight {w_shape}, stride {stride}, "
                                                      f"residual {with_residual}")


def test_hard_activation_fast_paths_give_the_composed_values_to_the_bit(backend):
    """A backend's one-pass hardswish and hardsigmoid (fast_hardswish, fast_hardsigmoid)
    against the composed op: every value and the sign of every zero, at and between the
    kinks, subnormals, the dtype's limits, inf and NaN, on a permuted input too."""
    from . import functional as F
    if backend.fast_hardswish is None and backend.fast_hardsigmoid is None:
        pytest.skip(f"backend {backend.name} has neither fast_hardswish nor fast_hardsigmoid")
    edges = [-np.inf, -1e30, -7.5, -3.0000002, -3.0, -2.9999998, -1.0, -1e-40, -0.0, 0.0,
             1e-40, 0.4, 2.9999998, 3.0, 3.0000002, 5.9999995, 6.0, 9.0, 1e30, np.inf, np.nan]
    x0 = np.concatenate([edges, np.linspace(-8, 8, 43)]).reshape(4, 16)
    for dtype in (ember.float32, ember.float64):
        if dtype not in backend.dtypes:
            continue
        limits = np.finfo(dtype.np)
        x0[0, :2] = limits.max, -limits.max
        for x in (ember.tensor(x0, dtype=dtype, backend=backend),
                  ember.tensor(x0.T.copy(), dtype=dtype, backend=backend).permute(1, 0)):
            for f, path in ((F.hardswish, "fast_hardswish"), (F.hardsigmoid, "fast_hardsigmoid")):
                fast = f(x).numpy()
                with without_fast_paths(backend, "fast_hardswish", "fast_hardsigmoid"):
                    slow = f(x).numpy()
                expect(fast.dtype == slow.dtype and fast.shape == slow.shape,
                       f"{path}: {fast.dtype} {fast.shape}, composed {slow.dtype} {slow.shape}")
                np.testing.assert_array_equal(fast.view(f"u{fast.itemsize}"),
                                              slow.view(f"u{slow.itemsize}"),
                                              err_msg=f"{path}, {dtype.name}")


def _conv_reference(x, w, b, stride, padding, dilation):
    """The convolution in float64 and the sum of its products' magnitudes (with the
    bias's), each output's scale for a rounding-error bound."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    kh, kw = w.shape[2:]
    x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = np.lib.stride_tricks.sliding_window_view(x, (dh * (kh - 1) + 1, dw * (kw - 1) + 1),
                                                   (2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
    out = np.einsum("nchwij,ocij->nohw", win, w) + b[:, None, None]
    scale = np.einsum("nchwij,ocij->nohw", np.abs(win), np.abs(w)) + np.abs(b)[:, None, None]
    return out, scale


def test_conv2d_fast_path_gives_the_direct_sum_when_no_gradient_is_needed(backend):
    """A backend's own convolution of one group (fast_conv2d, called where no gradient
    is recorded) against the float64 direct sum, each output within (K + 2) roundings
    of float32 times its products' magnitudes (K the products per output), at the
    strides, paddings, dilations and kernels ResNet uses; with a residual and relu, the
    composed ops' values to the bit; an empty batch, and an infinity, which reaches its
    windows' outputs as the direct sum's does."""
    from . import functional as F
    if backend.fast_conv2d is None:
        pytest.skip(f"backend {backend.name} has no fast_conv2d")
    rng = np.random.default_rng(3)
    up = lambda a: ember.tensor(a, dtype=ember.float32, backend=backend)    # noqa: E731
    eps = float(np.finfo(np.float32).eps)
    for n, c, hw, o, k, stride, padding, dilation in (
            (3, 5, (11, 9), 7, 3, (2, 2), (1, 1), (1, 1)), (2, 3, (20, 20), 8, 7, (2, 2), (3, 3), (1, 1)),
            (40, 6, (4, 4), 5, 1, (1, 1), (0, 0), (1, 1)), (4, 6, (8, 7), 5, 1, (2, 2), (0, 0), (1, 1)),
            (2, 4, (9, 9), 3, 3, (1, 2), (2, 1), (2, 1)), (0, 4, (5, 5), 6, 3, (1, 1), (1, 1), (1, 1))):
        x0, w0 = rng.standard_normal((n, c) + hw), rng.standard_normal((o, c, k, k))
        b0 = rng.standard_normal(o)
        x0, w0, b0 = (a.astype(np.float32).astype(np.float64) for a in (x0, w0, b0))
        want, scale = _conv_reference(x0, w0, b0, stride, padding, dilation)
        r0 = rng.standard_normal(want.shape).astype(np.float32).astype(np.float64)
        with ember.no_grad():
            got = F.conv2d(up(x0), up(w0), up(b0), stride, padding, dilation).numpy()
            fused = F.conv2d_relu(up(x0), up(w0), up(b0), stride, padding, dilation,
                                  residual=up(r0)).numpy()
        geometry = f"{(n, c, hw, o, k)}, stride {stride}, padding {padding}, dilation {dilation}"
        expect(got.shape == want.shape, f"{geometry}: shape {got.shape}, want {want.shape}")
        past = np.abs(got - want) - (c * k * k + 2) * eps * scale
        if np.any(past > 0):
            raise AssertionError(f"{geometry}: past the error bound at "
                                 f"{np.unravel_index(np.argmax(past), past.shape)}")
        composed = np.maximum(got + r0.astype(np.float32), np.float32(0))     # as ember rounds
        np.testing.assert_array_equal(fused.view(np.uint32), composed.view(np.uint32),
                                      err_msg=f"conv2d_relu, {geometry}")
    x0 = np.zeros((2, 3, 6, 6))
    x0[1, 2, 3, 3] = np.inf
    with ember.no_grad():
        got = F.conv2d(up(x0), up(np.ones((4, 3, 3, 3))), None, 2, 1).numpy()
    want = np.zeros((2, 4, 3, 3))
    want[1, :, 1:3, 1:3] = np.inf          # the windows that hold the infinity
    np.testing.assert_array_equal(got, want)


def test_conv2d_takes_a_share_of_the_batch_where_its_windows_pass_the_tensor_limit(backend):
    """Where a backend holds at most max_tensor_bytes in one tensor (wgpu: a binding's
    128 MiB on llvmpipe) and a convolution's windows would pass it, conv2d runs a share
    of the batch at a time: the same values (each within the rounding bound of the
    float64 direct sum) and gradients (norm-wise within 1e-6 of the whole batch's), a
    residual and relu too."""
    from . import functional as F
    rng = np.random.default_rng(4)
    x0, w0, b0 = rng.standard_normal((7, 3, 9, 8)), rng.standard_normal((5, 3, 3, 3)), rng.standard_normal(5)
    r0 = rng.standard_normal((7, 5, 5, 4))
    x0, w0, b0, r0 = (a.astype(np.float32).astype(np.float64) for a in (x0, w0, b0, r0))
    want, scale = _conv_reference(x0, w0, b0, (2, 2), (1, 1), (1, 1))

    def run_once():
        x, w, b = (ember.tensor(a, dtype=ember.float32, backend=backend, requires_grad=True)
                   for a in (x0, w0, b0))
        out = F.conv2d(x, w, b, stride=2, padding=1)
        fused = F.conv2d_relu(x, w, b, stride=2, padding=1,
                              residual=ember.tensor(r0, dtype=ember.float32, backend=backend))
        ((out * out).sum() + fused.sum()).backward()
        return out.numpy(), fused.numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()

    whole = run_once()
    saved, im2col, batches = backend.__dict__.get("max_tensor_bytes"), F.im2col, []

    def spy(x, *args):
        batches.append(x.shape[0])
        return im2col(x, *args)
    backend.max_tensor_bytes = 9000     # the windows of 4 images (8640 bytes): shares 4, 3
    F.im2col = spy
    try:
        split = run_once()
    finally:
        F.im2col = im2col
        if saved is None:
            del backend.max_tensor_bytes
        else:
            backend.max_tensor_bytes = saved
    expect(batches[:4] == [4, 3, 4, 3], f"the windows' batches: {batches}")
    past = np.abs(split[0] - want) - 29 * float(np.finfo(np.float32).eps) * scale
    expect(np.all(past <= 0), f"split conv2d past the error bound by {past.max():.3g}")
    for a, b, what in zip(split[1:], whole[1:], ("conv2d_relu", "input gradient",
                                                 "weight gradient", "bias gradient")):
        err = np.linalg.norm(a - b) / np.linalg.norm(b)
        expect(a.shape == b.shape and err <= 1e-6, f"{what}: {a.shape} against {b.shape}, "
                                                    f"relative error {err:.3g}")


def test_depthwise_fast_path_agrees_with_the_composed_convolution(backend):
    """A backend's depthwise convolution (fast_depthwise_conv2d, groups = channels)
    against im2col's batched GEMM, forward and backward, at strides, paddings, dilations
    and kernel sizes MobileNet uses."""
    from . import functional as F
    if backend.fast_depthwise_conv2d is None:
        pytest.skip(f"backend {backend.name} has no fast_depthwise_conv2d")
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal((2, 5, 13, 12))

    def run_once(k, stride, padding, dilation):
        x = ember.tensor(x0, dtype=ember.float32, backend=backend, requires_grad=True)
        w = ember.tensor(np.random.default_rng(k).standard_normal((5, 1, k, k)),
                         dtype=ember.float32, backend=backend, requires_grad=True)
        b = ember.tensor(np.arange(5.0) - 2, dtype=ember.float32, backend=backend,
                         requires_grad=True)
        out = F.conv2d(x, w, b, stride, padding, dilation, groups=5)
        (out * out).sum().backward()
        return out.numpy(), x.grad.numpy(), w.grad.numpy(), b.grad.numpy()

    for geometry in ((3, 1, 1, 1), (3, 2, 1, 1), (5, 2, 2, 1), (3, 1, 2, 2)):
        fast = run_once(*geometry)
        with without_fast_paths(backend, "fast_depthwise_conv2d"):
            slow = run_once(*geometry)
        for a, b, what in zip(fast, slow, ("conv", "input gradient", "weight gradient",
                                           "bias gradient")):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(b).max(),
                                       err_msg=f"{what}, kernel, stride, padding, dilation "
                                               f"{geometry}")


POOLS = {"2": {"kernel_size": 2},
         "3, stride 1, padding 1": {"kernel_size": 3, "stride": 1, "padding": 1},
         "(2, 3), stride (1, 2), padding 1, dilation (2, 1)":
             {"kernel_size": (2, 3), "stride": (1, 2), "padding": 1, "dilation": (2, 1)}}


def _max_pool_reference(x, kernel_size, stride=None, padding=0, dilation=1):
    """Max pooling by loops over windows in float64, -inf padding."""
    pair = lambda v: (v, v) if isinstance(v, int) else v     # noqa: E731
    (kh, kw), (ph, pw), (dh, dw) = pair(kernel_size), pair(padding), pair(dilation)
    sh, sw = pair(stride if stride is not None else kernel_size)
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    oh = (x.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (x.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = np.empty(x.shape[:2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            window = x[:, :, i * sh: i * sh + dh * (kh - 1) + 1: dh, j * sw: j * sw + dw * (kw - 1) + 1: dw]
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out


@pytest.mark.parametrize("pool", POOLS)
def test_max_pool_matches_window_loops_and_finite_differences(backend, pool):
    from . import functional as F
    x0 = np.random.default_rng(0).standard_normal((2, 3, 7, 8))
    got = F.max_pool2d(ember.tensor(x0, dtype=ember.float32), **POOLS[pool])
    np.testing.assert_allclose(got.numpy(), _max_pool_reference(x0, **POOLS[pool]), rtol=1e-6)
    gradcheck(lambda x: F.max_pool2d(x, **POOLS[pool]), [x0], backend)


def test_max_pool_gives_each_gradient_to_the_first_largest_element(backend):
    """Ties (a ReLU's zeros, saturated pixels) send the window's gradient to its first
    largest element in row-major order, as PyTorch's max_pool2d does."""
    from . import functional as F
    x = ember.tensor([[[[0, 5, 2, 2], [1, 5, 2, 2], [3, 3, -1, 4], [3, 3, 4, -1]]]],
                     dtype=ember.float32, requires_grad=True)
    out = F.max_pool2d(x, 2)
    out.sum().backward()
    np.testing.assert_array_equal(out.numpy()[0, 0], [[5, 2], [3, 4]])
    want = np.zeros((4, 4))
    want[0, 1] = want[0, 2] = want[2, 0] = want[2, 3] = 1
    np.testing.assert_array_equal(x.grad.numpy()[0, 0], want)


def test_max_pool_propagates_nan(backend):
    from . import functional as F
    x0 = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    x0[0, 0, 1, 0] = np.nan
    got = F.max_pool2d(ember.tensor(x0), 2).numpy()[0, 0]
    expect(np.isnan(got[0, 0]), f"max_pool2d: a window holding NaN gave {got[0, 0]}")
    np.testing.assert_array_equal(got[~np.isnan(got)], [7, 13, 15])


def test_max_pool_second_derivative(backend):
    """The gradient of a pool's gradient (a gradient penalty through a CNN)."""
    from . import functional as F
    rng = np.random.default_rng(2)
    x0, v0 = rng.standard_normal((1, 2, 6, 6)), rng.standard_normal((1, 2, 6, 6))
    v = ember.tensor(v0, dtype=grad_dtype(backend), backend=backend)
    vref = ember.tensor(v0, dtype=ember.float64, backend="numpy")

    def penalty(v):
        first = ember.grad(lambda x: (F.max_pool2d(x, 2, padding=1) ** 2).sum())
        return lambda x: (first(x) * v).sum()
    gradcheck(penalty(v), [x0], backend, reference=penalty(vref))
