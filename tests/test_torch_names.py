"""PyTorch's spellings against PyTorch itself (the oracle, where installed): the Tensor
methods and functions a port of PyTorch code calls, with dim/keepdim, give torch's
values, shapes and gradients on every backend; the composed functions at every special
pair of values; and what PyTorch would refuse is refused by name."""

import importlib
import math

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here (pip install torch)")

SPECIAL = [0.0, -0.0, 1e-45, 1e-30, 1.0, -1.0, 2.5, 1e30, -1e30, 3e38, -3e38, math.inf,
           -math.inf, math.nan]


def _pair(backend, seed=0, shape=(3, 5)):
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return ember.tensor(a, backend=backend), torch.tensor(a)


def _same(got, want, what, ulps=None):
    """ember's result (a tensor, a tuple of them, or a Python value) equal to torch's:
    the same shape and values, NaN and infinities at the same places, and the finite
    floats within 1e-6 of the result's largest magnitude (summation orders and PyTorch's
    fused multiply-adds differ in the last bits), or within ``ulps`` each."""
    if isinstance(want, (tuple, list)):
        assert isinstance(got, (tuple, list)) and len(got) == len(want), what
        for g, w in zip(got, want):
            _same(g, w, what, ulps)
        return
    if not isinstance(want, torch.Tensor):
        assert got == want, f"{what}: {got!r}, torch {want!r}"
        return
    g, w = got.numpy(), want.detach().numpy()
    assert g.shape == w.shape, f"{what}: shape {g.shape}, torch {w.shape}"
    if w.dtype.kind == "f" and ulps is not None:
        np.testing.assert_array_max_ulp(g.astype(w.dtype), w, ulps)
    elif w.dtype.kind == "f":
        g = g.astype(np.float64)
        w = w.astype(np.float64)
        np.testing.assert_array_equal(np.isfinite(g), np.isfinite(w), err_msg=what)
        np.testing.assert_array_equal(g[~np.isfinite(g)], w[~np.isfinite(w)], err_msg=what)
        finite = np.isfinite(w)
        if finite.any():
            scale = np.abs(w[finite]).max()
            assert np.abs(g[finite] - w[finite]).max() <= 1e-6 * scale, what
    else:
        np.testing.assert_array_equal(g, w, err_msg=what)


