"""ember.compile beyond the conformance suite: what state a replay updates, the
structure of results, resets, the errors a user meets, graphs with random draws."""

import gc
import math
import warnings

import numpy as np
import pytest

import ember


def test_a_replay_updates_rebound_tensors_and_gradients_left_on_parameters():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    seen = ember.zeros(2)

    @ember.compile
    def step(x):
        loss = (w * x).sum()
        w.grad = None
        loss.backward()
        seen.__iadd__(x)                 # an in-place update: the tensor is rebound
        return {"loss": loss, "twice": [loss * 2]}
    for k in range(5):
        out = step(ember.tensor([float(k), 1.0]))
    assert step.graph(ember.zeros(2)) is not None
    assert out["loss"].item() == 4.0 + 2.0 and out["twice"][0].item() == 12.0
    np.testing.assert_array_equal(w.grad.numpy(), [4.0, 1.0])    # the last call's gradient
    np.testing.assert_array_equal(seen.numpy(), [0 + 1 + 2 + 3 + 4, 5.0])
    assert not out["loss"].requires_grad


def test_gradients_land_as_eager_code_puts_them_whatever_the_caller_does_between_calls():
    """A compiled forward and backward whose caller clears the gradients outside it
    (optimizer.zero_grad() before each call, PyTorch's usual loop) gets each call's
    gradient: the replay made one that nothing held any more, and the parameter's grad
    stayed None from the third call on. Left uncleared, a call adds to the gradient as
    eager code does; cleared inside the call, it replaces it."""
    from ember.plugins.optim import SGD
    w = ember.tensor([1.0, -2.0], requires_grad=True)
    opt = SGD([w], lr=0.0)
    forward_backward = ember.compile(lambda x: (w * w * x).sum().backward())
    x = ember.tensor([1.0, 3.0])
    for k in range(5):
        opt.zero_grad()
        forward_backward(x)
        np.testing.assert_array_equal(w.grad.numpy(), [2.0, -12.0], err_msg=f"call {k}")
        if k >= 3:              # not cleared: the next call adds to it
            forward_backward(x)
            np.testing.assert_array_equal(w.grad.numpy(), [4.0, -24.0])
    assert forward_backward.graph(x) is not None

    def step(x):
        opt.zero_grad()
        (w * w * x).sum().backward()
    inside = ember.compile(step)
    for _ in range(5):
        inside(x)
        np.testing.assert_array_equal(w.grad.numpy(), [2.0, -12.0])
    assert inside.graph(x) is not None


@pytest.mark.parametrize("pattern", ["zeroed_in_place", "two_micro_batches",
                                     "three_micro_batches"])
def test_gradients_accumulated_across_compiled_calls_match_eager_training(pattern):
    """A compiled forward and backward under PyTorch's other loops: zero_grad(set_to_none=
    False) outside it (each call adds to a gradient that is there: the call read a new
    tensor each time, so no two traces agreed and the sixth call was a CompileError), and
    gradient accumulation over micro-batches (calls that make the gradient and calls that
    add to it alternate: each gets its own graph). Losses as eager training's; the
    function replays after a few traces."""
    from ember.plugins import nn
    from ember.plugins.nn import functional as F
    from ember.plugins.optim import Adam
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.standard_normal((16, 4)).astype(np.float32))
    y = ember.tensor(rng.integers(0, 2, 16))
    calls = {"zeroed_in_place": 1, "two_micro_batches": 2, "three_micro_batches": 3}[pattern]

    def train(compiled):
        ember.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        opt = Adam(model.parameters(), lr=0.01)

        def forward_backward(x, y):
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            return loss.detach()
        fn = ember.compile(forward_backward) if compiled else forward_backward
        losses = []
        for _ in range(10):
            opt.zero_grad(set_to_none=pattern != "zeroed_in_place")
            for _ in range(calls):
                loss = fn(x, y)
            opt.step()
            losses.append(float(loss))
        return losses, fn
    (compiled, fn), (eager, _) = train(True), train(False)
    np.testing.assert_allclose(compiled, eager, rtol=1e-5)
    assert fn.graph(x, y) is not None and fn.trace_count <= 5


