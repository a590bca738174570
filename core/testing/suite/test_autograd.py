"""Autograd semantics on every backend: accumulation, modes, higher order."""

import numpy as np
import pytest

import ember
from ember.testing.checks import expect, grad_dtype


def test_backward_accumulates_into_grad(backend):
    x = ember.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([1.0, -2.0, 3.0]) + 3.0)
    expect(x.grad.requires_grad is False, 'x.grad.requires_grad is False')


def test_tensor_used_twice_sums_both_paths(backend):
    x = ember.tensor([0.5, 2.0], requires_grad=True)
    y = x * 2.0
    (y * y + y).sum().backward()   # d/dx (4x^2 + 2x) = 8x + 2
    np.testing.assert_allclose(x.grad.numpy(), 8 * np.array([0.5, 2.0]) + 2, rtol=1e-6)


def test_no_grad_records_nothing(backend):
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    with ember.no_grad():
        y = x * 2.0
    expect(not y.requires_grad and y.grad_fn is None, 'not y.requires_grad and y.grad_fn is None')
    expect(ember.is_grad_enabled(), 'ember.is_grad_enabled()')


def test_no_grad_as_decorator(backend):
    @ember.no_grad()
    def f(t):
        return t * 2.0
    expect(not f(ember.tensor([1.0], requires_grad=True)).requires_grad,
           'not f(ember.tensor([1.0], requires_grad=True)).requires_grad')


def test_detach_cuts_the_graph(backend):
    x = ember.tensor([3.0], requires_grad=True)
    y = x * x.detach()   # d/dx = x (the detached factor is a constant)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0])


def test_retain_grad_on_intermediate(backend):
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3.0).retain_grad()
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * 3 * np.array([1.0, 2.0]))
    np.testing.assert_allclose(x.grad.numpy(), 18 * np.array([1.0, 2.0]))


def test_integer_results_do_not_require_grad(backend):
    x = ember.tensor([1.0, 5.0, 2.0], requires_grad=True)
    expect(not x.argmax().requires_grad, 'not x.argmax().requires_grad')
    expect(not (x > 1.0).requires_grad, 'not (x > 1.0).requires_grad')


def test_second_derivative_of_tanh_is_exact(backend):
    """d2/dx2 tanh(x) = -2 tanh(x) (1 - tanh(x)^2), via create_graph and via grad(grad)."""
    values = np.array([-1.5, -0.3, 0.0, 0.4, 2.0])
    expected = -2 * np.tanh(values) * (1 - np.tanh(values) ** 2)
    x = ember.tensor(values, dtype=grad_dtype(backend), requires_grad=True)
    (g,) = [ember.grad(lambda t: ember.tanh(t).sum())(x)]
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-5, atol=1e-6)
    d2 = ember.grad(lambda t: ember.grad(lambda u: ember.tanh(u).sum())(t).sum())
    np.testing.assert_allclose(d2(ember.tensor(values, dtype=grad_dtype(backend))).numpy(), expected,
                               rtol=1e-5, atol=1e-6)


def test_backward_create_graph_then_backward_again(backend):
    x = ember.tensor([2.0], requires_grad=True)
    (x ** 3.0).sum().backward(create_graph=True)   # x.grad = 3x^2, still a graph
    first = x.grad
    x.grad = None
    first.sum().backward()                          # d/dx 3x^2 = 6x
    np.testing.assert_allclose(first.numpy(), [12.0], rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), [12.0], rtol=1e-6)


def test_grad_of_several_arguments_and_unused(backend):
    f = ember.grad(lambda a, b, c: (a * b).sum(), argnums=(0, 1, 2))
    a, b, c = ember.tensor([1.0, 2.0]), ember.tensor([3.0, 4.0]), ember.tensor([5.0])
    ga, gb, gc = f(a, b, c)
    np.testing.assert_allclose(ga.numpy(), [3.0, 4.0])
    np.testing.assert_allclose(gb.numpy(), [1.0, 2.0])
    np.testing.assert_allclose(gc.numpy(), [0.0])


def test_gradient_crosses_dtype_casts(backend):
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(ember.float16).to(ember.float32) if ember.float16 in backend.dtypes else x * 1.0
    (y * 2.0).sum().backward()
    expect(x.grad.dtype is ember.float32, 'x.grad.dtype is ember.float32')
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_backward_needs_a_scalar_or_a_grad(backend):
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ember.AutogradError, match=r"backward: the output has shape \(2,\)"):
        (x * 2.0).backward()
    (x * 2.0).backward(ember.ones(2))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_inplace_on_a_graph_tensor_is_refused(backend):
    x = ember.tensor([1.0], requires_grad=True)
    with pytest.raises(ember.AutogradError, match="in-place"):
        x += 1.0
    with ember.no_grad():
        x -= 0.5
    np.testing.assert_allclose(x.numpy(), [0.5])
    expect(x.requires_grad, 'x.requires_grad')


def test_long_chain_does_not_recurse(backend):
    x = ember.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0])


class _Cube(ember.autograd.Function):
    """x^3 and x^2 with a hand-written backward in tensor ops (differentiable again)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x, x * x

    @staticmethod
    def backward(ctx, g_cube, g_square):
        (x,) = ctx.saved_tensors
        return 3.0 * x * x * g_cube + 2.0 * x * g_square


def test_custom_function_autograd_grad_and_jacobians(backend):
    """ember.autograd.Function, ember.autograd.grad and ember.func on this backend: exact
    polynomial derivatives, so the comparison is exact."""
    x = ember.tensor([1.0, -2.0, 0.5], requires_grad=True)
    cube, square = _Cube.apply(x)
    (g,) = ember.autograd.grad((cube + square).sum(), x, create_graph=True)
    (gg,) = ember.autograd.grad(g.sum(), x)
    v = np.array([1.0, -2.0, 0.5])
    np.testing.assert_array_equal(g.numpy(), 3 * v ** 2 + 2 * v)
    np.testing.assert_array_equal(gg.numpy(), 6 * v + 2)
    jac = ember.func.jacrev(lambda t: t * t.sum())(x.detach())
    np.testing.assert_array_equal(jac.numpy(), np.diag([v.sum()] * 3) + v[:, None])
    jvp = ember.func.jvp(lambda t: t * t, (x.detach(),), (ember.ones(3),))[1]
    np.testing.assert_array_equal(jvp.numpy(), 2 * v)