#: (what, a PyTorch expression on x (3, 5) and y (3, 5), as ember runs it too)
IDIOMS = [
    ("sum dim keepdim", lambda m, x, y: x.sum(dim=1, keepdim=True)),
    ("mean dims", lambda m, x, y: x.mean(dim=(0, 1))),
    ("std unbiased=False", lambda m, x, y: x.std(dim=0, unbiased=False)),
    ("var keepdim", lambda m, x, y: x.var(1, keepdim=True)),
    ("max dim", lambda m, x, y: tuple(x.max(dim=1))),
    ("max positional", lambda m, x, y: (tuple(x.max(1)), tuple(m.max(x, 0, True)), x.max())),
    ("max of two", lambda m, x, y: (m.max(x, y), m.min(x, y))),
    ("min dim keepdim", lambda m, x, y: tuple(x.min(dim=0, keepdim=True))),
    ("argmax dim", lambda m, x, y: x.argmax(dim=1)),
    ("amax", lambda m, x, y: x.amax(1)),
    ("softmax dim", lambda m, x, y: x.softmax(dim=-1)),
    ("log_softmax", lambda m, x, y: m.log_softmax(x, dim=0)),
    ("cat dim", lambda m, x, y: m.cat([x, y], dim=1)),
    ("stack dim", lambda m, x, y: m.stack([x, y], dim=-1)),
    ("cumsum dim", lambda m, x, y: x.cumsum(dim=1)),
    ("sort dim", lambda m, x, y: tuple(x.sort(dim=0, descending=True))),
    ("topk dim", lambda m, x, y: tuple(x.topk(2, dim=0))),
    ("logsumexp", lambda m, x, y: x.logsumexp(dim=1)),
    ("norm", lambda m, x, y: x.norm()),
    ("norm p dim", lambda m, x, y: x.norm(p=1, dim=1)),
    ("split size", lambda m, x, y: tuple(x.split(2, dim=1))),
    ("split sizes", lambda m, x, y: tuple(m.split(x, [1, 4], dim=1))),
    ("chunk", lambda m, x, y: tuple(x.chunk(3, dim=1))),
    ("unbind", lambda m, x, y: tuple(x.unbind(1))),
    ("size", lambda m, x, y: (tuple(x.size()), x.size(1), x.size(-1), x.dim(), x.numel())),
    ("t", lambda m, x, y: x.t()),
    ("masked_fill", lambda m, x, y: x.masked_fill(x > 0, -2.0)),
    ("where", lambda m, x, y: x.where(x > 0, y)),
    ("gather", lambda m, x, y: x.gather(1, m.tensor([[0, 4], [1, 1], [3, 2]]))),
    ("tril triu", lambda m, x, y: (x.tril(), x.triu(1), m.tril(x, -1))),
    ("roll", lambda m, x, y: (x.roll(2, 1), x.roll(-1), x.roll((1, 2), (0, 1)))),
    ("movedim", lambda m, x, y: x.reshape(3, 5, 1).movedim(0, -1)),
    ("flip dims", lambda m, x, y: (m.flip(x, dims=[0]), x.flip(1), x.flip((0, 1)))),
    ("repeat", lambda m, x, y: x.repeat(2, 1, 3)),
    ("clone", lambda m, x, y: x.clone()),
    ("pow mul add sub", lambda m, x, y: x.pow(2).mul(3).add(y, alpha=2).sub(1)),
    ("comparisons", lambda m, x, y: (x.eq(y), x.gt(0), x.le(y), x.ne(0))),
    ("square rsqrt reciprocal", lambda m, x, y: (x.square(), x.abs().rsqrt(), x.reciprocal())),
    ("lerp", lambda m, x, y: (x.lerp(y, 0.3), m.lerp(x, y, 0.8), x.lerp(y, y))),
    ("logaddexp hypot", lambda m, x, y: (m.logaddexp(x, y), m.hypot(x, y))),
    ("erf", lambda m, x, y: m.erf(x)),
    ("isnan isinf isfinite", lambda m, x, y: ((x / 0).isnan(), (x / 0).isinf(),
                                              (x / 0).isfinite(), (x / 0).isposinf())),
    ("nan_to_num", lambda m, x, y: (x / 0).nan_to_num()),
    ("isclose allclose", lambda m, x, y: (m.isclose(x, x + 1e-6), m.allclose(x, x + 1e-6),
                                          m.allclose(x, y))),
    ("mm bmm dot outer", lambda m, x, y: (x.mm(y.t()), x[None].bmm(y.t()[None]),
                                          x[0].dot(y[0]), m.outer(x[0], y[1]))),
    ("nonzero", lambda m, x, y: (x > 0).nonzero()),
    ("diag diagonal trace", lambda m, x, y: (m.diag(x[0]), m.diag(x[0], -2), m.diag(x, 1),
                                             m.diagonal(x.reshape(3, 5, 1), 0, 0, 1),
                                             m.diagonal(x, -1), m.trace(x))),
    ("cdist", lambda m, x, y: (m.cdist(x, y[:2]), m.cdist(x[None], y[None], p=1))),
    ("addmm baddbmm", lambda m, x, y: (m.addmm(y[0, :3], x, y.t(), beta=0.5, alpha=2),
                                       m.baddbmm(x[None, :, :3], x[None], y.t()[None, :, :3]))),
    ("index_select masked_select narrow", lambda m, x, y: (
        m.index_select(x, 1, m.tensor([4, 0, 0])), m.masked_select(x, y > 0),
        m.narrow(x, 1, -3, 2), m.swapaxes(x, 0, 1), m.take_along_dim(x, m.tensor([[1]]), 1))),
    ("median", lambda m, x, y: (m.median(x), m.median(x[0]), tuple(m.median(x, 1)),
                                tuple(m.median(m.where(x > 1, x / 0 * 0, x), 0, True)))),
    ("quantile", lambda m, x, y: tuple(
        m.quantile(m.where(y > 1.5, y / 0 * 0, x), q, dim=d, keepdim=k, interpolation=i)
        for q, d, k, i in ((0.3, None, False, "linear"), (m.tensor([0.1, 0.9]), 1, False,
                           "nearest"), (0.5, 0, True, "midpoint"), (0.75, -1, False, "lower"),
                           (m.tensor([0.2]), None, True, "higher")))),
    ("unique bucketize", lambda m, x, y: (
        m.unique(m.round(x)), m.unique(m.round(x), return_inverse=True, return_counts=True),
        m.unique(m.round(x[:, :2]), dim=0), m.bucketize(x, m.tensor([-1.0, 0.0, 0.5])),
        m.bucketize(m.round(x), m.tensor([-1.0, 0.0, 1.0]), right=True))),
    ("empty from_numpy numel", lambda m, x, y: (m.empty(2, 3).shape, m.empty_like(x).shape,
                                                m.numel(x), m.is_tensor(x), m.is_tensor(3))),
    ("clamp_min max", lambda m, x, y: (x.clamp_min(0), x.clamp_max(0.5))),
    ("new tensors", lambda m, x, y: (x.new_zeros((2,)), x.new_ones(2, 3), x.new_full((2,), 7.0),
                                     x.type_as(x.int()))),
    ("expand_as view_as", lambda m, x, y: (x[:1].expand_as(y), x.reshape(15).view_as(y))),
    ("scatter", lambda m, x, y: (
        x.scatter(1, m.tensor([[4, 0], [1, 1], [2, 2]]), y[:, :2]),
        m.zeros(3, 5).scatter(1, m.tensor([[1], [3], [0]]), 1.0),
        m.scatter(x, 0, m.tensor([[2, 0, 1, 1, 0]]), y, reduce="add"),
        x.scatter_add(0, m.tensor([[0, 0, 2, 1, 0]]), y))),
    ("scatter_reduce", lambda m, x, y: tuple(
        x.scatter_reduce(0, m.tensor([[0, 2, 2, 1, 0], [0, 0, 2, 1, 1]]), y[1:], r,
                         include_self=i)
        for r in ("sum", "prod", "mean", "amax", "amin") for i in (True, False))),
    ("index_fill index_copy", lambda m, x, y: (
        x.index_fill(1, m.tensor([0, 3, -1]), -1.0), x.index_copy(0, m.tensor([2, 0]), y[:2]),
        x.index_add(1, m.tensor([4, 4]), y[:, :2], alpha=0.5))),
    ("cummax cummin logcumsumexp", lambda m, x, y: (
        tuple(m.cummax(m.round(x), 1)), tuple(x.cummin(dim=0)),
        tuple(m.cummax(m.tensor([1.0, float("nan"), 3.0, float("nan"), 2.0]), 0)),
        m.logcumsumexp(x * 30, 1), x.logcumsumexp(dim=0))),
    ("count_nonzero nansum nanmean", lambda m, x, y: (
        m.count_nonzero(m.round(x), dim=1), m.round(x).count_nonzero(),
        m.nansum(m.where(x > 1, y / 0 * 0, x), dim=0),
        m.nanmean(m.where(x > 0, y / 0 * 0, x), 1, keepdim=True))),
    ("diff", lambda m, x, y: (m.diff(x), x.diff(n=2, dim=0),
                              m.diff(x, dim=1, prepend=y[:, :1], append=y[:, :2]),
                              m.diff(x > 0), m.diff(m.tensor([1, 4, 9, 16]), n=3))),
    ("xlogy sinc frac", lambda m, x, y: (
        m.xlogy(m.round(x), y.abs()), m.xlogy(m.zeros(2), m.tensor([0.0, float("nan")])),
        m.sinc(m.round(x * 2) / 2), m.sinc(x), (x * 3).frac())),
    ("deg2rad rad2deg heaviside", lambda m, x, y: (
        m.deg2rad(x), x.rad2deg(), m.deg2rad(m.tensor([180, 90])),
        m.heaviside(m.round(x), m.tensor([0.5])), m.sgn(x))),
    ("rot90 flips kron cross", lambda m, x, y: (
        m.rot90(x), x.rot90(2), m.rot90(x, -1, [1, 0]), x.fliplr(), m.flipud(x),
        m.kron(x[:2, :2], y[1:, 2:]), m.kron(x[0], y[:2]),
        m.cross(x[:, :3], y[:, 1:4], dim=1), x[:3, :3].cross(y[:3, 2:], dim=0))),
    ("meshgrid atleast tri_indices bincount", lambda m, x, y: (
        m.meshgrid(x[0], y[1, :2], indexing="ij"), m.meshgrid(x[0], y[1, :2], indexing="xy"),
        m.atleast_1d(x[0, 0]), m.atleast_2d(x[0]), m.atleast_3d(x), m.atleast_3d(x[0], y),
        m.tril_indices(3, 4), m.triu_indices(4, 3, 1), m.tril_indices(3, 3, -1),
        m.bincount(m.tensor([1, 1, 4])), m.bincount(m.tensor([0, 2, 2]), weights=x[0, :3],
                                                    minlength=5))),
    ("stacking", lambda m, x, y: (
        m.hstack([x, y]), m.hstack([x[0], y[1]]), m.vstack([x, y[0]]), m.row_stack([x[0], y[1]]),
        m.dstack([x, y]), m.column_stack([x[0], y[1], x[2]]), m.column_stack([x, y[:, :1]]),
        m.ravel(x), m.moveaxis(x[None], 0, -1))),
    ("splitting", lambda m, x, y: (
        m.tensor_split(x, 3, dim=1), m.tensor_split(x, [1, 4, 9], 1), m.tensor_split(x[0], 2),
        m.tensor_split(x, [-2]), m.hsplit(x[:, :4], 2), m.hsplit(x, [2, 3]), m.vsplit(x, [1]),
        m.dsplit(x[None, :, :4].permute(1, 0, 2), 2))),
    ("block_diag cartesian_prod diag_embed", lambda m, x, y: (
        m.block_diag(x[:2, :3], y[0, :2], x[0, 0]), m.cartesian_prod(x[0, :3], y[1, :2]),
        m.cartesian_prod(x[0]), m.diag_embed(x), m.diag_embed(x[:, :3], 1),
        m.diag_embed(x[:2, :3], -2), m.diag_embed(x[:2, :3], 0, 0, 2))),
    ("products", lambda m, x, y: (
        m.mv(x, y[0]), m.addmv(y[:, 0], x, y[1], beta=0.5, alpha=2), m.addr(x, y[:, 0], x[1],
                                                                           alpha=3),
        m.vdot(x[0], y[1]), m.inner(x, y), m.inner(x[0], x[0, 0]),
        m.tensordot(x, y, dims=([1], [1])),
        m.tensordot(x, y.t(), dims=1), m.tensordot(x[0], y[0], dims=0))),
    ("addcmul addcdiv exp2 log2 log10 logaddexp2", lambda m, x, y: (
        m.addcmul(x, y, x, value=0.5), m.addcdiv(x, y, x + 3, value=2), m.exp2(x * 10),
        m.log2(x.abs()), m.log10(x.abs()), m.logaddexp2(x * 50, y * 50),
        m.exp2(m.tensor([-150.0, 0.0, 127.5, 128.0])), m.log2(m.tensor([0.0, -0.0, 1024.0])))),
    ("statistics", lambda m, x, y: (
        tuple(m.aminmax(x)), tuple(m.aminmax(x, dim=1, keepdim=True)), m.var_mean(x, 1),
        m.std_mean(x, dim=0, correction=0, keepdim=True), m.cov(x), m.cov(x[0]),
        m.cov(x, correction=0, fweights=m.tensor([1, 2, 1, 3, 1]),
              aweights=(y[0].abs() + 0.1)), m.corrcoef(x), m.corrcoef(y[:2]))),
    ("selecting and embedding", lambda m, x, y: (
        m.select(x, 1, -2), m.t(x), m.t(x[0]), m.take(x, m.tensor([[0, 14], [-1, 3]])),
        m.unravel_index(m.tensor([0, 7, 14, -1]), (3, 5)),
        m.select_scatter(x, y[:, 0], 1, 2), m.slice_scatter(x, y[:, :2], 1, 1, 5, 2),
        m.slice_scatter(x, y[:1], 0, 2), m.diagonal_scatter(x, y[0, :3]),
        m.diagonal_scatter(x, y[0, :2], -1), m.diagonal_scatter(x, y[0, :3], 2))),
    ("isin isreal equal msort", lambda m, x, y: (
        m.isin(m.round(x), m.tensor([0.0, 1.0, -1.0])), m.isin(m.round(x), m.round(y),
                                                                invert=True),
        m.isreal(x), m.equal(x, x), m.equal(x, y), m.equal(x, x[:2]), m.msort(x))),
    ("integration dist renorm ldexp", lambda m, x, y: (
        m.trapezoid(x), m.trapezoid(x, dx=0.5, dim=0), m.trapezoid(y, m.cumsum(x.abs(), 1)),
        m.trapezoid(y, m.tensor([0.0, 0.5, 2.0])[:, None].expand(3, 5).t().t()[:, 0], dim=0),
        m.trapz(x, dim=1), m.cumulative_trapezoid(x), m.cumulative_trapezoid(y, dx=2.0, dim=0),
        m.dist(x, y), m.dist(x, y, 1), m.dist(x, y, float("inf")), m.renorm(x, 2, 0, 1.5),
        m.renorm(x, 1, 1, 1.0), m.ldexp(x, m.tensor([3, -2, 0, 100, -140])))),
    ("logspace broadcast", lambda m, x, y: (
        m.logspace(0, 2, 5), m.logspace(-1, 1, 3, base=2.0), m.broadcast_tensors(x[:1], y[:, :1]),
        m.broadcast_shapes((3, 1), (5,)), m.divide(x, y), m.true_divide(x, 2))),
    ("special functions", lambda m, x, y: (
        m.lgamma(x.abs() + 0.1), m.digamma(x.abs() + 0.1), m.polygamma(2, x.abs() + 0.5),
        m.erfc(x), m.erfinv(x.tanh()), m.i0(x), m.mvlgamma(x.abs() + 2, 3), x.lgamma(),
        x.abs().digamma(), (x.abs() + 0.1).polygamma(1), m.special.i1e(x), m.special.ndtri(x.sigmoid()),
        m.special.log_ndtr(x * 10), m.special.xlog1py(x, y.abs()), m.special.entr(x.abs()),
        m.special.zeta(x.abs() + 1.5, y.abs() + 0.5), m.special.gammaln(x.abs() + 1),
        m.special.multigammaln(x.abs() + 2, 2), m.special.expit(x), m.special.psi(y.abs()),
        m.special.logsumexp(x, 1), m.special.softmax(x, 0), m.special.erfcx(x))),
    ("order statistics", lambda m, x, y: (
        tuple(m.mode(m.round(x), 1)), tuple(m.round(y).mode(0, True)), m.mode(m.round(x[0]))[0],
        tuple(m.nanmedian(m.where(y > 0.5, y / 0 * 0, x), 1)),
        m.nanmedian(m.where(y > 0.5, y / 0 * 0, x)), x.nanmedian(),
        m.nanquantile(m.where(y > 0.5, y / 0 * 0, x), 0.3, dim=0),
        m.nanquantile(m.where(y > 0.5, y / 0 * 0, x), m.tensor([0.25, 0.5]), dim=1,
                      keepdim=True, interpolation="midpoint"),
        x.quantile(0.5, 1), x.median(0)[0], m.unique_consecutive(m.round(x)),
        m.unique_consecutive(m.round(x * 0.3), return_inverse=True, return_counts=True),
        m.unique_consecutive(m.round(x * 0.2), dim=1))),
    ("histograms", lambda m, x, y: (
        m.histc(x, 4), m.histc(x, bins=3, min=-1, max=1), x.histc(5, 0, 0),
        m.histc(m.zeros(3), 3), tuple(m.histogram(x, 4)),
        tuple(m.histogram(x, m.tensor([-1.0, 0.0, 2.0]), weight=y.abs(), density=True)),
        tuple(m.histogram(x, 3, range=(-2.0, 2.0))))),
    ("integers and neighbours", lambda m, x, y: (
        m.gcd(m.tensor([12, -18, 0, 7, 0]), m.tensor([18, 27, 0, -21, -5])),
        m.lcm(m.tensor([12, -18, 0, 7, 4]), m.tensor([18, 27, 0, -21, -6])),
        tuple(m.frexp(x * 1e3)), tuple(m.frexp(m.tensor([0.0, -0.0, 1e-40, 3e38]))),
        m.nextafter(x, y), m.nextafter(m.tensor([0.0, 1.0, -1e-45]), m.tensor([1.0, 0.0, 1.0])))),
    ("windows", lambda m, x, y: (
        m.hann_window(8), m.hamming_window(7, False), m.hamming_window(6, True, 0.5, 0.5),
        m.blackman_window(5), m.bartlett_window(6), m.kaiser_window(9, True, 5.0),
        m.kaiser_window(4), m.hann_window(1), m.hann_window(0))),
    ("tensor methods", lambda m, x, y: (
        x.index_select(1, m.tensor([4, 0, 0])), x.narrow(1, 1, 3), x.take(m.tensor([0, 14])),
        x.select(0, 1), x.diagonal(1), x[0].diag(), x.tile((2, 1)), x.swapaxes(0, 1),
        x.ravel(), x.tensor_split(2, 1), x.arctan2(y), (x.abs() + 1).arccosh(),
        x.abs().log2(), x.exp2(), x.tan(), x.sinh(), x.cosh(),
        (x > 0).logical_and(y > 0), x.inner(y), x[0].vdot(y[0]), x.mv(y[0]), x.addcmul(y, x, value=2),
        x.dist(y), x.renorm(2, 0, 1.0), x.masked_select(y > 0), x.multiply(y), x.greater(y),
        x.not_equal(y), x.unflatten(1, (1, 5)),
        x.unfold(1, 2, 2), x.unfold(0, 2, 1), x.stride(), x.element_size(),
        x.nelement(), x.ndimension(), x.is_floating_point(), x.is_contiguous(),
        x.reshape_as(y.t()), x.trace(), x.mT, x.mH, (x.abs() * 3).byte(), x.short(), x.is_signed(),
        x.clone().exp_(), x.clone().clamp_min_(0.2), x.clone().lerp_(y, 0.3),
        x.clone().fill_diagonal_(7.0), m.zeros(7, 3).fill_diagonal_(1.0, wrap=True),
        x.clone().addcmul_(y, y), x.clone().gt_(y), x.clone().fix_(), x.clone().cumsum_(1))),
    ("aliases and dtype questions", lambda m, x, y: (
        m.absolute(x), m.arccos(x.tanh()), m.arcsinh(x), m.arctan2(x, y), m.greater(x, y),
        m.less_equal(x, y), m.not_equal(x, y), m.multiply(x, y), m.subtract(x, y, alpha=2),
        m.rsub(x, y, alpha=3), m.negative(x), m.positive(x), m.fix(x * 3), m.argwhere(x > 1),
        m.clamp_min(x, 0.1), m.clamp_max(x, 0.1), m.unflatten(x, 1, (1, 5)),
        m.diagflat(x[0, :3], 1), m.combinations(x[0, :4]), m.combinations(x[0, :3], 2, True),
        m.adjoint(x), m.chain_matmul(x, y.t(), x), m.is_floating_point(x),
        m.is_complex(x), m.is_nonzero(x[0, :1]), m.is_same_size(x, y),
        str(m.result_type(x, 2)).split(".")[-1], str(m.result_type(2, 3.0)).split(".")[-1],
        str(m.promote_types(m.int8, m.float16)).split(".")[-1],
        m.can_cast(m.float32, m.int32), m.can_cast(m.int16, m.float16),
        m.can_cast((x > 0).dtype, m.int8), str(m.get_default_dtype()).split(".")[-1])),
]


@pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")
@pytest.mark.parametrize("what,expr", IDIOMS, ids=[i[0] for i in IDIOMS])
def test_pytorch_idioms_give_pytorchs_answers(backend, what, expr):
    (x, tx), (y, ty) = _pair(backend, 0), _pair(backend, 1)
    with np.errstate(all="ignore"):
        _same(expr(ember, x, y), expr(torch, tx, ty), what)


def test_data_writes_through_as_pytorchs_shared_storage(backend):
    """p.data's in-place updates reach p (initialization code: p.data.normal_(),
    p.data.copy_(w), p.data[0] = 0), outside autograd, as PyTorch's."""
    w = ember.ones((2, 3), requires_grad=True, backend=backend)
    w.data.mul_(3.0)
    w.data[0] = 0.0
    w.data.copy_(w.data + 1.0)
    assert w.tolist() == [[1.0, 1.0, 1.0], [4.0, 4.0, 4.0]] and w.requires_grad
    ember.manual_seed(0)
    w.data.normal_(0.0, 0.02)
    assert 0 < float(w.detach().std()) < 0.1
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * w.detach().numpy(), rtol=1e-6)


def test_in_place_methods_rebind_and_refuse_under_autograd(backend):
    x, tx = _pair(backend)
    for name, args in (("add_", (2.0,)), ("sub_", (1.0,)), ("mul_", (3.0,)), ("div_", (4.0,)),
                       ("clamp_", (-0.5, 0.5)), ("fill_", (1.5,)), ("zero_", ())):
        e, t = x.clone(), tx.clone()
        assert getattr(e, name)(*args) is e
        getattr(t, name)(*args)
        _same(e, t, name)
    w = ember.ones(3, requires_grad=True, backend=backend)
    with pytest.raises(ember.AutogradError, match="no_grad"):
        w.add_(1.0)
    with pytest.raises(ember.MutationError, match="no_grad"):
        w.zero_()
    with ember.no_grad():
        w.mul_(2.0)
    assert w.tolist() == [2.0, 2.0, 2.0] and w.requires_grad


def test_gradients_follow_pytorch(backend):
    """max(x, dim) sends a tie's gradient to the index it returns, amax shares it;
    logaddexp splits it at equal arguments; norm's is 0 at a zero vector; lerp's, clone's,
    gather's and masked_fill's are PyTorch's."""
    a = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], dtype=np.float32)
    b = np.array([[1.0, -1.0, 3.0], [0.5, 2.0, -0.0]], dtype=np.float32)
    index = [[2, 0], [1, 1]]
    exprs = [
        lambda m, x, y: x.max(dim=1).values.sum(),
        lambda m, x, y: x.amax(dim=1).sum(),
        lambda m, x, y: m.logaddexp(x, y).sum(),
        lambda m, x, y: (x * 0).norm(dim=1).sum() + m.norm(x),
        lambda m, x, y: m.lerp(x, y, 0.25).sum() + m.lerp(x, y, y).sum(),
        lambda m, x, y: (x.clone() * y).sum() + x.gather(1, m.tensor(index)).sum(),
        lambda m, x, y: (x.masked_fill(x > 1.5, 0.0) * y).sum() + m.hypot(x, y + 1).sum(),
        lambda m, x, y: m.cdist(x, y).sum() + m.cdist(x, x).sum() + m.trace(x[:, :2]) +
        (m.diag(x[0]) * 3).sum() + m.addmm(y[0, :2], x, y.t(), beta=0.5).sum(),
        lambda m, x, y: m.median(x, 1).values.sum() * 2 + m.median(y) +
        (m.quantile(x, 0.3, dim=1) * m.tensor([1.0, 3.0])).sum(),
        lambda m, x, y: (x.scatter(1, m.tensor([[2, 1, 0], [1, 0, 2]]), y) * y).sum() +
        (x.scatter_reduce(1, m.tensor([[2, 2, 0], [0, 1, 0]]), y, "amax") * y).sum(),
        lambda m, x, y: sum((x.scatter_reduce(1, m.tensor([[0, 0, 1], [2, 2, 2]]), y * k, r,
                                              include_self=i) * y).sum()
                            for k, r, i in ((1, "prod", True), (2, "mean", True),
                                            (-2, "amin", False), (1, "sum", False))),
        lambda m, x, y: (m.cummax(x, 1).values * y).sum() + (m.logcumsumexp(x, 1) * y).sum()
        + (x.index_fill(1, m.tensor([1]), 0.0) * y).sum() + m.sinc(x * y).sum()
        + (m.xlogy(x, y.abs() + 1) + m.logit(m.sigmoid(x))).sum() + m.diff(x * y, n=2).sum(),
        lambda m, x, y: (m.cov(x + y) * m.corrcoef(x * y + 1)).sum() + m.tensordot(x, y, 2)
        + (m.diag_embed(x, 1) * 2).sum() + (m.block_diag(x, y) * m.block_diag(y, x)).sum()
        + m.addcdiv(x, y, x.abs() + 1).sum() + (m.logaddexp2(x, y) + m.exp2(x) + m.log2(
            y.abs() + 1)).sum() + (m.var_mean(x * y, 1)[0] * m.tensor([1.0, 2.0])).sum()
        + (m.hstack([x, y]) * m.vstack([y, x]).reshape(2, 6)).sum() + m.inner(x, y).sum(),
        lambda m, x, y: (m.slice_scatter(x, y[:, :2] * 3, 1, 0, 3, 2) * y).sum()
        + (m.select_scatter(x, y[:, 1], 1, 0) * y).sum()
        + (m.diagonal_scatter(x, y[0, :2]) * y).sum()
        + (m.renorm(x, 2, 0, 1.0) * y).sum() + m.trapezoid(x * y).sum()
        + (m.take(x, m.tensor([[0, 5], [-1, 2]])) * 2).sum() + m.dist(x, y),
    ]
    for n, expr in enumerate(exprs):
        x = ember.tensor(a, requires_grad=True, backend=backend)
        y = ember.tensor(b, requires_grad=True, backend=backend)
        tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        expr(ember, x, y).backward()
        expr(torch, tx, ty).backward()
        for got, want in ((x.grad, tx.grad), (y.grad, ty.grad)):
            if want is not None:
                _same(got, want, f"gradient {n}")


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_composed_functions_at_every_special_pair(backend, dtype):
    """logaddexp, hypot, fmax, fmin, isclose, lerp and the classifiers at every pair of
    +-0, subnormals, huge values, +-inf and NaN, and sinh, cosh, tan, exp2, log2 and log10
    at each: PyTorch's results (to 2 and 4 ULPs), and nan_to_num's defaults are the
    dtype's limits. (logaddexp2 is the op table's, against float64: PyTorch's float32
    logaddexp2(-1, -1) is -1.06e-8, not 0.)"""
    if ember.dtype(dtype) not in backend.dtypes:
        pytest.skip(f"{backend.name} has no {dtype}")
    with np.errstate(all="ignore"):
        values = np.array(SPECIAL, dtype=dtype)
    if backend.flushes_subnormals:      # (read as zeros there: the op table checks that)
        values = values[(values == 0) | ~(np.abs(values) < np.finfo(dtype).tiny)]
    a, b = np.meshgrid(values, values)
    x, y = (ember.tensor(v, backend=backend) for v in (a, b))
    tx, ty = torch.tensor(a), torch.tensor(b)
    for name in ("logaddexp", "hypot", "isclose", "fmax", "fmin"):
        _same(getattr(ember, name)(x, y), getattr(torch, name)(tx, ty), f"{name} {dtype}",
              ulps=2)
    for name in ("sinh", "cosh", "tan", "exp2", "log2", "log10"):
        _same(getattr(ember, name)(x), getattr(torch, name)(tx), f"{name} {dtype}", ulps=4)
    for name in ("isnan", "isinf", "isposinf", "isneginf", "isfinite", "nan_to_num"):
        _same(getattr(ember, name)(x), getattr(torch, name)(tx), f"{name} {dtype}")
    _same(ember.isclose(x, y, equal_nan=True), torch.isclose(tx, ty, equal_nan=True), "isclose")
    _same(ember.lerp(x, y, 0.75), torch.lerp(tx, ty, 0.75), f"lerp {dtype}")


