"""ember.autograd.functional: PyTorch's torch.autograd.functional (vjp, jvp, jacobian,
hessian, vhp, hvp) over functions of a tensor or a tuple of tensors.

Results are detached unless ``create_graph``; with ``strict`` an output independent of
an input is an error rather than zeros. Forward mode is two reverse passes and each
Jacobian row or column one pass, as in ember.func (whose module says what each
costs); ``vectorize`` is accepted and changes nothing.
"""

from . import func as _func
from .autograd import AutogradError, enable_grad, grad as _grad
from .tensor import Tensor

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]


def _as_tuple(name, value, what):
    """A tensor or a tuple of tensors as (tuple, whether it was a tuple)."""
    many = isinstance(value, tuple)
    items = value if many else (value,)
    if not all(isinstance(t, Tensor) for t in items):
        raise AutogradError(f"{name}: {what} must be a tensor or a tuple of tensors, got "
                            f"{type(value).__name__}")
    return items, many


def _prepared(name, inputs, create_graph):
    """The inputs as fresh nodes that require grad (joined to the caller's graph only
    when create_graph), and whether inputs was a tuple."""
    items, many = _as_tuple(name, inputs, "inputs")
    return tuple(_func._tracked(name, t if create_graph else t.detach()) for t in items), many


def _outputs(name, out):
    return _as_tuple(name, out, "the function's output")


def _vector(name, v, like, what):
    """v, checked against the tensors ``like``; None means 1 for single-element ones."""
    if v is None:
        if len(like) != 1 or like[0].size != 1:
            raise AutogradError(f"{name}: v may be None only when the {what} is a single "
                                f"single-element tensor; give v")
        from .creation import ones_like
        return (ones_like(like[0]),)
    items, _ = _as_tuple(name, v, "v")
    if len(items) != len(like) or any(a.shape != b.shape for a, b in zip(items, like)):
        raise AutogradError(f"{name}: v has shapes {[t.shape for t in items]}, the {what} "
                            f"{[t.shape for t in like]}; they must match")
    return items


def _grads(name, outputs, inputs, cotangents, create_graph, strict):
    """d <outputs, cotangents> / d inputs; zeros (or, strict, an error) where unused."""
    from .creation import zeros_like
    live = [(o, c) for o, c in zip(outputs, cotangents) if o.requires_grad]
    found = list(_grad([o for o, _ in live], inputs, [c for _, c in live],
                       create_graph=True, allow_unused=True)) if live else [None] * len(inputs)
    for i, g in enumerate(found):
        if g is None:
            if strict:
                raise AutogradError(f"{name}: the output is independent of input {i}, which "
                                    f"strict=True does not allow")
            found[i] = zeros_like(inputs[i])
    return found


def _strict(name, strict):
    """_grads as the gradients function of ember.func's Jacobian and dual helpers."""
    return lambda outputs, inputs, cotangents: _grads(name, outputs, inputs, cotangents,
                                                      True, strict)


def _result(values, many, create_graph):
    values = tuple(v if create_graph else v.detach() for v in values)
    return values if many else values[0]


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the gradient of <func(inputs), v> with respect to inputs."""
    xs, many_in = _prepared("vjp", inputs, create_graph)
    with enable_grad():
        outs, many_out = _outputs("vjp", func(*xs))
        g = _grads("vjp", outs, xs, _vector("vjp", v, outs, "output"), create_graph, strict)
    return _result(outs, many_out, create_graph), _result(g, many_in, create_graph)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): func's derivative in the direction v (two reverse passes)."""
    xs, many_in = _prepared("jvp", inputs, create_graph)
    v = _vector("jvp", v, xs, "inputs")
    with enable_grad():
        outs, many_out = _outputs("jvp", func(*xs))
        us, g = _func.dual("jvp", outs, xs, _strict("jvp", strict))
        directions = _func._directional(g, us, v)
    return _result(outs, many_out, create_graph), _result(directions, many_out, create_graph)


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """func's Jacobian: for one input and one output a tensor of shape output.shape +
    input.shape; for tuples, a tuple over outputs of tuples over inputs."""
    if strategy not in ("reverse-mode", "forward-mode"):
        raise AutogradError(f"jacobian: strategy must be 'reverse-mode' or 'forward-mode', "
                            f"got {strategy!r}")
    xs, many_in = _prepared("jacobian", inputs, create_graph)
    with enable_grad():
        outs, many_out = _outputs("jacobian", func(*xs))
        gradients = _strict("jacobian", strict)
        if strategy == "reverse-mode":
            blocks = _func.jacobian_rows(outs, xs, gradients)
        else:
            blocks = _func.jacobian_columns(outs, xs, *_func.dual("jacobian", outs, xs,
                                                                   gradients))
    rows = [_result(row, many_in, create_graph) for row in blocks]
    return tuple(rows) if many_out else rows[0]


def _scalar(name, func):
    def wrapped(*xs):
        out = func(*xs)
        if not isinstance(out, Tensor) or out.size != 1:
            got = out.shape if isinstance(out, Tensor) else type(out).__name__
            raise AutogradError(f"{name}: the function must return a single-element tensor, "
                                f"got {got}")
        return out.reshape(())
    return wrapped


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a single-element func: shape input.shape * 2 for one input; for a
    tuple, H[i][j] of shape inputs[i].shape + inputs[j].shape."""
    _, many = _as_tuple("hessian", inputs, "inputs")
    scalar = _scalar("hessian", func)

    def gradient(*ys):
        g = jacobian(scalar, ys, create_graph=True, strict=strict)
        return g if many else g[0]
    return jacobian(gradient, inputs, create_graph=create_graph, strict=strict,
                    strategy=outer_jacobian_strategy)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a single-element func."""
    return _hessian_product("vhp", func, inputs, v, create_graph, strict)


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for a single-element func: v^T H, since the Hessian of a
    twice continuously differentiable function is symmetric."""
    return _hessian_product("hvp", func, inputs, v, create_graph, strict)


def _hessian_product(name, func, inputs, v, create_graph, strict):
    xs, many = _prepared(name, inputs, create_graph)
    v = _vector(name, v, xs, "inputs")
    with enable_grad():
        out = _scalar(name, func)(*xs)
        g = _grads(name, [out], xs, [None], True, strict)
        terms = [(gi * vi).sum() for gi, vi in zip(g, v) if gi.requires_grad]
        if terms:
            product = _grads(name, [sum(terms[1:], terms[0])], xs, [None], True, strict)
        else:
            if strict:
                raise AutogradError(f"{name}: the gradient is independent of the inputs, "
                                    f"which strict=True does not allow")
            from .creation import zeros_like
            product = [zeros_like(x) for x in xs]
    return _result((out,), False, create_graph), _result(product, many, create_graph)

