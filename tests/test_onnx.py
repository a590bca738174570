"""ember.plugins.onnx against PyTorch: models exported by torch.onnx.export run on every
backend with PyTorch's outputs; gradients of an imported model against finite
differences; malformed files and unsupported ops give named ember errors."""

import io
import warnings

import numpy as np
import pytest

import ember
from ember.ops.reduce import standardize
from ember.testing.checks import without_fast_paths

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from ember.plugins.onnx import ExportError, UnsupportedOp, export, load  # noqa: E402

def _relative(got, ref):
    """Norm-wise relative error (outputs may hold zeros, where elementwise error is moot)."""
    return float(np.linalg.norm(got.astype(np.float64) - ref) / np.linalg.norm(ref))


def _agree(ort, proto, x, want, rtol=1e-6):
    """onnxruntime and ember's own import run ``proto`` on input x0 = ``x`` and give
    ``want``: within ``rtol`` (onnxruntime's), 1e-6 (ember's), norm-wise relative."""
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    assert _relative(session.run(None, {"x0": x.numpy()})[0], want) < rtol
    assert _relative(load(proto)(x).numpy(), want) < 1e-6


def _export(module, args, dynamic):
    torch = pytest.importorskip("torch")
    names = [f"in{i}" for i in range(len(args))]
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), args, buf, dynamo=False, input_names=names,
                          dynamic_axes={n: dict(enumerate(dynamic)) for n in names})
    return buf.getvalue()


