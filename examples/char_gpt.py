"""Train a small byte-level GPT on the Python standard library's source, then sample from it.

The text is every machine's own: the running Python's Lib/*.py, in sorted order, with
every tenth file held out for validation (whole files, so validation is unseen code).
``--text FILE`` trains on any other text (its last tenth is held out). Losses are in
bits per byte. AdamW with a warmup and a cosine decay, gradient clipping and dropout;
``--compile`` replays each step as one graph; ``--precision bf16`` (or fp16, with loss
scaling) runs forward passes under ember.autocast, parameters staying float32.
Checkpoints go to --out, and the final model is written in Hugging Face's layout
(GPT2.save_pretrained).

    python examples/char_gpt.py                 # the default config, on EMBER_BACKEND
    python examples/char_gpt.py --steps 50 --text README.md
"""

import argparse
import math
import os
import sys
import time

import numpy as np
from tqdm import tqdm

import ember
from ember.plugins import optim
from ember.plugins.data import random_windows, text_corpus
from ember.plugins.losses import cross_entropy
from ember.plugins.models import GPT2, ByteTokenizer
from ember.plugins.serializers import CheckpointManager

#: the default config: about 0.8M parameters, a few minutes on two CPU cores
DEFAULTS = {"steps": 600, "batch_size": 16, "context": 128, "n_layer": 4, "n_head": 4,
            "n_embd": 128, "dropout": 0.1, "lr": 3e-3, "min_lr_ratio": 0.1, "warmup": 0.1,
            "weight_decay": 0.1, "clip": 1.0, "eval_every": 100, "eval_batches": 8, "seed": 0}


