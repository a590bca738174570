"""PyTorch's autograd API beyond backward: torch.autograd.grad, torch.autograd.Function,
torch.autograd.functional and torch.func's transforms. Each test runs the same code on
ember and on PyTorch (float64) and compares what they give."""

import contextlib
import gc
import re
import weakref

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here (pip install torch)")
import torch.func  # noqa: E402
import torch.autograd.functional  # noqa: E402
import torch.utils.checkpoint  # noqa: E402


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.numpy()


def _same(got, want, what, rtol=1e-12):
    if isinstance(want, (tuple, list)):
        assert isinstance(got, type(want)) and len(got) == len(want), f"{what}: {got!r}"
        for i, (g, w) in enumerate(zip(got, want)):
            _same(g, w, f"{what}[{i}]", rtol)
    elif isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), f"{what}: {got!r}"
        for k in want:
            _same(got[k], want[k], f"{what}[{k!r}]", rtol)
    elif want is None:
        assert got is None, f"{what}: {got!r} where PyTorch gives None"
    else:
        assert tuple(got.shape) == tuple(want.shape), f"{what}: {got.shape} vs {want.shape}"
        np.testing.assert_allclose(_np(got), _np(want), rtol=rtol, atol=0, err_msg=what)


def _both(fn):
    """fn(lib, *tensors) on ember and on PyTorch, over the same float64 inputs."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal(3), rng.standard_normal((2, 3))
    return [fn(lib, *(lib.tensor(a) for a in (x, w))) for lib in (ember, torch)]


def _f(lib, x, w):
    """A function of two tensors with every kind of term: its Hessian is dense."""
    return (lib.tanh(w @ x) ** 2).sum() + (x * lib.sin(x)).sum()


def test_autograd_grad_takes_pytorchs_arguments():
    def run(lib, x, w):
        x, w = x.requires_grad_(), w.requires_grad_()
        h = w @ x                       # a non-leaf input, and two outputs
        outs = (lib.tanh(h).sum(), h * h)
        gx, gh = lib.autograd.grad(outs, (x, h), grad_outputs=(None, lib.ones_like(h)),
                                   create_graph=True)
        (gxx,) = lib.autograd.grad(gx.sum(), x, retain_graph=True)    # differentiable again
        unused = lib.zeros(2, dtype=x.dtype).requires_grad_()
        with_unused = lib.autograd.grad(outs[0], (x, unused), allow_unused=True,
                                        retain_graph=True)
        materialized = lib.autograd.grad(outs[0], (x, unused), materialize_grads=True,
                                         retain_graph=True)
        batched = lib.autograd.grad(h, x, grad_outputs=lib.eye(2, dtype=x.dtype), retain_graph=True,
                                    is_grads_batched=True)
        x.grad = None
        (outs[0] + outs[1].sum()).backward(inputs=[w])                # only w accumulates
        return gx, gh, gxx, with_unused, materialized, batched, x.grad, w.grad
    got, want = _both(run)
    _same(got, want, "autograd.grad")


def test_autograd_grad_names_what_is_wrong():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y, z = x * 2.0, ember.tensor([3.0], requires_grad=True)
    for call, says in [
            (lambda: ember.autograd.grad(y.sum(), z), "was not used"),
            (lambda: ember.autograd.grad(y, x), "give its gradient in grad_outputs"),
            (lambda: ember.autograd.grad(y, x, ember.ones(3)), "has shape (3,)"),
            (lambda: ember.autograd.grad(y.sum(), ember.ones(2)), "does not require grad"),
            (lambda: ember.autograd.grad(y.sum(), "x"), "a tensor or a sequence")]:
        with pytest.raises(ember.AutogradError, match=re.escape(says)):
            call()


def _functions(lib):
    """The same custom Functions written against lib's autograd.Function."""
    class Clipped(lib.autograd.Function):
        """A straight-through clip with two outputs (one an integer count) and a
        non-tensor argument; its backward is in tensor ops, so it differentiates again."""

        @staticmethod
        def forward(ctx, x, w, limit):
            ctx.save_for_backward(x, w)
            ctx.limit = limit
            y = (w @ x).clamp(-limit, limit)
            count = (y.abs() >= limit).sum()
            ctx.mark_non_differentiable(count)
            return y, x * x * x, count

        @staticmethod
        def backward(ctx, gy, gcube, gcount):
            x, w = ctx.saved_tensors
            gx = w.T @ gy + 3 * x * x * gcube if ctx.needs_input_grad[0] else None
            gw = gy[:, None] * x[None, :] if ctx.needs_input_grad[1] else None
            return gx, gw, None

    class Reverse(lib.autograd.Function):
        """Gradient reversal, in setup_context's form."""

        @staticmethod
        def forward(x, scale):
            return x.clone()

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.scale = inputs[1]

        @staticmethod
        def backward(ctx, g):
            return -ctx.scale * g, None
    return Clipped, Reverse


