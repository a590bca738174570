"""Autocast on every backend, in each 16-bit float dtype: which ops run low and which in
float32 (PyTorch's lists), gradients reaching float32 parameters, compiled calls, and a
clear refusal where the backend lacks the dtype."""

import numpy as np
import pytest

import ember
from ember import dtypes as dt
from ember.testing.checks import expect

HALF = [pytest.param(d, id=d.name) for d in dt.HALF]


def _inputs(backend, seed=0):
    rng = np.random.default_rng(seed)
    x = ember.tensor(rng.standard_normal((4, 8)).astype(np.float32), backend=backend)
    w = ember.tensor(rng.standard_normal((8, 5)).astype(np.float32) * 0.3, backend=backend,
                     requires_grad=True)
    return x, w


def _need(backend, dtype):
    if dtype not in backend.dtypes:
        pytest.skip(f"backend {backend.name} has no {dtype.name}")


@pytest.mark.parametrize("dtype", HALF)
def test_autocast_runs_matmul_low_and_reductions_in_float32(backend, dtype):
    _need(backend, dtype)
    x, w = _inputs(backend)
    with ember.autocast(dtype):
        y = x @ w
        q = ember.scaled_dot_product_attention(x[None], x[None], x[None])
        found = {"matmul": y.dtype, "attention": q.dtype, "softmax": ember.softmax(y).dtype,
                 "log_softmax": ember.log_softmax(y).dtype, "exp": ember.exp(y).dtype,
                 "sum": y.sum().dtype, "logsumexp": ember.logsumexp(y, 1).dtype,
                 "pow": (y ** 2).dtype, "tanh": ember.tanh(y).dtype,
                 "add float32": (y + x[:, :5]).dtype, "float64 matmul": ember.ones(
                     2, 2, dtype=ember.float64, backend=backend).matmul(ember.ones(
                         2, 2, dtype=ember.float64, backend=backend)).dtype
                 if ember.float64 in backend.dtypes else ember.float64}
        with ember.autocast(enabled=False):
            found["matmul, autocast off"] = (x @ w).dtype
    found["matmul after"] = (x @ w).dtype
    want = {"matmul": dtype, "attention": dtype, "softmax": ember.float32,
            "log_softmax": ember.float32, "exp": ember.float32, "sum": ember.float32,
            "logsumexp": ember.float32, "pow": ember.float32, "tanh": dtype,
            "add float32": ember.float32, "float64 matmul": ember.float64,
            "matmul, autocast off": ember.float32, "matmul after": ember.float32}
    wrong = {k: (found[k].name, want[k].name) for k in want if found[k] is not want[k]}
    expect(not wrong, f"autocast({dtype.name}) dtypes (got, want): {wrong}")


@pytest.mark.parametrize("dtype", HALF)
def test_autocast_gradients_reach_float32_parameters(backend, dtype):
    """The parameter stays float32 and gets a float32 gradient, within the 16-bit dtype's
    rounding of the float32 one; backward itself runs outside autocast."""
    _need(backend, dtype)
    x, w = _inputs(backend)

    def loss():
        return ember.log_softmax(ember.tanh(x @ w), -1).sum()

    loss().backward()
    exact = w.grad.numpy().astype(np.float64)
    w.grad = None
    with ember.autocast(dtype):
        out = loss()
        out.backward()
    expect(out.dtype is ember.float32 and w.dtype is ember.float32
           and w.grad.dtype is ember.float32,
           f"loss {out.dtype}, weight {w.dtype}, gradient {w.grad.dtype}")
    err = np.linalg.norm(w.grad.numpy() - exact) / np.linalg.norm(exact)
    eps = float(dt.finfo(dtype).eps)
    expect(err < 8 * eps, f"gradient under autocast({dtype.name}) is {err:.2e} off (norm-wise), "
                          f"over 8 eps = {8 * eps:.1e}")


@pytest.mark.parametrize("dtype", HALF)
def test_compiled_calls_keep_a_trace_per_autocast_state(backend, dtype):
    _need(backend, dtype)
    x, w = _inputs(backend)
    f = ember.compile(lambda a: ember.softmax(a @ w.detach(), -1) @ w.detach().T)
    with ember.autocast(dtype):
        eager = (ember.softmax(x @ w.detach(), -1) @ w.detach().T).numpy()
        got = [f(x) for _ in range(3)]
    plain = [f(x) for _ in range(3)]
    expect(all(g.dtype is dtype for g in got) and all(p.dtype is ember.float32 for p in plain),
           f"compiled dtypes {[g.dtype.name for g in got]} under autocast, "
           f"{[p.dtype.name for p in plain]} after")
    for g in got:
        np.testing.assert_array_equal(g.numpy(), eager, err_msg="compiled replay under autocast")


def test_autocast_without_the_dtype_is_refused_by_name(backend):
    missing = [d for d in dt.HALF if d not in backend.dtypes]
    if not missing:
        pytest.skip(f"backend {backend.name} holds both 16-bit floats")
    x, w = _inputs(backend)
    with ember.autocast(missing[0]):
        with pytest.raises(ember.DTypeError, match=missing[0].name):
            x @ w
    with pytest.raises(ember.DTypeError, match="float16 or bfloat16"):
        ember.autocast(ember.float32)
