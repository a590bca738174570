"""torch.nn's losses under their own names, against PyTorch (the oracle, where installed)
on every backend: F.<name>(...) and nn.<Name>(...)(...) with PyTorch's arguments give
PyTorch's values and gradients, CTC included."""

import numpy as np
import pytest

import ember
from ember.plugins import nn
from ember.plugins.nn import functional as F

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here (pip install torch)")


def _widest(backend):
    return ember.float64 if ember.float64 in backend.dtypes else ember.float32


RNG = np.random.default_rng(0)
X, Y = RNG.standard_normal((5, 4)), RNG.standard_normal((5, 4))
Z = RNG.standard_normal((5, 4))
SIGNS = np.where(RNG.uniform(size=(5, 4)) > 0.5, 1.0, -1.0)
PAIR_SIGNS = np.array([1.0, -1.0, 1.0, -1.0, -1.0])
CLASSES = np.array([3, 0, 2, 2, 1])
MULTI = np.array([[3, 0, -1, 1], [1, -1, 2, 2], [0, 1, 2, 3], [-1, 0, 0, 0], [2, -1, -1, -1]])
RATES = RNG.uniform(0.2, 3.0, (5, 4))
COUNTS = np.round(RNG.uniform(0, 5, (5, 4)))
VAR = RNG.uniform(0.1, 2.0, (5, 4))
BITS = (RNG.uniform(size=(5, 4)) > 0.5) * 1.0
PROBS = RNG.dirichlet(np.ones(4), 5)

#: (name, F-call, nn-call), each a function of (library, tensor maker): it runs on ember's
#: F/nn and torch's alike; the maker's inputs are differentiable unless "const" or "index"
CASES = [
    ("poisson_nll_loss",
     lambda L, t: L.poisson_nll_loss(t(X), t(COUNTS, "const"), full=True, reduction="sum"),
     lambda L, t: L.PoissonNLLLoss(log_input=False, eps=1e-6)(t(RATES), t(COUNTS, "const"))),
    ("gaussian_nll_loss", lambda L, t: L.gaussian_nll_loss(t(X), t(Y), t(VAR), full=True),
     lambda L, t: L.GaussianNLLLoss(reduction="none")(t(X), t(Y), t(VAR[:, :1], "const"))),
    ("margin_ranking_loss",
     lambda L, t: L.margin_ranking_loss(t(X), t(Y), t(SIGNS, "const"), margin=0.3),
     lambda L, t: L.MarginRankingLoss(margin=0.1, reduction="sum")(t(X), t(Y), t(SIGNS, "const"))),
    ("hinge_embedding_loss",
     lambda L, t: L.hinge_embedding_loss(t(np.abs(X)), t(SIGNS, "const"), margin=1.5),
     lambda L, t: L.HingeEmbeddingLoss(reduction="none")(t(np.abs(X)), t(SIGNS, "const"))),
    ("soft_margin_loss", lambda L, t: L.soft_margin_loss(t(X * 3), t(SIGNS, "const")),
     lambda L, t: L.SoftMarginLoss(reduction="sum")(t(X), t(SIGNS, "const"))),
    ("multilabel_soft_margin_loss",
     lambda L, t: L.multilabel_soft_margin_loss(t(X), t(BITS, "const"),
                                                weight=t(RATES[0], "const")),
     lambda L, t: L.MultiLabelSoftMarginLoss(reduction="none")(t(X), t(BITS, "const"))),
    ("multilabel_margin_loss",
     lambda L, t: L.multilabel_margin_loss(t(X), t(MULTI, "index")),
     lambda L, t: L.MultiLabelMarginLoss(reduction="none")(t(X), t(MULTI, "index"))),
    ("multi_margin_loss",
     lambda L, t: L.multi_margin_loss(t(X), t(CLASSES, "index"), p=2, margin=0.5,
                                      weight=t(RATES[0], "const")),
     lambda L, t: L.MultiMarginLoss(reduction="sum")(t(X), t(CLASSES, "index"))),
    ("cosine_embedding_loss",
     lambda L, t: L.cosine_embedding_loss(t(X), t(Y), t(PAIR_SIGNS, "const"), margin=0.2),
     lambda L, t: L.CosineEmbeddingLoss(reduction="none")(t(X), t(Y), t(PAIR_SIGNS, "const"))),
    ("cross_entropy_probabilities",   # soft labels, PyTorch's default ignore_index=-100
     lambda L, t: L.cross_entropy(t(X), t(PROBS, "const"), label_smoothing=0.1),
     lambda L, t: L.CrossEntropyLoss(weight=t(RATES[0], "const"), reduction="none")(
         t(X), t(PROBS, "const"))),
    ("triplet_margin_loss",
     lambda L, t: L.triplet_margin_loss(t(X), t(Y), t(Z), margin=0.5, p=3.0, swap=True),
     lambda L, t: L.TripletMarginLoss(reduction="none")(t(X), t(Y), t(Z))),
    ("triplet_margin_with_distance_loss",
     lambda L, t: L.triplet_margin_with_distance_loss(
         t(X), t(Y), t(Z), distance_function=lambda a, b: 1.0 - L.cosine_similarity(a, b),
         margin=0.5, swap=True),
     lambda L, t: L.TripletMarginWithDistanceLoss(reduction="sum")(t(X), t(Y), t(Z))),
]