def test_custom_functions_follow_pytorchs():
    def run(lib, x, w):
        Clipped, Reverse = _functions(lib)
        x, w = x.requires_grad_(), w.requires_grad_()
        y, cube, count = Clipped.apply(x, w, 0.8)
        loss = (Reverse.apply(y, 0.5) ** 2).sum() + cube.sum()
        gx, gw = lib.autograd.grad(loss, (x, w), create_graph=True)
        (gxx,) = lib.autograd.grad(gx.sum(), x)
        with lib.no_grad():
            plain = Clipped.apply(x, w, 0.8)[0]
        return y, cube, count, gx, gw, gxx, plain.requires_grad, count.requires_grad
    got, want = _both(run)
    _same(got[:6], want[:6], "Function")
    assert got[6:] == want[6:] == (False, False)


def test_custom_functions_refuse_wrong_gradients_by_name():
    class Wrong(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, g):
            return g, g

    class Once(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        @ember.autograd.once_differentiable
        def backward(ctx, g):
            return g * 2.0

    x = ember.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ember.AutogradError, match="returned 2 gradients"):
        Wrong.apply(x).sum().backward()
    (g,) = ember.autograd.grad(Once.apply(x).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.numpy(), [2.0, 2.0])
    with pytest.raises(ember.AutogradError, match="once_differentiable"):
        g.sum().backward()


def test_func_transforms_follow_torch_func():
    def run(lib, x, w):
        F = lib.func
        g = F.grad(lambda x, w: _f(lib, x, w), argnums=(0, 1))(x, w)
        (gx, aux) = F.grad(lambda x, w: (_f(lib, x, w), x.sum()), has_aux=True)(x, w)
        gv = F.grad_and_value(lambda p: _f(lib, p["x"], p["w"]))({"x": x, "w": w})
        out, pullback = F.vjp(lambda x, w: (w @ x, lib.sin(x)), x, w)
        pulled = pullback((lib.ones(2, dtype=x.dtype), x))
        pushed = F.jvp(lambda x: lib.tanh(w @ x), (x,), (lib.ones_like(x),))
        jr = F.jacrev(lambda x, w: lib.tanh(w @ x) * x[:2], argnums=(0, 1))(x, w)
        jf = F.jacfwd(lambda x, w: lib.tanh(w @ x) * x[:2], argnums=(0, 1))(x, w)
        hess = F.hessian(lambda x: _f(lib, x, w))(x)
        second = F.grad(lambda x: F.grad(lambda y: (y * x).sum())(x).sum())(x)
        per_example = F.vmap(F.grad(lambda x, w: _f(lib, x, w)), in_dims=(0, None))(w, w)
        mapped = F.vmap(lambda a, b: (a * b, a.sum()), in_dims=(1, 0), out_dims=(1, 0))(w, x)
        return (g, gx, aux, gv, out, pulled, pushed, jr, jf, hess, second, per_example,
                mapped, x.requires_grad, g[0].requires_grad)
    got, want = _both(run)
    _same(got[:13], want[:13], "torch.func", rtol=1e-11)
    assert got[13:] == want[13:] == (False, False)


