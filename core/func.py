"""ember.func: PyTorch's torch.func transforms of functions of tensors (grad,
grad_and_value, vjp, jvp, jacrev, jacfwd, hessian, vmap), built on the tape: each
differentiates with ember.autograd.grad and create_graph, so the transforms compose
with one another and with themselves.

What each costs, in passes over f:
- grad, grad_and_value, vjp: one forward and one backward pass.
- jvp: forward mode as two reverse passes. g(u) = J^T u is linear in u, so J t is
  the gradient of <g(u), t> with respect to u (about three times f).
- jacrev: one backward pass per output element. jacfwd: one pass of g's graph per
  input element, after one forward and one backward. hessian: jacrev of jacrev.
- vmap: one batched pass of func's recording (see ember.vmapping).

Every argument a transform differentiates is taken through a fresh node. Its inner
gradient then holds only the paths through that argument, even when the same tensor
is also an outer transform's input (no perturbation confusion). Results whose graph
reaches only those fresh nodes are detached on the way out, as PyTorch's are.
ember.func has no functional_call: a module's is ember.plugins.nn.functional_call.
"""

import functools

from .autograd import AutogradError, Op, enable_grad, grad as _autograd_grad, run
from .pytree import tensors_of, unflatten
from .tensor import Tensor
from .vmapping import check_mode as _check_mode, stack_module_state, vmap

__all__ = ["grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "jvp", "stack_module_state",
           "vjp", "vmap"]


class _Alias(Op):
    """The same values as a new node of the graph: what a transform differentiates by."""

    __slots__ = ()
    moves = True

    def forward(self, x):
        return x

    def backward(self, g, x):
        return (g,)


def _tracked(name, x):
    """x as a fresh node that requires grad (a leaf when x is outside every graph)."""
    if not isinstance(x, Tensor):
        raise AutogradError(f"{name}: differentiates tensors, got a {type(x).__name__}")
    if not x.dtype.is_inexact:
        raise AutogradError(f"{name}: an input has dtype {x.dtype}; only floating and "
                            f"complex tensors have gradients (cast with .to(ember.float32))")
    if not x.requires_grad:
        return x.detach().requires_grad_()
    return run(_Alias(), (x,), x.shape, x.dtype)


def _argnums(name, argnums, count):
    """argnums as a tuple of positions, and whether it was given as a tuple."""
    many = isinstance(argnums, (tuple, list))
    nums = tuple(argnums) if many else (argnums,)
    for n in nums:
        if not isinstance(n, int) or not -count <= n < count:
            raise AutogradError(f"{name}: argnums {argnums!r} does not name one of the "
                                f"{count} positional arguments")
    return tuple(n % count for n in nums), many


def _track_args(name, args, argnums):
    """args with the tensors at ``argnums`` (pytrees of them) replaced by tracked nodes:
    (new args, the tracked tensors, and per argnum its (spec, count of tensors))."""
    nums, many = _argnums(name, argnums, len(args))
    args, tracked, parts = list(args), [], []
    for n in nums:
        leaves, spec = tensors_of(args[n])
        if not leaves:
            raise AutogradError(f"{name}: argument {n} holds no tensor to differentiate")
        new = [_tracked(name, t) for t in leaves]
        args[n] = unflatten(spec, new)
        tracked += new
        parts.append((spec, len(new)))
    return args, tracked, (parts, many)


def _per_argnum(values, layout):
    """A flat list of per-tracked-tensor values in the shape of the differentiated
    arguments: one structure, or a tuple of them when argnums was a tuple."""
    parts, many = layout
    out, start = [], 0
    for spec, count in parts:
        out.append(unflatten(spec, values[start:start + count]))
        start += count
    return tuple(out) if many else out[0]


def _split_aux(name, out, has_aux):
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise AutogradError(f"{name}: with has_aux=True the function must return a pair "
                            f"(output, aux), got {type(out).__name__}")
    return out[0], out[1]


def _gradients(outputs, inputs, cotangents):
    """d <outputs, cotangents> / d inputs, differentiable again; zeros where unused."""
    live = [(o, c) for o, c in zip(outputs, cotangents) if o.requires_grad]
    if not live:
        from .creation import zeros_like
        return [zeros_like(x) for x in inputs]
    return list(_autograd_grad([o for o, _ in live], inputs, [c for _, c in live],
                               create_graph=True, allow_unused=True, materialize_grads=True))


def _release(values, own):
    """Detach the tensors in ``values`` whose graph reaches no leaf but the transform's
    own tracked ones (``own``, by id): only an outer transform or tape may keep them."""
    from .autograd import _topological
    leaves, spec = tensors_of(values)

    def only_own(roots):
        return all(id(n) in own for n in _topological(roots) if n._ctx is None)
    live = [t for t in leaves if t.requires_grad]
    everything = only_own(live)          # one walk for the usual case: no outer graph
    return unflatten(spec, [t.detach() if t.requires_grad and (everything or only_own([t]))
                            else t for t in leaves])


