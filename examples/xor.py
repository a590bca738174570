"""Train a 2-8-1 network on XOR with raw ember tensors and autograd.

Runs on the default backend (EMBER_BACKEND picks another): `make demo`.
"""

import os
import sys

import ember


def train(steps=2000, lr=0.5, seed=0, log_every=200, out=sys.stdout):
    ember.manual_seed(seed)
    x = ember.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = ember.tensor([[0.0], [1.0], [1.0], [0.0]])
    w1 = (ember.randn(2, 8) * 1.0).requires_grad_()
    b1 = ember.zeros(8, requires_grad=True)
    w2 = (ember.randn(8, 1) * 0.5).requires_grad_()
    b2 = ember.zeros(1, requires_grad=True)
    params = [w1, b1, w2, b2]
    print(f"training XOR on backend {x.device} for {steps} steps", file=out)
    for step in range(1, steps + 1):
        hidden = ember.tanh(x @ w1 + b1)
        pred = ember.sigmoid(hidden @ w2 + b2)
        loss = ((pred - y) ** 2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with ember.no_grad():
            for p in params:
                p -= lr * p.grad
        if step % log_every == 0 or step == 1:
            print(f"step {step:5d}  loss {loss.item():.5f}", file=out)
    with ember.no_grad():
        pred = ember.sigmoid(ember.tanh(x @ w1 + b1) @ w2 + b2)
    print("predictions:", file=out)
    for inp, p, t in zip(x.tolist(), pred.numpy().ravel(), y.numpy().ravel()):
        print(f"  {inp[0]:.0f} xor {inp[1]:.0f} -> {p:.3f}  (target {t:.0f})", file=out)
    return loss.item(), pred.numpy().ravel()


if __name__ == "__main__":
    train(steps=int(os.environ.get("XOR_STEPS", 2000)))