def test_vmap_randomness_and_shapes_are_checked():
    x = ember.ones(3, 2)
    noisy = ember.func.vmap(lambda r: r + ember.randn(2))
    with pytest.raises(ember.AutogradError, match="randomness='error'"):
        noisy(x)
    same = ember.func.vmap(lambda r: r + ember.randn(2), randomness="same")(x).numpy()
    assert (same == same[0]).all()
    different = ember.func.vmap(lambda r: r + ember.randn(2), randomness="different")(x)
    assert len({tuple(r) for r in different.numpy()}) == 3
    compiled = ember.compile(ember.func.vmap(lambda r: r + ember.randn(2),
                                             randomness="different"))
    rows = [tuple(r) for _ in range(4) for r in compiled(x).numpy()]   # traced, then replays
    assert len(set(rows)) == len(rows) == 12
    with pytest.raises(ember.ShapeError, match="different sizes"):
        ember.func.vmap(lambda a, b: a + b)(x, ember.ones(4, 2))
    with pytest.raises(ember.ShapeError, match="must return tensors"):
        ember.func.vmap(lambda a: 1.0)(x)


def _F(lib):
    from ember.plugins.nn import functional
    return functional if lib is ember else torch.nn.functional


def _sdpa(lib):
    return lib.scaled_dot_product_attention if lib is ember else \
        torch.nn.functional.scaled_dot_product_attention


#: per case: f(lib, a, i, w) and in_dims over (a, i, w): a (4, 3, 5) float, i (4, 2)
#: indices into a's 5, w (5, 2) float; each exercises the batching rules named
_VMAP_CASES = {
    "matmul batched @ shared": (lambda L, a, i, w: a @ w, (0, None, None)),
    "matmul shared @ batched": (lambda L, a, i, w: w.T @ a.transpose(0, 1), (0, None, None)),
    "matmul both, vector": (lambda L, a, i, w: (a @ a.transpose(0, 1), a[0] @ a[1]),
                            (0, None, None)),
    "reductions": (lambda L, a, i, w: (a.sum(0), a.amax(1), a.min(), a.argmax(1),
                                       L.logsumexp(a, 1)), (0, None, None)),
    "softmax, where, clamp": (lambda L, a, i, w: (L.softmax(a, -1), L.log_softmax(a, 0),
                                                  L.where(a > 0, a, w[:3, :1]),
                                                  L.clamp(a, -0.5, 0.5)), (0, None, None)),
    "movement": (lambda L, a, i, w: (a.T, a.reshape(15), L.flip(a, (0,)), a[1:, ::2],
                                     L.cat([a, w[:3]], 1), a[:, :1].expand(3, 4),
                                     L.movedim(a, 0, 1)), (0, None, None)),
    "mapped along axis 1": (lambda L, a, i, w: (a * w[:, 0]).sum(0), (2, None, None)),
    "gather, batched index": (lambda L, a, i, w: (L.take_along_dim(a, i[None].expand(3, 2), 1),
                                                  a[:, i], L.index_select(a, 1, i)),
                              (0, 0, None)),
    "linear with batched weights": (lambda L, a, i, w: _F(L).linear(w.T, a, a[:, 0]),
                                    (0, None, None)),
    "attention and its gradient": (lambda L, a, i, w: (
        _sdpa(L)(a[None], w.T[None], w.T[None]),
        L.func.grad(lambda a: _sdpa(L)(a[None], a[None], a[None] * 2.0, is_causal=True)
                    .pow(2).sum())(a)), (0, None, None)),
    "per-sample gradient": (lambda L, a, i, w: L.func.grad(
        lambda a: (L.take_along_dim(a, i[None].expand(3, 2), 1) ** 2).sum()
        + (L.tanh(a @ w) ** 2).mean())(a), (0, 0, None)),
}