def _own(tracked):
    """The ids of the graph leaves a transform made (the aliases' own inputs are outer)."""
    return {id(t) for t in tracked if t._ctx is None}


def grad_and_value(func, argnums=0, has_aux=False):
    """The function returning (d func / d args[argnums], func's value) for a
    single-element real func; with ``has_aux``, func returns (output, aux) and the
    result is (gradient, (value, aux)). argnums may be a tuple, and an argument a
    tuple, list or dict of tensors: the gradient has its structure."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        args, tracked, layout = _track_args("grad", args, argnums)
        with enable_grad():
            out, aux = _split_aux("grad", func(*args, **kwargs), has_aux)
            if not isinstance(out, Tensor) or out.size != 1 or out.dtype.is_complex:
                got = (f"a {out.dtype} tensor of shape {out.shape}" if isinstance(out, Tensor)
                       else f"a {type(out).__name__}")
                raise AutogradError(f"grad: the function must return a single-element real "
                                    f"tensor, got {got}")
            from .creation import ones_like
            grads = _gradients([out], tracked, [ones_like(out)])
        result, value = _release((_per_argnum(grads, layout), (out, aux)), _own(tracked))
        return (result, value) if has_aux else (result, value[0])
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """The function computing d func / d args[argnums] for a single-element real func
    (PyTorch's torch.func.grad). Its result is differentiable again, so
    ``grad(grad(f))`` is the second derivative. With ``has_aux`` it returns
    (gradient, aux)."""
    both = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = both(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return wrapper


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn[, aux]): ``vjp_fn(cotangents)`` (structured like func's
    output) gives the tuple of d <output, cotangents> / d primals, one per primal, each
    structured like it. vjp_fn may be called many times."""
    args, tracked, layout = _track_args("vjp", primals, tuple(range(len(primals))))
    with enable_grad():
        out, aux = _split_aux("vjp", func(*args), has_aux)
    outs, out_spec = tensors_of(out)
    if not outs:
        raise AutogradError("vjp: the function returned no tensor")
    own = _own(tracked)

    def vjp_fn(cotangents):
        given, _ = tensors_of(cotangents)
        _matching("vjp", "cotangent", given, "output", outs)
        with enable_grad():
            grads = _gradients(outs, tracked, given)
        result = _per_argnum(grads, layout)
        return _release(result if isinstance(result, tuple) else (result,), own)

    value = _release(out, own)
    return (value, vjp_fn, aux) if has_aux else (value, vjp_fn)


def _matching(name, what, given, of, like):
    """``given`` (cotangents, tangents) one per tensor of ``like``, each of its shape."""
    if len(given) != len(like):
        raise AutogradError(f"{name}: {len(given)} {what}s for {len(like)} {of} tensors; give "
                            f"them in the structure of the {of}s")
    for g, x in zip(given, like):
        if g.shape != x.shape:
            raise AutogradError(f"{name}: a {what} has shape {g.shape} for a {of} of shape "
                                f"{x.shape}")


def _real(name, tensors):
    for t in tensors:
        if t.dtype.is_complex:
            raise AutogradError(f"{name}: ember's forward mode is two reverse passes, which "
                                f"need real tensors; got {t.dtype}. Differentiate the real "
                                f"and imaginary parts (ember.view_as_real) instead")


def dual(name, outs, inputs, gradients=None):
    """Stand-ins u for the outputs' cotangents and g(u) = J^T u (linear in u,
    differentiable in it): the pieces of forward mode. ``gradients(outputs, inputs,
    cotangents)`` differentiates (this module's, or autograd.functional's strict one)."""
    from .creation import zeros_like
    _real(name, list(outs) + list(inputs))
    us = [zeros_like(o).requires_grad_() for o in outs]
    return us, (gradients or _gradients)(outs, inputs, us)


def _dual(name, out, tracked):
    """The output's tensors and structure, and dual's pieces for them."""
    outs, spec = tensors_of(out)
    return (outs, spec) + dual(name, outs, tracked)


def jacobian_rows(outs, inputs, gradients=None):
    """blocks[i][j] = d outs[i] / d inputs[j], of shape outs[i].shape + inputs[j].shape,
    by reverse mode: one pass of ``gradients`` (see dual) per output element."""
    gradients = gradients or _gradients
    blocks = []
    for o in outs:
        per_row = [gradients([o], inputs, [_one_hot(o, k)]) for k in range(o.size)]
        blocks.append([_stack_blocks([r[j] for r in per_row], o, x, True)
                       for j, x in enumerate(inputs)])
    return blocks


def jacobian_columns(outs, inputs, us, g):
    """The same blocks by forward mode from dual's (us, g): one pass of g's graph per
    input element."""
    columns = [[_directional([gj.reshape(-1)[k]], us, [1.0]) for k in range(x.size)]
               for gj, x in zip(g, inputs)]
    return [[_stack_blocks([c[i] for c in columns[j]], o, x, False)
             for j, x in enumerate(inputs)] for i, o in enumerate(outs)]


def _directional(g_of_u, us, weights):
    """d <g(u), weights> / d u: J times the weights, one tensor per output."""
    from .creation import zeros_like
    terms = [(g * w).sum() for g, w in zip(g_of_u, weights) if g.requires_grad]
    if not terms:
        return [zeros_like(u).detach() for u in us]
    return _gradients([sum(terms[1:], terms[0])], us, [None])


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """(func(*primals), J tangents[, aux]): the derivative of func at ``primals`` in the
    direction ``tangents`` (a tuple like primals), structured like func's output.
    ``strict`` is PyTorch's and refused: it concerns its own forward-mode kernels."""
    if strict:
        raise AutogradError("jvp: strict=True is not supported (ember's forward mode is "
                            "two reverse passes); leave it False")
    if not isinstance(primals, tuple) or not isinstance(tangents, tuple):
        raise AutogradError("jvp: primals and tangents must be tuples (one entry per "
                            "argument of the function)")
    args, tracked, layout = _track_args("jvp", primals, tuple(range(len(primals))))
    tangent_leaves, _ = tensors_of(tangents)
    _matching("jvp", "tangent", tangent_leaves, "primal", tracked)
    with enable_grad():
        out, aux = _split_aux("jvp", func(*args), has_aux)
        outs, spec, us, g = _dual("jvp", out, tracked)
        directions = _directional(g, us, tangent_leaves)
    own = _own(tracked) | {id(u) for u in us}
    value, tangent_out = _release((out, unflatten(spec, directions)), own)
    return (value, tangent_out, aux) if has_aux else (value, tangent_out)


def _one_hot(like, k):
    from .creation import zeros
    e = zeros(like.size, dtype=like.dtype, backend=like._backend)
    e[k] = 1
    return e.reshape(like.shape)


def _stack_blocks(blocks, out, x, out_first):
    """Rows (or columns) of one Jacobian block as a tensor of out.shape + x.shape."""
    from .ops import stack
    if not blocks:
        from .creation import full
        return full(out.shape + x.shape, 0, x.dtype, x._backend)
    return stack(blocks, axis=0 if out_first else -1).reshape(out.shape + x.shape)


def _jacobian_layout(rows, out_spec, layout):
    """jac[i][j] (output tensor i, tracked tensor j) in torch.func's structure: the
    output's, each leaf holding the differentiated arguments' structure."""
    return unflatten(out_spec, [_per_argnum(row, layout) for row in rows])


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None):
    """The function computing func's Jacobian with respect to args[argnums] by reverse
    mode, one backward pass per output element: for an output of shape O and an
    argument of shape I, a tensor of shape O + I (structured as torch.func.jacrev's).
    ``chunk_size`` is accepted; the passes run one by one whatever it is."""
    _check_mode("jacrev", chunk_size)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        args, tracked, layout = _track_args("jacrev", args, argnums)
        with enable_grad():
            out, aux = _split_aux("jacrev", func(*args, **kwargs), has_aux)
            outs, out_spec = tensors_of(out)
            rows = jacobian_rows(outs, tracked)
        jac = _release(_jacobian_layout(rows, out_spec, layout), _own(tracked))
        return (jac, _release(aux, _own(tracked))) if has_aux else jac
    return wrapper


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """The function computing func's Jacobian with respect to args[argnums] by forward
    mode (as jvp: one pass of J^T u's graph per input element): the same result as
    jacrev, cheaper when the inputs have fewer elements than the outputs."""
    _check_mode("jacfwd", None, randomness)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        args, tracked, layout = _track_args("jacfwd", args, argnums)
        with enable_grad():
            out, aux = _split_aux("jacfwd", func(*args, **kwargs), has_aux)
            outs, out_spec, us, g = _dual("jacfwd", out, tracked)
            rows = jacobian_columns(outs, tracked, us, g)
        own = _own(tracked) | {id(u) for u in us}
        jac = _release(_jacobian_layout(rows, out_spec, layout), own)
        return (jac, _release(aux, own)) if has_aux else jac
    return wrapper


def hessian(func, argnums=0):
    """The function computing func's Hessian with respect to args[argnums] (jacrev of
    jacrev: one pass of the gradient's graph per input element), shape I + I."""
    return jacrev(jacrev(func, argnums), argnums)
