"""Tensor creation, dtype promotion, conversions and movement between backends."""

import math

import numpy as np
import pytest

import ember
from ember.testing.checks import expect, gradcheck
from ember import dtypes as dt


def test_tensor_from_python_takes_default_dtypes(backend):
    expect(ember.tensor([1.0, 2.0]).dtype is ember.float32,
           'ember.tensor([1.0, 2.0]).dtype is ember.float32')
    expect(ember.tensor([[1, 2], [3, 4]]).dtype is backend.default_int,
           'ember.tensor([[1, 2], [3, 4]]).dtype is backend.default_int')
    expect(ember.tensor([True, False]).dtype is ember.bool_,
           'ember.tensor([True, False]).dtype is ember.bool_')
    expect(ember.tensor(2.5).shape == (), 'ember.tensor(2.5).shape == ()')


def test_tensor_from_numpy_keeps_its_dtype(backend):
    for d in backend.dtypes:
        a = np.arange(6).reshape(2, 3).astype(d.np)
        t = ember.tensor(a)
        expect(t.dtype is d and t.shape == (2, 3) and t.device == backend.device,
               't.dtype is d and t.shape == (2, 3) and t.device == backend.device')
        np.testing.assert_array_equal(t.numpy(), a)


def test_tensor_copies_its_input(backend):
    a = np.ones(3, dtype=np.float32)
    t = ember.tensor(a)
    a[0] = 5
    out = t.numpy()
    out[1] = 7
    np.testing.assert_array_equal(t.numpy(), [1, 1, 1])


