"""Tensor.register_hook and the module hooks (forward pre-hooks, forward hooks, full
backward pre-hooks and backward hooks) against PyTorch's, which run the same code: the
arguments the hooks see, what their results replace, their order and their removal."""

import numpy as np
import pytest

import ember
from ember.plugins import nn

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here (pip install torch)")


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else t.numpy()


def _same(got, want, what):
    np.testing.assert_allclose(_np(got), _np(want), rtol=1e-6, atol=0, err_msg=what)


def _pair(seed=0, shape=(3, 4)):
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def test_tensor_hooks_change_the_gradient_that_flows_and_accumulates():
    results = {}
    for lib in (ember, torch):
        x = _pair()[0 if lib is ember else 1]
        seen = []
        y = x * 3.0
        y.retain_grad()
        y.register_hook(lambda g: g * 2.0)              # doubles what reaches x and y.grad
        handle = x.register_hook(lambda g: seen.append(g.sum()))
        x.register_hook(lambda g: g + 1.0)
        (y ** 2).sum().backward()
        first = x.grad
        handle.remove()
        x.grad = None
        (x * 1.0).sum().backward()
        results[lib.__name__] = (first, x.grad, y.grad, len(seen))
    e, t = results["ember"], results["torch"]
    _same(e[0], t[0], "x.grad through both hooks")
    _same(e[1], t[1], "x.grad after one hook was removed")
    _same(e[2], t[2], "y.grad (retained) sees the hooked gradient")
    assert e[3] == t[3] == 1


def test_tensor_hook_results_are_checked():
    x, _ = _pair()
    x.register_hook(lambda g: g[0])
    with pytest.raises(ember.AutogradError, match="must return None or a gradient of shape"):
        (x * 2.0).sum().backward()
    with pytest.raises(ember.AutogradError, match="does not require grad"):
        ember.ones(2).register_hook(lambda g: g)


class Scale(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(ember.tensor(np.linspace(0.5, 2.0, 4, dtype=np.float32)))

    def forward(self, x, y=None, *, shift=0.0):
        out = x * self.w + shift
        return out if y is None else (out, out * y)


class TorchScale(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(np.linspace(0.5, 2.0, 4, dtype=np.float32)))

    def forward(self, x, y=None, *, shift=0.0):
        out = x * self.w + shift
        return out if y is None else (out, out * y)


def _modules():
    return [(ember, Scale()), (torch, TorchScale())]


def test_forward_hooks_replace_arguments_and_outputs_in_order():
    outs = {}
    for lib, m in _modules():
        order = []
        m.register_forward_pre_hook(lambda mod, args: (args[0] * 2.0,))
        m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {"shift": 1.0}),
                                    with_kwargs=True)
        m.register_forward_hook(lambda mod, args, out: order.append("second"))
        m.register_forward_hook(lambda mod, args, out: order.append("first"), prepend=True)
        h = m.register_forward_hook(lambda mod, args, kwargs, out: out - kwargs["shift"],
                                    with_kwargs=True)
        x = _pair()[0 if lib is ember else 1]
        outs[lib.__name__] = (m(x), list(order))
        h.remove()
        outs[lib.__name__] += (m(x),)
    e, t = outs["ember"], outs["torch"]
    _same(e[0], t[0], "hooked output")
    _same(e[2], t[2], "output once the output hook is removed")
    assert e[1] == t[1] == ["first", "second"]


def test_an_always_called_forward_hook_runs_when_forward_raises():
    m = Scale()
    calls = []
    m.register_forward_hook(lambda mod, args, out: calls.append(out), always_call=True)
    with m.register_forward_hook(lambda mod, args, out: calls.append("never")):
        with pytest.raises(ember.ShapeError):
            m(ember.ones((2, 3)))
    assert calls == [None]
    m(ember.ones(4))
    assert len(calls) == 2


