"""Bad input fails in the core, before a backend sees it, with one message everywhere."""

import fractions

import pytest

import ember
from ember.testing.checks import expect, other_backend

F32 = dict(dtype=ember.float32)

ERRORS = [
    ("matmul_inner", lambda: ember.zeros(128, 64) @ ember.zeros(32, 10), ember.ShapeError,
     "matmul: (128, 64) @ (32, 10): inner dimensions 64 and 32 differ"),
    ("matmul_scalar", lambda: ember.matmul(ember.zeros(()), ember.zeros(3)), ember.ShapeError,
     "matmul: () @ (3,): operands need at least one dimension; use * for scalars"),
    ("broadcast", lambda: ember.zeros(2, 3) + ember.zeros(4, 3), ember.ShapeError,
     "add: shapes (2, 3) and (4, 3) do not broadcast: axis -2 has sizes 2 and 4"),
    ("reshape", lambda: ember.zeros(2, 3).reshape(4, 2), ember.ShapeError,
     "reshape: cannot reshape (2, 3) (6 elements) to (4, 2) (8 elements)"),
    ("axis", lambda: ember.zeros(2, 3).sum(axis=2), ember.ShapeError,
     "sum: axis 2 is out of range for a tensor of 2 dimensions (shape (2, 3)); "
     "use -2 <= axis < 2"),
    ("concatenate", lambda: ember.concatenate([ember.zeros(2, 3), ember.zeros(3, 3)], axis=1),
     ember.ShapeError, "concatenate: shapes (2, 3), (3, 3) differ outside axis 1"),
    ("max_empty", lambda: ember.zeros(0, 3).max(axis=0), ember.ShapeError,
     "max: cannot reduce axis 0 of size 0 (shape (0, 3)); an empty reduction has no maximum"),
    ("index_range", lambda: ember.zeros(2, 3)[:, 5], ember.IndexingError,
     "index 5 is out of bounds for axis 1 with size 3"),
    ("index_array_range", lambda: ember.zeros(4)[[0, 4]], ember.IndexingError,
     "index 4 is out of bounds for axis 0 with size 4"),
    ("too_many_indices", lambda: ember.zeros(2)[0, 0], ember.IndexingError,
     "too many indices: the key uses 2 axes but the tensor has 1"),
    ("tensordot_axes", lambda: ember.array_api.tensordot(ember.zeros(2, 2), ember.zeros(2, 2), axes=3),
     ember.ShapeError, "tensordot: dims=3 contracts more axes than (2, 2) or (2, 2) has"),
    ("tensordot_sizes", lambda: ember.array_api.tensordot(ember.zeros(2, 2), ember.zeros(3, 2),
                                                          axes=([0], [0])),
     ember.ShapeError, "tensordot: axes [0] of (2, 2) and [0] of (3, 2) must pair up"),
    ("solve_shapes", lambda: ember.array_api.linalg.solve(ember.eye(2), ember.ones(3)),
     ember.ShapeError, "solve: x1 (2, 2) must be square matrices (..., M, M) and x2 (3,) hold "
     "M = 2 rows"),
    ("axis_float", lambda: ember.zeros(2, 3).sum(axis=1.0), ember.ShapeError,
     "sum: axis must be an int, a tuple of ints or None, got 1.0"),
    ("float_index", lambda: ember.zeros(2)[1.0], ember.IndexingError,
     "only integers, slices (:), ellipsis (...), None and integer or bool tensors, arrays or "
     "lists are valid indices; got float 1.0"),
    ("zero_step", lambda: ember.zeros(2)[::0], ember.IndexingError,
     "slice step cannot be zero, got slice(None, None, 0)"),
    ("float_slice", lambda: ember.zeros(2)[:1.5], ember.IndexingError,
     "slice bounds and steps must be ints or None, got slice(None, 1.5, None)"),
    ("setitem", lambda: ember.zeros(3, requires_grad=True).__setitem__(0, 1.0), ember.MutationError,
     "item assignment on a tensor that takes part in autograd; build the new tensor instead, "
     "e.g. x = ember.where(mask, value, x), or assign under ember.no_grad()"),
    ("mask_shape", lambda: ember.zeros(2, 3)[ember.tensor([True, False, True])], ember.IndexingError,
     "boolean mask of shape (3,) does not match the indexed axes (2,) of shape (2, 3)"),
    ("bool_sub", lambda: ember.tensor([True]) - ember.tensor([False]), ember.DTypeError,
     "sub: subtracting bool tensors is not supported; use logical_xor, or cast to an "
     "integer dtype first"),
    ("where_cond", lambda: ember.where(ember.zeros(2), 1.0, 0.0), ember.DTypeError,
     "where: the condition must be a bool tensor, got float32; compare first, as in "
     "where(x > 0, x, 0)"),
    ("grad_int", lambda: ember.zeros(2, dtype=ember.int32).requires_grad_(), ember.DTypeError,
     "requires_grad: only floating and complex tensors have gradients; this one is "
     "ember.int32; cast it first with .to(ember.float32)"),
    ("item", lambda: ember.zeros(2, 2).item(), ValueError,
     "item: the tensor has shape (2, 2) (4 elements); item() needs exactly one"),
    ("unknown_dtype", lambda: ember.zeros(2, dtype="float8"), ember.DTypeError,
     "unknown dtype 'float8'; ember has bool, int8, int16, int32, int64, uint8, uint16, uint32, "
     "uint64, float16, bfloat16, float32, float64, complex64, complex128"),
    ("bitwise_float", lambda: ember.zeros(2) & ember.zeros(2), ember.DTypeError,
     "bitwise_and: needs integer or bool tensors, got float32; compare first, as in "
     "(x > 0) & (x < 1)"),
    ("complex_order", lambda: ember.tensor([1j], backend="numpy").max(), ember.DTypeError,
     "max: complex numbers have no order; compare ember.abs(x) or ember.real(x) instead"),
    ("fraction_scalar", lambda: ember.zeros(2) + fractions.Fraction(1, 3), ember.DTypeError,
     "cannot combine a tensor with Fraction Fraction(1, 3); use a bool, int, float, complex "
     "or tensor"),
    ("unknown_backend", lambda: ember.zeros(2).to("nope"), ember.BackendError, "no backend 'nope'; available: "),
    ("bad_device_index", lambda: ember.zeros(2).to("numpy:x"), ember.BackendError,
     "backend 'numpy:x': the device index after ':' must be a number, as in 'opencl:1'"),
    ("negative_shape", lambda: ember.zeros(2, -1), ember.ShapeError, "zeros: negative size in shape (2, -1)"),
    ("tensor_of_strings", lambda: ember.tensor(["1.5", "x"], dtype=ember.float32),
     ember.DTypeError, "tensor: cannot make a tensor from list holding <U3 values; give "
     "numbers or bools"),
    ("eye_negative", lambda: ember.eye(2, -1), ember.ShapeError, "eye: negative size in shape (2, -1)"),
    ("arange_nan", lambda: ember.arange(0.0, float("nan")), ember.RangeError,
     "arange: from 0.0 to nan by 1 is no finite range; give finite numbers"),
    ("arange_too_long", lambda: ember.arange(0, 1e300), ember.ShapeError,
     "arange: from 0 to 1e+300 by 1 is 1e+300 values, more than any array holds"),
    ("like_of_a_list", lambda: ember.zeros_like([1.0, 2.0]), ember.DTypeError,
     "zeros_like: needs a tensor to take the shape and backend of, got list"),
    ("bernoulli_range", lambda: ember.bernoulli(ember.tensor([0.5, 1.5])), ember.RangeError,
     "bernoulli: p must hold probabilities in [0, 1] (NaN is none)"),
    ("bernoulli_nan", lambda: ember.bernoulli(ember.tensor([float("nan")])), ember.RangeError,
     "bernoulli: p must hold probabilities in [0, 1]"),
    ("bernoulli_scalar", lambda: ember.zeros(2).bernoulli_(2.0), ember.RangeError,
     "bernoulli_: p must be a probability in [0, 1], got 2.0"),
    ("grad_shape", lambda: setattr(ember.zeros(2, 3), "grad", ember.zeros(3)), ember.ShapeError,
     ".grad of shape (3,) assigned to a tensor of shape (2, 3); a gradient has its tensor's shape"),
    ("grad_dtype", lambda: setattr(ember.zeros(2), "grad", ember.zeros(2, dtype=ember.int32)),
     ember.DTypeError, ".grad of dtype int32 assigned to a float32 tensor; cast it with .to(float32)"),
    ("grad_type", lambda: setattr(ember.zeros(2), "grad", [1.0, 2.0]), ember.DTypeError,
     ".grad must be a Tensor or None, not list"),
]