def _cnn():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=2),
                          nn.Hardswish(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    with torch.no_grad():                       # running statistics that are not 0 and 1
        model[1].running_mean.uniform_(-0.5, 0.5)
        model[1].running_var.uniform_(0.5, 2.0)
    return model


def _imported_and_torch(model, exported_shape, x, backend):
    """(ember's output, PyTorch's) on x for ``model``, exported at ``exported_shape`` with
    a free batch axis and imported on ``backend``."""
    torch = pytest.importorskip("torch")
    imported = load(_export(model, (torch.randn(*exported_shape),), ["batch"]),
                    backend=backend.device)
    got = imported(ember.tensor(x, backend=backend.device)).numpy()
    return got, model(torch.from_numpy(x)).detach().numpy()


def test_a_cnn_exported_by_pytorch_matches_it_at_another_batch_size(backend):
    x = np.random.default_rng(1).standard_normal((5, 3, 16, 16)).astype(np.float32)
    got, ref = _imported_and_torch(_cnn(), (2, 3, 16, 16), x, backend)
    assert got.shape == ref.shape == (5, 4)
    assert _relative(got, ref) < 1e-5


def _blocks():
    """Conv -> Relu, Conv -> Add -> Relu with the residual on either side of the Add, a
    convolution read twice and an Add that broadcasts: what fuse.py fuses and what not."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Blocks(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(16, 16, 3, padding=1), nn.Conv2d(16, 16, 3, padding=1)
            self.c, self.d = nn.Conv2d(16, 16, 1), nn.Conv2d(16, 16, 3, stride=2, padding=1)
            self.shift = nn.Parameter(torch.randn(1, 16, 1, 1))

        def forward(self, x):
            y = torch.relu(self.a(x))
            y = torch.relu(self.b(y) + y)
            y = torch.relu(y + self.c(y))
            z = self.d(y)
            return torch.relu(z) + z, torch.relu(self.c(y) + self.shift)

    torch.manual_seed(0)
    return Blocks()


def test_conv_relu_chains_fuse_into_one_node_with_the_same_values(backend, monkeypatch):
    """Conv -> [Add ->] Relu runs as one node (F.conv2d_relu), to the bit the values and
    gradients of the nodes one by one, and PyTorch's; a convolution that something else
    reads, or an Add that broadcasts, stays as it was."""
    torch = pytest.importorskip("torch")
    from ember.plugins.onnx import model as onnx_model
    model = _blocks()
    data = _export(model, (torch.randn(2, 16, 32, 32),), ["batch"])
    fused = load(data, backend=backend.device)
    assert [n.op_type for n in fused._program.nodes].count("Conv+Relu") == 4
    assert "Conv" in [n.op_type for n in fused._program.nodes]
    monkeypatch.setattr(onnx_model, "fuse", lambda program: None)
    plain = load(data, backend=backend.device)
    x = np.random.default_rng(0).standard_normal((3, 16, 32, 32)).astype(np.float32)
    results = []
    for m in (fused, plain):
        outs = m(ember.tensor(x, backend=backend.device))
        (outs[0].sum() + outs[1].sum()).backward()
        results.append([o.numpy() for o in outs] + [p.grad.numpy() for p in m.parameters()])
    for got, want in zip(*results):
        np.testing.assert_array_equal(got, want)
    refs = model(torch.from_numpy(x))
    for got, ref in zip(results[0], refs):
        assert _relative(got, ref.detach().numpy()) < 1e-5


def test_a_convolution_a_subgraph_reads_is_not_fused():
    """Conv -> Relu stays two nodes where an If's branch reads the convolution's output
    too (subgraphs read the values around them by name), and the graph runs as the
    onnx reference evaluator runs it."""
    from onnx.reference import ReferenceEvaluator
    rng = np.random.default_rng(4)
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 2, 3, 3], rng.standard_normal(72).tolist())
    branch = lambda name, op: helper.make_graph(                          # noqa: E731
        [helper.make_node(op, ["c"], ["b_" + name])], name, [],
        [helper.make_tensor_value_info("b_" + name, TensorProto.FLOAT, [1, 4, 5, 5])])
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"]),
             helper.make_node("If", ["flag"], ["z"], then_branch=branch("then", "Neg"),
                              else_branch=branch("else", "Abs"))]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 5]),
                     helper.make_tensor_value_info("flag", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 5, 5]),
         helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4, 5, 5])], [w])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model = load(proto)
    assert [n.op_type for n in model._program.nodes] == ["Conv", "Relu", "If"]
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    for flag in (True, False):
        want = ReferenceEvaluator(proto).run(None, {"x": x, "flag": np.array(flag)})
        got = model(ember.tensor(x), ember.tensor(np.array(flag)))
        for g, r in zip(got, want):
            assert _relative(g.numpy(), r) < 1e-6


def test_a_transformer_encoder_exported_by_pytorch_matches_it(backend):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True)
    encoder = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    # the TorchScript exporter bakes the sequence length into attention's reshapes
    src = np.random.default_rng(2).standard_normal((3, 5, 16)).astype(np.float32)
    got, ref = _imported_and_torch(encoder, (2, 5, 16), src, backend)
    assert _relative(got, ref) < 1e-5


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small"])
def test_torchvision_classifiers_exported_by_pytorch_match_it(backend, name):
    torch = pytest.importorskip("torch")
    from tests.torch_vision_models import MobileNetV3Small, ResNet18, with_running_statistics
    torch.manual_seed(0)
    model = with_running_statistics(ResNet18() if name == "resnet18" else MobileNetV3Small())
    x = np.random.default_rng(7).standard_normal((3, 3, 64, 64)).astype(np.float32)
    got, ref = _imported_and_torch(model, (2, 3, 64, 64), x, backend)
    assert got.shape == ref.shape == (3, 1000)
    assert _relative(got, ref) < 1e-4


def test_an_imported_resnet18_fine_tunes_on_an_image_folder(tmp_path):
    """One epoch of Adam over a small folder of two classes of images: the loss over the
    folder falls (the exporter folded BatchNorm into the convolutions' parameters)."""
    torch = pytest.importorskip("torch")
    image = pytest.importorskip("PIL.Image")
    from ember.plugins.data import DataLoader, load_image_folder
    from ember.plugins.losses import cross_entropy
    from tests.torch_vision_models import ResNet18, with_running_statistics
    rng = np.random.default_rng(8)
    for label, (low, high) in enumerate([(0, 120), (100, 255)]):    # dark and bright images
        (tmp_path / f"class{label}").mkdir()
        for i in range(12):
            pixels = rng.integers(low, high, (32, 32, 3), dtype=np.uint8)
            image.fromarray(pixels).save(tmp_path / f"class{label}" / f"{i}.png")
    data = load_image_folder(tmp_path)
    torch.manual_seed(0)
    model = load(_export(with_running_statistics(ResNet18(num_classes=2)),
                         (torch.randn(2, 3, 32, 32),), ["batch"]))
    x, y = ember.tensor(data.arrays[0]), ember.tensor(data.arrays[1])

    def folder_loss():
        with ember.no_grad():
            return cross_entropy(model(x), y).item()
    before = folder_loss()
    optimizer = ember.registry.get("optimizers", "adam")(model.parameters(), lr=3e-4)
    for xb, yb in DataLoader(data, batch_size=2, shuffle=True, seed=0):
        optimizer.zero_grad()
        cross_entropy(model(xb), yb).backward()
        optimizer.step()
    assert folder_loss() < 0.9 * before          # 0.694 -> 0.558 on 2026-12-01


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_bidirectional_recurrent_layers_exported_by_pytorch_match_it(kind):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    layer = getattr(torch.nn, kind)(6, 5, num_layers=2, bidirectional=True, batch_first=True)
    data = _export(layer, (torch.randn(3, 4, 6),), ["batch", "length"])
    imported = load(data)
    x = np.random.default_rng(6).standard_normal((2, 7, 6)).astype(np.float32)
    got = imported(ember.tensor(x))
    ref = layer(torch.from_numpy(x))
    ref = [ref[0], *ref[1]] if kind == "LSTM" else list(ref)
    assert len(got) == len(ref)
    for g, r in zip(got, ref):
        assert _relative(g.numpy(), r.detach().numpy()) < 1e-5


def _double_mlp():
    """A float64 graph (Gemm, Tanh, MatMul, Softmax, ReduceSum): gradients to check."""
    rng = np.random.default_rng(3)
    w1, b1 = rng.standard_normal((4, 6)), rng.standard_normal(6)
    w2 = rng.standard_normal((6, 3))
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"]),
             helper.make_node("Tanh", ["h"], ["t"]),
             helper.make_node("MatMul", ["t", "w2"], ["z"]),
             helper.make_node("Softmax", ["z"], ["p"], axis=-1),
             helper.make_node("Mul", ["p", "z"], ["pz"]),
             helper.make_node("ReduceSum", ["pz"], ["y"], keepdims=0)]
    inits = [onnx.numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"))]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["n", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_an_imported_model_has_parameters_whose_gradients_match_finite_differences():
    model = load(_double_mlp())
    assert [n for n, _ in model.named_parameters()] == ["w1", "b1", "w2"]
    x = ember.tensor(np.random.default_rng(4).standard_normal((5, 4)))
    model(x).backward()
    h = 1e-6
    for name, p in model.named_parameters():
        values = p.numpy().copy()
        numeric = np.zeros_like(values)
        for i in np.ndindex(values.shape):
            for sign in (1, -1):
                shifted = values.copy()
                shifted[i] += sign * h
                with ember.no_grad():
                    p.copy_(ember.tensor(shifted))
                    numeric[i] += sign * model(x).item() / (2 * h)
        with ember.no_grad():
            p.copy_(ember.tensor(values))
        assert np.linalg.norm(p.grad.numpy() - numeric) <= 1e-7 * np.linalg.norm(numeric), name


def test_an_imported_model_compiles_and_trains():
    model = load(_double_mlp())
    x = ember.tensor(np.random.default_rng(5).standard_normal((8, 4)))
    step = ember.compile(lambda t: model(t))
    assert step(x).item() == pytest.approx(model(x).item(), rel=1e-12)
    optimizer = ember.registry.get("optimizers", "sgd")(model.parameters(), lr=0.1)
    before = model(x).item()
    for _ in range(5):
        optimizer.zero_grad()
        model(x).backward()
        optimizer.step()
    assert model(x).item() < before


def test_a_model_with_its_weights_in_an_external_file_loads_them(tmp_path):
    proto = _double_mlp()
    path = tmp_path / "mlp.onnx"
    onnx.save_model(proto, path, save_as_external_data=True, location="weights.bin",
                    size_threshold=0)
    assert (tmp_path / "weights.bin").stat().st_size > 0
    x = ember.tensor(np.random.default_rng(9).standard_normal((3, 4)))
    assert load(path)(x).item() == load(_double_mlp())(x).item()
    (tmp_path / "weights.bin").unlink()
    with pytest.raises(ember.SerializationError, match="weights.bin"):
        load(path)


def test_unreadable_models_are_serialization_errors(tmp_path):
    whole = _double_mlp().SerializeToString()
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(whole[: len(whole) // 2])
    for source in (truncated, b"not an onnx file at all", tmp_path / "missing.onnx"):
        with pytest.raises(ember.SerializationError):
            load(source)


def test_an_initializer_that_contradicts_its_shape_is_a_serialization_error():
    proto = _double_mlp()
    proto.graph.initializer[0].dims[0] = 1 << 40       # claims 2**40 rows, holds 4
    with pytest.raises(ember.SerializationError, match="w1"):
        load(proto)


def test_an_opset_past_the_newest_known_is_a_serialization_error():
    proto = _double_mlp()
    proto.opset_import[0].version = onnx.defs.onnx_opset_version() + 1
    with pytest.raises(ember.SerializationError, match=f"opset {proto.opset_import[0].version}, "
                                                       f"past the newest"):
        load(proto)


def test_an_unsupported_op_names_its_op_domain_opset_and_node():
    node = helper.make_node("FancyOp", ["x"], ["y"], domain="com.example", name="the_node")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18),
                                                    helper.make_opsetid("com.example", 1)])
    with pytest.raises(UnsupportedOp, match=r"FancyOp.*com\.example.*opset.*") as info:
        load(proto)
    assert "the_node" in str(info.value)


def test_inputs_of_the_wrong_dtype_shape_or_count_are_refused_by_name():
    model = load(_double_mlp())
    with pytest.raises(ember.DTypeError, match="'x'.*float32.*DOUBLE"):
        model(ember.ones((2, 4), dtype=ember.float32))
    with pytest.raises(ember.ShapeError, match=r"'x'.*\(2, 5\).*\('n', 4\)"):
        model(ember.ones((2, 5), dtype=ember.float64))
    with pytest.raises(ember.ShapeError, match="takes 1 inputs"):
        model(ember.ones((2, 4), dtype=ember.float64), ember.ones((2, 4), dtype=ember.float64))
    with pytest.raises(ember.DTypeError, match="input 'x' is None; the model needs a float64"):
        model(None)                  # was a 0-d tensor, then a shape error
    with pytest.raises(ember.DTypeError, match="cannot make a tensor from str"):
        model("abc")                 # was NumPy's ValueError


def _ember_models():
    from ember.plugins import nn
    from ember.plugins.models import GPT2, GPT2Config
    ember.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(4, 6, 3, stride=2), nn.Flatten(), nn.Linear(6, 3))
    gpt = GPT2(GPT2Config(vocab_size=20, n_positions=16, n_embd=8, n_layer=2, n_head=2))
    ids = [[1, 2, 3, 4, 5], [5, 6, 7, 8, 9], [9, 1, 2, 3, 4]]
    return {"mlp": (mlp, ember.randn(2, 4), ember.randn(5, 4)),
            "cnn": (cnn, ember.randn(2, 1, 8, 8), ember.randn(3, 1, 8, 8)),
            "gpt": (gpt, ember.tensor(ids[:2]), ember.tensor(ids))}