def test_a_capturing_backend_aliases_state_but_not_gradients(monkeypatch):
    """A backend that captures replays (CuPy's CUDA graphs) is told which state outputs it
    may write into their inputs' buffers: parameters and optimizer state, never a
    gradient, whose landing depends on what the caller did to it (the alias list read
    the gradient entries as weak references and failed)."""
    from ember.plugins import nn
    from ember.plugins.nn import functional as F
    from ember.plugins.optim import SGD
    backend = ember.get_backend("numpy")
    seen = []

    def fast_capture(graph, aliases, fresh):
        seen.append(list(aliases))
        return None                     # replay uncaptured
    monkeypatch.setattr(type(backend), "fast_capture", staticmethod(fast_capture), raising=False)
    model = nn.Linear(3, 2)
    opt = SGD(model.parameters(), lr=0.1)
    x = ember.tensor(np.ones((4, 3), np.float32))

    @ember.compile
    def step(x):
        loss = model(x).sum()
        loss.backward()
        opt.step()
        return loss.detach()
    for _ in range(6):
        opt.zero_grad()
        step(x)
    assert seen and len(seen[0]) == 2           # the weight and the bias, updated in place
    np.testing.assert_array_equal(model.weight.grad.numpy(), np.full((2, 3), 4.0))


def test_reset_traces_again_after_a_change_the_graph_cannot_see():
    scale = [2.0]
    f = ember.compile(lambda x: x * scale[0])
    x = ember.ones(3)
    for _ in range(3):
        f(x)
    scale[0] = 5.0
    assert f(x).tolist() == [2.0, 2.0, 2.0]     # frozen at trace time, as documented
    f.reset()
    assert f(x).tolist() == [5.0, 5.0, 5.0]


def test_state_replaced_by_new_tensors_each_call_is_a_clear_error():
    state = {"m": ember.zeros(2)}

    def f(x):
        state["m"] = state["m"] * 0.5 + x        # a new tensor object every call
        return state["m"]
    with pytest.raises(ember.CompileError, match="different objects"):
        g = ember.compile(f)
        for _ in range(6):
            g(ember.ones(2))


def test_dropout_draws_new_masks_on_each_replay_as_eager_does():
    from ember.plugins import nn
    layer = nn.Dropout(0.5)
    x = ember.ones(64)
    ember.manual_seed(3)
    eager = [layer(x).numpy() for _ in range(5)]
    ember.manual_seed(3)
    f = ember.compile(layer)
    compiled = [f(x).numpy() for _ in range(5)]
    for a, b in zip(eager, compiled):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(compiled[3], compiled[4])
    graph = f.graph(x)
    assert "random(" in repr(graph)
    again = ember.Graph.from_bytes(graph.to_bytes())
    assert again.count() == graph.count()


def test_a_loaded_graph_cannot_name_anything_but_a_primitive():
    import msgpack
    f = ember.compile(lambda x: x + 1)
    x = ember.ones(2)
    f(x), f(x)
    doc = msgpack.unpackb(f.graph(x).to_bytes(), raw=False, strict_map_key=False)
    doc["nodes"][0][0] = "__class__"
    evil = ember.Graph.from_bytes(msgpack.packb(doc, use_bin_type=True))
    backend = ember.get_backend("numpy")
    with pytest.raises(ember.BackendError, match="'__class__' is not a backend primitive"):
        evil.run(backend, [backend.from_numpy(np.ones(2, np.float32))])


def test_two_dropouts_of_one_shape_draw_two_masks():
    from ember.plugins import nn
    first, second = nn.Dropout(0.5), nn.Dropout(0.5)
    f = ember.compile(lambda x: (first(x), second(x)))
    x = ember.ones(256)
    for _ in range(3):
        a, b = f(x)
    assert f.graph(x).count()["random"] == 2
    assert not np.array_equal(a.numpy(), b.numpy())


