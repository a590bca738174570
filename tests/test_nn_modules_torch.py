"""torch.nn's layers under their own names against PyTorch (the oracle, where installed),
on every backend: each built with the same arguments, PyTorch's state dict loaded, gives
PyTorch's output and the same gradients for its input and parameters. The layers here are
those the other tests compare by float64 references only (activations, pads, pools,
unpools, upsampling, local response and instance norms, padding modes of convolutions)."""

import importlib

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch", reason="PyTorch is the oracle here (pip install torch)")
nn = importlib.import_module("ember.plugins.nn")

#: (layer, positional arguments, keyword arguments, input shape; None: two (4, 5) inputs;
#: "unpoolN": the output and indices of PyTorch's MaxPoolNd(2))
CASES = [
    ('AdaptiveAvgPool1d', (3,), {}, (2, 3, 7)),
    ('AdaptiveAvgPool2d', ((2, 3),), {}, (2, 3, 7, 5)),
    ('AdaptiveAvgPool3d', (2,), {}, (1, 2, 5, 4, 3)),
    ('AdaptiveMaxPool1d', (3,), {}, (2, 3, 7)),
    ('AdaptiveMaxPool3d', (2,), {}, (1, 2, 5, 4, 3)),
    ('AvgPool3d', (2,), {'stride': 1, 'ceil_mode': True}, (1, 2, 5, 4, 3)),
    ('CELU', (), {'alpha': 0.7}, (3, 4)),
    ('ChannelShuffle', (2,), {}, (1, 4, 3, 3)),
    ('CircularPad1d', (2,), {}, (1, 2, 5)),
    ('CircularPad2d', ((1, 2, 0, 1),), {}, (1, 2, 4, 5)),
    ('CircularPad3d', (1,), {}, (1, 1, 3, 3, 3)),
    ('ConstantPad1d', ((1, 2), 3.5), {}, (1, 2, 5)),
    ('ConstantPad2d', (1, -1.0), {}, (1, 2, 4, 5)),
    ('ConstantPad3d', ((1, 0, 1, 0, 0, 2), 0.5), {}, (1, 1, 3, 3, 3)),
    ('Conv1d', (3, 4, 3), {'stride': 2, 'padding': 1, 'dilation': 2}, (2, 3, 11)),
    ('Conv1d', (4, 4, 3), {'groups': 2, 'padding': 'same', 'padding_mode': 'reflect',
                           'dilation': 2}, (2, 4, 9)),
    ('Conv1d', (2, 3, 4), {'padding': 'same', 'padding_mode': 'circular'}, (1, 2, 9)),
    ('Conv2d', (2, 3, (3, 2)), {'padding': (1, 2), 'padding_mode': 'replicate', 'stride': 2},
     (1, 2, 6, 7)),
    ('Conv3d', (2, 2, 3), {'padding': 1, 'padding_mode': 'reflect'}, (1, 2, 4, 4, 4)),
    ('ConvTranspose2d', (3, 2, 3), {'stride': 2, 'padding': 1, 'output_padding': 1}, (1, 3, 4, 5)),
    ('ConvTranspose2d', (4, 2, (2, 3)), {'groups': 2, 'dilation': 2}, (1, 4, 3, 3)),
    ('CosineSimilarity', (), {'dim': 1}, None),
    ('PairwiseDistance', (), {'p': 3.0}, None),
    ('ELU', (), {'alpha': 1.3}, (3, 4)),
    ('GLU', (), {'dim': 1}, (3, 4)),
    ('Hardshrink', (0.3,), {}, (3, 4)),
    ('Hardsigmoid', (), {}, (3, 4)),
    ('Hardtanh', (-0.5, 0.7), {}, (3, 4)),
    ('Identity', (), {}, (3, 4)),
    ('InstanceNorm1d', (3,), {'affine': True}, (2, 3, 6)),
    ('InstanceNorm3d', (2,), {'track_running_stats': True}, (2, 2, 3, 3, 3)),
    ('LPPool1d', (2.0, 3), {}, (1, 2, 7)),
    ('LPPool2d', (3.0, 2), {'stride': 1}, (1, 2, 4, 5)),
    ('LPPool3d', (2.0, 2), {}, (1, 1, 4, 4, 4)),
    ('LeakyReLU', (0.2,), {}, (3, 4)),
    ('LocalResponseNorm', (3,), {'alpha': 0.1, 'k': 2.0}, (2, 5, 3, 3)),
    ('LogSigmoid', (), {}, (3, 4)),
    ('LogSoftmax', (), {'dim': 1}, (3, 4)),
    ('MaxPool1d', (3,), {'stride': 2, 'padding': 1, 'dilation': 2, 'ceil_mode': True}, (2, 3, 11)),
    ('MaxPool3d', (2,), {'stride': 2, 'padding': 1}, (1, 2, 5, 4, 5)),
    ('Mish', (), {}, (3, 4)),
    ('PixelShuffle', (2,), {}, (1, 8, 3, 3)),
    ('PixelUnshuffle', (2,), {}, (1, 2, 4, 6)),
    ('ReLU6', (), {}, (3, 4)),
    ('ReflectionPad1d', (2,), {}, (1, 2, 5)),
    ('ReflectionPad3d', (1,), {}, (1, 1, 3, 3, 3)),
    ('ReplicationPad1d', ((2, 1),), {}, (1, 2, 5)),
    ('ReplicationPad2d', (2,), {}, (1, 2, 4, 5)),
    ('ReplicationPad3d', (1,), {}, (1, 1, 3, 3, 3)),
    ('Sigmoid', (), {}, (3, 4)),
    ('Softmax', (), {'dim': 0}, (3, 4)),
    ('Softmax2d', (), {}, (2, 3, 4, 4)),
    ('Softmin', (), {'dim': 1}, (3, 4)),
    ('Softplus', (), {'beta': 2.0, 'threshold': 5.0}, (3, 4)),
    ('Softshrink', (0.4,), {}, (3, 4)),
    ('Softsign', (), {}, (3, 4)),
    ('Tanhshrink', (), {}, (3, 4)),
    ('Threshold', (0.1, -2.0), {}, (3, 4)),
    ('Upsample', (), {'scale_factor': 2, 'mode': 'bilinear', 'align_corners': True}, (1, 2, 3, 4)),
    ('Upsample', (), {'size': (5, 7), 'mode': 'bicubic'}, (1, 2, 3, 4)),
    ('Upsample', (), {'scale_factor': 1.5, 'mode': 'nearest'}, (1, 2, 3, 4)),
    ('Upsample', (), {'scale_factor': 2, 'mode': 'trilinear'}, (1, 1, 2, 3, 2)),
    ('ZeroPad1d', (2,), {}, (1, 2, 5)),
    ('ZeroPad2d', ((1, 2, 3, 0),), {}, (1, 2, 4, 5)),
    ('ZeroPad3d', (1,), {}, (1, 1, 3, 3, 3)),
    ('MaxUnpool1d', (2,), {}, 'unpool1'),
    ('MaxUnpool2d', (2,), {}, 'unpool2'),
    ('MaxUnpool3d', (2,), {}, 'unpool3'),
]


