"""ember.fft, stft and istft, and complex autograd, against torch (the oracle, where
installed) on every backend: values in single and double precision, gradients of real
losses through complex intermediates (PyTorch's convention: dL/dx + i dL/dy), the
arguments (n, s, dim, norm), the edges (NaN, inf, empty batches, no points) and what
both libraries refuse."""

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here (pip install torch)")


def _widest(backend):
    return ember.float64 if ember.float64 in backend.dtypes else ember.float32


def _np(t):
    """A torch or ember tensor as a NumPy array (torch's lazy conjugates resolved)."""
    if isinstance(t, torch.Tensor):
        return t.resolve_conj().detach().numpy()
    return t if isinstance(t, np.ndarray) else t.numpy()


def _close(got, want, rel, what):
    """Norm-wise relative error: the largest deviation over the largest magnitude of the
    answer (an FFT's rounding is relative to its whole output, not to each entry)."""
    got, want = _np(got), _np(want)
    assert got.shape == want.shape, f"{what}: shape {got.shape}, torch {want.shape}"
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=what)
    finite = np.isfinite(want)
    np.testing.assert_array_equal(got[~finite], want[~finite], err_msg=what)
    if finite.any():
        scale = max(np.abs(want[finite]).max(), np.finfo(np.float64).tiny)
        err = np.abs(got[finite] - want[finite]).max() / scale
        assert err <= rel, f"{what}: relative error {err:.2e} > {rel:.0e}"


def _rel(dtype):
    return 1e-12 if dtype is ember.float64 else 3e-6


#: (name, input kind, loss-free call(fft module, x)); both libraries run the same call
CASES = [
    ("fft", "complex", lambda F, x: F.fft(x)),
    ("fft_n_pad_ortho", "complex", lambda F, x: F.fft(x, n=11, norm="ortho")),
    ("fft_dim0_trim", "real", lambda F, x: F.fft(x, n=2, dim=0)),
    ("ifft_forward", "complex", lambda F, x: F.ifft(x, norm="forward")),
    ("fft2", "complex", lambda F, x: F.fft2(x)),
    ("ifft2_s", "complex", lambda F, x: F.ifft2(x, s=(2, 9))),
    ("fftn_all", "real", lambda F, x: F.fftn(x)),
    ("fftn_s_last", "complex", lambda F, x: F.fftn(x, s=(4, -1))),
    ("ifftn_dims", "complex", lambda F, x: F.ifftn(x, dim=(0, 2), norm="ortho")),
    ("rfft", "real", lambda F, x: F.rfft(x)),
    ("rfft_odd_n", "real", lambda F, x: F.rfft(x, n=7, norm="forward")),
    ("rfft2", "real", lambda F, x: F.rfft2(x, norm="ortho")),
    ("rfftn_dims", "real", lambda F, x: F.rfftn(x, dim=(2, 0))),
    ("irfft", "half", lambda F, x: F.irfft(x)),
    ("irfft_odd", "half", lambda F, x: F.irfft(x, n=9, norm="ortho")),
    ("irfft2", "half", lambda F, x: F.irfft2(x, norm="forward")),
    ("irfftn_s", "half", lambda F, x: F.irfftn(x, s=(3, 5, 6))),
    ("hfft", "half", lambda F, x: F.hfft(x)),
    ("hfft_odd", "half", lambda F, x: F.hfft(x, n=7, norm="forward")),
    ("hfft2", "half", lambda F, x: F.hfft2(x, norm="ortho")),
    ("ihfft", "real", lambda F, x: F.ihfft(x)),
    ("ihfft2", "real", lambda F, x: F.ihfft2(x, norm="forward")),
    ("ihfftn", "real", lambda F, x: F.ihfftn(x, dim=(0, 1))),
]
IDS = [c[0] for c in CASES]


def _input(kind, seed=0, shape=(3, 4, 8)):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if kind == "real":
        return x
    y = x + 1j * rng.standard_normal(shape)
    return y[..., :5] if kind == "half" else y


def _ember(a, dtype, grad=False):
    dtype = ember.dtypes.complex_of(dtype) if np.iscomplexobj(a) else dtype
    return ember.tensor(a, dtype=dtype, requires_grad=grad)


def _torch(a, grad=False):
    return torch.tensor(a, requires_grad=grad)