def test_scatter_sends_a_repeated_positions_gradient_to_its_last_write(backend):
    """Of sources written to one element only the last lands, so only it gets that
    element's gradient (PyTorch's backward gives every source the gradient at its
    target, as if each had landed)."""
    src = ember.tensor([[1.0, 2.0, 3.0]], requires_grad=True, backend=backend)
    out = ember.zeros((1, 2), backend=backend).scatter(1, ember.tensor([[1, 1, 0]]), src)
    (out * ember.tensor([[10.0, 20.0]], backend=backend)).sum().backward()
    assert out.tolist() == [[3.0, 2.0]] and src.grad.tolist() == [[0.0, 20.0, 10.0]]


def test_norm_neither_overflows_nor_underflows(backend):
    """The float32 norm of values whose squares overflow (PyTorch gives inf) or underflow
    (PyTorch gives 0) is the float64 one, rounded; inf stays inf and NaN NaN."""
    for values in ([1e30, 1e30], [3e-30, 4e-30], [1e-45, 1e-45], [2e38, -2e38, 1.0],
                   [math.inf, 1.0], [math.nan, 1.0], [0.0, -0.0], []):
        want = np.linalg.norm(np.array(values, dtype=np.float32).astype(np.float64))
        got = ember.norm(ember.tensor(np.array(values, dtype=np.float32), backend=backend))
        with np.errstate(over="ignore"):
            np.testing.assert_array_max_ulp(got.numpy(), np.float32(want), 2)
    cubes = ember.tensor(np.array([[1e20, 2e20], [1e-20, 0.0]], dtype=np.float32),
                         backend=backend)
    want = np.cbrt(np.array([1 + 8, 1.0])) * np.array([1e20, 1e-20])
    np.testing.assert_array_max_ulp(ember.norm(cubes, 3, dim=1).numpy(),
                                    want.astype(np.float32), 4)


def test_refusals_name_the_problem(backend):
    x = ember.zeros((3, 4), backend=backend)
    with pytest.raises(ember.IndexingError, match="index -1 is negative"):
        x.gather(1, ember.tensor([[-1]], backend=backend))
    with pytest.raises(ember.IndexingError, match="larger than x of shape"):
        x.gather(1, ember.zeros((4, 1), dtype=backend.default_int, backend=backend))
    with pytest.raises(ember.IndexingError, match="out of bounds"):
        x.gather(0, ember.tensor([[3]], backend=backend))
    with pytest.raises(ember.DTypeError, match="bool tensor"):
        x.masked_fill(x, 1.0)
    with pytest.raises(ember.ShapeError, match="does not broadcast to x's shape"):
        x[0].masked_fill(x > 0, 1.0)
    with pytest.raises(ember.RangeError, match="300 does not fit in int8"):
        x.to(ember.int8).masked_fill(x > 0, 300)
    with pytest.raises(ember.ShapeError, match="mm: needs two matrices"):
        ember.mm(x, x[0])
    with pytest.raises(ember.ShapeError, match="batch sizes 2 and 3 differ"):
        ember.bmm(ember.zeros((2, 3, 4)), ember.zeros((3, 4, 5)))
    with pytest.raises(ember.ShapeError, match="needs at least 2 axes"):
        x[0].tril()
    with pytest.raises(ember.ShapeError, match="repetitions for 2 axes"):
        x.repeat(2)
    with pytest.raises(TypeError, match="give axis or dim, not both"):
        x.sum(axis=0, dim=1)
    with pytest.raises(TypeError, match="not both"):
        x.max(1, axis=0)
    with pytest.raises(TypeError, match="keepdim needs dim"):
        x.min(keepdim=True)
    assert x.max(axis=1, keepdims=True).shape == (3, 1)      # NumPy's amax, by its names
    with pytest.raises(ValueError, match="chunks must be an int >= 1"):
        x.chunk(0)
    with pytest.raises(ValueError, match="matrix norms"):
        x.norm("nuc")
    assert x.size == 12 and x.size() == (3, 4) and x.contiguous() is x
    index = ember.tensor([[0, 4]], backend=backend)
    with pytest.raises(ember.IndexingError, match="index 4 is out of bounds for axis 1"):
        x.scatter(1, index, 1.0)
    with pytest.raises(ember.DTypeError, match="cast src with .to\\(float32\\)"):
        x.scatter(1, index[:, :1], ember.ones((1, 1), dtype=ember.int32, backend=backend))
    with pytest.raises(ValueError, match="reduce must be one of sum, prod, mean, amax, amin"):
        x.scatter_reduce(1, index[:, :1], x, "max")
    with pytest.raises(ember.ShapeError, match="no axis of length 3"):
        ember.cross(x[:2], x[:2])
    with pytest.raises(ember.IndexingError, match="bincount: x holds -1"):
        ember.bincount(ember.tensor([0, -1], backend=backend))
    with pytest.raises(ember.DTypeError, match="complex numbers have no order"):
        ember.cummax(ember.tensor([1j, 2j]), 0)


def test_torch_nn_and_optim_paths(backend):
    """torch.nn.init's in-place initializers, torch.nn.utils, torch.optim.lr_scheduler and
    zero_grad(set_to_none=False), as a port writes them."""
    from ember.plugins import nn, optim
    from ember.plugins.optim.lr_scheduler import StepLR
    ember.manual_seed(0)
    w = ember.zeros((64, 48), backend=backend)
    bound = math.sqrt(2.0) * math.sqrt(3.0 / 48)        # gain sqrt(2) (relu) * sqrt(3 / fan_in)
    assert nn.init.kaiming_uniform_(w, nonlinearity="relu") is w
    assert 0.9 * bound < np.abs(w.numpy()).max() <= bound
    assert nn.init.xavier_normal_(w) is w and abs(w.numpy().std() / math.sqrt(2 / 112) - 1) < 0.1
    assert nn.init.zeros_(w).numpy().max() == 0 and nn.init.constant_(w, 0.5).numpy().min() == 0.5
    for a, b in ((-2.0, 2.0), (3.0, 3.5), (-0.1, 0.1)):
        t = nn.init.trunc_normal_(ember.zeros(4000, backend=backend), std=1.0, a=a, b=b).numpy()
        assert a <= t.min() and t.max() <= b and t.std() > 0, (a, b)
    t = nn.init.trunc_normal_(ember.zeros(20000, backend=backend), std=0.02).numpy()
    assert abs(t.std() / 0.02 - 1) < 0.05          # +-2 is 100 sigma: untruncated in effect

    model = nn.Linear(4, 3, backend=backend)
    twin = torch.nn.Linear(4, 3)
    with torch.no_grad():
        twin.weight.copy_(torch.tensor(model.weight.numpy()))
        twin.bias.copy_(torch.tensor(model.bias.numpy()))
    vec = nn.utils.parameters_to_vector(model.parameters())
    _same(vec, torch.nn.utils.parameters_to_vector(twin.parameters()), "parameters_to_vector")
    nn.utils.vector_to_parameters(vec * 2, model.parameters())
    torch.nn.utils.vector_to_parameters(torch.nn.utils.parameters_to_vector(
        twin.parameters()).detach() * 2, twin.parameters())
    _same(model.bias, twin.bias, "vector_to_parameters")
    with pytest.raises(ember.ShapeError, match="a vector of 15 values"):
        nn.utils.vector_to_parameters(vec[:3], model.parameters())

    x = np.random.default_rng(3).standard_normal((5, 4)).astype(np.float32)
    for norm_type in (2.0, 1.0, math.inf, 3.0):
        twin.zero_grad()
        for m, inputs in ((model, ember.tensor(x, backend=backend)), (twin, torch.tensor(x))):
            (m(inputs) ** 2).sum().backward()
        got = nn.utils.clip_grad_norm_(model.parameters(), 0.5, norm_type)
        want = torch.nn.utils.clip_grad_norm_(twin.parameters(), 0.5, norm_type)
        _same(got, want, f"clip_grad_norm_ {norm_type}")
        _same(model.weight.grad, twin.weight.grad, f"clipped gradient {norm_type}")
        optim.SGD(model.parameters(), lr=0.1).zero_grad()
    huge = ember.zeros(3, requires_grad=True, backend=backend)
    huge.grad = ember.full((3,), 1e20, backend=backend)
    assert abs(float(nn.utils.clip_grad_norm_([huge], 1.0)) / (math.sqrt(3) * 1e20) - 1) < 1e-6
    np.testing.assert_allclose(huge.grad.numpy(), 1 / math.sqrt(3), rtol=1e-5)   # torch: 0
    huge.grad = ember.full((3,), math.inf, backend=backend)
    with pytest.raises(ember.AutogradError, match="total norm of order 2.0 is inf"):
        nn.utils.clip_grad_norm_([huge], 1.0, error_if_nonfinite=True)

    opt = optim.SGD(model.parameters(), lr=0.1)
    (model(ember.tensor(x, backend=backend)) ** 2).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert model.weight.grad is not None and not model.weight.grad.numpy().any()
    opt.zero_grad()
    assert model.weight.grad is None
    StepLR(opt, step_size=1, gamma=0.5).step()
    assert opt.param_groups[0]["lr"] == 0.05