@pytest.mark.parametrize("case", _VMAP_CASES)
def test_vmap_is_one_batched_pass_that_agrees_with_torch_func(backend, case):
    fn, in_dims = _VMAP_CASES[case]
    rng = np.random.default_rng(1)
    arrays = (rng.standard_normal((4, 3, 5)), rng.integers(0, 5, (4, 2)),
              rng.standard_normal((5, 2)))
    arrays = (np.moveaxis(arrays[0], 0, in_dims[0]) if in_dims[0] else arrays[0],) + arrays[1:]
    calls = []

    def counted(lib, *args):
        calls.append(lib)
        return fn(lib, *args)

    want = torch.func.vmap(lambda *t: counted(torch, *t), in_dims=in_dims)(
        *(torch.tensor(x) for x in arrays))
    got = ember.func.vmap(lambda *t: counted(ember, *t), in_dims=in_dims)(
        *(ember.tensor(x.astype(np.float32) if x.dtype.kind == "f" else x) for x in arrays))
    assert calls.count(ember) == 1, "func ran once per slice instead of once in all"
    for g, w in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,)):
        assert tuple(g.shape) == tuple(w.shape)
        w = w.numpy()
        if w.dtype.kind == "i":
            np.testing.assert_array_equal(g.numpy(), w)
        else:      # float32 against float64: relative to the largest value
            assert np.abs(g.numpy() - w).max() <= 2e-6 * np.abs(w).max(), case


def test_per_sample_gradients_of_a_cnn_are_one_batched_pass_as_torch_funcs(backend):
    rng = np.random.default_rng(2)
    arrays = {"conv.weight": rng.standard_normal((4, 2, 3, 3)) / 3,
              "conv.bias": rng.standard_normal(4), "norm.weight": rng.standard_normal(8),
              "norm.bias": rng.standard_normal(8), "fc.weight": rng.standard_normal((3, 32)) / 6,
              "fc.bias": rng.standard_normal(3)}
    images, labels = rng.standard_normal((5, 2, 6, 6)), rng.integers(0, 3, 5)
    calls = []

    def per_sample(lib, F, params, image, label):
        calls.append(lib)
        h = F.conv2d(image[None], params["conv.weight"], params["conv.bias"], padding=1)
        h = F.max_pool2d(F.relu(h), 2)
        h = F.layer_norm(h.reshape(1, 4, 9)[:, :, :8], (8,), params["norm.weight"],
                         params["norm.bias"])
        logits = F.linear(h.reshape(1, 32), params["fc.weight"], params["fc.bias"])
        return F.cross_entropy(logits, label[None])

    import torch.nn.functional as TF
    from ember.plugins.nn import functional as EF
    want = torch.func.vmap(torch.func.grad(lambda *a: per_sample(torch, TF, *a)),
                           in_dims=(None, 0, 0))(
        {k: torch.tensor(v) for k, v in arrays.items()}, torch.tensor(images),
        torch.tensor(labels))
    got = ember.func.vmap(ember.func.grad(lambda *a: per_sample(ember, EF, *a)),
                          in_dims=(None, 0, 0))(
        {k: ember.tensor(v.astype(np.float32)) for k, v in arrays.items()},
        ember.tensor(images.astype(np.float32)), ember.tensor(labels))
    assert calls.count(ember) == 1, "func ran once per slice instead of once in all"
    for k, w in want.items():
        w = w.numpy()
        assert got[k].shape == w.shape
        assert np.abs(got[k].numpy() - w).max() <= 1e-5 * np.abs(w).max(), k