@pytest.mark.parametrize("name", ["mlp", "cnn", "gpt"])
def test_ember_models_exported_run_in_onnxruntime_at_any_batch_size(name, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model, example, other = _ember_models()[name]
    model.eval()
    path = tmp_path / f"{name}.onnx"
    export(model, (example,), path)
    onnx.checker.check_model(str(path), full_check=True)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for x in (example, other):
        ref = model(x).numpy()
        got = session.run(None, {"x0": x.numpy()})[0]
        assert got.shape == ref.shape
        assert _relative(got, ref) < 1e-5


@pytest.mark.parametrize("name", ["mlp", "cnn", "gpt"])
def test_ember_models_exported_load_back_into_ember(name):
    model, example, other = _ember_models()[name]
    model.eval()
    again = load(export(model, (example,)))
    for x in (example, other):
        assert _relative(again(x).numpy(), model(x).numpy()) < 1e-6


@pytest.mark.parametrize("opset", [18, 24])
def test_a_third_party_layer_exports_as_the_onnx_form_it_gives(opset):
    """ember_swish's Swish (examples/third_party_plugin) writes itself through onnx_op:
    ONNX's Swish from opset 24, x * Sigmoid(beta x) before; onnxruntime agrees."""
    ort = pytest.importorskip("onnxruntime")
    from ember.plugins import nn
    from ember_swish import Swish
    model = nn.Sequential(nn.Linear(4, 6), Swish(beta=1.5), nn.Linear(6, 2)).eval()
    x = ember.randn(3, 4)
    proto = export(model, (x,), opset=opset)
    ops = [n.op_type for n in proto.graph.node]
    assert ops == (["Gemm", "Swish", "Gemm"] if opset >= 24 else
                   ["Gemm", "Mul", "Sigmoid", "Mul", "Gemm"]), ops
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    for batch in (x, ember.randn(5, 4)):
        assert _relative(session.run(None, {"x0": batch.numpy()})[0], model(batch).numpy()) < 1e-6


def test_exporting_a_model_in_training_mode_is_refused():
    from ember.plugins import nn
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    with pytest.raises(ExportError, match="eval mode"):
        export(model, (ember.randn(2, 1, 5, 5),))


def test_layers_export_as_their_onnx_ops():
    from ember.plugins import nn
    from ember.plugins.models import GPT2, GPT2Config
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                        nn.MaxPool2d(2), nn.AvgPool2d(2, padding=1), nn.Flatten(),
                        nn.Linear(36, 3)).eval()
    ops = [n.op_type for n in export(cnn, (ember.randn(2, 1, 8, 8),)).graph.node]
    assert [op for op in ops if op not in ("Shape", "Slice", "Mul", "Concat", "Reshape")] == \
        ["Conv", "BatchNormalization", "Relu", "MaxPool", "AveragePool", "Gemm"]
    x = ember.randn(3, 1, 8, 8)
    assert _relative(load(export(cnn, (ember.randn(2, 1, 8, 8),)))(x).numpy(), cnn(x).numpy()) < 1e-6
    mobile = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, groups=2), nn.Hardswish(), nn.Flatten(),
                           nn.Linear(64, 3), nn.Hardsigmoid()).eval()
    ops = [n.op_type for n in export(mobile, (ember.randn(2, 2, 4, 4),)).graph.node]
    assert [op for op in ops if op in ("Conv", "HardSwish", "Gemm", "HardSigmoid")] == \
        ["Conv", "HardSwish", "Gemm", "HardSigmoid"] and "Max" not in ops
    x = ember.randn(3, 2, 4, 4) * 4.0
    assert _relative(load(export(mobile, (x,)))(x).numpy(), mobile(x).numpy()) < 1e-6
    gpt = GPT2(GPT2Config(vocab_size=20, n_positions=16, n_embd=8, n_layer=2, n_head=2)).eval()
    ops = [n.op_type for n in export(gpt, (ember.tensor([[1, 2, 3]]),)).graph.node]
    assert ops.count("LayerNormalization") == 5 and "ReduceSum" not in ops


