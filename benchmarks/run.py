"""`make bench`: every workload side by side in one run (hand-written NumPy, ember
on each available backend, PyTorch CPU when installed); prints medians and
ratios and rewrites docs/performance.md.

    python benchmarks/run.py [--backend numpy] [--quick] [--no-write]
"""

import argparse
import json
import os
import platform
import subprocess
import sys

import numpy as np

import ember
from ember import host

sys.path.insert(0, os.path.dirname(__file__))
import attention  # noqa: E402
import generate  # noqa: E402
import gpt  # noqa: E402
import onnx_resnet  # noqa: E402
import per_sample_grads  # noqa: E402
from timing import median_time, side_by_side  # noqa: E402,F401  (others import them here)
import tuning  # noqa: E402
import workloads  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _torch():
    try:
        import torch
        torch.set_num_threads(os.cpu_count() or 1)
        return torch
    except ImportError:
        return None


def rows_for(backends, quick):
    """(workload, unit, numpy_fn, {backend: fn}, torch_fn or None), built lazily."""
    torch = _torch()
    scale = 0.3 if quick else 1.0
    out = []

    def add_op(name, shape, op, grad):
        def np_case():
            a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
            b = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
            return lambda: op(a, b)

        def em_case(b):
            x = ember.randn(*shape, backend=b, requires_grad=grad)
            y = ember.randn(*shape, backend=b, requires_grad=grad)
            return lambda: op(x, y)

        def th_case():
            x, y = torch.randn(*shape, requires_grad=grad), torch.randn(*shape, requires_grad=grad)
            return lambda: op(x, y)
        out.append((name, "us", np_case, em_case, th_case if torch else None))

    add_op("add 8 elements", (8,), lambda a, b: a + b, False)
    add_op("add 8 elements, with grad", (8,), lambda a, b: a + b, True)
    for n in (256, 1024, 2048):
        add_op(f"matmul {n}", (n, n), lambda a, b: a @ b, False)
    for batch in (64, 256):
        out.append((f"MLP 784-128-10 SGD step, batch {batch}", "us",
                    lambda b=batch: workloads.numpy_mlp(b),
                    lambda be, b=batch: workloads.ember_mlp(b, be),
                    (lambda b=batch: workloads.torch_mlp(b)) if torch else None))
    out.append(("CNN step (conv 1->8 3x3, pool, linear), batch 64", "us",
                lambda: workloads.numpy_cnn(64), lambda be: workloads.ember_cnn(64, be),
                (lambda: workloads.torch_cnn(64)) if torch else None))
    for label, model, shape, np_fn, th_fn in (
            ("MLP step, batch 64", workloads.mlp, (64, 784), lambda: workloads.numpy_mlp(64),
             lambda: workloads.torch_mlp(64)),
            ("MLP step, batch 256", workloads.mlp, (256, 784), lambda: workloads.numpy_mlp(256),
             lambda: workloads.torch_mlp(256)),
            ("CNN step, batch 64", workloads.cnn, (64, 1, 28, 28), lambda: workloads.numpy_cnn(64),
             lambda: workloads.torch_cnn(64))):
        out.append((f"{label}, ember.compile", "us", np_fn,
                    lambda be, m=model, sh=shape: _warm(workloads.ember_step(m, sh, be, compiled=True)),
                    th_fn if torch else None))
    n = 4 * 2 ** 20
    out.append(("8 elementwise ops on 4M float32", "us",
                lambda: workloads.chain_with(np, np.random.default_rng(0).standard_normal(n, np.float32)),
                lambda be: workloads.ember_chain(n, be),
                (lambda: workloads.chain_with(torch, torch.randn(n))) if torch else None))
    out.append(("8 elementwise ops on 4M float32, ember.compile", "us", out[-1][2],
                lambda be: _warm(workloads.ember_chain(n, be, compiled=True)), out[-1][4]))
    return out, torch, scale


def _warm(step):
    """A compiled step past its two traces and first replay (which builds the kernels)."""
    for _ in range(3):
        step()
    return step