#: the edges where PyTorch's answer is finite: saturated probabilities (BCE's slope is
#: (p - t) / max(p (1 - p), 1e-12) there), infinite differences (smooth L1's and Huber's
#: slope is their sign), pairs exactly at a margin (clamp_min's slope there is 1) and an
#: infinite score (multi_margin's hinge is inf, not inf * 0)
SATURATED = np.array([[0.0, 1.0, 2.0 ** -45, 0.5], [1.0, 0.0, 0.375, 1.0 - 2.0 ** -24]])
BIT_TARGETS = np.array([[1.0, 0.0, 1.0, 0.3], [1.0, 1.0, 0.0, 0.0]])
FAR = np.array([[np.inf, -np.inf, 0.5, 3.0], [2.0, np.inf, -1.0, 0.0]])
NEAR = np.array([[0.0, 1.0, np.inf, -np.inf], [0.5, -np.inf, 1.0, 0.0]])
AT_MARGIN = np.array([[0.3, -0.2, 1.0, 0.0], [1.0, 2.0, 0.5, -1.0]])
EDGE_CASES = [
    ("binary_cross_entropy_saturated",
     lambda L, t: L.binary_cross_entropy(t(SATURATED), t(BIT_TARGETS, "const"), reduction="none"),
     lambda L, t: L.BCELoss(weight=t(np.array([2.0, 1.0, 1.0, 0.5]), "const"))(
         t(SATURATED), t(BIT_TARGETS, "const"))),
    ("smooth_l1_loss_infinite", lambda L, t: L.smooth_l1_loss(t(FAR), t(NEAR, "const"),
                                                               reduction="none", beta=0.5),
     lambda L, t: L.SmoothL1Loss(reduction="none")(t(FAR), t(NEAR, "const"))),
    ("huber_loss_infinite", lambda L, t: L.huber_loss(t(FAR), t(NEAR, "const"), reduction="none"),
     lambda L, t: L.HuberLoss(reduction="none", delta=2.0)(t(FAR), t(NEAR, "const"))),
    ("margin_ranking_loss_at_margin",
     lambda L, t: L.margin_ranking_loss(t(AT_MARGIN), t(AT_MARGIN.copy()),
                                        t(-np.ones((2, 4)), "const"), reduction="none"),
     lambda L, t: L.MarginRankingLoss(margin=0.0, reduction="none")(
         t(AT_MARGIN), t(AT_MARGIN), t(np.ones((2, 4)), "const"))),
    ("hinge_embedding_loss_at_margin",
     lambda L, t: L.hinge_embedding_loss(t(AT_MARGIN), t(-np.ones((2, 4)), "const"), margin=1.0,
                                         reduction="none"),
     lambda L, t: L.HingeEmbeddingLoss(margin=0.5, reduction="none")(
         t(AT_MARGIN), t(-np.ones((2, 4)), "const"))),
    ("multi_margin_loss_infinite",
     lambda L, t: L.multi_margin_loss(t(np.array([[np.inf, 0.0, 1.0], [0.0, np.inf, 2.0]])),
                                      t(np.array([0, 2]), "index"), reduction="none"),
     lambda L, t: L.MultiMarginLoss(p=2, reduction="none")(
         t(np.array([[0.0, 1.0, -np.inf], [3.0, 0.0, 1.0]])), t(np.array([1, 0]), "index"))),
]
CASES += EDGE_CASES


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_losses_match_torch_by_name(backend, case):
    name, functional, module = case
    rel = 1e-10 if _widest(backend) is ember.float64 else 2e-5
    for ours, theirs, call in (("F", torch.nn.functional, functional), ("nn", torch.nn, module)):
        got_leaves, want_leaves = [], []

        def e(a, kind="float"):
            if kind == "index":
                return ember.tensor(a, dtype=backend.default_int)
            x = ember.tensor(a, dtype=_widest(backend), requires_grad=kind == "float")
            if kind == "float":
                got_leaves.append(x)
            return x

        def t(a, kind="float"):
            if kind == "index":
                return torch.tensor(a)
            x = torch.tensor(a, requires_grad=kind == "float")
            if kind == "float":
                want_leaves.append(x)
            return x
        got = call(F if ours == "F" else nn, e)
        want = call(theirs, t)
        _close(got.numpy(), want.detach().numpy(), rel, f"{name} ({ours}) value")
        weights = RNG.standard_normal(tuple(want.shape))
        (got * ember.tensor(weights, dtype=got.dtype)).sum().backward()
        (want * torch.tensor(weights)).sum().backward()
        for k, (g, w) in enumerate(zip(got_leaves, want_leaves)):
            _close(g.grad.numpy(), w.grad.numpy(), rel, f"{name} ({ours}) gradient {k}")