def test_full_backward_hooks_see_and_replace_gradients_as_torch():
    seen = {}
    for lib, m in _modules():
        log = []

        def pre(mod, grad_output, log=log):
            log.append(("pre", [g.sum().item() for g in grad_output]))
            return tuple(g * 2.0 for g in grad_output)

        def post(mod, grad_input, grad_output, log=log):
            log.append(("post", [None if g is None else g.sum().item() for g in grad_input],
                        [g.sum().item() for g in grad_output]))
            return (grad_input[0] * 0.5, grad_input[1] + 1.0)

        m.register_full_backward_pre_hook(pre)
        m.register_full_backward_hook(post)
        x, y = (_pair(1)[0], _pair(2)[0]) if lib is ember else (_pair(1)[1], _pair(2)[1])
        a, b = m(x, y)
        (a.sum() + (b * b).sum()).backward()
        seen[lib.__name__] = (log, x.grad, y.grad, m.w.grad)
    e, t = seen["ember"], seen["torch"]
    assert [entry[0] for entry in e[0]] == [entry[0] for entry in t[0]] == ["pre", "post"]
    for (_, *ge), (_, *gt) in zip(e[0], t[0]):
        np.testing.assert_allclose(np.array(ge, dtype=float), np.array(gt, dtype=float),
                                   rtol=1e-5)
    for k, what in ((1, "x.grad"), (2, "y.grad"), (3, "w.grad")):
        _same(e[k], t[k], what)


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")     # torch's notice
def test_a_backward_hook_on_a_call_whose_inputs_need_no_gradient():
    seen = {}
    for lib, m in _modules():
        grads = []
        m.register_full_backward_hook(lambda mod, gi, go: grads.append((gi, go[0].shape)))
        x = (ember if lib is ember else torch).ones(4)
        m(x).sum().backward()
        seen[lib.__name__] = grads
    assert seen["ember"][0][0] == seen["torch"][0][0] == (None,)
    assert tuple(seen["ember"][0][1]) == tuple(seen["torch"][0][1]) == (4,)


def test_hooks_come_out_with_their_handles():
    m = Scale()
    calls = []
    handles = [m.register_forward_pre_hook(lambda mod, a: calls.append("pre")),
               m.register_forward_hook(lambda mod, a, o: calls.append("post"), with_kwargs=False),
               m.register_full_backward_hook(lambda mod, gi, go: calls.append("back"))]
    x = ember.ones(4, requires_grad=True)
    m(x).sum().backward()
    assert calls == ["pre", "post", "back"]
    for h in handles:
        h.remove()
    m(x).sum().backward()
    assert calls == ["pre", "post", "back"] and not m._has_hooks()


def test_backward_hooks_see_each_gradient_in_its_tensors_dtype_as_torch():
    seen = {}
    for lib in (ember, torch):
        class Two((nn if lib is ember else torch.nn).Module):
            def forward(self, a, b):
                return a * 2.0, (b * 3.0).to(lib.float32)
        m, log = Two(), []
        m.register_full_backward_hook(lambda mod, gi, go, log=log: log.append(
            [str(g.dtype).split(".")[-1] for g in gi + go]))
        a = lib.ones(3, dtype=lib.float64, requires_grad=True)
        b = lib.ones(2, dtype=lib.float16, requires_grad=True)
        x, y = m(a, b)
        (x.sum() + y.sum()).backward()
        seen[lib.__name__] = (log, str(b.grad.dtype).split(".")[-1], b.grad.tolist())
    assert seen["ember"] == seen["torch"]


