"""ember.compile on every backend: each op of the table traced and replayed (with
fresh inputs, so a replay that repeated the traced values would fail) against eager
execution; a compiled training step (forward, backward, update) against the same
steps run eagerly; graphs printed, saved and loaded; the errors a user can meet."""

import collections
import os

import numpy as np
import pytest

import ember
from ember import dtypes as dt
from ember.testing.cases import OPS
from ember.testing.checks import expect, assert_close

from .test_ops import _floor, _host_inputs, _skip_unsupported



def _traced_in(case_index, case, dtype):
    """Whether the compiled-vs-eager check runs the op in this dtype: every op in float32
    (or its first dtype), and each other dtype on every eighth op, a different eighth per
    dtype, so every op and every dtype's loads, stores and rounding are traced (the
    forward checks of test_ops run every pair eagerly; each pair traced costs pocl about
    0.4 s of building on a 2-core CPU). EMBER_FULL_SUITE=1: every pair."""
    return dtype is case.main_dtype or os.environ.get("EMBER_FULL_SUITE") == "1" or \
        (case_index + dt.ALL.index(dtype)) % 8 == 0


CASES = [pytest.param(c, d, id=f"{c.name}-{d.name}") for i, c in enumerate(OPS) for d in c.dtypes
         if _traced_in(i, c, d)]


@pytest.mark.parametrize("case,dtype", CASES)
def test_op_compiled_matches_eager(backend, case, dtype):
    _skip_unsupported(backend, (dtype,) + case.needs)
    shapes = case.shapes[0]
    compiled = ember.compile(case.fn)
    for seed in range(4):          # two traces, then replays
        cast, _ = _host_inputs(case, shapes, dtype, seed)
        xs = [ember.tensor(a, dtype=dtype, backend=backend) for a in cast]
        want = case.fn(*xs)
        if case.data_dependent_shape:   # the one thing a trace cannot hold: refused by name
            with pytest.raises(ember.CompileError, match="reads a computed tensor's values"):
                compiled(*xs)
            return
        got = compiled(*xs)
        expect(got.shape == want.shape and got.dtype is want.dtype,
               f"{case.name}: compiled {got.dtype}{got.shape}, eager {want.dtype}{want.shape}")
        assert_close(got, want.numpy(), got.dtype, case.scale, f"{case.name} call {seed + 1}",
                     floor=_floor(case, cast))
    expect(compiled.graph(*xs) is not None, f"{case.name}: still tracing after 4 calls")


def _softmax(x):
    e = (x - x.max(axis=-1, keepdims=True)).exp()
    return e / e.sum(axis=-1, keepdims=True)


CHAINS = {   # elementwise runs ending in reductions: what fused kernels take whole
    "sum of exp over an inner axis": lambda x, y: (x * 2.0 + y).exp().sum(axis=1),
    "max keeping dims": lambda x, y: (x * x - 1.0).max(axis=(0, 2), keepdims=True),
    "min of everything": lambda x, y: (x.abs() + y).min(),
    "softmax": lambda x, y: _softmax(x + y),
    "a value used beside its sum": lambda x, y: (((x - y) ** 2), ((x - y) ** 2).mean(axis=(1, 2))),
    "integer sum of a mask": lambda x, y: ((x > y).to(x._backend.default_int) * 3).sum(axis=2),
    "NaN through max": lambda x, y: (x.log() + y).max(axis=0),
}


@pytest.mark.parametrize("name", list(CHAINS))
def test_fused_chains_and_reductions_match_eager(backend, name):
    fn = CHAINS[name]
    compiled = ember.compile(fn)
    rng = np.random.default_rng(0)
    y = ember.tensor(rng.uniform(-1, 1, (5, 1)).astype(np.float32), backend=backend)
    for _ in range(4):
        x = ember.tensor(rng.uniform(-2, 2, (6, 5, 4)).astype(np.float32), backend=backend)
        with np.errstate(invalid="ignore"):      # log of negatives: NaN on purpose
            got, want = compiled(x, y), fn(x, y)
        got, want = (got, want) if isinstance(got, tuple) else ((got,), (want,))
        for g, w in zip(got, want):
            expect(g.shape == w.shape and g.dtype is w.dtype,
                   f"{name}: compiled {g.dtype}{g.shape}, eager {w.dtype}{w.shape}")
            np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)


def _mlp_step(backend, optimizer, compiled, dropout, steps=6):
    from ember.plugins import nn, optim
    from ember.plugins.losses import cross_entropy
    ember.manual_seed(0)
    with ember.backend(backend):
        model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3))
    opt = optimizer(optim, model.parameters())

    def step(x, y):
        loss = cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    run = ember.compile(step) if compiled else step
    rng = np.random.default_rng(3)
    ember.manual_seed(1)            # the dropout masks: the same draws in both runs
    losses = []
    for _ in range(steps):
        x = ember.tensor(rng.standard_normal((8, 12)).astype(np.float32), backend=backend)
        y = ember.tensor(rng.integers(0, 3, 8), dtype=backend.default_int, backend=backend)
        losses.append(run(x, y).item())
    return losses, [p.numpy() for p in model.parameters()], run


