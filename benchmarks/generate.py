"""Decoding with a Llama-family model: ember's Llama against transformers' LlamaForCausalLM
(PyTorch CPU, eager) with the same random weights, in alternation.

The shape is SmolLM2-135M's (576 wide, 30 layers, 9 query and 3 key/value heads, a
49152-token vocabulary, tied embeddings), in float32. Two rows per contender: the
prefill of a 128-token prompt, and one decoding step with the key/value cache holding
128 positions (the cost per generated token).

    python benchmarks/generate.py [--backend numpy] [--layers 30]
"""

import argparse
import os
import sys
import tempfile

import numpy as np

import ember
from ember.plugins.models import Llama, KeyValueCache

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import side_by_side  # noqa: E402

SHAPE = dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_attention_heads=9,
             num_key_value_heads=3, max_position_embeddings=2048, rope_theta=10000.0,
             tie_word_embeddings=True, rms_norm_eps=1e-5)
PROMPT = 128


def _pair(layers, backend):
    """(ember model, transformers model) with the same weights (written by ember, read
    by transformers), both in eval mode."""
    import torch
    import transformers
    ember.manual_seed(0)
    ours = Llama(num_hidden_layers=layers, **SHAPE).eval()
    with tempfile.TemporaryDirectory() as directory:
        ours.save_pretrained(directory)
        theirs = transformers.LlamaForCausalLM.from_pretrained(directory,
                                                               dtype=torch.float32).eval()
        ours = Llama.from_pretrained(directory, backend=backend)
    return ours, theirs


def rows(layers=30, backend="numpy"):
    """[(what, ember seconds, transformers seconds)] for the prefill and one decoding step."""
    import torch
    torch.set_num_threads(os.cpu_count())
    ours, theirs = _pair(layers, backend)
    ids = np.random.default_rng(0).integers(0, SHAPE["vocab_size"], (1, PROMPT))
    ours_ids, theirs_ids = ember.tensor(ids, backend=backend), torch.tensor(ids)
    sync = ember.get_backend(backend).synchronize
    with ember.no_grad(), torch.no_grad():         # the same work: the same logits
        got, want = ours(ours_ids).numpy(), theirs(theirs_ids).logits.numpy()
    assert np.abs(got - want).max() <= 1e-3 * np.abs(want).max(), "the models disagree"

    def ours_prefill():
        with ember.no_grad():
            ours(ours_ids)[:, -1].numpy()

    def theirs_prefill():
        with torch.no_grad():
            theirs(theirs_ids).logits[:, -1]

    cache = KeyValueCache()
    with ember.no_grad():
        ours(ours_ids, cache)
    step = ember.tensor(ids[:, :1], backend=backend)
    with torch.no_grad():
        theirs_cache = theirs(theirs_ids, use_cache=True).cache

    def ours_step():                    # the cache stays at 128: each call drops its token
        with ember.no_grad():
            ours(step, cache)[:, -1].numpy()
        for layer, (k, v) in cache.layers.items():
            cache.layers[layer] = (k[:, :, :PROMPT], v[:, :, :PROMPT])

    def theirs_step():
        with torch.no_grad():
            theirs(theirs_ids[:, :1], cache=theirs_cache, use_cache=True).logits
        theirs_cache.crop(-1)               # (drop the token just added)

    prefill = side_by_side([(ours_prefill, sync), (theirs_prefill, lambda: None)], repeat=5)
    decode = side_by_side([(ours_step, sync), (theirs_step, lambda: None)], repeat=7)
    return [(f"prefill {PROMPT} tokens", *prefill), (f"decode 1 token at {PROMPT}", *decode)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--layers", type=int, default=30)
    args = parser.parse_args(argv)
    print(f"Llama of SmolLM2-135M's shape, {args.layers} layers, float32, backend "
          f"{args.backend}; transformers on PyTorch CPU eager, {os.cpu_count()} threads")
    print(f"{'':26} {'ember ms':>10} {'torch ms':>10} {'ratio':>7}")
    for what, ours, theirs in rows(args.layers, args.backend):
        print(f"{what:26} {ours * 1e3:10.2f} {theirs * 1e3:10.2f} {ours / theirs:7.2f}")


if __name__ == "__main__":
    main()