def test_vmap_chunks_are_passes_of_at_most_chunk_size_slices():
    calls = []

    def f(lib, a, b):
        calls.append(lib)
        return (a @ b).sum(-1), a.amax(0)

    a, b = np.random.default_rng(3).standard_normal((2, 7, 3, 4))
    want = torch.func.vmap(lambda *t: f(torch, *t), in_dims=(0, None), out_dims=(0, 1),
                           chunk_size=3)(torch.tensor(a), torch.tensor(b[0]).T)
    got = ember.func.vmap(lambda *t: f(ember, *t), in_dims=(0, None), out_dims=(0, 1),
                          chunk_size=3)(ember.tensor(a), ember.tensor(b[0]).T)
    assert calls.count(ember) == 1
    _same(got, want, "chunked vmap")
    same = ember.func.vmap(lambda r: r * 0.0 + ember.randn(2), randomness="same",
                           chunk_size=2)(ember.ones(5, 2)).numpy()
    assert (same == same[0]).all()


def test_vmap_results_that_need_gradients_are_batched_both_ways_as_torch_funcs(backend):
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(s) for s in ((5, 3), (5, 4), (4, 2), (3, 2))]
    calls, got = [], []
    for lib in (ember, torch):
        x, w, v, y = (lib.tensor(a.astype(np.float32) if lib is ember else a,
                                 requires_grad=k != 3) for k, a in enumerate(arrays))

        def f(row, target, lib=lib, w=w):         # w from outside, v an unmapped argument
            calls.append(lib)
            return (lib.tanh(row @ w) @ v * target.sum()).sin(), (row * row).sum()
        mapped = lib.func.vmap(f, in_dims=(1, 0), out_dims=(1, 0))
        out, sq = mapped(x, y)
        (out.pow(2).sum() + sq.sum()).backward()
        passes = calls.count(ember) if lib is ember else passes
        grads = [x.grad, w.grad, v.grad]
        # differentiable again (create_graph): the cotangents then come from w, and a
        # batched backward would count w's paths twice, so that one runs slice by slice
        out, sq = mapped(x, y)
        gw, = lib.autograd.grad(out.pow(2).sum() + sq.sum(), w, create_graph=True)
        got.append([out, sq, *grads, lib.autograd.grad(gw.sum(), x)[0]])
    assert passes == 2          # forward and backward, one batched pass each
    for lib in (ember, torch):              # a keyword argument is shared by every slice
        as_lib = (lambda a: a.astype(np.float32)) if lib is ember else (lambda a: a)
        scale = lib.tensor(as_lib(arrays[2][:, 0]), requires_grad=True)
        lib.func.vmap(lambda r, scale: (r[:4] * scale).sin().sum())(
            lib.tensor(as_lib(arrays[1].T)), scale=scale).sum().backward()
        got[lib is torch].append(scale.grad)
        # tensors from outside computed from one another, or giving an argument: each
        # path counted once (these fall back to the loop)
        w = lib.tensor(as_lib(arrays[1][:, 0]), requires_grad=True)
        h, rows = w * 2.0, lib.tensor(as_lib(arrays[1].T)) * w
        lib.func.vmap(lambda r: (r * h + r * w).sin().sum())(rows).sum().backward()
        got[lib is torch].append(w.grad)
        w.grad = None           # an unmapped argument that func also reads from outside
        unused = lib.ones(4, requires_grad=True)            # read, but not for the result
        lib.func.vmap(lambda r, u: (r * w + r * u).sin().sum() + 0 * (unused * 2.0).sum()
                      .detach(), in_dims=(0, None))(lib.tensor(as_lib(arrays[1].T)), w) \
            .sum().backward()
        got[lib is torch].append(w.grad)
        assert unused.grad is None
    for g, t in zip(*got):
        g, t = g.detach().numpy(), t.detach().numpy()
        assert g.shape == t.shape and np.abs(g - t).max() <= 3e-5 * np.abs(t).max()