def test_torch_nn_loss_modules(backend):
    """nn.CrossEntropyLoss() and its kin take PyTorch's constructor arguments (class
    weights kept as a buffer, ignore_index -100 by default) and give its losses."""
    from ember.plugins import nn
    rng = np.random.default_rng(4)
    scores = rng.standard_normal((5, 3)).astype(np.float32)
    labels = np.array([0, 2, 1, -100, 2])
    probs = rng.uniform(0.05, 0.95, (5, 3)).astype(np.float32)
    other = rng.standard_normal((5, 3)).astype(np.float32)
    weight = np.array([1.0, 2.0, 0.5], dtype=np.float32)
    cases = [
        ("CrossEntropyLoss", dict(weight=weight, label_smoothing=0.1), scores, labels),
        ("CrossEntropyLoss", dict(reduction="sum"), scores, labels),
        ("NLLLoss", dict(weight=weight), scores, labels),
        ("BCELoss", dict(weight=weight), probs, np.round(probs[::-1].copy())),
        ("BCEWithLogitsLoss", dict(pos_weight=weight), scores, np.round(probs)),
        ("MSELoss", dict(), scores, other),
        ("L1Loss", dict(reduction="none"), scores, other),
        ("SmoothL1Loss", dict(beta=0.5), scores, other),
        ("HuberLoss", dict(delta=0.5), scores, other),
        ("KLDivLoss", dict(reduction="batchmean", log_target=True), scores, other),
    ]
    for name, options, x, target in cases:
        def built(m, tensor):
            return getattr(m.nn, name)(**{k: tensor(v) if isinstance(v, np.ndarray) else v
                                          for k, v in options.items()})
        mine = built(ember.plugins, lambda v: ember.tensor(v, backend=backend))
        theirs = built(torch, torch.tensor)
        got = mine(ember.tensor(x, backend=backend), ember.tensor(target, backend=backend)
                   if target.dtype.kind == "f" else ember.tensor(target, dtype=backend.default_int,
                                                                 backend=backend))
        _same(got, theirs(torch.tensor(x), torch.tensor(target)), f"{name} {options}")
        assert list(mine.state_dict()) == list(theirs.state_dict()), name


def test_random_draws_follow_their_distributions(backend):
    """randperm, multinomial and bernoulli draw from ember's seeded generator (the same
    seed, the same values on every backend) with the frequencies asked for."""
    ember.manual_seed(7)
    perm = ember.randperm(1000, backend=backend).numpy()
    assert sorted(perm.tolist()) == list(range(1000)) and perm[:10].tolist() != list(range(10))
    ember.manual_seed(7)
    assert ember.randperm(1000, backend=backend).numpy().tolist() == perm.tolist()
    probs = ember.tensor([[0.2, 0.0, 0.8], [1.0, 1.0, 2.0]], backend=backend)
    draws = ember.multinomial(probs, 4000, replacement=True).numpy()
    assert draws.shape == (2, 4000) and not (draws[0] == 1).any()
    np.testing.assert_allclose(np.bincount(draws[1], minlength=3) / 4000, [0.25, 0.25, 0.5],
                               atol=0.03)
    once = ember.multinomial(probs, 2).numpy()
    assert once.shape == (2, 2) and all(len(set(row)) == 2 for row in once.tolist())
    with pytest.raises(ember.RangeError, match="without replacement from 2 nonzero weights"):
        ember.multinomial(probs, 3)
    coins = ember.bernoulli(ember.full((20000,), 0.3, backend=backend)).numpy()
    assert set(np.unique(coins).tolist()) == {0.0, 1.0} and abs(coins.mean() - 0.3) < 0.02


def test_shape_changing_methods_in_place_match_torch():
    a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    for name, args in (("unsqueeze_", (1,)), ("squeeze_", ()), ("t_", ()), ("transpose_", (0, 1)),
                       ("swapdims_", (1, 0)), ("swapaxes_", (0, 1))):
        x, t = ember.tensor(a[None] if name == "squeeze_" else a), torch.tensor(
            a[None] if name == "squeeze_" else a)
        same = getattr(x, name)(*args)
        getattr(t, name)(*args)
        assert same is x and x.shape == tuple(t.shape), name
        np.testing.assert_array_equal(x.numpy(), t.numpy(), err_msg=name)
    w = ember.ones(3, requires_grad=True)
    with pytest.raises(ember.MutationError, match="x = x.unsqueeze"):
        w.unsqueeze_(0)
    with pytest.raises(ember.CompileError, match="cannot replay"):
        ember.compile(lambda v: v.unsqueeze_(0))(ember.ones(3))


def test_more_tensor_methods_match_torch(backend):
    a = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    x, t = ember.tensor(a), torch.tensor(a)

    def same(got, want, what):
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=1e-6, err_msg=what)
    b1, b2 = np.ones((2, 3, 5), np.float32), np.arange(40.0, dtype=np.float32).reshape(2, 5, 4)
    same(x.addbmm(ember.tensor(b1), ember.tensor(b2), beta=0.5, alpha=2),
         t.addbmm(torch.tensor(b1), torch.tensor(b2), beta=0.5, alpha=2), "addbmm")
    same(x.sum_to_size(1, 4), t.sum_to_size(1, 4), "sum_to_size")
    same(x.sum_to_size((3, 1)), t.sum_to_size((3, 1)), "sum_to_size of a tuple")
    mask = a % 3 == 0
    same(x.masked_scatter(ember.tensor(mask), -ember.arange(12.0)),
         t.masked_scatter(torch.tensor(mask), -torch.arange(12.0)), "masked_scatter")
    rows, cols = [0, 2, 0, -1], [1, 3, 1, 0]
    for accumulate in (False, True):
        same(x.index_put((ember.tensor(rows), ember.tensor(cols)), ember.tensor(5.0),
                         accumulate=accumulate),
             t.index_put((torch.tensor(rows), torch.tensor(cols)), torch.tensor(5.0),
                         accumulate=accumulate), f"index_put accumulate={accumulate}")
    for name, args in (("addmm_", (np.ones((3, 2), np.float32), np.ones((2, 4), np.float32))),
                       ("greater_", (5.0,)), ("arctan2_", (np.full(4, 2.0, np.float32),))):
        e, r = ember.tensor(a), torch.tensor(a)
        getattr(e, name)(*[ember.tensor(v) if isinstance(v, np.ndarray) else v for v in args])
        getattr(r, name)(*[torch.tensor(v) if isinstance(v, np.ndarray) else v for v in args])
        same(e, r, name)
    y = ember.ones(2, requires_grad=True) * 2.0
    assert y.detach_() is y and not y.requires_grad and y.is_leaf
    assert x.resolve_conj() is x and not x.is_conj() and not x.is_neg()
    assert x.is_cpu == (backend.name == "numpy") and not x.is_cuda
    assert x.get_device() == (-1 if backend.name == "numpy" else 0)


def test_random_fills_follow_their_distributions(backend):
    ember.manual_seed(0)
    n = 20000
    ints = ember.zeros(n).random_(3, 7).numpy()
    assert set(np.unique(ints)) == {3.0, 4.0, 5.0, 6.0}
    geometric = ember.zeros(n).geometric_(0.25).numpy()       # mean 1 / p, support 1, 2, ...
    assert geometric.min() == 1 and abs(geometric.mean() - 4.0) < 5 * np.sqrt(12.0 / n)
    lognormal = np.log(ember.zeros(n).log_normal_(0.5, 0.25).numpy())
    assert abs(lognormal.mean() - 0.5) < 5 * 0.25 / np.sqrt(n)
    cauchy = ember.zeros(n).cauchy_(1.0, 2.0).numpy()           # median 1, quartiles 1 +- 2
    assert abs(np.median(cauchy) - 1.0) < 0.1 and abs(np.percentile(cauchy, 75) - 3.0) < 0.15
    draws = ember.full((n,), 0.3).bernoulli().numpy()
    assert set(np.unique(draws)) <= {0.0, 1.0} and abs(draws.mean() - 0.3) < 5 * np.sqrt(0.21 / n)


def test_finfo_and_iinfo_are_pytorchs():
    torch = pytest.importorskip("torch")
    fields = ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype")
    for name in ("float16", "bfloat16", "float32", "float64", "complex64", "complex128",
                 "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz"):
        ours, theirs = ember.finfo(getattr(ember, name)), torch.finfo(getattr(torch, name))
        assert [getattr(ours, k) for k in fields] == [getattr(theirs, k) for k in fields], name
    # two mantissa bits: 1, 1.25, 1.5... (PyTorch 2.13 says 0.125 for the fnuz variant only)
    assert ember.finfo(ember.float8_e5m2fnuz).eps == ember.finfo(ember.float8_e5m2).eps == 0.25
    assert ember.finfo() == ember.finfo(ember.float32)
    for name in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"):
        ours, theirs = ember.iinfo(getattr(ember, name)), torch.iinfo(getattr(torch, name))
        assert (ours.bits, ours.max, ours.min, ours.dtype) == \
            (theirs.bits, theirs.max, theirs.min, theirs.dtype), name
    with pytest.raises(ember.DTypeError, match="use ember.iinfo"):
        ember.finfo(ember.int32)
    with pytest.raises(ember.DTypeError, match="use ember.finfo"):
        ember.iinfo(ember.float32)


def test_set_printoptions_changes_how_tensors_print():
    x = ember.tensor([1 / 3, 0.25, 5.0], dtype=ember.float64)
    try:
        ember.set_printoptions(precision=2)
        assert "0.33," in repr(x) and "0.333" not in repr(x)
        ember.set_printoptions(sci_mode=True)
        assert "3.33e-01" in repr(x)
        ember.set_printoptions(threshold=4, edgeitems=1)
        assert "..." in repr(ember.arange(10))
        with pytest.raises(ValueError, match="profile must be one of"):
            ember.set_printoptions(profile="long")
    finally:
        ember.set_printoptions(profile="default")
    assert "0.33333333" in repr(x) and "..." not in repr(ember.arange(10))


