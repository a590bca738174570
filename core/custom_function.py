"""ember.autograd.Function: a differentiable operation its user writes as two functions
of tensors, forward and backward, in PyTorch's form (torch.autograd.Function): a
straight-through estimator, a gradient reversal, a kernel's own gradient formula.

forward runs with no gradient recorded, then one node joins the outputs to the
tensor inputs, and on the way back it hands the user's backward every output's
gradient at once. A backward written in tensor ops is differentiable again
(create_graph): ember records it like any other computation.
"""

from .autograd import AutogradError, NotDifferentiable, Op, is_grad_enabled, no_grad, run
from .tensor import Tensor


class FunctionCtx:
    """What forward leaves for backward (PyTorch's ctx): tensors through
    save_for_backward, anything else as attributes."""

    def __init__(self, needs_input_grad):
        #: per argument of forward, whether backward must give its gradient
        self.needs_input_grad = needs_input_grad
        self.saved_tensors = ()
        self.materialize_grads = True
        self._non_differentiable = set()

    def save_for_backward(self, *tensors):
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise AutogradError(f"save_for_backward takes tensors (or None), got a "
                                    f"{type(t).__name__}; keep other values as ctx attributes")
        self.saved_tensors = tensors

    def mark_non_differentiable(self, *tensors):
        """These outputs get no gradient (as integer outputs never do)."""
        self._non_differentiable.update(id(t) for t in tensors)

    def set_materialize_grads(self, value):
        """False: backward receives None, not zeros, for outputs that got no gradient."""
        self.materialize_grads = bool(value)

    def mark_dirty(self, *tensors):
        raise AutogradError("mark_dirty: ember's Function does not change its inputs in "
                            "place; return a new tensor from forward instead")


class _FunctionNode(Op):
    """The Function's differentiable outputs (one, or several flattened into one) as a
    node whose inputs are the outputs' values and then forward's tensor arguments."""

    __slots__ = ("fn", "ctx", "args", "outputs")
    complex_grad = True        # the user's backward is what it is, complex or not

    def __init__(self, fn, ctx, args, outputs):
        self.fn, self.ctx, self.args, self.outputs = fn, ctx, args, outputs

    @property
    def live(self):
        """How many of forward's outputs are differentiable (the node's first inputs)."""
        return sum(d for _, d in self.outputs)

    def forward(self, *bufs):
        b = self.backend
        values = bufs[:self.live]
        if len(values) == 1:
            return values[0]
        sizes = [o.size for o, d in self.outputs if d]
        return b.concatenate([b.reshape(x, (n,)) for x, n in zip(values, sizes)], 0)

    def backward(self, g, *inputs):
        from .creation import zeros_like
        outs = inputs[:self.live]
        pieces, start = [], 0
        for o in outs:
            pieces.append(g if len(outs) == 1 else g[start:start + o.size].reshape(o.shape))
            start += o.size
        grads, k = [], 0
        for o, differentiable in self.outputs:   # every output, in forward's order
            if differentiable:
                grads.append(pieces[k])
                k += 1
            elif isinstance(o, Tensor) and self.ctx.materialize_grads:
                grads.append(zeros_like(o))
            else:
                grads.append(None)
        given = self.fn.backward(self.ctx, *grads)
        return (None,) * len(outs) + self._checked(given)

    def _checked(self, given):
        """backward's result as one gradient per tensor argument, checked."""
        name = self.fn.__name__
        given = given if isinstance(given, tuple) else (given,)
        extra = given[len(self.args):]
        if len(given) < len(self.args) or any(e is not None for e in extra):
            raise AutogradError(f"{name}.backward returned {len(given)} gradients; it must "
                                f"return one per argument of forward ({len(self.args)}), "
                                f"None for those that have none")
        out = []
        for i, (a, g) in enumerate(zip(self.args, given)):
            if not isinstance(a, Tensor):
                if g is not None:
                    raise AutogradError(f"{name}.backward returned a gradient for argument "
                                        f"{i}, which is not a tensor; return None there")
                continue
            if g is not None and (not isinstance(g, Tensor) or g.shape != a.shape):
                got = g.shape if isinstance(g, Tensor) else type(g).__name__
                raise AutogradError(f"{name}.backward returned {got} as the gradient of "
                                    f"argument {i}, of shape {a.shape}; they must match")
            out.append(g)
        return tuple(out)

    def __repr__(self):
        return f"{self.fn.__name__}Backward"


class Function:
    """Subclass it with static methods ``forward(ctx, *args)`` and ``backward(ctx,
    *grad_outputs)`` (or ``forward(*args)`` with ``setup_context(ctx, inputs, output)``)
    and call ``MyFunction.apply(*args)``. backward returns one gradient per argument of
    forward, None for arguments that are not tensors or need none
    (``ctx.needs_input_grad`` says which do)."""

    @staticmethod
    def forward(*args, **kwargs):
        raise NotImplementedError("a Function subclass defines forward")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass defines backward")

    @classmethod
    def apply(cls, *args, **kwargs):
        recording = is_grad_enabled()
        ctx = FunctionCtx(tuple(recording and isinstance(a, Tensor) and a.requires_grad
                                for a in args))
        with no_grad():
            if cls.setup_context is Function.setup_context:
                result = cls.forward(ctx, *args, **kwargs)
            else:
                result = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, result)
        if not any(ctx.needs_input_grad):
            return result
        many = isinstance(result, tuple)
        outs = result if many else (result,)
        outputs = [(o, isinstance(o, Tensor) and o.dtype.is_inexact
                    and id(o) not in ctx._non_differentiable) for o in outs]
        live = [o for o, d in outputs if d]
        if not live:
            return result
        if len({o.dtype for o in live}) > 1:
            raise AutogradError(f"{cls.__name__}.forward returned differentiable outputs of "
                                f"dtypes {sorted({o.dtype.name for o in live})}; give them "
                                f"one dtype (cast) or mark the others non-differentiable")
        tensors = tuple(a for a in args if isinstance(a, Tensor))
        node = _FunctionNode(cls, ctx, args, outputs)
        inputs = tuple(o.detach() for o in live) + tensors
        if len(live) == 1:
            joined = run(node, inputs, live[0].shape, live[0].dtype)
            linked = [joined]
        else:
            joined = run(node, inputs, (sum(o.size for o in live),), live[0].dtype)
            linked, start = [], 0
            for o in live:
                linked.append(joined[start:start + o.size].reshape(o.shape))
                start += o.size
        swap = {id(o): n for o, n in zip(live, linked)}
        ctx.saved_tensors = tuple(swap.get(id(t), t) for t in ctx.saved_tensors)
        new = tuple(swap.get(id(o), o) for o in outs)
        return new if many else new[0]


def once_differentiable(backward):
    """Decorate a Function's backward that is not itself differentiable (it computes
    outside ember's ops): it runs without recording, and differentiating its result
    again is an error that says so."""
    def wrapper(ctx, *grad_outputs):
        recording = is_grad_enabled()
        with no_grad():
            result = backward(ctx, *grad_outputs)
        if not recording:
            return result
        refusal = NotDifferentiable(f"{backward.__qualname__} is once_differentiable: its "
                                    f"gradient has no gradient of its own")

        def refused(r):
            if not (isinstance(r, Tensor) and r.dtype.is_inexact):
                return r
            r = r.detach()
            r._ctx, r.requires_grad = refusal, True
            return r
        return tuple(map(refused, result)) if isinstance(result, tuple) else refused(result)
    wrapper.__name__, wrapper.__qualname__ = backward.__name__, backward.__qualname__
    return wrapper