def _real_loss(out, weights, lib):
    """A real loss that reads every part of ``out``: sum(w * (re + 2 im))."""
    if out.is_complex() if lib is torch else out.dtype.is_complex:
        out = lib.real(out) + 2.0 * lib.imag(out)
    return (out * weights).sum()


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_values_and_gradients_match_torch(backend, case):
    """Values in float32 (complex64) and the widest float, and the gradient of a real
    loss of the output."""
    name, kind, fn = case
    a = _input(kind)
    wide = _widest(backend)
    want = fn(torch.fft, _torch(a))
    for dtype in {ember.float32, wide}:
        got = fn(ember.fft, _ember(a, dtype))
        expected = ember.dtypes.complex_of(dtype) if want.is_complex() else dtype
        assert got.dtype is expected, f"{name}: dtype {got.dtype}, expected {expected}"
        _close(got, want, _rel(dtype), f"{name} {dtype.name}")
    x, t = _ember(a, wide, True), _torch(a, True)
    w = np.random.default_rng(7).standard_normal(tuple(want.shape))
    _real_loss(fn(ember.fft, x), ember.tensor(w, dtype=wide), ember).backward()
    _real_loss(fn(torch.fft, t), torch.tensor(w), torch).backward()
    assert x.grad.dtype is x.dtype
    _close(x.grad, t.grad, _rel(wide) * 10, f"{name}: gradient")


#: complex autograd op by op: real losses of complex expressions, in both libraries
COMPLEX = [
    ("add_sub_neg", lambda L, z, w: -(z + w) - w * 2.0),
    ("mul", lambda L, z, w: z * w),
    ("div", lambda L, z, w: z / (w + 3.0)),
    ("exp_log", lambda L, z, w: L.exp(z * 0.5) + L.log(w)),
    ("sqrt", lambda L, z, w: L.sqrt(w) * z),
    ("pow", lambda L, z, w: z ** 2 + w ** z * 0.1 + L.pow(w, 0.5)),
    ("sin_cos_tanh", lambda L, z, w: L.sin(z) * L.cos(w) + L.tanh(z * 0.3)),
    ("abs_angle", lambda L, z, w: L.abs(z) * L.angle(w)),
    ("real_imag_conj", lambda L, z, w: L.real(z) * L.imag(w) + L.conj(z) * w),
    ("matmul", lambda L, z, w: z.reshape(3, 4) @ w.reshape(4, 3)),
    ("sum_mean_reshape", lambda L, z, w: (z.reshape(2, 6).sum(0) + w.reshape(2, 6).mean(1)[:, None])),
    ("view_as_real", lambda L, z, w: L.view_as_real(z * w)),
    ("complex_polar", lambda L, z, w: L.complex(L.real(z), L.abs(w)) * L.polar(L.abs(z), L.imag(w))),
    ("view_as_complex", lambda L, z, w: L.view_as_complex(L.stack([L.real(z), L.imag(w)], -1))),
    ("index_cat_flip", lambda L, z, w: L.cat([z[2:], L.flip(w, [0])[:4]]) * L.cat([z, w[:2]])),
]


@pytest.mark.parametrize("case", COMPLEX, ids=[c[0] for c in COMPLEX])
def test_complex_gradients_match_torch(backend, case):
    name, fn = case
    wide = _widest(backend)
    rng = np.random.default_rng(3)
    a, b = (rng.standard_normal(12) + 1j * rng.standard_normal(12) for _ in range(2))
    b = b + 2.0                       # away from log's and sqrt's branch point
    z, w = _ember(a, wide, True), _ember(b, wide, True)
    tz, tw = _torch(a, True), _torch(b, True)
    out, tout = fn(ember, z, w), fn(torch, tz, tw)
    _close(out, tout, _rel(wide), f"{name}: value")
    weights = np.random.default_rng(5).standard_normal(tuple(tout.shape))
    _real_loss(out, ember.tensor(weights, dtype=wide), ember).backward()
    _real_loss(tout, torch.tensor(weights), torch).backward()
    _close(z.grad, tz.grad, _rel(wide) * 10, f"{name}: gradient of z")
    _close(w.grad, tw.grad, _rel(wide) * 10, f"{name}: gradient of w")


def test_abs_of_complex_zero_has_zero_gradient(backend):
    z = ember.tensor([0j, 3 + 4j], dtype=ember.complex64, requires_grad=True)
    ember.abs(z).sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(), np.array([0, 0.6 + 0.8j], np.complex64))


