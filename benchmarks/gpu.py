"""GPU figures for the CuPy backend, side by side in one run with raw CuPy and
PyTorch CUDA (when installed): float32 matmul 4096 in TFLOP/s, a small-op
dispatch cost, and an MLP 784-128-10 SGD training step written with ember
tensor ops (forward, cross-entropy, backward, update).

    EMBER_BACKEND=cupy python benchmarks/gpu.py
"""

import statistics
import time

import numpy as np

import ember


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


def mlp_step_ember(backend, batch, lr=0.1):
    ember.manual_seed(0)
    x = ember.randn(batch, 784, backend=backend)
    y = ember.randint(0, 10, (batch,), backend=backend)
    w1 = (ember.randn(784, 128, backend=backend) * 0.05).requires_grad_()
    b1 = ember.zeros(128, backend=backend, requires_grad=True)
    w2 = (ember.randn(128, 10, backend=backend) * 0.05).requires_grad_()
    b2 = ember.zeros(10, backend=backend, requires_grad=True)
    params = [w1, b1, w2, b2]
    rows = np.arange(batch)
    labels = y.numpy()

    def step():
        logits = ember.relu(x @ w1 + b1) @ w2 + b2
        loss = -ember.log_softmax(logits, -1)[rows, labels].mean()
        for p in params:
            p.grad = None
        loss.backward()
        with ember.no_grad():
            for p in params:
                p -= lr * p.grad
        return loss
    return step


def mlp_step_torch(batch, lr=0.1):
    import torch
    dev = "cuda"
    torch.manual_seed(0)
    x = torch.randn(batch, 784, device=dev)
    y = torch.randint(0, 10, (batch,), device=dev)
    w1 = (torch.randn(784, 128, device=dev) * 0.05).requires_grad_()
    b1 = torch.zeros(128, device=dev, requires_grad=True)
    w2 = (torch.randn(128, 10, device=dev) * 0.05).requires_grad_()
    b2 = torch.zeros(10, device=dev, requires_grad=True)
    params = [w1, b1, w2, b2]

    def step():
        logits = torch.relu(x @ w1 + b1) @ w2 + b2
        loss = torch.nn.functional.cross_entropy(logits, y)
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
        return loss
    return step


def main():
    backend = ember.get_backend("cupy")
    import cupy
    sync = backend.synchronize
    try:
        import torch
        torch_ok = torch.cuda.is_available()
    except ImportError:
        torch_ok = False
    tsync = torch.cuda.synchronize if torch_ok else None
    print(f"device: {ember.get_backend('cupy').devices()[0]}")
    print(f"{'workload':36s} {'ember:cupy':>12s} {'raw CuPy':>12s} {'torch CUDA':>12s}")

    n = 4096
    flops = 2 * n ** 3
    a = ember.randn(n, n, backend=backend)
    b = ember.randn(n, n, backend=backend)
    ca, cb = cupy.asarray(a.numpy()), cupy.asarray(b.numpy())
    te = timed(lambda: a @ b, sync)
    tc = timed(lambda: ca @ cb, sync)
    row = f"{'matmul 4096 f32 (TFLOP/s)':36s} {flops / te / 1e12:12.1f} {flops / tc / 1e12:12.1f}"
    if torch_ok:
        torch.backends.cuda.matmul.allow_tf32 = False
        ta_, tb_ = torch.randn(n, n, device="cuda"), torch.randn(n, n, device="cuda")
        tt = timed(lambda: ta_ @ tb_, tsync)
        row += f" {flops / tt / 1e12:12.1f}"
    print(row, flush=True)

    x = ember.randn(8, backend=backend, requires_grad=True)
    cx = cupy.asarray(x.numpy())
    te = timed(lambda: x + x, sync, number=2000)
    tc = timed(lambda: cx + cx, sync, number=2000)
    row = f"{'add, 8 elements, grad (us)':36s} {te * 1e6:12.1f} {tc * 1e6:12.1f}"
    if torch_ok:
        tx = torch.randn(8, device="cuda", requires_grad=True)
        row += f" {timed(lambda: tx + tx, tsync, number=2000) * 1e6:12.1f}"
    print(row, flush=True)

    for batch in (64, 256, 4096):
        te = timed(mlp_step_ember(backend, batch), sync, number=50)
        row = f"{f'MLP 784-128-10 step, batch {batch} (us)':36s} {te * 1e6:12.1f} {'-':>12s}"
        if torch_ok:
            row += f" {timed(mlp_step_torch(batch), tsync, number=50) * 1e6:12.1f}"
        print(row, flush=True)


if __name__ == "__main__":
    main()
