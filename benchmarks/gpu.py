"""GPU figures for the CuPy backend, side by side in one run with raw CuPy and
PyTorch CUDA (when installed): float32 matmul 4096 (TFLOP/s), the cost of a
small op, and full training steps (forward, cross-entropy, backward, update)
of an MLP 784-128-10 and a CNN (Conv2d 1->8 3x3, ReLU, MaxPool 2, Linear to 10)
built from ember's layer, loss and optimizer plugins.

    python benchmarks/gpu.py [--backend cupy]
"""

import argparse
import statistics
import time

import ember
from ember.plugins import nn, optim
from ember.plugins.losses import cross_entropy


def timed(fn, sync, repeat=5, number=20):
    fn()
    sync()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        sync()
        samples.append((time.perf_counter() - t0) / number)
    return statistics.median(samples)


def ember_step(backend, model_fn, shape, opt_name):
    ember.manual_seed(0)
    with ember.backend(backend):
        model = model_fn()
        x = ember.randn(*shape)
        y = ember.randint(0, 10, (shape[0],))
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9) if opt_name == "sgd" \
        else optim.Adam(model.parameters(), lr=1e-3)

    def step():
        loss = cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def torch_step(model_fn, shape, opt_name, device):
    import torch
    torch.manual_seed(0)
    model = model_fn().to(device)
    x = torch.randn(*shape, device=device)
    y = torch.randint(0, 10, (shape[0],), device=device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9) if opt_name == "sgd" \
        else torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def mlp(lib):
    return lib.Sequential(lib.Linear(784, 128), lib.ReLU(), lib.Linear(128, 10))


def cnn(lib):
    return lib.Sequential(lib.Conv2d(1, 8, 3), lib.ReLU(), lib.MaxPool2d(2), lib.Flatten(),
                          lib.Linear(8 * 13 * 13, 10))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="cupy")
    args = parser.parse_args(argv)
    backend = ember.get_backend(args.backend)
    sync = backend.synchronize
    try:
        import torch
        tnn = torch.nn
        device = "cuda" if torch.cuda.is_available() else "cpu"
        tsync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
        if device == "cpu":
            torch.set_num_threads(2)
    except ImportError:
        torch = None
    print(f"ember backend {backend.device}: {type(backend).devices()[backend.index]}")
    print(f"{'workload':40s} {'ember':>11s} {'torch':>11s} {'ratio':>7s}")

    def row(label, ours, theirs, unit_is_rate=False):
        ratio = (theirs / ours if unit_is_rate else ours / theirs) if theirs else None
        print(f"{label:40s} {ours:11.1f} {theirs if theirs else float('nan'):11.1f} "
              f"{(f'{ratio:6.2f}x' if ratio else '-'):>7s}", flush=True)

    n = 4096 if args.backend != "numpy" else 1024
    a, b = ember.randn(n, n, backend=backend), ember.randn(n, n, backend=backend)
    flops = 2 * n ** 3
    ours = flops / timed(lambda: a @ b, sync) / 1e12
    theirs = None
    if torch is not None:
        torch.backends.cuda.matmul.allow_tf32 = False
        ta, tb = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
        theirs = flops / timed(lambda: ta @ tb, tsync) / 1e12
    row(f"matmul {n} float32 (TFLOP/s, ratio = torch/ember)", ours, theirs, unit_is_rate=True)

    x = ember.randn(8, backend=backend, requires_grad=True)
    ours = timed(lambda: x + x, sync, number=2000) * 1e6
    theirs = None
    if torch is not None:
        tx = torch.randn(8, device=device, requires_grad=True)
        theirs = timed(lambda: tx + tx, tsync, number=2000) * 1e6
    row("add, 8 elements, with grad (us)", ours, theirs)

    for name, builder, shape, opt_name in (
            ("MLP 784-128-10 SGD, batch 64", mlp, (64, 784), "sgd"),
            ("MLP 784-128-10 SGD, batch 256", mlp, (256, 784), "sgd"),
            ("MLP 784-128-10 Adam, batch 256", mlp, (256, 784), "adam"),
            ("MLP 784-128-10 SGD, batch 4096", mlp, (4096, 784), "sgd"),
            ("CNN step, batch 64, 28x28", cnn, (64, 1, 28, 28), "sgd"),
            ("CNN step, batch 512, 28x28", cnn, (512, 1, 28, 28), "sgd")):
        ours = timed(ember_step(backend, lambda: builder(nn), shape, opt_name), sync) * 1e6
        theirs = timed(torch_step(lambda: builder(tnn), shape, opt_name, device), tsync) * 1e6 \
            if torch is not None else None
        row(name + " (us)", ours, theirs)


if __name__ == "__main__":
    main()