def test_a_functional_layer_norm_exports_as_layer_normalization():
    """standardize (F.layer_norm's core) outside a LayerNorm layer records the backend's
    fast path on numpy: it becomes LayerNormalization with a scale of ones, and
    onnxruntime agrees; a norm over leading axes has no such form and says what to do."""
    ort = pytest.importorskip("onnxruntime")
    from ember.plugins import nn

    class Norm(nn.Module):
        def __init__(self, axes):
            super().__init__()
            self.axes = axes

        def forward(self, x):
            return standardize(ember.relu(x), self.axes) * 2.0

    x = ember.randn(3, 4, 5) * 100.0 + 7.0
    proto = export(Norm(-1).eval(), (x,))
    assert "LayerNormalization" in [n.op_type for n in proto.graph.node]
    want = Norm(-1)(x).numpy()
    _agree(ort, proto, x, want, 1e-5)
    with pytest.raises(ExportError, match="move them last"):
        export(Norm(0).eval(), (x,))


def test_a_functional_3x3_convolution_exports_as_conv():
    """F.conv2d outside a Conv2d layer records numpy's fast_conv3x3 (Winograd's): it
    becomes one Conv with its pads and bias, and onnxruntime agrees."""
    ort = pytest.importorskip("onnxruntime")
    from ember.plugins import nn
    from ember.plugins.nn import functional as F
    w, b = ember.randn(16, 16, 3, 3) * 0.1, ember.randn(16)

    class Conv(nn.Module):
        def forward(self, x):
            return F.conv2d(x, w, b, padding=(1, 2))

    x = ember.randn(2, 16, 24, 24)
    proto = export(Conv().eval(), (x,))
    assert [n.op_type for n in proto.graph.node] == ["Conv"]
    want = Conv()(x).numpy()
    assert want.shape == (2, 16, 24, 26)
    _agree(ort, proto, x, want)