def _close(got, want, rel, what):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, torch {want.shape}"
    np.testing.assert_array_equal(np.isfinite(got), np.isfinite(want), err_msg=what)
    finite = np.isfinite(want)
    scale = max(np.abs(want[finite]).max(initial=0.0), 1e-300)
    err = np.abs(got[finite] - want[finite]).max(initial=0.0) / scale
    assert err <= rel, f"{what}: relative error {err:.1e}"


# -- CTC -------------------------------------------------------------------------------
def _ctc_inputs(seed=1, frames=12, batch=4, classes=6):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((frames, batch, classes))
    input_lengths = np.array([12, 9, 12, 5])
    target_lengths = np.array([4, 3, 0, 2])
    targets = rng.integers(1, classes, (batch, 5))
    targets[0, :4] = [2, 2, 3, 2]                  # a repeat, which needs a blank between
    return logits, targets, input_lengths, target_lengths


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ctc_loss_matches_torch_through_log_softmax(backend, reduction):
    """Losses and the logits' gradients equal PyTorch's, padded targets and concatenated,
    with a repeated label, an empty target and frozen short inputs."""
    logits, targets, in_len, tg_len = _ctc_inputs()
    wide = _widest(backend)
    rel = 1e-9 if wide is ember.float64 else 1e-4
    concatenated = np.concatenate([targets[n, :k] for n, k in enumerate(tg_len)])
    for tgt in (targets, concatenated):
        x = ember.tensor(logits, dtype=wide, requires_grad=True)
        tx = torch.tensor(logits, requires_grad=True)
        got = F.ctc_loss(F.log_softmax(x, 2), ember.tensor(tgt, dtype=backend.default_int),
                         ember.tensor(in_len, dtype=backend.default_int), tg_len,
                         reduction=reduction)
        want = torch.nn.functional.ctc_loss(torch.log_softmax(tx, 2), torch.tensor(tgt),
                                            torch.tensor(in_len), torch.tensor(tg_len),
                                            reduction=reduction)
        _close(got.numpy(), want.detach().numpy(), rel, f"ctc {reduction}")
        w = RNG.standard_normal(tuple(want.shape))
        (got * ember.tensor(w, dtype=wide)).sum().backward()
        (want * torch.tensor(w)).sum().backward()
        _close(x.grad.numpy(), tx.grad.numpy(), rel, f"ctc {reduction} gradient")


