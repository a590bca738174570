"""The GPT of examples/char_gpt.py against the same model written in PyTorch CPU.

``rows()`` times one training step (forward, cross-entropy, backward, clipping, AdamW) of
the default config on each backend, eager and compiled, beside PyTorch's, eager and with
its forward through torch.compile (inductor's C++ kernels), in alternation.
``--train`` runs the whole default schedule in both frameworks from the same initial
weights and the same batches, and prints both validation curves and the time per step.

    python benchmarks/gpt.py [--backend numpy]            # step times
    python benchmarks/gpt.py --backend cupy --torch-device cuda   # on an NVIDIA GPU
    python benchmarks/gpt.py --backend cupy --torch-device cuda --precision bf16
    python benchmarks/gpt.py --train [--steps 600]        # both learning curves
"""

import argparse
import math
import os
import sys
import time

import numpy as np

import ember
from ember.plugins.data import random_windows, text_corpus

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "examples")]
import char_gpt  # noqa: E402
from timing import side_by_side  # noqa: E402


def _args(argv=()):
    return char_gpt.parser().parse_args(list(argv))


def torch_twin(model, args, compiled=False, device="cpu"):
    """The same GPT in PyTorch (the same module tree, so ember's weights load by key) on
    ``device``; ``compiled``: its forward (and so its backward) through torch.compile;
    ``args.precision`` "bf16" or "fp16": the forward under torch.autocast."""
    import torch
    from torch import nn
    fn = nn.functional

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(args.n_embd, 3 * args.n_embd)
            self.c_proj = nn.Linear(args.n_embd, args.n_embd)

        def forward(self, x):
            b, t, e = x.shape
            q, k, v = (z.view(b, t, args.n_head, -1).transpose(1, 2)
                       for z in self.c_attn(x).split(e, dim=2))
            y = fn.scaled_dot_product_attention(q, k, v, is_causal=True,
                                                dropout_p=args.dropout if self.training else 0)
            return fn.dropout(self.c_proj(y.transpose(1, 2).reshape(b, t, e)), args.dropout,
                              self.training)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(args.n_embd, 4 * args.n_embd)
            self.c_proj = nn.Linear(4 * args.n_embd, args.n_embd)

        def forward(self, x):
            return fn.dropout(self.c_proj(fn.gelu(self.c_fc(x), approximate="tanh")),
                              args.dropout, self.training)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.attn = nn.LayerNorm(args.n_embd), Attention()
            self.ln_2, self.mlp = nn.LayerNorm(args.n_embd), MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class Body(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(256, args.n_embd)
            self.wpe = nn.Embedding(args.context, args.n_embd)
            self.h = nn.ModuleList(Block() for _ in range(args.n_layer))
            self.ln_f = nn.LayerNorm(args.n_embd)

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = Body()

        def forward(self, ids):
            body = self.transformer
            x = body.wte(ids) + body.wpe(torch.arange(ids.shape[1], device=ids.device))
            x = fn.dropout(x, args.dropout, self.training)
            for block in body.h:
                x = block(x)
            return body.ln_f(x) @ body.wte.weight.T

    twin = GPT()
    twin.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    twin.to(device)
    decay = [p for p in twin.parameters() if p.ndim >= 2]
    rest = [p for p in twin.parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    warmup = round(args.warmup * args.steps)

    def factor(t):      # written out again here: the schedule is compared, not shared
        if t < warmup:
            return t / warmup
        done = (t - warmup) / max(1, args.steps - warmup)
        return args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * done))
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, factor)

    forward = torch.compile(twin) if compiled else twin

    low = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.precision)

    def step(x, y):
        with torch.autocast(x.device.type, dtype=low, enabled=low is not None):
            logits = forward(x)
            loss = fn.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(twin.parameters(), args.clip)
        opt.step()
        schedule.step()
        return loss
    return twin, step


def _ember_step(backend, compiled, args, x, y):
    with ember.backend(backend):
        ember.manual_seed(args.seed)
        model, opt, _ = char_gpt.setup(args, 256)
    step = char_gpt.training_step(model, opt, args.clip, args.precision)
    fn = ember.compile(step) if compiled else step
    xt, yt = ember.tensor(x, backend=backend), ember.tensor(y, backend=backend)
    return (lambda: fn(xt, yt)), ember.get_backend(backend).synchronize