def test_a_fused_convolution_exports_as_conv_add_and_relu():
    """F.conv2d_relu records numpy's fused primitives (Winograd's with a residual and a
    relu; the GEMM convolution fast_conv2d with a relu, or without it the im2col GEMM's
    fast_addmm with a relu): they become Conv, Add and Relu, and onnxruntime agrees."""
    ort = pytest.importorskip("onnxruntime")
    from ember.plugins import nn
    from ember.plugins.nn import functional as F
    w, b = ember.randn(16, 16, 3, 3) * 0.1, ember.randn(16)
    w7 = ember.randn(16, 16, 7, 7) * 0.05

    class Block(nn.Module):
        def forward(self, x):
            y = F.conv2d_relu(x, w, b, padding=1, residual=x)
            return F.conv2d_relu(y, w7, b, stride=2, padding=3)

    x = ember.randn(2, 16, 24, 24)
    want = Block()(x).numpy()
    assert want.shape == (2, 16, 12, 12)
    for hidden in ((), ("fast_conv2d",)):
        with without_fast_paths(ember.get_backend("numpy"), *hidden):
            proto = export(Block().eval(), (x,))
        ops = [n.op_type for n in proto.graph.node]
        assert ops.count("Relu") == 2 and ops.count("Add") >= 1, ops
        assert ops.count("Conv") == 2 - bool(hidden) and ops.count("MatMul") == bool(hidden), ops
        _agree(ort, proto, x, want)