def test_clamp_to_tensor_bounds_follows_torch(backend):
    """torch.clamp's tensor bounds: broadcast, max where min > max, NaN from x or a bound,
    x's gradient inside [min, max] and each bound's where it was taken; an integer tensor
    clamped at a float bound becomes a float one (the bound is never truncated)."""
    x = [1.0, 2.0, 3.0, math.nan, 7.0, 0.5, -1.0]
    lo = [2.0, 2.0, 1.0, 0.0, 1.0, 3.0, -2.0]
    hi = [2.5, 2.0, 2.0, 1.0, 5.0, 2.0, 0.0]
    for which in ("both", "min", "max"):
        grads = []
        for m, make in ((ember, lambda v: ember.tensor(v, backend=backend, requires_grad=True)),
                        (torch, lambda v: torch.tensor(v, requires_grad=True))):
            a, b, c = make(x), make(lo), make(hi)
            bounds = {"both": (b, c), "min": (b, None), "max": (None, c)}[which]
            out = m.clamp(a, *bounds)
            (out * make([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]).detach()).sum().backward()
            grads.append([out] + [t.grad for t in (a, b, c)])
        for got, want in zip(*grads):
            _same(got, want, which)
    ints = ember.tensor([1, 2, 5], backend=backend)
    _same(ints.clamp(min=1.5), torch.tensor([1, 2, 5]).clamp(min=1.5), "int clamp at 1.5")
    _same(ember.clamp(ints, ember.tensor([0.5], backend=backend), 4),
          torch.clamp(torch.tensor([1, 2, 5]), torch.tensor([0.5]), torch.tensor(4)),
          "int clamp to tensors")
    column, row = [[0.0], [9.0]], [1.0, 2.0, 3.0]
    _same(ember.clamp(ember.tensor(column, backend=backend), max=ember.tensor(row, backend=backend)),
          torch.clamp(torch.tensor(column), max=torch.tensor(row)), "broadcast bound")


def test_complex_keeps_infinite_and_nan_parts_where_they_are(backend):
    """complex(re, im) with an infinite or NaN part has that part alone non-finite (i inf
    is not multiplied out into a NaN real part), and polar follows torch.polar."""
    if ember.complex64 not in backend.dtypes:
        pytest.skip(f"{backend.name} has no complex64")
    parts = [0.0, 1.0, -2.5, math.inf, -math.inf, math.nan]
    re, im = (np.array(v, dtype=np.float32) for v in zip(*[(a, b) for a in parts for b in parts]))
    got = ember.complex(ember.tensor(re, backend=backend), ember.tensor(im, backend=backend))
    want = torch.complex(torch.tensor(re), torch.tensor(im)).numpy()
    for part in (np.real, np.imag):
        np.testing.assert_array_equal(part(got.numpy()), part(want))
    r = np.array([0.0, 2.0, math.inf, 1.0], np.float32)
    theta = np.array([1.0, 0.5, 0.0, math.inf], np.float32)
    got = ember.polar(ember.tensor(r, backend=backend),
                      ember.tensor(theta, backend=backend)).numpy()
    want = torch.polar(torch.tensor(r), torch.tensor(theta)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_logical_functions_read_any_dtype_as_torch_does(backend):
    """logical_and/or/xor/not take numbers as PyTorch does: nonzero (NaN too) is True."""
    a = np.array([0.0, -0.0, 1.0, math.nan, -3.0, 0.0], np.float32)
    b = np.array([1, 0, 0, 2, 0, 0], np.int32)
    for name in ("logical_and", "logical_or", "logical_xor"):
        got = getattr(ember, name)(ember.tensor(a, backend=backend),
                                   ember.tensor(b, backend=backend))
        _same(got, getattr(torch, name)(torch.tensor(a), torch.tensor(b)), name)
    _same(ember.logical_not(ember.tensor(a, backend=backend)), torch.logical_not(torch.tensor(a)),
          "logical_not")
    _same(ember.tensor(b, backend=backend).logical_not(), torch.tensor(b).logical_not(), "method")


def test_normal_of_tensors_draws_about_each_mean_with_each_std(backend):
    """torch.normal(mean, std) with tensors: one draw per element of their broadcast, about
    each mean with each std; no gradient reaches them (as in PyTorch)."""
    mean = ember.tensor([[-50.0], [0.0], [50.0]], backend=backend, requires_grad=True)
    std = ember.tensor([0.5, 2.0], backend=backend)
    ember.manual_seed(3)
    draws = np.stack([ember.normal(mean, std).numpy() for _ in range(4000)])
    assert draws.shape == (4000, 3, 2)
    np.testing.assert_allclose(draws.mean(0), [[-50, -50], [0, 0], [50, 50]], atol=0.15)
    np.testing.assert_allclose(draws.std(0), [[0.5, 2.0]] * 3, rtol=0.05)
    assert not ember.normal(mean, 1.0).requires_grad
    assert ember.normal(0.0, std).shape == (2,)
    wide = ember.normal(ember.zeros(4, backend=backend), math.inf).numpy()   # as torch.normal
    assert np.isinf(wide).all()
    with pytest.raises(ValueError, match="std must be >= 0"):
        ember.normal(mean, -std)
    with pytest.raises(ember.ShapeError, match="drop shape"):
        ember.normal(mean, 1.0, (3,))


def test_median_of_no_elements_is_nan_as_in_torch(backend):
    for name in ("median", "nanmedian"):
        got = getattr(ember, name)(ember.zeros((0, 3), backend=backend))
        assert got.shape == () and math.isnan(float(got)), name
        with pytest.raises(ember.ShapeError, match="is empty"):
            getattr(ember, name)(ember.zeros((0, 3), backend=backend), dim=0)


def test_torch_constants_are_there():
    for name in ("inf", "pi", "e"):
        assert getattr(ember, name) == getattr(torch, name), name
    assert math.isnan(ember.nan) and ember.newaxis is None
    assert ember.zeros(3)[ember.newaxis].shape == (1, 3)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "int64"])
def test_integer_tensors_keep_their_dtype_where_torch_keeps_it(backend, dtype):
    """Integer in, the same integers out, as PyTorch: relu, clamp, abs, sign and their
    kind, at the dtype's limits too (relu gave float32)."""
    if getattr(ember, dtype) not in backend.dtypes:
        pytest.skip(f"{backend.name} has no {dtype}")
    info = np.iinfo(dtype)
    a = np.array([0, 1, 3, info.max, info.min, info.min + 1, 100 % (info.max + 1)], dtype)
    x, t = ember.tensor(a, backend=backend), torch.tensor(a)
    for name, fn in (("relu", lambda m, v: m.relu(v)), ("clamp", lambda m, v: m.clamp(v, 1, 50)),
                     ("clamp_min", lambda m, v: v.clamp_min(2)), ("abs", lambda m, v: m.abs(v)),
                     ("sign", lambda m, v: m.sign(v)),
                     ("maximum", lambda m, v: m.maximum(v, v.flip(0))),
                     ("neg", lambda m, v: -v if dtype != "uint8" else v)):
        _same(fn(ember, x), fn(torch, t), f"{name} {dtype}")


def test_relu_gradient_is_a_select_as_in_torch(backend):
    """relu's backward drops an infinite or NaN gradient where x <= 0 (PyTorch's
    threshold_backward selects; inf * 0 made NaN): lp_pool's windows of zeros, whose
    1/p-th power has an infinite slope, give PyTorch's zero gradient."""
    a = np.array([[[0.0, 0.0, 0.0, 3.0, 4.0, 0.0]]], np.float32)
    grads = []
    for m, F, make in ((torch, torch.nn.functional, lambda v: torch.tensor(v, requires_grad=True)),
                       (ember, importlib.import_module("ember.plugins.nn.functional"),
                        lambda v: ember.tensor(v, backend=backend, requires_grad=True))):
        x = make(a)
        F.lp_pool1d(x, 2.0, 3).sum().backward()
        g = make(np.array([np.inf, np.nan, -np.inf, 1.0, np.inf, 2.0], np.float32))
        y = make(np.array([-1.0, 0.0, -2.0, 1.0, 3.0, -0.0], np.float32))
        (m.relu(y) * g.detach()).sum().backward()
        grads.append((x.grad, y.grad))
    for want, got in zip(*grads):
        _same(got, want, "relu backward")


def test_set_default_dtype_makes_float_tensors_of_it():
    """torch.set_default_dtype: Python floats, random draws, zeros and a layer's
    parameters take the new default, complex numbers its counterpart; anything but a
    float dtype is refused by name."""
    from ember.plugins import nn
    try:
        ember.set_default_dtype(ember.float64)
        assert ember.get_default_dtype() is ember.float64 is ember.default_float
        for made in (ember.tensor([1.5]), ember.randn(2), ember.zeros(2), ember.scalar_tensor(2),
                     nn.Linear(2, 3).weight):
            assert made.dtype is ember.float64
        assert ember.tensor(1 + 2j).dtype is ember.complex128
        with pytest.raises(ember.DTypeError, match="float32, float64"):
            ember.set_default_dtype(ember.int32)
    finally:
        ember.set_default_dtype(ember.float32)
    assert ember.tensor([1.5]).dtype is ember.float32


