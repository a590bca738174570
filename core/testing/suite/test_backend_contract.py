"""What the registry and the core expect of any backend class."""

import itertools

import numpy as np

import ember
from ember.testing.checks import expect, without_fast_paths
from ember import dtypes as dt
from ember.backend import PRIMITIVES
from ember.ops import special
from ember.ops.activation import gelu_tanh
from ember.ops.reduce import standardize


def test_declares_the_whole_primitive_table(backend):
    expect(type(backend).missing_primitives() == [], "every primitive must be implemented")
    expect(all(callable(getattr(backend, p)) for p in PRIMITIVES),
           'all(callable(getattr(backend, p)) for p in PRIMITIVES)')


def test_declares_name_devices_and_dtypes(backend):
    cls = type(backend)
    expect(ember.registry.get("backends", backend.name) is cls,
           'ember.registry.get("backends", backend.name) is cls')
    expect(cls.devices() and all(isinstance(d, str) for d in cls.devices()),
           'cls.devices() and all(isinstance(d, str) for d in cls.devices())')
    expect(cls.dtypes <= set(dt.ALL) and dt.float32 in cls.dtypes and dt.bool_ in cls.dtypes,
           'cls.dtypes <= set(dt.ALL) and dt.float32 in cls.dtypes and dt.bool_ in cls.dtypes')
    expect(backend.default_int in cls.dtypes and not backend.default_int.is_float,
           'backend.default_int in cls.dtypes and not backend.default_int.is_float')
    expect(cls.availability() == (True, ""), 'cls.availability() == (True, "")')