def test_a_functional_linear_with_a_bias_exports_and_onnxruntime_agrees():
    """F.linear outside a Linear layer records numpy's GEMM with its bias added in place
    (fast_addmm, on a 3-D input's rows): it becomes MatMul and Add."""
    ort = pytest.importorskip("onnxruntime")
    from ember.plugins import nn
    from ember.plugins.nn import functional as F
    w, b = ember.randn(6, 5), ember.randn(6)

    class Affine(nn.Module):
        def forward(self, x):
            return F.linear(x, w, b)

    x = ember.randn(2, 3, 5)
    proto = export(Affine().eval(), (x,))
    assert {"MatMul", "Add"} <= {n.op_type for n in proto.graph.node}
    want = Affine()(x).numpy()
    assert want.shape == (2, 3, 6)
    _agree(ort, proto, x, want)


def test_functional_hard_activations_export_as_onnxs_own():
    """F.hardswish and F.hardsigmoid outside their layers record numpy's one-pass fast
    paths: they become HardSwish and HardSigmoid, and onnxruntime agrees."""
    ort = pytest.importorskip("onnxruntime")
    from ember.plugins import nn
    from ember.plugins.nn import functional as F

    class Gate(nn.Module):
        def forward(self, x):
            return F.hardsigmoid(F.hardswish(x) - 1.0)

    x = ember.tensor(np.linspace(-8, 8, 60, dtype=np.float32).reshape(3, 20))
    proto = export(Gate().eval(), (x,))
    assert [n.op_type for n in proto.graph.node if n.op_type.startswith("Hard")] == \
        ["HardSwish", "HardSigmoid"]
    want = Gate()(x).numpy()
    _agree(ort, proto, x, want)