@pytest.mark.filterwarnings("ignore:.*deprecated:UserWarning")   # torch's, of its old names
def test_torch_functions_a_port_calls_match_torch(backend):
    """The top-level functions of torch that ember had under other names (torch.linalg's,
    methods) or not at all: values, shapes and gradients against PyTorch."""
    rng = np.random.default_rng(4)
    a = rng.standard_normal((4, 3)).astype(np.float32)
    b1 = rng.standard_normal((2, 4, 5)).astype(np.float32)
    b2 = rng.standard_normal((2, 5, 3)).astype(np.float32)
    spd = (a.T @ a + 3 * np.eye(3)).astype(np.float32)
    tri = np.triu(rng.standard_normal((3, 3))).astype(np.float32) + 3 * np.eye(3, dtype=np.float32)
    v = np.array([1.0, 2.0, -0.5], np.float32)
    cases = [
        ("ger", lambda m, t: m.ger(t(v), t(v[::-1].copy()))),
        ("matrix_power", lambda m, t: m.matrix_power(t(spd), 3)),
        ("vander", lambda m, t: m.vander(t(v))),
        ("vander N inc", lambda m, t: m.vander(t(v), 4, True)),
        ("addbmm", lambda m, t: m.addbmm(t(a), t(b1), t(b2), beta=0.5, alpha=2.0)),
        ("split_with_sizes", lambda m, t: m.split_with_sizes(t(a), [1, 3])),
        ("nuclear_norm", lambda m, t: m.nuclear_norm(t(a))),
        ("frobenius_norm", lambda m, t: m.frobenius_norm(t(a), dim=(0, 1))),
        ("svd S", lambda m, t: m.svd(t(a))[1]),
        ("svd U S V", lambda m, t: (lambda u, s, w: (u * s) @ w.mT)(*m.svd(t(a)))),
        ("svd V sign-free", lambda m, t: m.svd(t(a))[2].abs()),
        ("svd no uv", lambda m, t: m.svd(t(a), compute_uv=False)),
        ("qr R", lambda m, t: m.qr(t(a))[1].abs()), ("qr complete", lambda m, t: m.qr(t(a), some=False)[0].abs()),
        ("cholesky upper", lambda m, t: m.cholesky(t(spd), upper=True)),
        ("triangular_solve", lambda m, t: m.triangular_solve(t(a[:3]), t(tri))),
        ("triangular_solve T lower unit", lambda m, t: m.triangular_solve(
            t(a[:3]), t(tri.T.copy()), upper=False, transpose=True, unitriangular=True)),
        ("pdist", lambda m, t: m.pdist(t(a))), ("pdist p1", lambda m, t: m.pdist(t(a), p=1.0)),
        ("index_put", lambda m, t: m.index_put(t(a), (m.tensor([0, 0, 3]),), t(v), accumulate=True)),
        ("index_put replacing", lambda m, t: m.index_put(t(a), (m.tensor([2, 0]), m.tensor([1, 2])),
                                                         t(v[:2]))),
        ("masked_scatter", lambda m, t: m.masked_scatter(t(a), t(a) > 0, t(a * 10))),
        ("fill", lambda m, t: m.fill(t(a), 2.5)), ("detach", lambda m, t: m.detach(t(a))),
        ("conj_physical", lambda m, t: m.conj_physical(t(a))),
        ("resolve_conj", lambda m, t: m.resolve_neg(m.resolve_conj(t(a)))),
        ("gradient", lambda m, t: m.gradient(t(a))),
        ("gradient edge 2 dim 1", lambda m, t: m.gradient(t(a), spacing=0.5, dim=1, edge_order=2)),
        ("gradient coordinates", lambda m, t: m.gradient(
            t(a), spacing=[m.tensor([0.0, 0.5, 2.0, 2.5]), m.tensor([1.0, 1.5, 3.0])], edge_order=2)),
        ("index_reduce mean", lambda m, t: m.index_reduce(t(a), 0, m.tensor([3, 0, 3]), t(a[:3] * 2),
                                                          "mean")),
        ("index_reduce amax", lambda m, t: t(a).index_reduce(1, m.tensor([2, 0]), t(a[:, :2] + 0.25),
                                                             "amax", include_self=False)),
        ("put", lambda m, t: m.put(t(a), m.tensor([0, -1, 5]), t(v))),
        ("put accumulate", lambda m, t: t(a).put(m.tensor([4, 4, 0]), t(v), accumulate=True)),
        ("methods", lambda m, t: (t(a).svd()[1], t(a).qr()[1].abs(), t(v).ger(t(v)),
                                  t(a[:3]).triangular_solve(t(tri))[0], t(a).conj_physical(),
                                  t(a).detach().clone().masked_scatter_(t(a) < 0, t(a * 5).detach()))),
    ]
    for name, fn in cases:
        leaves = [[], []]
        def make(k, lib):
            def t(x):
                x = (torch.tensor(x, requires_grad=True) if lib is torch else
                     ember.tensor(x, backend=backend, requires_grad=True))
                leaves[k].append(x)
                return x
            return t
        want, got = fn(torch, make(0, torch)), fn(ember, make(1, ember))
        _same(got if not isinstance(got, (tuple, list)) else list(got),
              want if not isinstance(want, (tuple, list)) else list(want), name, None)
        out_t = want if isinstance(want, torch.Tensor) else torch.cat([w.reshape(-1) for w in want])
        out_e = got if isinstance(got, ember.Tensor) else ember.cat([g.reshape(-1) for g in got])
        # torch.vander's gradient fails, complete QR of a tall matrix has none, fill's is 0
        if out_t.requires_grad and not name.startswith(("vander", "qr complete", "fill")):
            weights = rng.standard_normal(tuple(out_t.shape)).astype(np.float32)
            (out_t * torch.tensor(weights)).sum().backward()
            (out_e * ember.tensor(weights, backend=backend)).sum().backward()
            for w, g in zip(*leaves):
                if w.grad is not None:
                    np.testing.assert_allclose(g.grad.numpy(), w.grad.numpy(), rtol=2e-4,
                                               atol=2e-5 * np.abs(w.grad.numpy()).max(), err_msg=name)
    for name in ("is_signed", "is_conj", "is_neg"):
        for d, td in ((ember.uint8, torch.uint8), (ember.int32, torch.int32),
                      (ember.float32, torch.float32), (ember.bool_, torch.bool)):
            x = ember.zeros(2, dtype=d, backend=backend)
            assert getattr(ember, name)(x) == getattr(torch, name)(torch.zeros(2, dtype=td)), name
    ember.manual_seed(0)
    ints = ember.randint_like(ember.zeros((500,), dtype=ember.int32, backend=backend), 3, 7).numpy()
    assert ints.dtype == np.int32 and set(np.unique(ints)) == {3, 4, 5, 6}
    assert set(np.unique(ember.randint_like(ember.zeros(300, backend=backend), 2).numpy())) == {0, 1}
    rates = ember.full((20000,), 3.5, backend=backend)
    draws = ember.poisson(rates).numpy()
    assert draws.dtype == np.float32 and abs(draws.mean() - 3.5) < 0.05 and abs(draws.var() - 3.5) < 0.15
    flips = ember.binomial(ember.full((20000,), 10.0, backend=backend),
                           ember.full((20000,), 0.3, backend=backend)).numpy()
    assert abs(flips.mean() - 3.0) < 0.05 and abs(flips.var() - 2.1) < 0.1
    with pytest.raises(ValueError, match="manual_seed"):
        ember.poisson(rates, generator=object())


def test_torchs_top_level_in_place_functions_change_their_tensor(backend):
    """torch.abs_(x) and its kin (every one of them that takes just the tensor) change
    x as torch's do, and return it."""
    from ember.pytorch_names import INPLACE
    x0 = np.array([0.25, -0.5, 2.5, -3.75], np.float32)   # (PyTorch's sinc is not 0 at integers)
    checked = 0
    for name in INPLACE:
        theirs = torch.tensor(x0)
        try:
            want = getattr(torch, name)(theirs)
        except (TypeError, RuntimeError):       # it takes more arguments
            continue
        ours = ember.tensor(x0, backend=backend)
        got = getattr(ember, name)(ours)
        assert got is ours, name
        _same(ours, theirs, name, 4)
        checked += 1
    assert checked >= 45


def test_gradient_index_reduce_and_put_refuse_what_torch_refuses():
    with pytest.raises(ember.ShapeError, match="axis 0 has 2 elements; edge_order=2 needs at least 3"):
        ember.gradient(ember.tensor([1.0, 2.0]), edge_order=2)
    with pytest.raises(ValueError, match="edge_order must be 1 or 2"):
        ember.gradient(ember.tensor([1.0, 2.0, 3.0]), edge_order=3)
    with pytest.raises(ember.ShapeError, match="coordinates of axis 0 number 2, the axis 3"):
        ember.gradient(ember.tensor([1.0, 2.0, 3.0]), spacing=[ember.tensor([0.0, 1.0])])
    x = ember.zeros(3, 2)
    with pytest.raises(ValueError, match="reduce must be one of prod, mean, amax, amin"):
        ember.index_reduce(x, 0, ember.tensor([0]), ember.ones(1, 2), "sum")
    with pytest.raises(ember.ShapeError, match=r"source \(2, 3\) must be input's shape"):
        ember.index_reduce(x, 0, ember.tensor([0, 1]), ember.ones(2, 3), "mean")
    with pytest.raises(ember.IndexingError):
        ember.put(x, ember.tensor([6]), ember.ones(1))
    assert [g.dtype for g in ember.gradient(ember.tensor([1, 4, 9]))] == [ember.float32]


def test_svd_lowrank_and_pca_lowrank_recover_low_rank_matrices():
    """Randomized, so compared with what is exact: a matrix of rank r <= q comes back
    whole (U diag(S) V^T, S the top singular values of NumPy's SVD) for tall, wide and
    narrow shapes, with PyTorch's shapes; M is subtracted first; pca_lowrank's S are the
    centered matrix's singular values."""
    rng = np.random.default_rng(11)
    for m, n, r, q in ((40, 30, 4, 6), (30, 40, 5, 6), (50, 6, 3, 6), (20, 20, 2, 3)):
        a = rng.standard_normal((m, r)) @ rng.standard_normal((r, n))
        u, s, v = ember.svd_lowrank(ember.tensor(a), q=q)
        tu, ts, tv = torch.svd_lowrank(torch.tensor(a), q=q)
        assert (u.shape, s.shape, v.shape) == (tuple(tu.shape), tuple(ts.shape), tuple(tv.shape))
        want = np.linalg.svd(a, compute_uv=False)[:r]
        assert np.abs(s.numpy()[:r] - want).max() <= 1e-13 * want[0]
        rebuilt = (u.numpy() * s.numpy()) @ v.numpy().T
        assert np.abs(rebuilt - a).max() <= 1e-13 * np.abs(a).max()
    base = rng.standard_normal((25, 3)) @ rng.standard_normal((3, 15))
    shift = rng.standard_normal((25, 15))
    u, s, v = ember.svd_lowrank(ember.tensor(base + shift), q=4, M=ember.tensor(shift))
    assert np.abs((u.numpy() * s.numpy()) @ v.numpy().T - base).max() <= 1e-12 * np.abs(base).max()
    x = rng.standard_normal((60, 5)) * [5.0, 3.0, 1.0, 0.5, 0.1] + 7.0
    _, s, _ = ember.pca_lowrank(ember.tensor(x))
    want = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
    np.testing.assert_allclose(s.numpy(), want, rtol=1e-12)
    with pytest.raises(ember.ShapeError, match=r"q must be in 1..min\(m, n\) = 15"):
        ember.svd_lowrank(ember.tensor(base), q=16)