def test_complex_autograd_refusals(backend):
    z = ember.tensor([1 + 1j, 2 - 1j], requires_grad=True)
    assert z.dtype is ember.complex64 and z.requires_grad
    with pytest.raises(ember.AutogradError, match="real single-element output"):
        (z * z).sum().backward()
    with pytest.raises(ember.AutogradError, match="no gradient of this op for complex"):
        ember.log1p(z)
    with ember.no_grad():               # without a graph it computes
        assert ember.log1p(z).shape == (2,)
    with pytest.raises(ember.DTypeError, match="floating and complex"):
        ember.tensor([1, 2]).requires_grad_()


@pytest.mark.parametrize("fn", ["fft", "rfft", "ifft"])
def test_nan_and_inf_spread_along_their_line_only(backend, fn):
    a = np.arange(12.0).reshape(3, 4)
    a[0, 1], a[1, 2] = np.nan, np.inf
    got = getattr(ember.fft, fn)(ember.tensor(a, dtype=ember.float32)).numpy()
    want = getattr(np.fft, fn)(a)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
    assert np.isnan(got[0]).all() and np.isfinite(got[2]).all()
    _close(got[2], want[2], 3e-6, f"{fn}: the clean line")


def test_empty_batches_and_axes_without_points(backend):
    assert ember.fft.rfft(ember.zeros((0, 8))).shape == (0, 5)
    assert ember.fft.fft2(ember.zeros((2, 0, 3, 4))).shape == (2, 0, 3, 4)
    with pytest.raises(ember.ShapeError, match="at least one"):
        ember.fft.fft(ember.zeros((3, 0)))
    with pytest.raises(ember.ShapeError, match="at least one"):
        ember.fft.fft(ember.zeros(4), n=0)
    with pytest.raises(ember.ShapeError, match="output points"):
        ember.fft.irfft(ember.zeros(1, dtype=ember.complex64))


def test_arguments_are_checked_by_name():
    x = ember.ones((2, 4))
    with pytest.raises(ember.DTypeError, match="expects a real input"):
        ember.fft.rfft(ember.fft.fft(x))
    with pytest.raises(ValueError, match="norm must be"):
        ember.fft.fft(x, norm="unitary")
    with pytest.raises(ember.ShapeError, match="names an axis twice"):
        ember.fft.fftn(x, dim=(0, -2))
    with pytest.raises(ember.ShapeError, match="one each"):
        ember.fft.fftn(x, s=(2, 2), dim=(0,))
    with pytest.raises(ember.ShapeError, match="axes to transform"):
        ember.fft.fftn(x, s=(2, 2, 2))
    with pytest.raises(TypeError, match="must be ints"):
        ember.fft.irfft(x, n=4.0)


def test_integers_and_half_floats_transform_as_floats(backend):
    ints = ember.fft.fft(ember.tensor([1, 2, 3, 4]))
    assert ints.dtype is ember.complex64
    _close(ints, np.fft.fft([1, 2, 3, 4]), 1e-6, "fft of integers")
    half = ember.fft.rfft(ember.tensor([1.0, 2.0, 3.0], dtype=ember.float16))
    assert half.dtype is ember.complex64


def test_frequencies_and_shifts_match_torch(backend):
    for n, d in ((8, 1.0), (7, 0.5), (1, 2.0)):
        _close(ember.fft.fftfreq(n, d), torch.fft.fftfreq(n, d), 1e-7, f"fftfreq({n}, {d})")
        _close(ember.fft.rfftfreq(n, d), torch.fft.rfftfreq(n, d), 1e-7, f"rfftfreq({n}, {d})")
    a = np.arange(30.0, dtype=np.float32).reshape(5, 6)
    for fn in ("fftshift", "ifftshift"):
        for dim in (None, 0, (-1,)):
            got = getattr(ember.fft, fn)(ember.tensor(a), dim=dim)
            np.testing.assert_array_equal(got.numpy(), _np(getattr(torch.fft, fn)(
                torch.tensor(a), dim=dim)))


def test_a_compiled_spectral_loss_trains_as_eager(backend):
    """rfft in a compiled training step: one host step of the graph, replayed with the
    gradient flowing through it."""
    rng = np.random.default_rng(0)
    target = ember.tensor(np.abs(np.fft.rfft(rng.standard_normal((4, 16)))), dtype=ember.float32)

    def loss(w, x):
        return ((ember.abs(ember.fft.rfft(x * w, norm="ortho")) - target) ** 2).mean()

    def step(w, x):
        return loss(w, x), w - 0.1 * ember.grad(loss)(w, x)

    x = ember.tensor(rng.standard_normal((4, 16)), dtype=ember.float32)
    w0 = ember.ones(16)
    compiled = ember.compile(step)
    we, wc = w0, w0
    for _ in range(3):
        le, we = step(we, x)
        lc, wc = compiled(wc, x)
        _close(lc, le.numpy(), 1e-5, "compiled loss")
    _close(wc, we.numpy(), 1e-5, "compiled weights")
    assert "fft" in str(compiled.graph(wc, x))