def test_a_functional_depthwise_convolution_exports_as_a_grouped_conv():
    """F.conv2d with a group per channel records numpy's fast_depthwise_conv2d: it becomes
    one Conv with group = channels and the bias, and onnxruntime agrees."""
    ort = pytest.importorskip("onnxruntime")
    from ember.plugins import nn
    from ember.plugins.nn import functional as F
    w, b = ember.randn(8, 1, 5, 5), ember.randn(8)

    class Depthwise(nn.Module):
        def forward(self, x):
            return F.conv2d(x, w, b, stride=2, padding=2, groups=8)

    x = ember.randn(2, 8, 15, 14)
    proto = export(Depthwise().eval(), (x,))
    convs = [n for n in proto.graph.node if n.op_type == "Conv"]
    assert [n.op_type for n in proto.graph.node] == ["Conv"]
    assert {a.name: a.i for a in convs[0].attribute}["group"] == 8
    want = Depthwise()(x).numpy()
    _agree(ort, proto, x, want)


def test_erf_and_gelu_export_as_erf():
    """A backend's erf and GELU fast paths (numpy's) export as ONNX's Erf; onnxruntime
    agrees, and the model loads back."""
    ort = pytest.importorskip("onnxruntime")
    from ember.plugins import nn
    from ember.plugins.nn import functional as F
    model = nn.Sequential(nn.Linear(4, 6), nn.GELU(), nn.Linear(6, 3)).eval()
    x = ember.randn(5, 4)

    class ErfOf(nn.Module):
        def forward(self, x):
            return F.erf(model(x))

    for net in (model, ErfOf().eval()):
        proto = export(net, (x,))
        assert "Erf" in [n.op_type for n in proto.graph.node]
        session = ort.InferenceSession(proto.SerializeToString(),
                                       providers=["CPUExecutionProvider"])
        want = net(x).numpy()
        assert _relative(session.run(None, {"x0": x.numpy()})[0], want) < 1e-6
        assert _relative(load(proto)(x).numpy(), want) < 1e-6


