"""einsum, as numpy.einsum and torch.einsum: explicit ('ij,jk->ik') and implicit ('ij,jk')
outputs, '...' for broadcast axes, a letter repeated in one operand taking its diagonal,
a letter in no output summed. Composed of diagonals, sums, permutes, reshapes and one
batched matmul per pair of operands, left to right, so it runs and differentiates on
every backend, and a contraction is a GEMM, never a multiply-and-sum."""

import math
import string

from ..errors import ShapeError
from ._util import as_tensor, same_backend
from .elementwise import cast
from .linalg import matmul
from .movement import broadcast_to, permute, reshape
from .reduce import sum as sum_

_LETTERS = set(string.ascii_letters)


def einsum(equation, *operands):
    """The sum over the letters of ``equation`` that its output omits of the products of
    the operands' elements, as torch.einsum (its operands may also come as one list)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise ShapeError(f"einsum: the equation must be a string, got {type(equation).__name__}")
    if not operands:
        raise ShapeError("einsum: needs at least one operand")
    tensors = [as_tensor(t, "einsum") for t in operands]
    same_backend("einsum", tensors)
    inputs, output = _parse(equation.replace(" ", ""), tensors)
    sizes = _sizes(equation, inputs, tensors)
    terms = [_reduced(t, letters, _wanted(k, inputs, output))
             for k, (t, letters) in enumerate(zip(tensors, inputs))]
    t, letters = terms[0]
    for k, (u, other) in enumerate(terms[1:], 1):
        later = set(output).union(*inputs[k + 1:])
        t, letters = _contract(t, letters, u, other, later, sizes)
    t, letters = _reduced(t, letters, set(output))
    return permute(t, tuple(letters.index(c) for c in output)) if letters != output else t


def _parse(equation, tensors):
    """The operands' letters and the output's, each '...' spelled out as letters the
    equation does not use (as many as the operand's axes it covers, right-aligned)."""
    lhs, arrow, rhs = equation.partition("->")
    parts = lhs.split(",")
    if len(parts) != len(tensors):
        raise ShapeError(f"einsum: equation {equation!r} names {len(parts)} operands but "
                         f"{len(tensors)} were given")
    used = set(equation) & _LETTERS
    spare = [c for c in string.ascii_letters if c not in used]
    ellipsis_ndim = 0
    for part, t in zip(parts, tensors):
        bad = set(part.replace("...", "")) - _LETTERS
        if bad:
            raise ShapeError(f"einsum: {equation!r} has characters that are not letters: "
                             f"{''.join(sorted(bad))}")
        named = len(part.replace("...", ""))
        if "..." in part:
            ellipsis_ndim = max(ellipsis_ndim, t.ndim - named)
        elif named != t.ndim:
            raise ShapeError(f"einsum: operand {part!r} of {equation!r} names {named} axes but "
                             f"has shape {t.shape}")
    dots = "".join(spare[:ellipsis_ndim])
    inputs = []
    for part, t in zip(parts, tensors):
        if "..." in part:
            own = t.ndim - len(part.replace("...", ""))
            if own < 0:
                raise ShapeError(f"einsum: operand {part!r} of {equation!r} names more axes "
                                 f"than its shape {t.shape} has")
            part = part.replace("...", dots[len(dots) - own:])
        inputs.append(part)
    if arrow:
        output = rhs.replace("...", dots)
        unknown = set(output) - set("".join(inputs))
        if unknown or len(set(output)) != len(output):
            raise ShapeError(f"einsum: the output of {equation!r} names letters that are not "
                             f"inputs' or repeats one")
    else:
        counts = {}
        for c in "".join(inputs):
            counts[c] = counts.get(c, 0) + 1
        output = dots + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in dots))
    return inputs, output


def _sizes(equation, inputs, tensors):
    """Each letter's size; a letter of size 1 broadcasts against the others (as '...')."""
    sizes = {}
    for letters, t in zip(inputs, tensors):
        for c, n in zip(letters, t.shape):
            if sizes.get(c, 1) not in (1, n) and n != 1:
                raise ShapeError(f"einsum: {equation!r}: axis {c!r} has sizes {sizes[c]} and {n}")
            sizes[c] = max(sizes.get(c, 1), n)
    return sizes


def _wanted(k, inputs, output):
    """The letters operand k must keep: the output's and the other operands'."""
    return set(output).union(*(letters for j, letters in enumerate(inputs) if j != k))


def _reduced(t, letters, keep):
    """t with each repeated letter's diagonal taken and the letters not in ``keep`` summed."""
    while len(set(letters)) != len(letters):
        c = next(c for c in letters if letters.count(c) > 1)
        i, j = letters.index(c), letters.index(c, letters.index(c) + 1)
        rest = [a for a in range(t.ndim) if a not in (i, j)]
        n = t.shape[i]
        if t.shape[j] != n:
            raise ShapeError(f"einsum: the diagonal of {c!r} needs equal sizes, got "
                             f"{t.shape[i]} and {t.shape[j]}")
        moved = reshape(permute(t, tuple(rest) + (i, j)), tuple(t.shape[a] for a in rest) + (n * n,))
        t = moved[(slice(None),) * len(rest) + (slice(None, None, n + 1),)]
        letters = "".join(letters[a] for a in rest) + c
    gone = tuple(a for a, c in enumerate(letters) if c not in keep)
    if gone:     # integers sum in their own dtype, wrapping, as NumPy's and PyTorch's einsum
        t = cast(sum_(t, gone), t.dtype)
        letters = "".join(c for c in letters if c in keep)
    return t, letters


def _contract(a, la, b, lb, later, sizes):
    """a times b summed over the letters they share that nothing later needs: one
    batched matmul (batch: shared and kept; rows: a's own; columns: b's own)."""
    batch = [c for c in la if c in lb and c in later]
    summed = [c for c in la if c in lb and c not in later]
    rows = [c for c in la if c not in lb]
    cols = [c for c in lb if c not in la]
    size = lambda cs: math.prod(sizes[c] for c in cs)        # noqa: E731
    a = broadcast_to(permute(a, tuple(la.index(c) for c in batch + rows + summed)),
                     tuple(sizes[c] for c in batch + rows + summed))
    b = broadcast_to(permute(b, tuple(lb.index(c) for c in batch + summed + cols)),
                     tuple(sizes[c] for c in batch + summed + cols))
    out = matmul(reshape(a, (size(batch), size(rows), size(summed))),
                 reshape(b, (size(batch), size(summed), size(cols))))
    return reshape(out, tuple(sizes[c] for c in batch + rows + cols)), "".join(batch + rows + cols)