def test_fast_paths_agree_with_the_composed_fallbacks(backend):
    """A backend's optional fast path must give what the core's fallback gives."""
    x = ember.randn(4, 5)
    for name, fn in (("fast_relu", ember.relu), ("fast_sigmoid", ember.sigmoid),
                     ("fast_gelu_tanh", gelu_tanh), ("fast_softmax", ember.softmax),
                     ("fast_log_softmax", ember.log_softmax),
                     ("fast_standardize", lambda t: standardize(t, -1)),
                     ("fast_erf", special.erf), ("fast_gelu", special.gelu),
                     ("fast_fmod", lambda t: ember.fmod(t * 1e6, 0.7)),
                     ("fast_trunc_div", lambda t: (t * 1e3).to(ember.int32) // -7),
                     ("fast_remainder", lambda t: (t * 1e3) % -0.7),
                     ("fast_floor_divide", lambda t: (t * 1e3) // 0.7),
                     ("fast_remainder", lambda t: (t * 1e3).to(ember.int32) % -7),
                     ("fast_floor_divide", lambda t: (t * 1e3).to(ember.int32) // -7)):
        if getattr(backend, name) is None:
            continue
        fast = fn(x).numpy()
        with without_fast_paths(backend, name):
            slow = fn(x).numpy()
        expect(abs(fast - slow).max() <= 1e-5, name)
    if backend.fast_relu_grad is not None:
        g = ember.randn(4, 5)
        relu_grad = ember.grad(lambda t: (ember.relu(t) * g).sum())
        fast = relu_grad(x).numpy()
        with without_fast_paths(backend, "fast_relu_grad"):
            slow = relu_grad(x).numpy()
        expect(np.array_equal(fast, slow), "fast_relu_grad")
    if backend.fast_gelu_tanh_grad is not None:
        gelu_grad = ember.grad(lambda t: gelu_tanh(t).sum())
        fast = gelu_grad(x).numpy()
        with without_fast_paths(backend, "fast_gelu_tanh_grad"):
            slow = gelu_grad(x).numpy()
        expect(abs(fast - slow).max() <= 1e-5 * abs(slow).max(), "fast_gelu_tanh_grad")
    if backend.fast_gelu_grad is not None:
        gelu_grad = ember.grad(lambda t: special.gelu(t).sum())
        fast = gelu_grad(x).numpy()
        with without_fast_paths(backend, "fast_gelu_grad"):
            slow = gelu_grad(x).numpy()
        expect(abs(fast - slow).max() <= 1e-5 * abs(slow).max(), "fast_gelu_grad")
    if backend.fast_standardize_grad is not None:
        g = ember.randn(4, 5)
        standardize_grad = ember.grad(lambda t: (standardize(t, (0, 1)) * g).sum())
        fast = standardize_grad(x).numpy()
        with without_fast_paths(backend, "fast_standardize_grad"):
            slow = standardize_grad(x).numpy()
        expect(abs(fast - slow).max() <= 1e-5 * abs(slow).max(), "fast_standardize_grad")


def test_device_string_round_trips(backend):
    expect(ember.get_backend(backend.device) is backend,
           'ember.get_backend(backend.device) is backend')


_ATTENTION_CASES = [   # (q, k, v shapes, keyword arguments, mask: None, "padding" or "float")
    (((2, 3, 40, 64), (2, 3, 33, 64), (2, 3, 33, 64)), {"is_causal": True}, None),
    (((2, 2, 5, 8), (2, 2, 7, 8), (2, 2, 7, 4)), {}, "padding"),
    (((1, 2, 4, 3), (2, 1, 6, 3), (2, 6, 2)), {"scale": 0.7}, "float"),
    (((2, 4, 6, 8), (2, 4, 6, 8), (2, 4, 6, 8)), {"dropout_p": 0.3}, None),
]


def test_fast_attention_agrees_with_the_composed_op(backend):
    """The fast path's output and gradients (causal, masks that broadcast, a row that may
    attend nowhere, dropout, any feature count) are the composed op's, to float32's
    rounding; a NaN stays in its own batch entry."""
    if backend.fast_attention is None:
        return
    rng = np.random.default_rng(0)
    for shapes, kw, masking in _ATTENTION_CASES:
        arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        if masking == "padding":                 # (batch, 1, 1, S): the last keys of batch 1
            mask = np.ones((2, 1, 1, 7), bool)
            mask[1, ..., 4:] = False
            kw = {**kw, "attn_mask": ember.tensor(mask, backend=backend)}
        elif masking == "float":                 # (L, S) with a row masked everywhere
            bias = rng.standard_normal((4, 6)).astype(np.float32)
            bias[2] = -np.inf
            kw = {**kw, "attn_mask": ember.tensor(bias, backend=backend)}

        def run():
            ember.manual_seed(1)
            ts = [ember.tensor(a, backend=backend, requires_grad=True) for a in arrays]
            out = ember.scaled_dot_product_attention(*ts, **kw)
            weights = np.linspace(-1, 1, out.size, dtype=np.float32).reshape(out.shape)
            (out * ember.tensor(weights, backend=backend)).sum().backward()
            return [out.numpy()] + [t.grad.numpy() for t in ts]
        fast = run()
        with without_fast_paths(backend, "fast_attention", "fast_attention_grad"):
            slow = run()
        for name, a, b in zip(("output", "dq", "dk", "dv"), fast, slow):
            error = abs(a - b).max() / max(abs(b).max(), 1e-30)
            expect(error <= 2e-6, f"fast_attention {shapes} {masking} {kw}: {name} off by "
                                  f"{error:.1e} of its largest value")
    q = rng.standard_normal((2, 3, 4)).astype(np.float32)
    q[1, 0, 0] = np.nan
    t = ember.tensor(q, backend=backend)
    out = ember.scaled_dot_product_attention(t, t, t).numpy()
    expect(np.isfinite(out[0]).all() and np.isnan(out[1]).all(), "a NaN leaves its batch entry")


def test_elementwise_ops_read_every_operand_layout_of_a_large_tensor(backend):
    """Past a few thousand elements a device backend may pick a kernel per operand
    layout (each operand whole, one element, broadcast or strided, at each rank, into a
    strided output); the op table's small tensors may all take one general kernel. Each
    layout here gives NumPy's bits."""
    rng = np.random.default_rng(0)
    for shape in ((6000,), (75, 80), (5, 30, 40), (3, 4, 25, 20)):
        whole = rng.standard_normal(shape).astype(np.float32)
        row = rng.standard_normal(shape[-1:]).astype(np.float32)
        column = rng.standard_normal(shape[:-1] + (1,)).astype(np.float32)
        flipped = np.ascontiguousarray(np.swapaxes(whole, 0, -1))     # whole, transposed
        one = np.float32(0.75)
        mask = whole > 0
        operands = {"whole": (whole, ember.tensor(whole)), "one": (one, ember.tensor(one)),
                    "row": (row, ember.tensor(row)), "column": (column, ember.tensor(column)),
                    "strided": (whole, ember.tensor(flipped).swapaxes(0, -1) if len(shape) > 1
                                else ember.tensor(np.repeat(whole, 2))[1::2])}
        for (a_name, (a, ta)), (b_name, (b, tb)) in itertools.product(operands.items(), repeat=2):
            if np.broadcast_shapes(np.shape(a), np.shape(b)) != shape:
                continue
            expect(np.array_equal((ta - tb).numpy(), a - b), f"{shape}: {a_name} - {b_name}")
        strided = operands["strided"][1]
        expect(np.array_equal(ember.where(ember.tensor(mask), strided, operands["row"][1]).numpy(),
                              np.where(mask, whole, row)), f"{shape}: where")
        expect(np.array_equal(ember.exp(strided).numpy(),
                              ember.exp(ember.tensor(whole)).numpy()), f"{shape}: exp, strided")
        target = ember.zeros(flipped.shape).swapaxes(0, -1) if len(shape) > 1 \
            else ember.zeros(2 * shape[0])[::2]
        target[...] = ember.tensor(whole) * 2      # into a strided output
        expect(np.array_equal(target.numpy(), whole * 2), f"{shape}: into a strided view")