STFT = [
    ("reflect", dict(n_fft=64, hop_length=16, window="hann")),
    ("constant_win_length", dict(n_fft=32, win_length=24, window="hann", pad_mode="constant")),
    ("replicate_normalized", dict(n_fft=16, hop_length=5, pad_mode="replicate",
                                  normalized=True, window="hamming")),
    ("circular_two_sided", dict(n_fft=20, hop_length=7, pad_mode="circular", onesided=False,
                                window="hann")),
    ("not_centred", dict(n_fft=32, hop_length=8, center=False, window="hamming")),
]


def _stft_args(lib, args, dtype):
    args = dict(args)
    kind = args.pop("window")
    size = args.get("win_length", args["n_fft"])
    make = getattr(lib, f"{kind}_window")
    args["window"] = make(size, dtype=dtype)
    return args


@pytest.mark.filterwarnings("ignore:The length of signal is shorter")   # torch's, padded
@pytest.mark.parametrize("case", STFT, ids=[c[0] for c in STFT])
def test_stft_and_istft_match_torch(backend, case):
    name, args = case
    wide = _widest(backend)
    tdtype = torch.float64 if wide is ember.float64 else torch.float32
    sig = np.random.default_rng(2).standard_normal((2, 300))
    x, t = ember.tensor(sig, dtype=wide, requires_grad=True), torch.tensor(sig, dtype=tdtype,
                                                                           requires_grad=True)
    S = ember.stft(x, return_complex=True, **_stft_args(ember, args, wide))
    T = torch.stft(t, return_complex=True, **_stft_args(torch, args, tdtype))
    _close(S, T, _rel(wide), f"stft {name}")
    iargs = {k: v for k, v in args.items() if k != "pad_mode"}
    y = ember.istft(S, length=300, **_stft_args(ember, iargs, wide))
    u = torch.istft(T, length=300, **_stft_args(torch, iargs, tdtype))
    _close(y, u, _rel(wide) * 10, f"istft {name}")
    w = np.random.default_rng(4).standard_normal(300)
    (y * ember.tensor(w, dtype=wide)).sum().backward()
    (u * torch.tensor(w, dtype=tdtype)).sum().backward()
    _close(x.grad, t.grad, _rel(wide) * 10, f"{name}: gradient")


def test_stft_of_complex_signals_and_parts_as_an_axis():
    rng = np.random.default_rng(1)
    z = rng.standard_normal(100) + 1j * rng.standard_normal(100)
    S = ember.stft(ember.tensor(z), 16, hop_length=4, window=ember.hann_window(16))
    T = torch.stft(torch.tensor(z, dtype=torch.complex64), 16, hop_length=4,
                   window=torch.hann_window(16), return_complex=True)
    _close(S, T, 3e-6, "complex stft")
    parts = ember.stft(ember.tensor(z.real), 16, window=ember.hann_window(16),
                       return_complex=False)
    _close(parts, torch.view_as_real(torch.stft(torch.tensor(z.real, dtype=torch.float32), 16,
                                                window=torch.hann_window(16),
                                                return_complex=True)), 3e-6, "stft parts")


def test_stft_and_istft_refusals():
    x = ember.ones(64)
    with pytest.raises(ValueError, match="give return_complex"):
        ember.stft(x, 16)
    with pytest.raises(ember.ShapeError, match="reflect padding"):
        ember.stft(ember.ones(4), 16, return_complex=True)
    with pytest.raises(ember.ShapeError, match="window has shape"):
        ember.stft(x, 16, window=ember.ones(8), return_complex=True)
    with pytest.raises(ember.ShapeError, match="expects a signal"):
        ember.stft(ember.ones((2, 2, 64)), 16, return_complex=True)
    S = ember.stft(x, 16, hop_length=4, return_complex=True)
    with pytest.raises(ValueError, match="NOLA"):
        ember.istft(S, 16, hop_length=4, window=ember.zeros(16))
    with pytest.raises(ember.ShapeError, match="frequencies for n_fft"):
        ember.istft(S, 32)
    with pytest.raises(ember.DTypeError, match="complex spectrum"):
        ember.istft(ember.real(S), 16)