@pytest.mark.parametrize("make,kind,message", [pytest.param(*e[1:], id=e[0]) for e in ERRORS])
def test_error_message(backend, make, kind, message):
    with pytest.raises(kind) as info:
        make()
    expect(str(info.value).startswith(message), 'str(info.value).startswith(message)')
    expect(isinstance(info.value, (ember.EmberError, ValueError)),
           'isinstance(info.value, (ember.EmberError, ValueError))')


def test_mixing_backends_names_both(backend):
    other = other_backend(backend)
    a, b = ember.zeros(2), ember.zeros(2).to(other)
    with pytest.raises(ember.BackendError, match=f"add: tensors are on different backends "
                                                 f"\\({backend.device} and {other.device}\\)"):
        a + b
    with pytest.raises(ember.BackendError, match="different backends"):
        a[b.to(dtype=ember.int32)]
    with pytest.raises(ember.BackendError, match="different backends"):
        a[ember.tensor([0], backend=other)] = 1.0
    with pytest.raises(ember.BackendError, match="different backends"):
        a[0] = ember.ones((), backend=other)
    with pytest.raises(ember.BackendError, match=f"assigned to a tensor on {backend.device}"):
        a.grad = b


def test_unsupported_dtype_is_refused_by_the_core(backend):
    missing = [d for d in ember.dtypes.ALL if d not in backend.dtypes]
    if not missing:
        pytest.skip(f"backend {backend.name} supports every ember dtype")
    with pytest.raises(ember.DTypeError, match=f"does not support {missing[0].name}"):
        ember.zeros(2, dtype=missing[0])
