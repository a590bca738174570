"""ResNet-18 (or MobileNetV3-small) inference from ONNX, in images per second:
ember.plugins.onnx on each backend against onnxruntime CPU and PyTorch CPU, side by side
in one run (contenders in alternation). The models are torchvision's architectures with
random weights (tests/torch_vision_models.py), exported by torch.onnx.export;
onnxruntime is a yardstick here, never a dependency of ember.

The contender "GEMMs only" (ResNet-18) is a floor for any convolution built on NumPy's
BLAS: just the model's 20 convolution GEMMs, (out, in*kh*kw) @ (in*kh*kw, batch*OH*OW)
with numpy.matmul on ready windows, without the window copies or anything else of the
forward.

    python benchmarks/onnx_resnet.py [--backend numpy] [--batches 1 32] [--size 224]
                                     [--model mobilenet_v3_small]
"""

import argparse
import io
import json
import os
import sys
import warnings

import numpy as np

import ember

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, ROOT)
from timing import side_by_side  # noqa: E402


MODELS = ("resnet18", "mobilenet_v3_small")


def _model(size, name="resnet18"):
    import torch
    from tests.torch_vision_models import MobileNetV3Small, ResNet18, with_running_statistics
    torch.manual_seed(0)
    model = with_running_statistics(ResNet18() if name == "resnet18" else MobileNetV3Small())
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 3, size, size),), buf, dynamo=False,
                          input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    return model, buf.getvalue()


def _conv_gemms(model, size, batch):
    """A function running just the GEMMs of the model's convolutions at this batch, on one
    preallocated buffer of windows (their values do not change BLAS's speed)."""
    import torch
    shapes = []
    hooks = [m.register_forward_hook(lambda m, i, o: shapes.append(
        (m.weight.shape[0], m.weight[0].numel(), o.shape[2] * o.shape[3])))
        for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    for h in hooks:
        h.remove()
    buf = np.ones(max(k * batch * hw for _, k, hw in shapes), np.float32)
    gemms = [(np.ones((o, k), np.float32), buf[:k * batch * hw].reshape(k, batch * hw))
             for o, k, hw in shapes]
    return lambda: [w @ cols for w, cols in gemms]


def _quiet(onnxruntime):
    """Session options whose threads sleep between calls: by default they spin on after
    each run and take the cores from the contender timed next."""
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def rows(backends, batches=(1, 32), size=224, min_time=0.5, name="resnet18"):
    """[(batch, {contender: seconds per call})] and the largest relative deviation of
    ember's outputs from onnxruntime's."""
    import torch
    from ember.plugins.onnx import load
    model, data = _model(size, name)
    contenders = {}
    try:
        import onnxruntime
        session = onnxruntime.InferenceSession(data, _quiet(onnxruntime), providers=["CPUExecutionProvider"])
        contenders["onnxruntime"] = lambda x: (lambda: session.run(None, {"x": x})[0])
    except ImportError:
        session = None
    for b in backends:
        imported, be = load(data, backend=b), ember.get_backend(b)

        def case(x, imported=imported, be=be, b=b):
            t = ember.tensor(x, backend=b)

            def run():
                with ember.no_grad():
                    out = imported(t)
                be.synchronize()
                return out
            return run
        contenders[f"ember:{b}"] = case
    contenders["torch"] = lambda x: (lambda: model(torch.from_numpy(x)).detach())
    if name == "resnet18":      # (a grouped convolution is not one GEMM)
        contenders["GEMMs only"] = lambda x: _conv_gemms(model, size, len(x))
    out, worst = [], 0.0
    for n in batches:
        x = np.random.default_rng(n).standard_normal((n, 3, size, size)).astype(np.float32)
        fns = {name: make(x) for name, make in contenders.items()}
        ref = fns["onnxruntime"]() if session is not None else None
        for name, fn in list(fns.items()):
            if name.startswith("ember"):
                try:
                    got = fn().numpy()
                except ember.EmberError as err:       # e.g. a buffer over llvmpipe's limit
                    print(f"batch {n}: {name} cannot run it: {err}", flush=True)
                    del fns[name]
                    continue
                if ref is not None:
                    worst = max(worst, float(np.linalg.norm(got - ref) / np.linalg.norm(ref)))
        times = side_by_side([(fn, lambda: None) for fn in fns.values()], min_time=min_time, repeat=3)
        out.append((n, dict(zip(fns, times))))
    return out, worst


def cells(batch, times, names):
    """A table row: images/s of each contender, with its time over onnxruntime's."""
    base = times.get("onnxruntime")
    return [str(batch)] + [
        "-" if name not in times else f"{batch / times[name]:.1f}"
        + (f" ({times[name] / base:.2f}x)" if base and name != "onnxruntime" else "")
        for name in names]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--model", choices=MODELS, default="resnet18")
    parser.add_argument("--json", action="store_true",
                        help="print the table as one line of JSON (benchmarks/run.py reads it)")
    args = parser.parse_args(argv)
    backends = args.backend or [n for n in ember.registry.names("backends")
                                if ember.config.availability(n)[0]]
    with ember.no_grad():
        table, worst = rows(backends, args.batches, args.size, name=args.model)
    if args.json:
        print(json.dumps({"rows": table, "worst": worst}))
        return
    names = list(dict.fromkeys(name for _, times in table for name in times))
    print("batch | " + " | ".join(names) + "   (images/s; time over onnxruntime's)")
    for n, times in table:
        print(" | ".join(cells(n, times, names)), flush=True)
    print(f"largest norm-wise relative deviation from onnxruntime: {worst:.1e}")


if __name__ == "__main__":
    main()
