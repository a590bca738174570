"""The measured workloads, each written three ways: hand-written NumPy, ember
(on any backend), and PyTorch. All use float32, plain SGD (lr 0.01) and
cross-entropy on 10 classes, with the same shapes."""

import numpy as np

import ember
from ember.plugins import nn, optim
from ember.plugins.losses import cross_entropy

LR = 0.01


# -- MLP 784-128-10 ----------------------------------------------------------------------
def numpy_mlp(batch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 784), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    w1 = rng.standard_normal((784, 128), dtype=np.float32) * 0.05
    b1 = np.zeros(128, np.float32)
    w2 = rng.standard_normal((128, 10), dtype=np.float32) * 0.05
    b2 = np.zeros(10, np.float32)
    rows = np.arange(batch)

    def step():
        nonlocal w1, b1, w2, b2
        h = x @ w1 + b1
        a = np.maximum(h, 0)
        z = a @ w2 + b2
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        p = e / e.sum(axis=1, keepdims=True)
        loss = -np.log(p[rows, y]).mean()
        dz = p
        dz[rows, y] -= 1
        dz /= batch
        dw2, db2 = a.T @ dz, dz.sum(0)
        da = dz @ w2.T
        da[h <= 0] = 0
        dw1, db1 = x.T @ da, da.sum(0)
        w1 -= LR * dw1
        b1 -= LR * db1
        w2 -= LR * dw2
        b2 -= LR * db2
        return loss
    return step


def mlp(lib):
    return lib.Sequential(lib.Linear(784, 128), lib.ReLU(), lib.Linear(128, 10))


def cnn(lib):
    return lib.Sequential(lib.Conv2d(1, 8, 3), lib.ReLU(), lib.MaxPool2d(2), lib.Flatten(),
                          lib.Linear(8 * 13 * 13, 10))


def _optimizer(lib, params, name, compiled=False):
    """"sgd" (plain, as the hand-written versions), "momentum" (0.9) or "adam"
    (capturable, its step count in a tensor, where ember.compile replays it)."""
    if name == "adam":
        return lib.Adam(params, lr=1e-3, **({"capturable": True} if compiled else {}))
    return lib.SGD(params, lr=LR, momentum=0.9 if name == "momentum" else 0.0)


def ember_step(model_fn, shape, backend=None, opt_name="sgd", compiled=False):
    """A training step of ``model_fn``'s model; ``compiled``: through ember.compile."""
    ember.manual_seed(0)
    with ember.backend(backend or ember.get_backend()):
        model = model_fn(nn)
        x = ember.randn(*shape)
        y = ember.randint(0, 10, (shape[0],))
    opt = _optimizer(optim, model.parameters(), opt_name, compiled)

    def step(x, y):
        loss = cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    run = ember.compile(step) if compiled else step
    return lambda: run(x, y)


def torch_step(model_fn, shape, device="cpu", opt_name="sgd", mode=None, whole=True):
    """The same step in PyTorch; ``mode``: through torch.compile in that mode
    ("reduce-overhead" replays CUDA graphs; Adam is then capturable, as ember's), the
    whole step as ember.compile takes it, or (``whole=False``) the model alone."""
    import torch
    torch.manual_seed(0)
    model = model_fn(torch.nn).to(device)
    forward = torch.compile(model, mode=mode) if mode and not whole else model
    x = torch.randn(*shape, device=device)
    y = torch.randint(0, 10, (shape[0],), device=device)
    opt = _optimizer(torch.optim, model.parameters(), opt_name, compiled=mode is not None)

    def step():
        loss = torch.nn.functional.cross_entropy(forward(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    if not (mode and whole):
        return step
    compiled = torch.compile(step, mode=mode)

    def replay():       # a new step: the outputs of the graphs' last replay may be rewritten
        torch.compiler.cudagraph_mark_step_begin()
        return compiled()
    return replay


def ember_mlp(batch, backend=None):
    return ember_step(mlp, (batch, 784), backend)


def torch_mlp(batch, device="cpu"):
    return torch_step(mlp, (batch, 784), device)


# -- CNN: Conv2d 1->8 3x3, ReLU, MaxPool 2, Linear 8*13*13 -> 10 on 28x28 ------------------
def numpy_cnn(batch):
    """The CNN step as one would write it by hand in NumPy: the conv as one GEMM over
    (kh*kw, N*OH*OW) windows copied from as_strided views, the pool as the maximum of
    its four strided slices, the pool's gradient written through the same slices."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, batch)
    wc = rng.standard_normal((8, 9), dtype=np.float32) * 0.3
    bc = np.zeros(8, np.float32)
    wl = rng.standard_normal((10, 8 * 13 * 13), dtype=np.float32) * 0.02
    bl = np.zeros(10, np.float32)
    rows = np.arange(batch)
    s = x.strides
    offsets = ((0, 0), (0, 1), (1, 0), (1, 1))

    def step():
        nonlocal wc, bc, wl, bl
        cols = np.ascontiguousarray(np.lib.stride_tricks.as_strided(
            x, (3, 3, batch, 26, 26), (s[2], s[3], s[0], s[2], s[3]))).reshape(9, -1)
        conv = (wc @ cols).reshape(8, batch, 26, 26)                   # (C, N, H, W)
        conv += bc.reshape(8, 1, 1, 1)
        act = np.maximum(conv, 0)
        slices = [act[:, :, i::2, j::2] for i, j in offsets]
        pooled = np.maximum(np.maximum(slices[0], slices[1]), np.maximum(slices[2], slices[3]))
        flat = pooled.transpose(1, 0, 2, 3).reshape(batch, -1)
        z = flat @ wl.T + bl
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        loss = -np.log(p[rows, y]).mean()
        p[rows, y] -= 1
        dz = p / batch
        dwl, dbl = dz.T @ flat, dz.sum(0)
        dpooled = (dz @ wl).reshape(batch, 8, 13, 13).transpose(1, 0, 2, 3)
        dact = np.zeros_like(act)
        for (i, j), part in zip(offsets, slices):    # ties: every maximum gets the gradient
            dact[:, :, i::2, j::2] = dpooled * (part == pooled)
        dconv = (dact * (conv > 0)).reshape(8, -1)
        dwc, dbc = dconv @ cols.T, dconv.sum(1)
        wc -= LR * dwc
        bc -= LR * dbc
        wl -= LR * dwl
        bl -= LR * dbl
        return loss
    return step


def ember_cnn(batch, backend=None):
    return ember_step(cnn, (batch, 1, 28, 28), backend)


def torch_cnn(batch, device="cpu"):
    return torch_step(cnn, (batch, 1, 28, 28), device)


def chain(x):
    """Eight elementwise ops (ember.compile fuses them into one kernel)."""
    return (ember.maximum(x * 1.1 + 0.3, 0.0) * x - 0.2).abs().sqrt().exp()


def chain_with(lib, x):
    """The same chain in NumPy or PyTorch, for the side-by-side table."""
    return lambda: lib.exp(lib.sqrt(lib.abs(lib.maximum(x * 1.1 + 0.3, lib.zeros_like(x)) * x - 0.2)))


def ember_chain(n, backend=None, compiled=False):
    ember.manual_seed(0)
    x = ember.randn(n, backend=backend)
    run = ember.compile(chain) if compiled else chain
    return lambda: run(x)