@pytest.mark.parametrize("optimizer", [
    pytest.param(lambda optim, ps: optim.SGD(ps, lr=0.1, momentum=0.9), id="sgd-momentum"),
    pytest.param(lambda optim, ps: optim.Adam(ps, lr=0.01, capturable=True), id="adam-capturable"),
    pytest.param(lambda optim, ps: optim.Adam(ps, lr=0.01), id="adam")])
@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_compiled_training_step_matches_eager(backend, optimizer, dropout):
    """Dropout draws new masks on every replay (the same draws as eager, same seed); a
    step without host draws is what a backend may capture whole (CUDA graphs)."""
    eager, p_eager, _ = _mlp_step(backend, optimizer, False, dropout)
    comp, p_comp, run = _mlp_step(backend, optimizer, True, dropout)
    expect(run.graph(*_inputs(backend)) is not None, "the step is still being traced")
    np.testing.assert_allclose(comp, eager, rtol=1e-5, atol=1e-6, err_msg="losses")
    for a, b in zip(p_comp, p_eager):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg="parameters")


def _inputs(backend):
    return (ember.zeros(8, 12, backend=backend),
            ember.zeros(8, dtype=backend.default_int, backend=backend))


def test_graph_prints_saves_loads_and_runs_elsewhere(backend):
    w = ember.tensor([[1.0, -2.0], [0.5, 3.0]], backend=backend)

    def f(x):
        return ((x @ w).tanh() * 2.0 + 1.0).sum(axis=1)
    compiled = ember.compile(f)
    x = ember.tensor([[0.1, 0.2], [0.3, -0.4], [1.0, 2.0]], backend=backend)
    for _ in range(2):
        compiled(x)
    graph = compiled.graph(x)
    text = repr(graph)
    expect("matmul(x0, s0)" in text and "tanh" in text, f"the printed graph:\n{text}")
    again = ember.Graph.from_bytes(graph.to_bytes())
    expect(repr(again) == text, "a loaded graph prints differently")
    host = ember.get_backend("numpy")
    out = again.run(host, [host.from_numpy(x.numpy()), host.from_numpy(w.numpy())])
    np.testing.assert_allclose(np.asarray(out[0]), f(x).numpy(), rtol=1e-5)


def test_reading_a_computed_value_on_the_host_is_a_clear_error(backend):
    def f(x):
        if (x.sum() > 0).item():
            return x * 2
        return x
    with pytest.raises(ember.CompileError, match=r"reads a computed tensor's values on the host"):
        ember.compile(f)(ember.ones(3, backend=backend))


def test_a_number_that_changes_every_call_is_a_clear_error(backend):
    count = [0]

    def f(x):
        count[0] += 1
        return x * float(count[0])
    compiled = ember.compile(f)
    x = ember.ones(3, backend=backend)
    with pytest.raises(ember.CompileError, match=r"recorded different graphs: .*4\.0.* then .*5\.0"):
        for _ in range(10):
            compiled(x)


Pair = collections.namedtuple("Pair", "low high")


def test_equal_0d_results_stay_distinct_values(backend):
    """Two 0-d comparisons equal when traced (NumPy returns both as the one object
    np.False_) are two values in the graph: replayed where they differ, each has its own."""
    def both(x):
        s = x.sum()
        above_ten, above_zero = s > 10.0, s > 0.0      # both made before either is read
        return ember.where(above_ten, 1.0, 0.0) + ember.where(above_zero, 2.0, 0.0)

    f = ember.compile(both)
    for _ in range(3):
        f(ember.tensor([-1.0, -2.0], backend=backend))
    for values, want in (([1.0, 2.0], 2.0), ([10.0, 2.0], 3.0), ([-5.0, 1.0], 0.0)):
        got = f(ember.tensor(values, backend=backend)).item()
        expect(got == want, f"compiled on sum {sum(values)}: {got}, expected {want}")


def test_outputs_keep_their_container_types(backend):
    """Tuples, namedtuples, lists and dicts come back as the eager call returned them, on
    the tracing calls and on replays."""
    def f(x):
        return {"pair": Pair(x - 1, x + 1), "seq": [x * 2, (x.sum(),)], "n": 3}
    compiled = ember.compile(f)
    x = ember.ones(2, backend=backend)
    for _ in range(4):
        out = compiled(x)
        expect(type(out) is dict and type(out["pair"]) is Pair and type(out["seq"]) is list
               and type(out["seq"][1]) is tuple and out["n"] == 3, f"containers: {out!r}")
        expect(out["pair"].high.tolist() == [2.0, 2.0], "values")
    expect(compiled.graph(x) is not None, "replaying")


def test_backward_through_a_compiled_call_says_what_to_do(backend):
    w = ember.ones(3, backend=backend, requires_grad=True)
    compiled = ember.compile(lambda w: (w * w).sum())
    for _ in range(3):
        loss = compiled(w)
        with pytest.raises(ember.AutogradError, match=r"outputs of compile\(.*\) carry no "
                                                      r"gradients, though its arguments require grad"):
            loss.backward()


def test_a_corrupt_graph_file_is_a_serialization_error():
    with pytest.raises(ember.SerializationError, match="cannot read the graph"):
        ember.Graph.from_bytes(b"\x93not a graph")
    with pytest.raises(ember.SerializationError, match="not an ember graph"):
        import msgpack
        ember.Graph.from_bytes(msgpack.packb({"format": "x"}))