def rows(backends, min_time=1.0, torch_device="cpu", precision="fp32"):
    """{contender: seconds per step} for the default config's step, in alternation (the
    PyTorch twin's on ``torch_device``), under each framework's autocast at ``precision``
    "bf16" or "fp16"."""
    args = _args(["--precision", precision])
    x, y = random_windows(np.frombuffer(bytes(range(256)) * 64, np.uint8),
                          np.random.default_rng(0), args.batch_size, args.context)
    names, cases = [], []
    for b in backends:
        for compiled in (False, True):
            names.append(f"ember:{b}{' compiled' if compiled else ''}")
            cases.append(_ember_step(b, compiled, args, x, y))
    try:
        import torch
        tx, ty = torch.tensor(x, device=torch_device), torch.tensor(y, device=torch_device)
        sync = torch.cuda.synchronize if torch_device.startswith("cuda") else (lambda: None)
        for compiled in (False, True):
            ember.manual_seed(args.seed)
            _, step = torch_twin(char_gpt.build(args, 256), args, compiled, torch_device)
            names.append("torch compiled" if compiled else "torch")
            cases.append(((lambda step=step: step(tx, ty)), sync))
    except ImportError:
        pass
    for fn, sync in cases:      # compiled: two traces, then replays that build kernels
        for _ in range(4):
            fn()
        sync()
    return dict(zip(names, side_by_side(cases, min_time=min_time, repeat=3)))


def train_both(steps=None):
    """Both frameworks through the default schedule from the same weights and batches:
    {name: ({step: validation bits/byte}, seconds per step)}."""
    import torch
    args = _args(["--steps", str(steps)] if steps else [])
    train_data, val_data, _ = text_corpus()
    ember.manual_seed(args.seed)
    model = char_gpt.build(args, 256)
    twin, torch_step = torch_twin(model, args)
    torch.manual_seed(args.seed)
    history, per_step = char_gpt.train(["--steps", str(args.steps), "--compile", "--quiet",
                                        "--sample", "0", "--out", "runs/gpt_bench"],
                                       out=sys.stderr)
    curves = {"ember compiled": ({k: v[1] for k, v in history.items()}, per_step)}
    rng, curve, spent = np.random.default_rng(args.seed), {}, 0.0
    for i in range(1, args.steps + 1):
        x, y = random_windows(train_data, rng, args.batch_size, args.context)
        start = time.perf_counter()
        torch_step(torch.tensor(x), torch.tensor(y))
        spent += time.perf_counter() - start
        if i % args.eval_every == 0 or i == args.steps:
            twin.eval()
            with torch.no_grad():
                total = sum(torch.nn.functional.cross_entropy(
                    twin(torch.tensor(vx)).reshape(-1, 256), torch.tensor(vy).reshape(-1)).item()
                    for vx, vy in char_gpt.validation_batches(val_data, args))
            twin.train()
            curve[i] = char_gpt.bits(total / args.eval_batches)
    curves["torch"] = (curve, spent / args.steps)
    return curves


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", action="append", help="default: every available backend")
    p.add_argument("--train", action="store_true", help="both learning curves, whole schedule")
    p.add_argument("--steps", type=int)
    p.add_argument("--torch-device", default="cpu", help="PyTorch's device (cuda on a GPU)")
    p.add_argument("--precision", choices=ember.amp.PRECISIONS, default="fp32",
                   help="the step under autocast (bf16, fp16), in both frameworks")
    a = p.parse_args()
    if a.train:
        for name, (curve, per_step) in train_both(a.steps).items():
            shown = ", ".join(f"{k}: {v:.3f}" for k, v in curve.items())
            print(f"{name}: validation bits/byte {shown}; {per_step * 1e3:.0f} ms a step")
    else:
        names = a.backend or [n for n in ember.registry.names("backends")
                              if ember.config.availability(n)[0]]
        for name, seconds in rows(names, torch_device=a.torch_device,
                                  precision=a.precision).items():
            print(f"{name:24s} {seconds * 1e3:8.1f} ms a step")
