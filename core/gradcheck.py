"""ember.autograd.gradcheck and gradgradcheck, PyTorch's: a function's gradients (and
the gradients of its gradients) against central differences, for users checking
their own Functions and ops. The comparison is PyTorch's, |analytical - numerical| <=
atol + rtol |numerical| elementwise, and it is meaningful in float64 only: other
dtypes warn, as PyTorch does."""

import warnings

import numpy as np

from .autograd import AutogradError, enable_grad, grad as _grad, no_grad
from .tensor import Tensor


class GradcheckError(AutogradError):
    """A gradient disagrees with its central-difference estimate."""


def _inputs(name, inputs):
    items = inputs if isinstance(inputs, tuple) else (inputs,)
    wrt = [i for i, t in enumerate(items) if isinstance(t, Tensor) and t.requires_grad]
    if not wrt:
        raise AutogradError(f"{name}: no input requires grad; create the ones to check with "
                            f"requires_grad=True")
    for i in wrt:
        if items[i].dtype.name != "float64":
            warnings.warn(f"{name}: input {i} is {items[i].dtype.name}; central differences "
                          f"are meaningful in float64 only (cast with .double())",
                          stacklevel=3)
    return items, wrt


def _outputs(func, items):
    out = func(*items)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor) and o.dtype.is_inexact]


def _numerical(func, items, i, eps):
    """d outputs / d items[i] by central differences: per output, (out.size, x.size)."""
    from .creation import tensor
    x = items[i]
    host = x.detach().numpy().astype(np.float64)
    columns = []
    for k in range(x.size):
        values = []
        for step in (eps, -eps):
            moved = host.copy()
            moved.reshape(-1)[k] += step
            shifted = list(items)
            shifted[i] = tensor(moved, dtype=x.dtype, backend=x._backend)
            with no_grad():
                values.append([o.numpy().astype(np.float64).reshape(-1)
                               for o in _outputs(func, shifted)])
        columns.append([(p - m) / (2 * eps) for p, m in zip(*values)])
    return [np.stack([c[o] for c in columns], axis=1) if columns else None
            for o in range(len(columns[0]) if columns else 0)]


def _analytical(outs, items, wrt):
    """d outputs / d inputs by backward passes (ember.func's Jacobian rows): per output,
    per input, (out.size, x.size) in float64."""
    from .func import jacobian_rows
    xs = [items[i] for i in wrt]
    blocks = jacobian_rows(outs, xs)
    return [[b.numpy().astype(np.float64).reshape(o.size, x.size) for b, x in zip(row, xs)]
            for o, row in zip(outs, blocks)]


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """True when func's gradients with respect to every input that requires grad agree
    with central differences; else a GradcheckError naming the output and input and
    showing both Jacobians (or False, with raise_exception=False)."""
    items, wrt = _inputs("gradcheck", inputs)
    with enable_grad():
        outs = _outputs(func, items)
        analytical = _analytical(outs, items, wrt)
    for j, i in enumerate(wrt):
        numerical = _numerical(func, items, i, eps)
        for o, (num, blocks) in enumerate(zip(numerical, analytical)):
            ana = blocks[j]
            if not np.all(np.abs(ana - num) <= atol + rtol * np.abs(num)):
                if not raise_exception:
                    return False
                raise GradcheckError(f"gradcheck: Jacobian mismatch for output {o} with respect "
                                     f"to input {i},\nnumerical:\n{num}\nanalytical:\n{ana}")
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True):
    """gradcheck of func's vector-Jacobian product, with respect to the inputs and to
    ``grad_outputs`` (random normal ones, requiring grad, when None): the second
    derivatives a backward written in ops must get right."""
    items, wrt = _inputs("gradgradcheck", inputs)
    with enable_grad():
        outs = _outputs(func, items)
    if grad_outputs is None:
        from .creation import randn
        grad_outputs = tuple(randn(*o.shape, dtype=o.dtype, backend=o._backend).requires_grad_()
                             for o in outs)
    grad_outputs = grad_outputs if isinstance(grad_outputs, tuple) else (grad_outputs,)
    n = len(items)

    def vjp(*args):
        from .func import _tracked
        xs, cotangents = list(args[:n]), args[n:]
        with enable_grad():
            for i in wrt:           # differentiable inside, perturbed or not
                xs[i] = _tracked("gradgradcheck", xs[i])
            return tuple(_grad(_outputs(func, xs), [xs[i] for i in wrt], list(cotangents),
                               create_graph=True, allow_unused=True, materialize_grads=True))
    return gradcheck(vjp, tuple(items) + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