def _quantized_by_onnxruntime(tmp_path):
    """The CNN quantized statically (QDQ, uint8 and int8 activations, int8 weights) and an
    MLP quantized dynamically (DynamicQuantizeLinear and MatMulInteger) by onnxruntime's
    own tools, as a user quantizes a model: {name: (path, input)}. With 7-bit weights
    (reduce_range), as onnxruntime advises on CPUs without VNNI: there its u8s8 kernels
    saturate 16-bit sums of full-range ones and depart from the ONNX semantics (by up to
    0.13 of 0.73 on an AMD EPYC with AVX2 only, where ember and onnx's reference agree)."""
    torch = pytest.importorskip("torch")
    quantization = pytest.importorskip("onnxruntime.quantization")
    rng = np.random.default_rng(0)

    class Calibration(quantization.CalibrationDataReader):
        def __init__(self):
            self.batches = iter([{"in0": rng.standard_normal((4, 3, 16, 16)).astype(np.float32)}
                                 for _ in range(4)])

        def get_next(self):
            return next(self.batches, None)

    (tmp_path / "cnn.onnx").write_bytes(_export(_cnn(), (torch.randn(2, 3, 16, 16),), ["batch"]))
    image = rng.standard_normal((5, 3, 16, 16)).astype(np.float32)
    models = {}
    for activations in (quantization.QuantType.QUInt8, quantization.QuantType.QInt8):
        path = tmp_path / f"cnn-{activations.name}.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantization.quantize_static(tmp_path / "cnn.onnx", path, Calibration(),
                                         quant_format=quantization.QuantFormat.QDQ,
                                         activation_type=activations,
                                         weight_type=quantization.QuantType.QInt8,
                                         reduce_range=True)
        models[f"static-{activations.name}"] = (path, image)
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    (tmp_path / "mlp.onnx").write_bytes(_export(mlp, (torch.randn(2, 32),), ["batch"]))
    quantization.quantize_dynamic(tmp_path / "mlp.onnx", tmp_path / "mlp-dynamic.onnx",
                                  weight_type=quantization.QuantType.QInt8, reduce_range=True)
    models["dynamic"] = (tmp_path / "mlp-dynamic.onnx",
                         rng.standard_normal((7, 32)).astype(np.float32))
    return models


def test_models_quantized_by_onnxruntime_give_its_outputs_to_the_bit(backend, tmp_path):
    """QuantizeLinear / DequantizeLinear pairs around float ops (QDQ), and dynamic
    quantization's DynamicQuantizeLinear and MatMulInteger, run on the backend (int32
    products, halves rounding to even) and give onnxruntime's outputs exactly, which are
    onnx's reference evaluator's."""
    from onnx.reference import ReferenceEvaluator
    ort = pytest.importorskip("onnxruntime")
    for name, (path, x) in _quantized_by_onnxruntime(tmp_path).items():
        ops = {n.op_type for n in onnx.load(path).graph.node}
        assert {"QuantizeLinear", "MatMulInteger"} & ops, f"{name}: {sorted(ops)}"
        want = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
            None, {"in0": x})[0]
        spec = ReferenceEvaluator(str(path)).run(None, {"in0": x})[0]
        assert np.array_equal(spec, want), f"{name}: onnxruntime departs from onnx's reference"
        got = load(path, backend=backend.device)(ember.tensor(x, backend=backend.device)).numpy()
        assert np.array_equal(got, want), f"{name}: {np.abs(got - want).max()} from onnxruntime"


def test_a_determinant_exports_as_det_and_imports_differentiable():
    """linalg.det is ONNX's Det both ways (onnxruntime agrees, and the imported model's
    gradient is the cofactors); linalg's other routines have no ONNX operator and say so."""
    ort = pytest.importorskip("onnxruntime")
    a = np.random.default_rng(0).standard_normal((2, 3, 3)).astype(np.float32)
    proto = export(lambda A: ember.linalg.det(A) * 2.0, (ember.tensor(a),), dynamic_batch=False)
    assert [n.op_type for n in proto.graph.node] == ["Det", "Mul"]
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    want = 2 * np.linalg.det(a.astype(np.float64))
    assert _relative(session.run(None, {"x0": a})[0], want) < 1e-5
    x = ember.tensor(a, requires_grad=True)
    load(proto)(x).sum().backward()
    cofactors = 2 * np.linalg.det(a)[:, None, None] * np.linalg.inv(a).transpose(0, 2, 1)
    assert _relative(x.grad.numpy(), cofactors) < 1e-5
    with pytest.raises(ExportError, match="'inv' has no standard ONNX operator"):
        export(ember.linalg.inv, (ember.tensor(a),), dynamic_batch=False)