def digits_epoch(backend):
    from ember.plugins import nn, optim
    from ember.plugins.data import DataLoader, load_digits, scale
    from ember.plugins.train import Trainer
    ember.manual_seed(0)
    data = load_digits().map(lambda x: scale(x, 16.0))
    with ember.backend(backend):
        model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10))
    opt = optim.Adam(model.parameters(), lr=2e-3)
    loader = DataLoader(data, batch_size=64, shuffle=True, seed=0, backend=backend)
    trainer = Trainer(progress=False)
    return lambda: trainer.fit(model, "cross_entropy", opt, loader, epochs=1)


def throughput(backends, min_time):
    """matmul GFLOP/s (512, 1024, 2048) and a 16M-element float32 add in GB/s (reads and
    writes counted), NumPy and each backend side by side."""
    rows = []
    for n in (512, 1024, 2048):
        a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
        cells = [f"matmul {n} (GFLOP/s)", f"{2 * n ** 3 / median_time(lambda: a @ a, min_time=min_time, repeat=3) / 1e9:.1f}"]
        for b in backends:
            t = ember.tensor(a, backend=b)
            be = ember.get_backend(b)
            cells.append(f"{2 * n ** 3 / median_time(lambda: t @ t, be.synchronize, min_time, 3) / 1e9:.1f}")
        rows.append(cells)
    x = np.random.default_rng(1).standard_normal(16 * 2 ** 20).astype(np.float32)
    moved = 3 * x.nbytes / 1e9
    cells = ["add 16M float32 (GB/s)", f"{moved / median_time(lambda: x + x, min_time=min_time, repeat=3):.1f}"]
    for b in backends:
        t = ember.tensor(x, backend=b)
        be = ember.get_backend(b)
        cells.append(f"{moved / median_time(lambda: t + t, be.synchronize, min_time, 3):.1f}")
    rows.append(cells)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append")
    parser.add_argument("--quick", action="store_true", help="shorter timing runs")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite docs/performance.md")
    args = parser.parse_args(argv)
    backends = args.backend or [n for n in ember.registry.names("backends")
                                if ember.config.availability(n)[0]]
    rows, torch, scale = rows_for(backends, args.quick)
    min_time = 0.2 * scale
    header = ["workload", "NumPy (hand)"] + [f"ember:{b}" for b in backends] + ["PyTorch"] + \
        [f"ember:{b} / NumPy" for b in backends] + ([f"ember:{b} / PyTorch" for b in backends]
                                                    if torch else [])
    table = []
    print(" | ".join(header), flush=True)
    no_sync = lambda: None      # noqa: E731
    for name, unit, np_fn, em_fn, th_fn in rows:
        contenders = [(np_fn(), no_sync)] + [(em_fn(b), ember.get_backend(b).synchronize)
                                             for b in backends]
        if th_fn:
            contenders.append((th_fn(), no_sync))
        times = [t * 1e6 for t in side_by_side(contenders, min_time)]
        base, ours = times[0], dict(zip(backends, times[1:]))
        theirs = times[len(backends) + 1] if th_fn else None
        cells = [name, f"{base:.1f}"] + [f"{ours[b]:.1f}" for b in backends] + \
            [f"{theirs:.1f}" if theirs else "-"] + [f"{ours[b] / base:.2f}x" for b in backends]
        if torch:
            cells += [f"{ours[b] / theirs:.2f}x" for b in backends]
        table.append(cells)
        print(" | ".join(cells), flush=True)
    epoch_rows = []
    for b in backends:
        t = median_time(digits_epoch(b), ember.get_backend(b).synchronize, min_time=min_time, repeat=3)
        epoch_rows.append(f"| one epoch of the digits demo (1,797 samples, batch 64) | ember:{b} | {t * 1e3:.0f} ms |")
        print(f"digits epoch on {b}: {t * 1e3:.0f} ms", flush=True)
    rates = throughput(backends, min_time)
    for row in rates:
        print(" | ".join(row), flush=True)
    tuned = [f"| ember:{b} | {n} | {state} | {first:.2f} s | {ours:.1f} | {theirs:.1f} | "
             f"{ours / theirs:.2f}x |" for b, n, state, first, ours, theirs in tuning.rows(backends)]
    print("\n".join(tuned), flush=True)
    attended = []
    for n, times in attention.rows(backends, (128, 512) if args.quick else (128, 512, 2048)):
        theirs = times.get("torch")
        attended.append(f"| {n} | " + " | ".join(
            f"{times[f'ember:{b}'] * 1e3:.2f} ms" + (f" ({times[f'ember:{b}'] / theirs:.2f}x)"
                                                     if theirs else "") for b in backends)
            + (f" | {theirs * 1e3:.2f} ms |" if theirs else " | - |"))
        print(attended[-1], flush=True)
    per_sample = []
    for n, times in per_sample_grads.rows(backends, (64, 256), min_time=min_time):
        hand = times["numpy by hand"]
        per_sample += [f"| {n} | {name} | {t * 1e3:.2f} ms | {t / hand:.2f}x |"
                       for name, t in times.items()]
    print("\n".join(per_sample), flush=True)
    stepped = gpt.rows(backends, min_time=min_time)
    tokens = 16 * 128
    gpt_rows = [f"| {name} | {t * 1e3:.0f} ms | {tokens / t:,.0f} | " + " | ".join(
                    f"{t / stepped[them]:.2f}x" if them in stepped else "-"
                    for them in ("torch", "torch compiled")) + " |"
                for name, t in stepped.items()]
    print("\n".join(gpt_rows), flush=True)
    decoded = []
    if torch is not None:
        for b in backends:
            if b == "wgpu":         # (llvmpipe: minutes a row for 135M parameters' GEMVs)
                continue
            decoded += [f"| ember:{b} | {what} | {ours * 1e3:.1f} ms | {theirs * 1e3:.1f} ms | "
                        f"{ours / theirs:.2f}x |" for what, ours, theirs in generate.rows(backend=b)]
        print("\n".join(decoded), flush=True)
    resnet_rows = []
    if torch is not None and not args.quick:
        resnet_rows = resnet_table(backends)
        print("\n".join(" | ".join(row) for row in resnet_rows), flush=True)
    if not args.no_write:
        write_doc(header, table, epoch_rows, torch, ["throughput", "NumPy"]
                  + [f"ember:{b}" for b in backends], rates, tuned,
                  (["length"] + [f"ember:{b}" for b in backends] + ["PyTorch"], attended),
                  gpt_rows, decoded, resnet_rows, per_sample)