def _ids(cases):
    seen = {}
    for name, *_ in cases:
        seen[name] = seen.get(name, -1) + 1
        yield f"{name}-{seen[name]}" if seen[name] else name


@pytest.mark.parametrize("case", CASES, ids=list(_ids(CASES)))
def test_layer_matches_torch_with_its_state_dict(backend, case):
    name, args, kwargs, shape = case
    rng = np.random.default_rng(0)
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    ours = getattr(nn, name)(*args, **kwargs, **({"backend": backend} if theirs.state_dict()
                                                else {}))
    state = {k: ember.tensor(v.detach().numpy(), backend=backend)
             for k, v in theirs.state_dict().items()}
    if state:
        ours.load_state_dict(state)

    def pair(a):
        return torch.tensor(a, requires_grad=True), ember.tensor(a, backend=backend,
                                                                 requires_grad=True)
    if shape is None:
        (ta, ea), (tb, eb) = pair(rng.standard_normal((4, 5)).astype(np.float32)), \
            pair(rng.standard_normal((4, 5)).astype(np.float32))
        want, got = theirs(ta, tb), ours(ea, eb)
    elif isinstance(shape, str):
        dims = int(shape[-1])
        pooled, index = getattr(torch.nn, f"MaxPool{dims}d")(2, return_indices=True)(
            torch.tensor(rng.standard_normal((1, 2) + (4,) * dims).astype(np.float32)))
        ta, ea = pair(pooled.numpy())
        want, got = theirs(ta, index), ours(ea, ember.tensor(index.numpy(), backend=backend))
    else:
        ta, ea = pair(rng.standard_normal(shape).astype(np.float32))
        want, got = theirs(ta), ours(ea)
    w = want.detach().numpy()
    assert got.shape == w.shape, (name, got.shape, w.shape)
    scale = np.abs(w[np.isfinite(w)]).max(initial=1.0)    # LPPool's p = 3 makes NaN, as PyTorch
    np.testing.assert_allclose(got.numpy(), w, rtol=1e-5, atol=1e-6 * scale, err_msg=name)
    weights = rng.standard_normal(w.shape).astype(np.float32)
    (want * torch.tensor(weights)).sum().backward()
    (got * ember.tensor(weights, backend=backend)).sum().backward()
    grads = [(ta.grad, ea.grad)] + [(p.grad, dict(ours.named_parameters())[k].grad)
                                    for k, p in theirs.named_parameters()]
    for t, e in grads:
        t = t.numpy()
        scale = np.abs(t[np.isfinite(t)]).max(initial=1.0)
        np.testing.assert_allclose(e.numpy(), t, rtol=1e-5, atol=1e-6 * scale,
                                   err_msg=f"{name} gradient")