def test_vmap_falls_back_to_a_loop_where_a_pass_cannot_be_batched():
    seen = []

    def reads_values(r):        # a branch on a value: the first slice cannot speak for all
        seen.append(r)
        return r * 2 if r.sum().item() > 0 else -r

    x = ember.tensor([[1.0, 2.0], [-3.0, -4.0], [5.0, 6.0]])
    np.testing.assert_array_equal(ember.func.vmap(reads_values)(x).numpy(),
                                  [[2, 4], [3, 4], [10, 12]])
    count = ember.zeros(())

    def counts(r):             # changes a tensor outside: once per slice, as a loop does
        count.add_(1.0)
        return r + count

    np.testing.assert_array_equal(ember.func.vmap(counts)(x).numpy(),
                                  [[2, 3], [-1, -2], [8, 9]])
    w = ember.ones(2, requires_grad=True)      # results that need gradients keep their graph
    out = ember.func.vmap(lambda r: (r * w).sum())(x)
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [3.0, 4.0])


def test_autograd_functional_follows_pytorchs():
    def run(lib, x, w):
        A = lib.autograd.functional
        two = lambda x, w: (lib.tanh(w @ x), (x * x).sum())    # noqa: E731
        return (A.vjp(two, (x, w), (lib.ones(2, dtype=x.dtype), lib.tensor(2.0, dtype=x.dtype))),
                A.jvp(lambda x: lib.sin(x) * x, x, lib.ones_like(x)),
                A.jacobian(two, (x, w)),
                A.jacobian(lambda x: lib.sin(x) * x.sum(), x, strategy="forward-mode",
                           vectorize=True),
                A.hessian(lambda x, w: _f(lib, x, w), (x, w)),
                A.vhp(lambda x: _f(lib, x, w), x, lib.ones_like(x)),
                A.hvp(lambda x: _f(lib, x, w), x, lib.ones_like(x)))
    got, want = _both(run)
    _same(got, want, "autograd.functional", rtol=1e-11)
    with pytest.raises(ember.AutogradError, match="independent of input 1"):
        ember.autograd.functional.jacobian(lambda a, b: a * 2.0, (ember.ones(2), ember.ones(2)),
                                           strict=True)


def test_anomaly_mode_names_the_op_whose_backward_made_nan_and_where_it_ran():
    for lib, error in ((ember, ember.AutogradError), (torch, RuntimeError)):
        x = lib.tensor([0.0, 1.0], requires_grad=True)
        with lib.autograd.detect_anomaly():
            assert lib.is_anomaly_enabled() if lib is torch else lib.autograd.is_anomaly_enabled()
            y = lib.sqrt(x) * 0.0           # 0 / (2 sqrt(0)): NaN in sqrt's backward
            with pytest.warns(UserWarning) if lib is torch else contextlib.nullcontext(), \
                    pytest.raises(error, match="(?i)sqrt.*nan"):
                (y * y).sum().backward()
        x.grad = None
        (lib.sqrt(x) * 0.0).sum().backward()                      # off again: NaN flows
        assert np.isnan(_np(x.grad)[0])
    with ember.autograd.detect_anomaly(), pytest.raises(ember.AutogradError) as caught:
        (ember.sqrt(ember.tensor([0.0], requires_grad=True)) * 0.0).sum().backward()
    assert "test_autograd_api.py" in str(caught.value)            # the forward's own line


def test_gradcheck_agrees_with_pytorchs_and_catches_a_wrong_backward():
    def run(lib, x, w):
        x, w = x.requires_grad_(), w.requires_grad_()
        Clipped, _ = _functions(lib)
        good = lib.autograd.gradcheck(lambda x, w: lib.tanh(w @ x) * x[:2], (x, w))
        second = lib.autograd.gradgradcheck(lambda x, w: lib.tanh(w @ x) * x[:2], (x, w))
        # the straight-through estimator's backward is not clip's derivative:
        wrong = lib.autograd.gradcheck(lambda x, w: Clipped.apply(x, w, 0.1)[0], (x, w),
                                       raise_exception=False)
        return good, second, wrong
    got, want = _both(run)
    assert got == want == (True, True, False)
    x = ember.tensor([0.5, 2.0], requires_grad=True)
    with pytest.raises(ember.autograd.GradcheckError, match="output 0 with respect to input 0"):
        ember.autograd.gradcheck(lambda t: _functions(ember)[0].apply(t, ember.eye(2, dtype=t.dtype), 0.1)[0], (x,))