def _stateful_net(lib, nn_lib):
    """A net whose inner block keeps extra (non-tensor) state and renames an old key
    name when loading, with hooks that record their calls in ``calls``."""
    calls = []

    class Counter(nn_lib.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn_lib.Linear(2, 2)
            self.seen = 0

        def get_extra_state(self):
            return {"seen": self.seen}

        def set_extra_state(self, state):
            calls.append(("set_extra_state", state))
            self.seen = state["seen"]

    net = nn_lib.Sequential(nn_lib.Linear(3, 2), Counter())
    inner = net[1]

    def rename(module, state, prefix, local_metadata, strict, missing, unexpected, errors):
        calls.append(("load pre", type(module).__name__, prefix, sorted(state)))
        old = prefix + "lin.w_old"
        if old in state:
            state[prefix + "lin.weight"] = state.pop(old)

    def forgive(module, keys):
        calls.append(("load post", type(module).__name__, list(keys.missing_keys),
                      list(keys.unexpected_keys)))
        if "0.bias" in keys.missing_keys:
            keys.missing_keys.remove("0.bias")

    inner.register_load_state_dict_pre_hook(rename)
    net.register_load_state_dict_post_hook(forgive)
    inner.register_load_state_dict_post_hook(
        lambda m, keys: calls.append(("inner load post", list(keys.missing_keys))))
    inner.register_state_dict_pre_hook(
        lambda m, prefix, keep_vars: calls.append(("sd pre", prefix, keep_vars)))
    net.register_state_dict_post_hook(
        lambda m, sd, prefix, meta: calls.append(("sd post", prefix, list(sd), meta)))
    inner._register_state_dict_hook(
        lambda m, sd, prefix, meta: calls.append(("private sd post", prefix)))
    return net, calls


def test_state_dict_hooks_and_extra_state_are_pytorchs():
    """get_extra_state/set_extra_state under <prefix>_extra_state; a load pre-hook that
    renames an old key, a post-hook that forgives a missing key (so strict passes),
    state-dict pre- and post-hooks: the same keys, calls, order and loaded values as
    PyTorch's."""
    torch = pytest.importorskip("torch")
    runs = []
    for lib, nn_lib in ((ember, nn), (torch, torch.nn)):
        net, calls = _stateful_net(lib, nn_lib)
        net[1].seen = 5
        saved = net.state_dict()
        keys = list(saved)
        old = {("1.lin.w_old" if k == "1.lin.weight" else k): v for k, v in saved.items()
               if k != "0.bias"}
        fresh, fresh_calls = _stateful_net(lib, nn_lib)
        result = fresh.load_state_dict(old)
        same = [bool((a.detach() == b.detach()).all()) for a, b in
                zip(fresh.state_dict().values(), saved.values()) if hasattr(a, "shape")]
        runs.append((keys, calls, fresh_calls, fresh[1].seen, same,
                     list(result.missing_keys), list(result.unexpected_keys)))
    ours, theirs = runs
    for a, b in zip(ours, theirs):
        assert a == b


def test_a_refused_load_changes_nothing_and_post_hooks_must_return_none():
    """Every shape is checked before anything is copied (a wrong shape in the last key
    left the first ones loaded); a strict refusal without post-hooks copies nothing; a
    public state_dict post-hook that returns a value is refused, as PyTorch's."""
    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 3))
    before = [p.numpy().copy() for p in net.parameters()]
    bad = {k: ember.ones_like(v) for k, v in net.state_dict().items()}
    bad["1.bias"] = ember.ones(4)
    with pytest.raises(ember.ShapeError, match=r"1.bias has shape \(4,\) in the state_dict"):
        net.load_state_dict(bad)
    bad["1.bias"] = ember.ones(3)
    bad["extra"] = ember.ones(1)
    with pytest.raises(ember.StateDictError, match="unexpected keys extra"):
        net.load_state_dict(bad)
    assert all((p.numpy() == b).all() for p, b in zip(net.parameters(), before))
    net.register_state_dict_post_hook(lambda m, sd, prefix, meta: {})
    with pytest.raises(TypeError, match="post-hook changes the dictionary in place"):
        net.state_dict()
    with pytest.raises(NotImplementedError, match="define it in the module's class"):
        nn.Linear(1, 1).get_extra_state()


def test_the_deprecated_backward_hook_registers_a_full_one():
    layer = nn.Linear(3, 2)
    seen = []
    with pytest.warns(FutureWarning, match="register_full_backward_hook"):
        handle = layer.register_backward_hook(lambda m, gi, go: seen.append(go[0].shape))
    layer(ember.ones(4, 3, requires_grad=True)).sum().backward()
    assert seen == [(4, 2)]
    handle.remove()
