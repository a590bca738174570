"""What the tests that hold ember's models to Hugging Face transformers share: the error
relative to the largest reference value, and the check of every parameter's gradient."""

import numpy as np


def rel(got, want):
    """max |got - want| over max |want|, in float64."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return np.abs(got - want).max() / np.abs(want).max()


def assert_gradients_close(got, want, bound=1e-4):
    """Each parameter's gradient (``got`` and ``want``: name -> array) within ``bound`` of
    PyTorch's, relative to its largest entry; one that is zero but for rounding (a key's
    bias, whose score shift every softmax row cancels) near zero here too."""
    biggest = max(np.abs(g).max() for g in want.values())
    for name, grad in got.items():
        if np.abs(want[name]).max() < 1e-9 * biggest:
            assert np.abs(grad).max() < 1e-9 * biggest, name
        else:
            assert rel(grad, want[name]) < bound, name


def assert_outputs_and_gradients_match(model, reference, got, want, bound=2e-5):
    """ember's output ``got`` within ``bound`` of transformers' ``want``; then the gradient
    of a weighted sum of each, for every parameter of ``model`` that the reference's
    backward reaches, within 1e-4 (the reference's gradients zeroed first: one reference
    serves every backend)."""
    import torch

    import ember
    assert tuple(got.shape) == tuple(want.shape)
    assert rel(got.numpy(), want.detach().numpy()) < bound
    weights = np.random.default_rng(1).standard_normal(got.shape).astype(np.float32)
    (got * ember.tensor(weights, backend=got.backend)).sum().backward()
    reference.zero_grad()
    (want * torch.tensor(weights)).sum().backward()
    named = dict(reference.named_parameters())
    grads = {n: p.grad.numpy() for n, p in model.named_parameters()
             if n in named and named[n].grad is not None}
    assert_gradients_close(grads, {n: named[n].grad.numpy() for n in grads}, bound=1e-4)
    return grads


def greedy_reference(reference, start, steps, **inputs):
    """A plain greedy loop over transformers' encoder-decoder: each step's likeliest
    token appended to the decoder ids, (batch, 1 + steps), starting from ``start``."""
    import torch
    batch = len(next(iter(inputs.values())))
    tokens = torch.full((batch, 1), start, dtype=torch.long)
    with torch.no_grad():
        for _ in range(steps):
            logits = reference(**inputs, decoder_input_ids=tokens).logits
            tokens = torch.cat([tokens, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return tokens.numpy()