def test_padding_mode_is_refused_by_name():
    with pytest.raises(ValueError, match="padding_mode must be one of zeros, reflect"):
        nn.Conv2d(2, 2, 3, padding_mode="mirror")
    # 'same' with a stride, in a padding mode too, as PyTorch refuses it
    with pytest.raises(ValueError, match="Conv1d: padding='same' needs stride 1"):
        nn.Conv1d(2, 2, 3, stride=2, padding="same", padding_mode="reflect")(
            ember.zeros((1, 2, 9)))


def test_replacing_and_reordering_layers_keeps_pytorchs_order():
    """A layer replaced by assignment (model.features[0] = ..., model.fc = ..., a
    ModuleList item) stays where it stood, so forward and the state dict keep their order
    (it moved to the end, and Sequential ran it last); Sequential slices are Sequentials,
    and insert, del, pop and append renumber as PyTorch's."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3)).astype(np.float32)

    def build(lib):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
        model[0] = torch.nn.Linear(3, 4)
        model.insert(1, torch.nn.ReLU())
        del model[2]
        model.append(torch.nn.Sigmoid())
        popped = model.pop(1)
        if lib is torch:
            return model, popped
        ours = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
        ours[0] = nn.Linear(3, 4)
        ours.insert(1, nn.ReLU())
        del ours[2]
        ours.append(nn.Sigmoid())
        return ours, ours.pop(1)
    theirs, their_pop = build(torch)
    ours, our_pop = build(ember)
    assert type(our_pop).__name__ == type(their_pop).__name__
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: ember.tensor(v.detach().numpy())
                          for k, v in theirs.state_dict().items()})
    np.testing.assert_allclose(ours(ember.tensor(x)).numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-6)
    head = ours[:-1]
    assert isinstance(head, nn.Sequential) and len(head) == len(ours) - 1
    np.testing.assert_allclose(head(ember.tensor(x)).numpy(),
                               theirs[:-1](torch.tensor(x)).detach().numpy(), rtol=1e-6)
    blocks = nn.ModuleList([nn.Linear(1, 1), nn.Linear(1, 2), nn.Linear(2, 3)])
    blocks[0] = nn.Linear(1, 1)
    assert [m.out_features for m in blocks] == [1, 2, 3]
    assert list(blocks._modules) == ["0", "1", "2"]
    net = nn.Module()
    net.a, net.b = nn.Linear(1, 1), nn.Linear(1, 1)
    net.a = nn.Linear(1, 1)
    assert list(net.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]


def test_get_buffer_and_set_submodule_follow_dotted_paths():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    assert model.get_buffer("1.running_var").shape == (3,)
    model.set_submodule("0", nn.Linear(2, 3, bias=False))
    assert model[0].bias is None and list(model._modules) == ["0", "1"]
    with pytest.raises(AttributeError, match="has no buffer 'nothing'"):
        model.get_buffer("1.nothing")
    with pytest.raises(AttributeError, match="has no child"):
        model.set_submodule("5.x", nn.ReLU())


def test_assigning_a_plain_value_where_state_is_registered_is_refused_as_pytorch():
    """A plain tensor (or number) assigned to a parameter's name, a number to a child
    module's or a buffer's: PyTorch raises a TypeError; ember dropped the parameter from
    parameters() and the state dict silently (an optimizer then never stepped it)."""
    torch = pytest.importorskip("torch")
    for lib, nn_lib in ((ember, nn), (torch, torch.nn)):
        model = nn_lib.Sequential(nn_lib.Linear(2, 3), nn_lib.BatchNorm1d(3))
        for owner, name, value in ((model[0], "weight", lib.zeros(3, 2)), (model[0], "bias", 1.5),
                                   (model, "0", 7), (model[1], "running_mean", [0.0] * 3)):
            with pytest.raises(TypeError):
                setattr(owner, name, value)
        assert len(list(model.parameters())) == 4 and len(model.state_dict()) == 7
        model[0].bias = None                    # None is taken: no bias
        model[1].running_mean = lib.ones(3)     # a buffer takes a tensor
        assert len(list(model.parameters())) == 3


def test_data_parallel_wraps_a_model_with_pytorchs_keys():
    """nn.DataParallel as PyTorch's on a machine without a second GPU: forward is the
    model's, ``.module`` is the model, and the state dict's keys carry ``module.``, so
    PyTorch's DataParallel checkpoints load; several devices are refused with the way."""
    tmodel = torch.nn.DataParallel(torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh()))
    model = nn.DataParallel(nn.Sequential(nn.Linear(3, 2), nn.Tanh()))
    state = tmodel.state_dict()
    assert list(model.state_dict()) == list(state) == ["module.0.weight", "module.0.bias"]
    model.load_state_dict({k: ember.tensor(v.numpy()) for k, v in state.items()})
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(model(ember.tensor(x)).numpy(),
                               tmodel(torch.tensor(x)).detach().numpy(), rtol=1e-6)
    assert isinstance(model.module, nn.Sequential)
    with pytest.raises(ValueError, match="one device per process.*DistributedDataParallel"):
        nn.DataParallel(nn.Linear(1, 1), device_ids=[0, 1])