def test_a_trace_collects_only_what_the_call_made():
    """The collector is off during a traced call and collects generation 0 alone after it
    (everything the call made): a full collection walks the whole heap, 0.25 s a trace in
    a process holding torch and transformers."""
    started = []

    def watch(phase, info):
        if phase == "start":
            started.append(info["generation"])
    # the counters the earlier tests left (each trace's own collection counts toward an
    # automatic one of generation 1) start from zero, so that what is seen is the traces'
    gc.collect()
    gc.callbacks.append(watch)
    try:
        f = ember.compile(lambda a: (a * 2).exp().sum())
        for _ in range(3):
            f(ember.ones(3))
    finally:
        gc.callbacks.remove(watch)
    assert started and set(started) == {0}, f"generations collected while tracing: {started}"
    assert gc.isenabled(), "the collector stays off after a trace"


def test_tracing_patches_nothing_and_another_thread_computes_eagerly_meanwhile():
    """The tracer hooks the core's dispatch point for its own thread only: while one
    thread traces, the Tensor class and the backend are untouched, and a second thread
    computing on the same backend gets correct results that the trace does not record."""
    import threading
    b = ember.get_backend("numpy")
    in_trace, resume = threading.Event(), threading.Event()
    seen = {}

    @ember.compile
    def f(x):
        y = (x * 2.0).exp()
        if not seen:
            seen["class"] = dict(vars(ember.Tensor))
            seen["backend"] = dict(vars(b))
            in_trace.set()
            assert resume.wait(10)
        return y + 1.0

    results = []

    def eager():
        assert in_trace.wait(10)
        a = ember.tensor([1.0, -2.0, 3.0], backend=b)
        results.append(((a - 0.5) * a).sum().item())    # a host read: refused inside a trace
        resume.set()

    other = threading.Thread(target=eager)
    other.start()
    x = ember.tensor([0.0, 1.0], backend=b)
    before_class, before_backend = dict(vars(ember.Tensor)), dict(vars(b))
    out = f(x)
    other.join()
    assert seen["class"] == before_class and seen["backend"] == before_backend
    assert results == [pytest.approx((0.5 * 1.0) + (-2.5 * -2.0) + (2.5 * 3.0))]
    for _ in range(3):
        out = f(x)
    alone = ember.compile(lambda x: (x * 2.0).exp() + 1.0)
    for _ in range(2):
        alone(x)
    assert str(f.graph(x)) == str(alone.graph(x))      # nothing of the other thread's
    np.testing.assert_allclose(out.numpy(), np.exp([0.0, 2.0]) + 1.0, rtol=1e-6)


def test_a_compiled_function_called_inside_another_trace_runs_inline():
    inner = ember.compile(lambda x: x * 3.0)

    @ember.compile
    def outer(x):
        return inner(x) + 1.0

    x = ember.tensor([1.0, 2.0])
    for _ in range(3):
        assert outer(x).tolist() == [4.0, 7.0]
    assert inner.trace_count == 0
    assert {n.name for n in outer.graph(x).nodes} <= {"mul", "add", "fast_fused"}


def test_past_its_cache_limit_a_function_warns_naming_the_argument_and_runs_eagerly():
    f = ember.compile(lambda x, scale: x * scale, cache_limit=3)
    x = ember.ones(2)
    for k in range(3):
        f(x, float(k))
    with pytest.warns(ember.CompileWarning, match=r"argument 1 keeps changing"):
        assert f(x, 7.0).tolist() == [7.0, 7.0]
    assert len(f._entries) == 3
    assert f(x, 9.0).tolist() == [9.0, 9.0]        # eager again, warned once


def test_a_training_steps_graph_prints_its_state_by_name():
    from ember.plugins import nn, optim
    model = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5), nn.Linear(3, 2))
    opt = optim.Adam(model.parameters(), lr=0.1)

    @ember.compile
    def step(x, y):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    x, y = ember.randn((5, 4)), ember.randn((5, 2))
    for _ in range(3):
        step(x, y)
    text = str(step.graph(x, y))
    header, ret = text.splitlines()[0], text.splitlines()[-1]
    for name in ("0.weight", "2.bias", "exp_avg[0.weight]", "exp_avg_sq[2.bias]", "step[0.bias]",
                 "lr", "rng"):
        assert f" {name}: " in header or header.startswith(f"graph({name}: "), name
    for name in ("0.weight", "exp_avg[0.weight]", "grad[2.weight]"):
        assert f"{name} <- %" in ret, name
    assert ret.endswith(", rng")