def resnet_table(backends):
    """ResNet-18's rows, each backend in a process of its own beside onnxruntime, PyTorch
    and the GEMMs alone, then MobileNetV3-small's on numpy: in one process the numpy
    backend's forward took twice as long right after OpenCL's (1.3 s against 0.7 at
    batch 32, seconds later still 0.9: the memory the other left behind, not threads)."""
    table = [["model", "backend", "batch", "onnxruntime", "ember", "PyTorch", "GEMMs only"]]
    runs = [("resnet18", b) for b in backends]
    runs += [("mobilenet_v3_small", "numpy")] if "numpy" in backends else []
    for model, b in runs:
        done = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "onnx_resnet.py"),
                               "--backend", b, "--model", model, "--json"],
                              capture_output=True, text=True)
        if done.returncode:
            print(f"{model} on {b} failed:\n{done.stderr[-2000:]}", flush=True)
            continue
        for batch, times in json.loads(done.stdout.splitlines()[-1])["rows"]:
            cells = onnx_resnet.cells(batch, times, ["onnxruntime", f"ember:{b}", "torch",
                                                     "GEMMs only"])
            table.append([model, f"ember:{b}"] + cells)
    return table


def write_doc(header, table, epoch_rows, torch, rate_header, rates, tuned, attended, gpt_rows,
              decoded, resnet_rows, per_sample):
    lines = ["# Performance", "",
             "Written by `make bench` (`benchmarks/run.py`); every figure in one run on one machine,",
             "median microseconds per call (lower is better), float32. Ratios divide ember's time",
             "by the other's: below 1.0x ember is faster. The contenders of a row are timed in",
             "alternation, seven rounds, so a slow spell of the (shared) machine falls on all alike.", "",
             f"Machine: {platform.machine()}, {host.describe()}, Python "
             f"{platform.python_version()}, NumPy {np.__version__} (BLAS: {host.blas()})"
             + (f", PyTorch {torch.__version__}" if torch else ", PyTorch not installed") + ".", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in table]
    lines += ["", "| workload | backend | time |", "|---|---|---|"] + epoch_rows + [""]
    lines += ["| " + " | ".join(rate_header) + " |", "|" + "---|" * len(rate_header)]
    lines += ["| " + " | ".join(row) + " |" for row in rates] + [""]
    lines += ["Kernel tuning (`benchmarks/tuning.py`): a backend's first large matmul in a fresh",
              "process with an empty tuning cache searches its tilings (cold: the first call",
              "includes the search), then a second process finds them kept (warm).", "",
              "| backend | matmul | cache | first call | GFLOP/s | NumPy GFLOP/s | ember / NumPy |",
              "|---|---|---|---|---|---|---|"] + tuned + [""]
    lines += ["Attention forward + backward (`benchmarks/attention.py`): causal, 8 heads of 64",
              "features, batch 1; ember's ratio to PyTorch CPU's scaled_dot_product_attention.", "",
              "| " + " | ".join(attended[0]) + " |", "|" + "---|" * len(attended[0])] \
        + attended[1] + [""]
    lines += ["Per-sample gradients (`benchmarks/per_sample_grads.py`): an MLP classifier",
              "(784-128-10) differentiated sample by sample over a batch, by",
              "`ember.func.vmap(ember.func.grad(loss))` (one batched pass), that pass under",
              "`ember.compile`, and `grad` in a loop over the samples, against torch.func's",
              "vmap(grad) and the gradients written by hand in NumPy (the ratio's base).", "",
              "| batch | contender | time | ratio to NumPy by hand |", "|---|---|---|---|"] \
        + per_sample + [""]
    lines += ["The GPT of `examples/char_gpt.py` (`benchmarks/gpt.py`): one training step of its",
              "default config (4 layers, 128 wide, 16 sequences of 128 bytes: forward,",
              "cross-entropy, backward, clipping, AdamW) against the same model in PyTorch CPU,",
              "eager and with its forward through torch.compile (inductor).",
              "`python benchmarks/gpt.py --train` compares the two learning curves.", "",
              "| contender | step | tokens/s | ratio to PyTorch | to PyTorch compiled |",
              "|---|---|---|---|---|"] \
        + gpt_rows + [""]
    if decoded:
        lines += ["Decoding with a Llama of SmolLM2-135M's shape (`benchmarks/generate.py`: 30",
                  "layers, 576 wide, tied embeddings, float32, random weights) against",
                  "transformers' LlamaForCausalLM with the same weights on PyTorch CPU, eager:",
                  "the prefill of a 128-token prompt, and one step with 128 positions cached",
                  "(the time per generated token; it reads every weight once, so memory",
                  "bandwidth bounds both).", "",
                  "| backend | work | ember | transformers | ratio |", "|---|---|---|---|---|"] \
            + decoded + [""]
    if resnet_rows:
        lines += ["ResNet-18 and MobileNetV3-small inference from ONNX",
                  "(`benchmarks/onnx_resnet.py`): 224 x 224 images per second (higher is",
                  "better), ember.plugins.onnx against onnxruntime CPU (ratio: time over",
                  "onnxruntime's), PyTorch CPU eager and ResNet's convolution GEMMs alone",
                  "(numpy.matmul on ready windows); each backend in a process of its own with",
                  "the others beside it.", "",
                  "| " + " | ".join(resnet_rows[0]) + " |", "|" + "---|" * len(resnet_rows[0])] \
            + ["| " + " | ".join(row) + " |" for row in resnet_rows[1:]] + [""]
    lines += ["Workloads (benchmarks/workloads.py): the MLP and CNN steps are forward,",
              "cross-entropy, backward and a plain SGD update; the hand-written NumPy versions",
              "derive the gradients by hand (the CNN as one GEMM over as_strided windows, its",
              "pool as the maximum of four strided slices).",
              "GPU figures (CuPy against PyTorch CUDA on an H200): [gpu.md](gpu.md).", ""]
    from ember.io import atomic_write
    atomic_write(os.path.join(ROOT, "docs", "performance.md"), "\n".join(lines).encode())


if __name__ == "__main__":
    main()
