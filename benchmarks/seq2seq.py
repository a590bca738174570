"""Encoder-decoders: ember's Flan-T5 and Whisper against transformers' (PyTorch CPU, eager)
with the same random weights (written by transformers, read by ember), in alternation.

Shapes: flan-t5-small's (512 wide, 8 + 8 layers, 6 heads, gated GELU) and whisper-tiny's
(384 wide, 4 + 4 layers, 80 mel bins, 30 s of audio), float32. Rows: T5's encoder over
128 tokens and one decoding step with 32 tokens cached; Whisper's log-mel features of
30 s of audio (against transformers' NumPy feature extractor), its encoder, and one
decoding step with 32 tokens cached.

    python benchmarks/seq2seq.py [--backend numpy]
"""

import argparse
import os
import sys
import tempfile

import numpy as np

import ember
from ember.plugins.models import KeyValueCache, WhisperFeatureExtractor, from_pretrained

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import side_by_side  # noqa: E402

T5 = dict(vocab_size=32128, d_model=512, d_kv=64, d_ff=1024, num_layers=8, num_heads=6,
          feed_forward_proj="gated-gelu", tie_word_embeddings=False, dropout_rate=0.0)
WHISPER = dict(vocab_size=51865, d_model=384, encoder_layers=4, decoder_layers=4,
               encoder_attention_heads=6, decoder_attention_heads=6, encoder_ffn_dim=1536,
               decoder_ffn_dim=1536)


def _pair(config_class, model_class, fields, backend):
    import torch
    torch.manual_seed(0)
    theirs = model_class(config_class(**fields)).eval()
    with tempfile.TemporaryDirectory() as directory:
        theirs.save_pretrained(directory)
        ours = from_pretrained(directory, backend=backend)
    return ours, theirs


def _step_rows(name, ours, theirs, states_ours, states_theirs, start, backend):
    """One decoding step with 32 tokens cached, in both libraries."""
    import torch
    sync = ember.get_backend(backend).synchronize
    rng = np.random.default_rng(1)
    prefix = rng.integers(0, 1000, (1, 32))
    prefix[0, 0] = start
    cache = KeyValueCache()
    sources = ours.sources(states_ours)
    with ember.no_grad():
        ours.decode(ember.tensor(prefix, backend=backend), sources, cache=cache)
    held = {k: v for k, v in cache.layers.items()}
    token = ember.tensor([[5]], backend=backend)

    def ours_step():
        cache.layers = dict(held)
        with ember.no_grad():
            ours.decode(token, sources, cache=cache)

    with torch.no_grad():
        out = theirs(encoder_outputs=(states_theirs,), decoder_input_ids=torch.tensor(prefix),
                     use_cache=True)
    past = out.past_key_values

    def theirs_step():
        import copy
        with torch.no_grad():
            theirs(encoder_outputs=(states_theirs,), decoder_input_ids=torch.tensor([[5]]),
                   cache=copy.deepcopy(past), use_cache=True)
    return [(f"{name}: one decoding step, 32 cached", (ours_step, sync),
             (theirs_step, lambda: None))]


def _t5_rows(backend):
    import torch
    import transformers
    out = []
    sync = ember.get_backend(backend).synchronize
    ours, theirs = _pair(transformers.T5Config, transformers.T5ForConditionalGeneration, T5,
                         backend)
    ids = np.random.default_rng(0).integers(0, 32000, (1, 128))
    x, t = ember.tensor(ids, backend=backend), torch.tensor(ids)

    def ours_encode():
        with ember.no_grad():
            return ours.encode(x)

    def theirs_encode():
        with torch.no_grad():
            return theirs.encoder(input_ids=t).last_hidden_state
    out.append(("flan-t5-small: encoder, 128 tokens", (ours_encode, sync),
                (theirs_encode, lambda: None)))
    out += _step_rows("flan-t5-small", ours, theirs, ours_encode(), theirs_encode(), 0, backend)
    return out


def _whisper_rows(backend):
    import torch
    import transformers
    out = []
    sync = ember.get_backend(backend).synchronize
    ours, theirs = _pair(transformers.WhisperConfig, transformers.WhisperForConditionalGeneration,
                         WHISPER, backend)
    audio = [np.random.default_rng(2).standard_normal(480000).astype(np.float32) * 0.1]
    extract, reference = WhisperFeatureExtractor(), transformers.WhisperFeatureExtractor()
    out.append(("whisper: log-mel features, 30 s",
                (lambda: extract(audio, backend=backend), sync),
                (lambda: reference(audio, sampling_rate=16000, return_tensors="np"),
                 lambda: None)))
    features = extract(audio, backend=backend)["input_features"]
    tf = torch.tensor(features.numpy())

    def ours_encoder():
        with ember.no_grad():
            return ours.model.encoder(features)

    def theirs_encoder():
        with torch.no_grad():
            return theirs.model.encoder(tf).last_hidden_state
    out.append(("whisper-tiny: encoder, 30 s", (ours_encoder, sync), (theirs_encoder, lambda: None)))
    out += _step_rows("whisper-tiny", ours, theirs, ours_encoder(), theirs_encoder(), 50258,
                      backend)
    return out


def rows(backend="numpy"):
    return _t5_rows(backend) + _whisper_rows(backend)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy")
    args = parser.parse_args(argv)
    print(f"| work | ember:{args.backend} | transformers | ratio |\n|---|---|---|---|")
    for name, ours, theirs in rows(args.backend):
        a, b = side_by_side([ours, theirs], min_time=0.3, repeat=5)
        print(f"| {name} | {a * 1e3:.1f} ms | {b * 1e3:.1f} ms | {a / b:.2f}x |")


if __name__ == "__main__":
    main()