def test_computing_on_a_second_backend_inside_a_trace_is_refused():
    other = next((n for n in ("opencl", "wgpu") if ember.config.availability(n)[0]), None)
    if other is None:
        pytest.skip("no second backend here")
    extra = ember.ones(2, backend=other)
    f = ember.compile(lambda x: x * 2.0 + (extra * 3.0).to("numpy"))
    with pytest.raises(ember.CompileError, match=r"computes on .* as well as on numpy"):
        f(ember.ones(2, backend="numpy"))


def test_an_index_tensor_argument_replays_with_each_calls_indices():
    """x[i] and an embedding gather with the tensor itself: the graph does not freeze the
    first call's indices, and new indices do not trace again."""
    from ember.plugins.nn import functional as F
    table = ember.tensor(np.arange(15.0).reshape(5, 3))
    step = ember.compile(lambda t, i: t[i] * 2 + F.embedding(i, t))
    for k in range(5):
        idx = np.array([[k, 4 - k]])
        got = step(table, ember.tensor(idx)).numpy()
        np.testing.assert_array_equal(got, table.numpy()[idx] * 3)
    assert step.trace_count == 2


def test_a_learning_rate_changed_every_step_replays_as_eager():
    """A per-step schedule (warmup, cosine) refreshes the held learning rate before each
    replay and each further trace, so the graph never records it as a constant."""
    from ember.plugins import optim

    def run(compiled):
        w = ember.tensor([1.0, -2.0], requires_grad=True)
        opt = optim.AdamW([w], lr=0.1)
        schedule = optim.CosineWithWarmupLR(opt, 2, 8)

        def step():
            opt.zero_grad()
            loss = (w * w).sum()
            loss.backward()
            opt.step()
            return loss
        fn = ember.compile(step) if compiled else step
        for _ in range(8):
            fn()
            schedule.step()
        return w.numpy(), getattr(fn, "trace_count", 0)

    (eager, _), (replayed, traces) = run(False), run(True)
    # eager takes the fused Adam fast path, the graph the composed rule: float32 rounding
    np.testing.assert_allclose(replayed, eager, rtol=2e-5)
    assert traces <= 3


def test_nan_constants_real_or_complex_let_two_traces_agree():
    """A graph holding a NaN constant (complex(re, im) keeps i NaN at hand) compiles: NaN
    equals nothing, so traces compared constant by constant never agreed."""
    compiled = ember.compile(lambda re, im: ember.complex(re, im) * ember.nan)
    re, im = ember.tensor([1.0, math.inf]), ember.tensor([math.nan, 2.0])
    for _ in range(4):
        out = compiled(re, im)
    assert compiled.trace_count == 2 and np.isnan(out.numpy()).all()


def test_a_replay_gives_inf_and_nan_without_a_warning_as_eager_does():
    """Overflow, log(0) and 0 / 0 in a replayed graph: inf, -inf and NaN and no NumPy
    warning, as in eager mode (a replay sets the backend's error state once, not per
    step), and the caller's own error state is left as it was."""
    def f(x):
        return (x * 1e30).exp(), x.log(), x / x

    compiled = ember.compile(f)
    x = ember.tensor([0.0, 1.0, 100.0])
    want = [t.numpy() for t in f(x)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(4):
            got = [t.numpy() for t in compiled(x)]
    assert compiled.trace_count == 2
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)
    assert np.isnan(got[2][0]) and np.isneginf(got[1][0]) and np.isposinf(got[0][2])
    with np.errstate(divide="raise"):
        compiled(x)
        with pytest.raises(FloatingPointError):
            np.log(np.zeros(1))