def test_histogramdd_is_torchs(backend):
    """Counts and edges of torch.histogramdd: ints, per-dimension ints, given edges,
    range, weights and density, points outside and on the last edges, a constant
    dimension (widened by 1/2), and a batch of points in leading axes."""
    rng = np.random.default_rng(12)
    p = rng.standard_normal((300, 3)).astype(np.float32)
    p[:5, 1] = 1.5                                   # on the last edge of the range below
    cases = [({"bins": 4}, {}), ({"bins": [3, 5, 2]}, {}),
             ({"bins": [2, 3, 4], "range": [-1.0, 1.0, -1.5, 1.5, 0.0, 2.0]}, {}),
             ({"bins": [3, 2, 2], "density": True}, {"weight": rng.uniform(size=300)})]
    for kwargs, extra in cases:
        ours = ember.histogramdd(ember.tensor(p, backend=backend), **kwargs,
                                 **{k: ember.tensor(v.astype(np.float32), backend=backend)
                                    for k, v in extra.items()})
        theirs = torch.histogramdd(torch.tensor(p), **kwargs,
                                   **{k: torch.tensor(v.astype(np.float32)) for k, v in extra.items()})
        _same(ours.hist, theirs.hist, f"histogramdd {kwargs}", 8)
        for a, b in zip(ours.bin_edges, theirs.bin_edges):
            _same(a, b, f"histogramdd edges {kwargs}", 2)
    edges = [ember.tensor([-3.0, 0.0, 3.0], backend=backend)] * 2
    flat = ember.histogramdd(ember.tensor(np.stack([p[:, 0], np.full(300, 2.0, np.float32)], 1)
                                          .reshape(10, 30, 2), backend=backend), bins=2)
    assert flat.hist.numpy().sum() == 300 and flat.bin_edges[1].numpy().tolist() == [1.5, 2.0, 2.5]
    assert ember.histogramdd(ember.tensor(p[:, :2], backend=backend), bins=edges).hist.numpy().sum() \
        == np.sum(np.all(np.abs(p[:, :2]) <= 3, axis=1))


def test_histograms_count_past_nan_and_infinities_as_torch(backend):
    """With a range given, NaN and infinite elements are simply not counted (a NaN in
    the data made every edge NaN: the range was built as x.sum() * 0 + lo); without one,
    a non-finite extreme is refused by name, as PyTorch refuses it; no data gives the
    range [0, 1]. histc keeps its own rule: NaN is left out of its extremes."""
    data = np.array([0.1, np.nan, 0.7, np.inf, -np.inf, 0.5], np.float32)
    x, t = ember.tensor(data, backend=backend), torch.tensor(data)
    _same(tuple(ember.histogram(x, 4, range=(0.0, 1.0))),
          tuple(torch.histogram(t, 4, range=(0.0, 1.0))), "histogram with a range", 2)
    _same(ember.histc(x, 4, min=0, max=1), torch.histc(t, 4, min=0, max=1), "histc", 2)
    pairs = np.stack([data, data[::-1]], axis=1)
    _same(ember.histogramdd(ember.tensor(pairs, backend=backend), bins=2,
                            range=[0.0, 1.0, 0.0, 1.0]).hist,
          torch.histogramdd(torch.tensor(pairs), bins=2, range=[0.0, 1.0, 0.0, 1.0]).hist,
          "histogramdd with a range", 2)
    for call in (lambda: ember.histogram(x, 4), lambda: ember.histc(x, 4),
                 lambda: ember.histogramdd(ember.tensor(pairs, backend=backend), bins=2)):
        with pytest.raises(ember.RangeError, match="range .* is not finite; give range"):
            call()
    empty = ember.zeros(0, backend=backend)
    _same(tuple(ember.histogram(empty, 2)), tuple(torch.histogram(torch.zeros(0), 2)), "empty", 0)
    np.testing.assert_array_equal(ember.histc(ember.tensor([np.nan, 1.0, 3.0], backend=backend),
                                              2).numpy(), [1.0, 1.0])


def test_orthogonal_polynomials_of_degree_zero_and_below_are_constants(backend):
    """p_0 is 1 and a negative degree 0 at every x, infinities and NaN too, as
    PyTorch's (p_0 was built as x * 0 + 1: NaN and, past the overflow rule, inf)."""
    x = np.array([np.inf, -np.inf, np.nan, 2.0, -0.0], np.float32)
    names = [n for n in dir(torch.special) if n.endswith("_polynomial_t") or "polynomial" in n]
    assert len(names) >= 12
    for name in names:
        for n in (0, -1):
            _same(getattr(ember.special, name)(ember.tensor(x, backend=backend), n),
                  getattr(torch.special, name)(torch.tensor(x), n), f"{name} n={n}", 0)


def test_unsafe_splits_and_nn_base_class_names_are_torchs():
    a = np.arange(10.0, dtype=np.float32)
    for name, args in (("unsafe_split", (3,)), ("unsafe_chunk", (4,)),
                       ("unsafe_split_with_sizes", ([2, 8],))):
        _same(list(getattr(ember.tensor(a), name)(*args)),
              list(getattr(torch.tensor(a), name)(*args)), name, 0)
    nn = importlib.import_module("ember.plugins.nn")
    assert issubclass(nn.GRU, nn.RNNBase) and issubclass(nn.LSTMCell, nn.RNNCellBase)
    assert nn.NLLLoss2d is nn.NLLLoss


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_plugin_functions_under_torchs_top_level_names(backend):
    """ember.conv2d, ember.layer_norm, ember.embedding... (the nn plugin's, registered as
    "functions") called with torch.*'s own arguments give torch.*'s values; every name
    registered is one of torch's; a name nobody has stays an AttributeError."""
    from ember.plugins.nn.top_level import FUNCTIONS
    assert all(callable(getattr(torch, name, None)) for name in FUNCTIONS)
    rng = np.random.default_rng(13)
    r = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    x4, x3, x2, w4, w3 = r(2, 4, 6, 6), r(2, 4, 9), r(3, 5), r(6, 2, 3, 3), r(4, 3, 2)
    gamma, beta, mean, var = r(4), r(4), r(4), np.abs(r(4)) + 0.5
    table, idx = r(7, 3), np.array([[0, 3, 6], [2, 2, 1]])
    b6, w5, b5, w_bil, b_bil = r(6), r(5), r(5), r(2, 5, 5), r(2)
    cases = [
        ("conv2d", lambda m, t: m.conv2d(t(x4), t(w4), t(b6), 1, 1, 1, 2)),
        ("conv_transpose1d", lambda m, t: m.conv_transpose1d(t(x3), t(w3), None, 2)),
        ("max_pool2d", lambda m, t: m.max_pool2d(t(x4), 2)),
        ("max_pool1d_with_indices", lambda m, t: m.max_pool1d_with_indices(t(x3), 3, 2)),
        ("avg_pool1d", lambda m, t: m.avg_pool1d(t(x3), 3)),
        ("adaptive_max_pool1d", lambda m, t: m.adaptive_max_pool1d(t(x3), 4)),
        ("adaptive_avg_pool1d", lambda m, t: m.adaptive_avg_pool1d(t(x3), 4)),
        ("layer_norm", lambda m, t: m.layer_norm(t(x2), [5], t(w5), t(b5), 1e-5, True)),
        ("group_norm", lambda m, t: m.group_norm(t(x4), 2, t(gamma), t(beta), 1e-5, True)),
        ("batch_norm", lambda m, t: m.batch_norm(t(x4), t(gamma), t(beta), t(mean), t(var),
                                                 False, 0.1, 1e-5, True)),
        ("instance_norm", lambda m, t: m.instance_norm(t(x4), t(gamma), t(beta), None, None, True,
                                                       0.1, 1e-5, True)),
        ("embedding", lambda m, t: m.embedding(t(table), m.tensor(idx))),
        ("embedding padding", lambda m, t: m.embedding(t(table), m.tensor(idx), 2)),
        ("dropout off", lambda m, t: m.dropout(t(x2), 0.7, False)),
        ("constant_pad_nd", lambda m, t: m.constant_pad_nd(t(x2), [1, 2], 3.0)),
        ("cosine_similarity", lambda m, t: m.cosine_similarity(t(x2), t(x2[::-1].copy()))),
        ("pairwise_distance", lambda m, t: m.pairwise_distance(t(x2), t(x2 * 2), 3.0)),
        ("pixel_shuffle", lambda m, t: m.pixel_shuffle(t(x4), 2)),
        ("native_channel_shuffle", lambda m, t: m.native_channel_shuffle(t(x4), 2)),
        ("celu", lambda m, t: m.celu(t(x2), 0.5)), ("selu", lambda m, t: m.selu(t(x2))),
        ("rrelu eval", lambda m, t: m.rrelu(t(x2), 0.1, 0.3, False)),
        ("threshold", lambda m, t: m.threshold(t(x2), 0.2, -1.0)),
        ("hardshrink", lambda m, t: m.hardshrink(t(x2), 0.3)),
        ("prelu", lambda m, t: m.prelu(t(x4), t(np.array([0.1, 0.2, 0.3, 0.4], np.float32)))),
        ("bilinear", lambda m, t: m.bilinear(t(x2), t(x2), t(w_bil), t(b_bil))),
        ("rms_norm", lambda m, t: m.rms_norm(t(x2), [5], t(w5), 1e-6)),
    ]
    for name, call in cases:
        want = call(torch, torch.tensor)
        got = call(ember, lambda a: ember.tensor(a, backend=backend))
        _same(got if not isinstance(got, tuple) else list(got),
              want if not isinstance(want, tuple) else list(want), name, None)
    with pytest.raises(AttributeError, match="has no attribute 'conv9d'"):
        ember.conv9d


def test_set_num_threads_holds_the_numpy_backends_pieces_and_blas():
    """torch.set_num_threads / get_num_threads: the numpy backend cuts large ops into at
    most n pieces and BLAS runs n threads; a bad n is refused by name."""
    from ember import config
    from ember.backends.numpy import threads
    before = ember.get_num_threads()
    try:
        ember.set_num_threads(1)
        assert ember.get_num_threads() == 1 and threads.cores() == 1
        assert threads._pieces((1 << 22,)) == 1
        x = np.random.default_rng(0).random((2048, 2048)).astype(np.float32)
        np.testing.assert_allclose(ember.exp(ember.tensor(x)).numpy(), np.exp(x), rtol=1e-6)
        if threads._controller():
            assert all(info["num_threads"] == 1 for info in threads._controller().info()
                       if info["user_api"] == "blas")
        with pytest.raises(ValueError, match="set_num_threads: n must be a positive int"):
            ember.set_num_threads(0)
    finally:
        ember.set_num_threads(before)
        config._threads, threads._state["threads"] = None, None


def test_seed_and_initial_seed_as_torchs():
    """initial_seed() is the seed manual_seed set; seed() draws a fresh one, reseeds
    with it and returns it, so the draws after it can be repeated."""
    ember.manual_seed(1234)
    assert ember.initial_seed() == 1234
    fresh = ember.seed()
    assert ember.initial_seed() == fresh and isinstance(fresh, int) and fresh >= 0
    first = ember.rand(5).numpy()
    ember.manual_seed(fresh)
    np.testing.assert_array_equal(ember.rand(5).numpy(), first)
    assert ember.seed() != fresh
