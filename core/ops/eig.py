"""Eigenvalues and eigenvectors of general square matrices, as torch.linalg.eig and
eigvals: LAPACK's geev through NumPy on a host copy (16-bit floats in float32). The
results are complex whatever the input (complex64 from float32, complex128 from float64),
each eigenvector of unit length with its largest component real, as LAPACK leaves it.

Gradients are PyTorch's linalg_eig_backward in ember's ops (so they differentiate
again), real for a real input: gA = V^-H (diag(gL) + (V^H gV - V^H V Re diag(V^H gV)) /
conj(L_j - L_i)) V^H. An eigenvector is fixed only up to a phase, so a loss that depends
on the phase has no gradient: that is an AutogradError, as in PyTorch. Repeated
eigenvalues divide by zero in that formula; where the loss does not use their vectors
they add nothing (as eigh's). NaN or inf in the input is a LinAlgError (LAPACK cannot
finish), as PyTorch's; 0 x 0 matrices and empty batches give empty results."""

import collections

import numpy as np

from .. import dtypes as dt
from ..autograd import run
from ..errors import AutogradError
from .complex_parts import real, view_as_complex
from .elementwise import abs as abs_, cast, conj, imag
from .lapack import ComplexLapack, Lapack, ROUTINES, _lapack, _quotient, matrices, solve
from .linalg import matmul
from .movement import diagonal, reshape, unsqueeze
from .stacking import diag_embed

EigResult = collections.namedtuple("EigResult", "eigenvalues eigenvectors")


def _eig_host(a):
    """[eigenvalues | eigenvectors as rows], complex, one row per matrix of a; as pairs of
    reals (the last axis doubled) for a real a."""
    w, v = np.linalg.eig(a)
    out = np.concatenate([w, v.reshape(v.shape[:-2] + (v.shape[-1] ** 2,))], -1)
    if a.dtype.kind == "c":
        return out
    out = out.astype(np.result_type(a.dtype, np.complex64))
    return np.ascontiguousarray(out).view(a.dtype)


ROUTINES["eig"] = _lapack("eig", _eig_host, lambda m: "holds inf or NaN" if not
                          np.all(np.isfinite(m)) else "did not converge")


def _complex(packed, A):
    """The packed results as complex: view the pairs of a real input's results."""
    if A.dtype.is_complex:
        return packed
    return view_as_complex(reshape(packed, packed.shape[:-1] + (packed.shape[-1] // 2, 2)))


def eig(A):
    """(eigenvalues (..., n), eigenvectors as columns (..., n, n)), complex, as
    torch.linalg.eig: A = V diag(L) V^-1."""
    A = matrices("eig", A, complex_ok=True)
    n = A.shape[-1]
    wide = dt.float32 if A.dtype in dt.HALF else A.dtype
    size = n + n * n
    op = (ComplexLapack if wide.is_complex else Lapack)("eig", (), _eig_grad)
    packed = run(op, (cast(A, wide),), A.shape[:-2] + (size if wide.is_complex else 2 * size,),
                 wide)
    both = _complex(packed, A)
    return EigResult(both[..., :n], reshape(both[..., n:], A.shape))


def eigvals(A):
    """The eigenvalues (..., n), complex, as torch.linalg.eigvals; gradient
    V^-H diag(gL) V^H."""
    return eig(A).eigenvalues


def _eig_grad(g, packed, A):
    n = A.shape[-1]
    both, gboth = _complex(packed, A), _complex(g, A)
    L, V = both[..., :n], reshape(both[..., n:], A.shape)
    gL, gV = gboth[..., :n], reshape(gboth[..., n:], A.shape)
    Vh = V.mH
    VhgV = matmul(Vh, gV)
    phase = imag(diagonal(VhgV, 0, -2, -1))
    from ..compile import is_compiling
    if not is_compiling() and phase.numel() and \
            float(abs_(phase).max()) > 1e-2 * (1 + float(abs_(VhgV).max())):
        raise AutogradError("linalg.eig: each eigenvector is fixed only up to a phase "
                            "(times e^(i phi)), and the loss depends on it, so it has no "
                            "gradient; use what the phase leaves alone, e.g. |V| or V V^-1")
    VhgV = VhgV - matmul(Vh, V * unsqueeze(real(diagonal(VhgV, 0, -2, -1)), -2))
    from ..creation import eye
    Lc = conj(L)
    E = unsqueeze(Lc, -2) - unsqueeze(Lc, -1) + eye(n, dtype=L.dtype, backend=L._backend)
    off = _quotient(VhgV, E)
    inner = off - diag_embed(diagonal(off, 0, -2, -1)) + diag_embed(gL)
    gA = solve(Vh, matmul(inner, Vh), vector=False)
    return (gA if A.dtype.is_complex else cast(real(gA), A.dtype),)