def test_the_suites_gradcheck_catches_one_wrong_element_of_a_large_input():
    """Past ELEMENTWISE_UP_TO elements the suite's gradcheck differences along random
    directions; a backward wrong at one element of 1200 (by a tenth of its size, by its
    sign, or dropped) still fails it, and the right one passes."""
    from ember.testing.checks import ELEMENTWISE_UP_TO, gradcheck
    numpy_backend = ember.get_backend("numpy")

    def scaled(error):
        class Scaled(ember.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return ember.sin(x) * 3

            @staticmethod
            def backward(ctx, g):
                x, = ctx.saved_tensors
                return g * ember.cos(x) * 3 * ember.tensor(error, dtype=x.dtype)
        return Scaled.apply

    x = np.random.default_rng(0).standard_normal((30, 40))
    assert x.size > ELEMENTWISE_UP_TO
    gradcheck(scaled(np.ones(x.shape)), [x], numpy_backend)
    for at, factor in (((0, 0), 1.1), ((17, 23), -1.0), ((29, 39), 0.0)):
        error = np.ones(x.shape)
        error[at] = factor
        with pytest.raises(AssertionError, match="random direction"):
            gradcheck(scaled(error), [x], numpy_backend)


def test_checkpoint_recomputes_what_plain_backward_would_have_kept():
    from ember.plugins import nn
    from ember.utils.checkpoint import checkpoint, checkpoint_sequential
    ember.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.3), nn.Linear(8, 8),
                        nn.GELU(), nn.Linear(8, 2))
    x = ember.randn(5, 4, requires_grad=True)
    kept = []

    def block(t):
        h = net[1](net[0](t))
        kept.append(weakref.ref(h))         # an activation (tanh's backward keeps it):
        for layer in list(net)[2:]:         # checkpoint must let it go
            h = layer(h)
        return h

    def run(how):
        for p in list(net.parameters()) + [x]:
            p.grad = None
        ember.manual_seed(1)                # the same dropout masks each way
        y = how()
        gc.collect()
        alive = kept[-1]() is not None
        callbacks = []
        y.register_hook(lambda g: [ember.autograd.queue_callback(
            lambda: callbacks.append(x.grad is not None))] and None)
        (y ** 2).sum().backward()
        return y.numpy(), [p.grad.numpy() for p in [x] + list(net.parameters())], alive, callbacks
    plain = run(lambda: block(x))
    for how in (lambda: checkpoint(block, x, use_reentrant=False),
                lambda: checkpoint_sequential(net, 3, x)):
        got = run(how)
        np.testing.assert_array_equal(got[0], plain[0])
        for a, b in zip(got[1], plain[1]):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=0)
        assert got[3] == [True]           # a queued callback runs once, at the outer end
    assert plain[2] and not run(lambda: checkpoint(block, x))[2]


def test_checkpoint_differentiates_twice_as_pytorchs():
    from ember.utils.checkpoint import checkpoint

    def run(lib, x, w):
        check = checkpoint if lib is ember else torch.utils.checkpoint.checkpoint
        x = x.requires_grad_()
        y = check(lambda t: lib.tanh(w @ t) * t[:2], x, use_reentrant=False)
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        return y, g, lib.autograd.grad(g.sum(), x)[0]
    got, want = _both(run)
    _same(got, want, "checkpoint", rtol=1e-12)