def test_ctc_loss_edges_and_module(backend):
    """A target too long for its input costs inf (0 with zero_infinity, gradient 0, as
    PyTorch); unbatched input; blank elsewhere; bad labels and lengths are refused."""
    wide = _widest(backend)
    rng = np.random.default_rng(2)
    lp = np.log(rng.dirichlet(np.ones(5), size=(3, 2)))       # (T=3, N=2, C=5)
    targets, in_len, tg_len = np.array([[1, 2, 1, 2], [3, 3, 0, 0]]), [3, 3], [4, 2]
    for zero in (False, True):
        x = ember.tensor(lp, dtype=wide, requires_grad=True)
        tx = torch.tensor(lp, requires_grad=True)
        got = nn.CTCLoss(reduction="none", zero_infinity=zero)(x, targets, in_len, tg_len)
        want = torch.nn.CTCLoss(reduction="none", zero_infinity=zero)(
            tx, torch.tensor(targets), torch.tensor(in_len), torch.tensor(tg_len))
        _close(got.numpy(), want.detach().numpy(), 1e-5, f"zero_infinity={zero}")
        if zero:
            got.sum().backward()
            assert np.all(x.grad.numpy()[:, 0] == 0)      # the impossible sequence's
    single = F.ctc_loss(ember.tensor(lp[:, 1], dtype=wide), [3, 3], [3], [2], blank=4,
                        reduction="none")
    want = torch.nn.functional.ctc_loss(torch.tensor(lp[:, 1]), torch.tensor([3, 3]),
                                        torch.tensor([3]), torch.tensor([2]), blank=4,
                                        reduction="none")
    _close(single.numpy(), want.numpy(), 1e-5, "unbatched, blank 4")
    assert single.shape == ()
    x = ember.tensor(lp, dtype=wide)
    with pytest.raises(ember.ShapeError, match="label 0 is not one of the 5 classes other"):
        F.ctc_loss(x, [[0, 1], [1, 1]], [3, 3], [2, 2])
    with pytest.raises(ember.ShapeError, match=r"input_lengths must lie in 0..3"):
        F.ctc_loss(x, [[1, 1], [1, 1]], [4, 3], [2, 2])
    with pytest.raises(ember.ShapeError, match="2 sequences need 2 input and target lengths"):
        F.ctc_loss(x, [[1, 1], [1, 1]], [3], [2, 2])


def test_ctc_loss_compiles_with_host_lengths(backend):
    """Compiled with targets and lengths given as lists (part of the trace's key), the
    loss equals eager; given as tensors, which a replay could not read, it is refused."""
    logits, targets, in_len, tg_len = _ctc_inputs(seed=3)
    x = ember.tensor(logits, dtype=ember.float32)
    step = ember.compile(lambda x, t, i, k: F.ctc_loss(F.log_softmax(x, 2), t, i, k))
    for lengths in (in_len, np.array([12, 12, 7, 6])):
        want = F.ctc_loss(F.log_softmax(x, 2), targets.tolist(), lengths.tolist(),
                          tg_len.tolist())
        got = step(x, targets.tolist(), lengths.tolist(), tg_len.tolist())
        _close(got.numpy(), want.numpy(), 1e-6, f"compiled ctc, lengths {lengths.tolist()}")
    with pytest.raises(ember.CompileError, match="as Python lists"):
        step(x, ember.tensor(targets, dtype=backend.default_int), in_len.tolist(),
             tg_len.tolist())