def test_creation_functions_match_numpy(backend):
    np.testing.assert_array_equal(ember.zeros(2, 3).numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(ember.ones((4,)).numpy(), np.ones(4))
    np.testing.assert_array_equal(ember.full((2, 2), 7).numpy(), np.full((2, 2), 7))
    expect(ember.full((2,), 7).dtype is backend.default_int,
           'ember.full((2,), 7).dtype is backend.default_int')
    expect(ember.arange(3).dtype is backend.default_int, 'ember.arange(3).dtype is backend.default_int')
    np.testing.assert_array_equal(ember.arange(5).numpy(), np.arange(5))
    np.testing.assert_allclose(ember.arange(0.0, 1.0, 0.25).numpy(), [0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(ember.linspace(0, 1, 5).numpy(), np.linspace(0, 1, 5), rtol=1e-6)
    np.testing.assert_array_equal(ember.eye(3, 4).numpy(), np.eye(3, 4))
    x = ember.tensor([[1.5, 2.5]])
    for like, value in ((ember.zeros_like, 0), (ember.ones_like, 1)):
        y = like(x)
        expect(y.shape == x.shape and y.dtype is x.dtype,
               'y.shape == x.shape and y.dtype is x.dtype')
        np.testing.assert_array_equal(y.numpy(), np.full((1, 2), value))
    np.testing.assert_array_equal(ember.full_like(x, 3).numpy(), [[3, 3]])


def test_random_is_the_host_generator_bit_for_bit(backend):
    ember.manual_seed(1234)
    a, b = ember.randn(3, 4), ember.rand(5)
    ref = np.random.default_rng(1234)
    np.testing.assert_array_equal(a.numpy(), ref.standard_normal((3, 4), dtype=np.float32))
    np.testing.assert_array_equal(b.numpy(), ref.random(5, dtype=np.float32))
    ember.manual_seed(1234)
    np.testing.assert_array_equal(ember.randn(3, 4).numpy(), a.numpy())


def test_random_ranges(backend):
    ember.manual_seed(0)
    r = ember.randint(3, 7, (1000,)).numpy()
    expect(r.min() >= 3 and r.max() < 7 and set(np.unique(r)) == {3, 4, 5, 6},
           'r.min() >= 3 and r.max() < 7 and set(np.unique(r)) == {3, 4, 5, 6}')
    u = ember.uniform(-2, -1, (1000,)).numpy()
    expect(u.min() >= -2 and u.max() < -1, 'u.min() >= -2 and u.max() < -1')
    n = ember.normal(10.0, 0.5, (4000,)).numpy()
    expect(abs(n.mean() - 10) < 0.05 and abs(n.std() - 0.5) < 0.05,
           'abs(n.mean() - 10) < 0.05 and abs(n.std() - 0.5) < 0.05')
    x = ember.zeros(2, 3)
    expect(ember.rand_like(x).shape == (2, 3) and ember.randn_like(x).dtype is ember.float32,
           'ember.rand_like(x).shape == (2, 3) and ember.randn_like(x).dtype is ember.float32')


def test_rng_state_round_trip(backend):
    ember.manual_seed(5)
    state = ember.get_rng_state()
    a = ember.rand(4).numpy()
    ember.set_rng_state(state)
    np.testing.assert_array_equal(ember.rand(4).numpy(), a)


PROMOTIONS = [  # (left, right, result), the documented table
    ("bool", "int32", "int32"), ("int32", "int64", "int64"), ("int64", "float16", "float16"),
    ("int32", "float32", "float32"), ("float16", "float32", "float32"),
    ("float32", "float64", "float64"), ("bool", "float64", "float64"), ("bool", "bool", "bool"),
    ("float16", "bfloat16", "float32"), ("int64", "bfloat16", "bfloat16"),
    ("bfloat16", "float32", "float32"),
]


@pytest.mark.parametrize("left,right,result", PROMOTIONS)
def test_promotion(backend, left, right, result):
    l, r, want = dt.dtype(left), dt.dtype(right), dt.dtype(result)
    if not {l, r, want} <= backend.dtypes:
        pytest.skip(f"backend {backend.name} lacks one of {left}, {right}, {result}")
    a = ember.tensor(np.array([1, 0, 1]).astype(l.np))
    b = ember.tensor(np.array([1, 1, 0]).astype(r.np))
    expect((a + b).dtype is want and (b * a).dtype is want,
           '(a + b).dtype is want and (b * a).dtype is want')
    expect(ember.promote(l, r) is want, 'ember.promote(l, r) is want')


def test_python_scalars_are_weak(backend):
    f = ember.tensor([1.0, 2.0])
    i = ember.tensor([1, 2], dtype=ember.int32)
    expect((f * 2).dtype is ember.float32, '(f * 2).dtype is ember.float32')
    expect((f + 2.5).dtype is ember.float32, '(f + 2.5).dtype is ember.float32')
    expect((i + 2).dtype is ember.int32, '(i + 2).dtype is ember.int32')
    expect((i * 0.5).dtype is ember.default_float, '(i * 0.5).dtype is ember.default_float')
    expect((i / i).dtype is ember.default_float, '(i / i).dtype is ember.default_float')
    expect(ember.exp(i).dtype is ember.default_float, 'ember.exp(i).dtype is ember.default_float')
    expect(i.sum().dtype is backend.default_int, 'i.sum().dtype is backend.default_int')
    expect((ember.tensor([True]) + 1).dtype is backend.default_int,
           '(ember.tensor([True]) + 1).dtype is backend.default_int')
    np.testing.assert_allclose((2.0 - f).numpy(), [1.0, 0.0])
    np.testing.assert_allclose((1.0 / f).numpy(), [1.0, 0.5])


def test_conversions(backend):
    t = ember.tensor([[1.5, 2.0], [3.0, 4.0]])
    expect(t.tolist() == [[1.5, 2.0], [3.0, 4.0]], 't.tolist() == [[1.5, 2.0], [3.0, 4.0]]')
    expect(t[0, 0].item() == 1.5 and float(t[1, 1]) == 4.0,
           't[0, 0].item() == 1.5 and float(t[1, 1]) == 4.0')
    np.testing.assert_array_equal(np.asarray(t), t.numpy())
    expect(t.ndim == 2 and t.size == 4 and t.T.shape == (2, 2) and len(t) == 2,
           't.ndim == 2 and t.size == 4 and t.T.shape == (2, 2) and len(t) == 2')
    expect([r.tolist() for r in t] == [[1.5, 2.0], [3.0, 4.0]],
           '[r.tolist() for r in t] == [[1.5, 2.0], [3.0, 4.0]]')
    expect(t.to(ember.int32).dtype is ember.int32 and t.to("bool").dtype is ember.bool_,
           't.to(ember.int32).dtype is ember.int32 and t.to("bool").dtype is ember.bool_')
    expect(t.detach().requires_grad is False, 't.detach().requires_grad is False')


def test_repr_shows_backend_and_dtype(backend):
    r = repr(ember.tensor([1.0, 2.0], requires_grad=True))
    expect("backend=" + backend.device in r and "dtype=float32" in r and "requires_grad=True" in r,
           '"backend=" + backend.device in r and "dtype=float32" in r and "requires_grad=True" in r')


def test_to_numpy_backend_and_back_keeps_values_and_gradients(backend):
    x = ember.tensor([1.0, -2.0], requires_grad=True)
    on_numpy = x.to("numpy")
    expect(on_numpy.device == "numpy", 'on_numpy.device == "numpy"')
    back = (on_numpy * 3.0).to(backend)
    expect(back.device == backend.device, 'back.device == backend.device')
    back.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_inplace_operators_rebind_values(backend):
    x = ember.tensor([1.0, 2.0])
    alias = x
    x += 1
    x *= ember.tensor([2.0, 3.0])
    x /= 2
    x -= 0.5
    x **= 2
    expect(alias is x and x.dtype is ember.float32, 'alias is x and x.dtype is ember.float32')
    np.testing.assert_allclose(x.numpy(), [1.5 ** 2, 4.0 ** 2])
    i = ember.tensor([1, 2], dtype=ember.int32)
    with pytest.raises(ember.DTypeError, match="in-place /="):
        i /= 2


def test_copy_and_data_keep_the_tensor_object(backend):
    """copy_ (values, broadcast and cast as PyTorch's) and .data = (everything) rebind the
    same object: what optimizers, load_state_dict and Module.to use."""
    p = ember.zeros(2, 3, requires_grad=True)
    with pytest.raises(ember.MutationError, match="copy_ on a tensor that takes part in autograd"):
        p.copy_(ember.ones(2, 3))
    before = p.detach()
    with ember.no_grad():
        expect(p.copy_(ember.tensor([1, 2, 3], dtype=ember.int32)) is p, "copy_ returns self")
    np.testing.assert_array_equal(p.numpy(), [[1, 2, 3], [1, 2, 3]])
    expect(p.dtype is ember.float32 and p.requires_grad and before.numpy().sum() == 0,
           "copy_ keeps dtype and requires_grad; an earlier detach keeps its value")
    with ember.no_grad(), pytest.raises(ember.ShapeError):
        p.copy_(ember.ones(4))
    q = ember.zeros(3)
    q.data = ember.tensor([[1.0, 2.0]], dtype=ember.float64 if ember.float64 in backend.dtypes
                          else ember.float32)
    expect(q.shape == (1, 2) and q.data.tolist() == [[1.0, 2.0]], ".data = replaces the value")
    with pytest.raises(ember.DTypeError, match=".data must be set to a Tensor"):
        q.data = [1.0]


def test_logical_operators(backend):
    x = ember.tensor([-1.0, 0.5, 2.0])
    np.testing.assert_array_equal(((x > 0) & (x < 1)).numpy(), [False, True, False])
    np.testing.assert_array_equal(((x < 0) | (x > 1)).numpy(), [True, False, True])
    np.testing.assert_array_equal((~(x > 0)).numpy(), [True, False, False])
    expect(bool((x > -5).all()) and bool((x > 1).any()) and not bool((x > 5).any()),
           'bool((x > -5).all()) and bool((x > 1).any()) and not bool((x > 5).any())')


@pytest.mark.parametrize("key", [
    (slice(None, None, -1),), (Ellipsis, None), (1, slice(None), None), (slice(-2, None), [0, 2]),
    ([[0, 1], [1, 0]], slice(1, 3)), ([0, 1], slice(None), [1, 2]), (-1, -1, -1),
    (np.array([True, False]),), (slice(None), np.array([True, False, True])), True, np.bool_(False),
])
def test_indexing_matches_numpy_with_gradient(backend, key):
    ref = np.arange(24.0).reshape(2, 3, 4)
    x = ember.tensor(ref, dtype=ember.float32, requires_grad=True)
    out = x[key]
    np.testing.assert_array_equal(out.numpy(), ref[key])
    w = np.random.default_rng(0).standard_normal(ref[key].shape)
    (out * ember.tensor(w, dtype=ember.float32)).sum().backward()
    want = np.zeros_like(ref)
    np.add.at(want, key, w)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-6)


@pytest.mark.parametrize("key", [(slice(None), [1, 0]), (Ellipsis, [[0], [2]]),
                                 ([0, 0], slice(None), [1, 2])])
def test_indexing_an_empty_tensor_with_integer_arrays_gives_numpys_empty_shape(backend, key):
    """Integer-array indices on a tensor with a zero-length axis elsewhere (a batch of
    none) give NumPy's empty result, not a reshape error."""
    ref = np.zeros((0, 3, 4)) if key[0] != [0, 0] else np.zeros((2, 0, 3))
    out = ember.tensor(ref, dtype=ember.float32)[key]
    expect(out.shape == ref[key].shape, f"{ref.shape}[{key}] gave {out.shape}, NumPy "
                                        f"{ref[key].shape}")


SET_KEYS = [(1,), (slice(None), 2), (Ellipsis, slice(1, None, 2)), ([0, 0], [1, 1], [2, 2]),
            (np.array([True, False]), slice(None), 0), (slice(None, None, -1), [2, 0])]


@pytest.mark.parametrize("key", SET_KEYS)
def test_item_assignment_matches_numpy_and_rebinds(backend, key):
    ref = np.arange(24.0).reshape(2, 3, 4)
    x = ember.tensor(ref, dtype=ember.float32)
    before, alias = x[0], x
    value = -np.arange(np.asarray(ref[key]).size, dtype=np.float64).reshape(np.shape(ref[key])) - 1
    x[key] = ember.tensor(value, dtype=ember.float32)
    ref[key] = value
    np.testing.assert_array_equal(x.numpy(), ref)
    expect(alias is x and before.numpy()[0, 0] == 0.0, "x rebinds; a view taken before keeps its value")
    x[key] = 7                                   # a scalar broadcasts
    ref[key] = 7
    np.testing.assert_array_equal(x.numpy(), ref)


def test_setitem_is_differentiable_as_a_function(backend):
    """ember.setitem (what x[key] = v computes) carries gradients to x and to v."""
    ref = np.random.default_rng(0).standard_normal((3, 4))
    gradcheck(lambda x, v: ember.setitem(x, (slice(None), [0, 2]), v) * 2.0,
              [ref, np.ones((3, 2))], backend)


def test_index_with_an_ember_tensor(backend):
    x = ember.arange(10)
    np.testing.assert_array_equal(x[ember.tensor([9, 0, 3])].numpy(), [9, 0, 3])
    np.testing.assert_array_equal(x[x > 6].numpy(), [7, 8, 9])


def test_dlpack_round_trip_with_numpy(backend):
    t = ember.tensor(np.arange(12.0).reshape(3, 4), dtype=ember.float32)
    expect(t.__dlpack_device__()[0] in (1, 2), f"device {t.__dlpack_device__()}")
    if t.__dlpack_device__()[0] == 1:   # a host buffer: NumPy reads it directly
        np.testing.assert_array_equal(np.from_dlpack(t), t.numpy())
    back = ember.from_dlpack(np.arange(6, dtype=np.int32).reshape(2, 3), backend=backend)
    expect(back.device == backend.device and back.dtype is ember.int32 and back.shape == (2, 3),
           f"{back.device} {back.dtype} {back.shape}")
    np.testing.assert_array_equal(back.numpy(), np.arange(6).reshape(2, 3))
    small = ember.from_dlpack(np.array([1, 2], dtype=np.uint8), backend=backend)
    want = ember.uint8 if ember.uint8 in backend.dtypes else backend.default_int
    expect(small.dtype is want, f"uint8 gives {want} on {backend.name}, got {small.dtype}")


def test_format_and_comparison_with_none_are_pytorchs(backend):
    """f"{loss:.4f}" formats a 0-d tensor's number; other tensors take no format spec.
    x == None is False and x != None True (identity), not an attempt to make a tensor."""
    expect(f"{ember.tensor(1.5):.3f}" == "1.500", "a 0-d tensor formats as its number")
    expect(f"{ember.tensor(7, dtype=ember.int32):03d}" == "007", "an integer 0-d tensor too")
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{ember.ones(2):.2f}"
    x = ember.ones(2)
    expect((x == None) is False and (x != None) is True, "None compares by identity")  # noqa: E711


def test_one_element_integer_tensors_bound_slices(backend):
    """x[:n] with n a 0-d integer tensor, as array-API libraries (scikit-learn) write it."""
    x = ember.arange(10, backend=backend)
    n, step = ember.tensor(5, backend=backend), ember.tensor(2, backend=backend)
    expect(x[:n].numpy().tolist() == [0, 1, 2, 3, 4], "x[:n]")
    expect(x[1:n:step].numpy().tolist() == [1, 3], "x[1:n:step]")


def test_numpy_integers_serve_as_axes(backend):
    """An axis from NumPy (np.argmax, a shape's entry) is an int, as in PyTorch."""
    x = ember.ones(2, 3, backend=backend)
    expect(x.sum(axis=np.int64(1)).numpy().tolist() == [3.0, 3.0], "sum(axis=np.int64(1))")
    expect(x.sum(axis=[np.int64(0), 1]).numpy().item() == 6.0, "sum over a list of axes")
    expect(ember.softmax(x, np.int32(0)).shape == (2, 3), "softmax(axis=np.int32(0))")


def test_where_of_two_scalars_lands_on_the_conditions_backend(backend):
    """where(cond, 0.0, -inf) put its scalars on the default backend (ONNX's attention
    masks on opencl failed with 'tensors are on different backends')."""
    cond = ember.tensor([True, False], backend=backend)
    out = ember.where(cond, 0.0, -math.inf)
    expect(out.device == backend.device and out.dtype is ember.float32
           and out.tolist() == [0.0, -math.inf], f"{out.device} {out.dtype} {out.tolist()}")