def parser():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--text", help="train on this text file instead of the standard library")
    for key, value in DEFAULTS.items():
        p.add_argument("--" + key.replace("_", "-"), type=type(value), default=value)
    p.add_argument("--compile", action="store_true", help="replay each step as one graph")
    p.add_argument("--precision", choices=ember.amp.PRECISIONS, default="fp32",
                   help="bf16/fp16: matmuls and attention in 16 bits under ember.autocast")
    p.add_argument("--out", default="runs/char_gpt", help="folder for checkpoints and the model")
    p.add_argument("--sample", type=int, default=200,
                   help="bytes to sample at the end (at most the context's length)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def build(args, vocab_size):
    return GPT2(vocab_size=vocab_size, n_positions=args.context, n_embd=args.n_embd,
                n_layer=args.n_layer, n_head=args.n_head, resid_pdrop=args.dropout,
                embd_pdrop=args.dropout, attn_pdrop=args.dropout)


def parameter_groups(model, weight_decay):
    """Weight decay on matrices (and the embedding), none on biases and norms, as GPT-2."""
    decay = [p for p in model.parameters() if p.ndim >= 2]
    rest = [p for p in model.parameters() if p.ndim < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": rest, "weight_decay": 0.0}]


def setup(args, vocab_size):
    """(model, AdamW, schedule) as the arguments say; the warmup is a fraction of the steps."""
    model = build(args, vocab_size)
    opt = optim.AdamW(parameter_groups(model, args.weight_decay), lr=args.lr, betas=(0.9, 0.95))
    schedule = optim.CosineWithWarmupLR(opt, round(args.warmup * args.steps), args.steps,
                                        args.min_lr_ratio)
    return model, opt, schedule


def training_step(model, opt, clip, precision="fp32"):
    """step(ids, next_ids) -> loss: forward, cross-entropy, backward, clipping, update;
    with fp16 the loss is scaled (GradScaler) and the gradients unscaled before clipping."""
    scaler = optim.GradScaler(enabled=precision == "fp16")   # disabled: passes through

    def step(x, y):
        with ember.amp.precision(precision):
            logits = model(x)
            loss = cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad()
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        optim.clip_grad_norm_(model.parameters(), clip)
        scaler.step(opt)
        scaler.update()
        return loss
    return step


def validation_batches(data, args):
    """The same windows at every evaluation (and in any framework compared with this one)."""
    rng = np.random.default_rng(1234)
    return [random_windows(data, rng, args.batch_size, args.context)
            for _ in range(args.eval_batches)]


def bits(loss):
    return loss / math.log(2)


def evaluate(model, data, args, backend):
    """Mean validation loss (bits/byte) over fixed windows, so every call sees the same."""
    model.eval()
    total = 0.0
    with ember.no_grad(), ember.amp.precision(args.precision):
        for x, y in validation_batches(data, args):
            logits = model(ember.tensor(x, backend=backend))
            total += cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                   ember.tensor(y.reshape(-1), backend=backend)).item()
    model.train()
    return bits(total / args.eval_batches)


def train(argv=None, out=sys.stdout):
    """Train as the arguments say; returns the history {step: (train, val)} in bits/byte
    and the seconds a step took (evaluation aside)."""
    args = parser().parse_args(argv)
    ember.manual_seed(args.seed)
    backend = ember.get_backend()
    train_data, val_data, described = text_corpus(args.text)
    tokenizer = ByteTokenizer()
    model, opt, schedule = setup(args, tokenizer.vocab_size)
    print(f"{described}\nGPT2 of {model.num_parameters():,} parameters ({args.n_layer} layers, "
          f"{args.n_head} heads, {args.n_embd} wide, context {args.context}) on backend "
          f"{backend.device}{', compiled' if args.compile else ''}"
          f"{'' if args.precision == 'fp32' else ', ' + args.precision + ' autocast'}", file=out)

    step = training_step(model, opt, args.clip, args.precision)
    run_step = ember.compile(step) if args.compile else step
    checkpoints = CheckpointManager(os.path.join(args.out, "checkpoints"), keep_last=2,
                                    metric="val_bits_per_byte")
    rng, history, spent = np.random.default_rng(args.seed), {}, 0.0
    bar = tqdm(range(1, args.steps + 1), disable=args.quiet, unit="step", file=sys.stderr,
               dynamic_ncols=True)
    for i in bar:
        x, y = random_windows(train_data, rng, args.batch_size, args.context)
        start = time.perf_counter()
        loss = run_step(ember.tensor(x, backend=backend), ember.tensor(y, backend=backend))
        schedule.step()
        backend.synchronize()
        spent += time.perf_counter() - start
        if i % args.eval_every == 0 or i == args.steps:
            train_bits, val_bits = bits(loss.item()), evaluate(model, val_data, args, backend)
            history[i] = (train_bits, val_bits)
            bar.set_postfix({"train": f"{train_bits:.3f}", "val": f"{val_bits:.3f}"})
            tqdm.write(f"step {i}: train {train_bits:.3f} bits/byte, validation {val_bits:.3f}",
                       file=out)
            checkpoints.save(model, opt, schedule, step=i, config=vars(args),
                             metrics={"val_bits_per_byte": val_bits})
    tokens = args.steps * args.batch_size * args.context
    print(f"{args.steps} steps in {spent:.1f} s (evaluation aside): {spent / args.steps * 1e3:.0f} "
          f"ms a step, {tokens / spent:,.0f} tokens/s", file=out)
    model.save_pretrained(os.path.join(args.out, "model"))
    print(f"model (Hugging Face layout): {os.path.join(args.out, 'model')}", file=out)
    if args.sample:
        model.eval()
        prompt = "def "
        ids = ember.tensor([tokenizer.encode(prompt)], backend=backend)
        more = min(args.sample, args.context - ids.shape[1])
        text = tokenizer.decode(model.generate(ids, more, temperature=0.8, top_k=40,
                                               seed=args.seed).numpy()[0])
        print(f"sample ({more} bytes after {prompt!r}):\n{text}", file=out)
    return history, spent / args.steps


if __name__ == "__main__":
    train()
