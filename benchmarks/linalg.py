"""Linear algebra: ember.linalg on each backend against SciPy's and NumPy's LAPACK called
directly on a host array (a batch one matrix at a time), and PyTorch on the CPU, timed
side by side.

    python benchmarks/linalg.py [--backends numpy,opencl,wgpu]

Each row is one workload in float32; the columns are milliseconds per call, the ratio to
the host LAPACK call in brackets. ember computes these with the same LAPACK on a host
copy (Backend.lapack), so what it adds is the copies, the packing of several results
into one, and its op dispatch."""

import numpy as np
import scipy.linalg as sl

import ember
from timing import host_table

try:
    import torch
except ImportError:
    torch = None


def _workloads():
    rng = np.random.default_rng(0)
    big = (rng.standard_normal((256, 256)) + 16 * np.eye(256)).astype(np.float32)
    small = (rng.standard_normal((1000, 4, 4)) + 2 * np.eye(4)).astype(np.float32)
    rhs = rng.standard_normal((256, 8)).astype(np.float32)
    small_rhs = rng.standard_normal((1000, 4, 1)).astype(np.float32)
    sym = (big + big.T).astype(np.float32)
    general = rng.standard_normal((128, 128)).astype(np.float32)

    def host_lu_solve(a, b):
        out = []
        for x, y in zip(a, b):
            lu, piv, _ = sl.lapack.sgetrf(x)
            out.append(sl.lapack.sgetrs(lu, piv, y)[0])
        return out

    def factored(x, lib):
        return lib.linalg.lu_factor(x)

    return [
        ("lu_factor 256 x 256", (big,), lambda a: sl.lapack.sgetrf(a),
         lambda x: ember.linalg.lu_factor(x), lambda t: torch.linalg.lu_factor(t)),
        ("lu_factor 1000 x 4 x 4", (small,), lambda a: [sl.lapack.sgetrf(x) for x in a],
         lambda x: ember.linalg.lu_factor(x), lambda t: torch.linalg.lu_factor(t)),
        ("lu_solve 256, 8 columns", (big, rhs),
         lambda a, b, f=sl.lapack.sgetrf(big): sl.lapack.sgetrs(f[0], f[1], b),
         lambda x, b: ember.linalg.lu_solve(*_cached(x, ember), b),
         lambda t, b: torch.linalg.lu_solve(*_cached(t, torch), b)),
        ("factor + solve 1000 x 4 x 4", (small, small_rhs), host_lu_solve,
         lambda x, b: ember.linalg.lu_solve(*factored(x, ember), b),
         lambda t, b: torch.linalg.lu_solve(*factored(t, torch), b)),
        ("solve 256, 8 columns", (big, rhs), lambda a, b: np.linalg.solve(a, b),
         lambda x, b: ember.linalg.solve(x, b), lambda t, b: torch.linalg.solve(t, b)),
        ("ldl_factor 256 x 256", (sym,), lambda a: sl.lapack.ssytrf(a, lower=1),
         lambda x: ember.linalg.ldl_factor(x), lambda t: torch.linalg.ldl_factor(t)),
        ("eig 128 x 128", (general,), lambda a: np.linalg.eig(a),
         lambda x: ember.linalg.eig(x), lambda t: torch.linalg.eig(t)),
    ]


_FACTORS = {}


def _cached(x, lib):
    """x's LU factors, computed once: lu_solve alone is timed."""
    key = (id(x), lib.__name__)
    if key not in _FACTORS:
        _FACTORS[key] = (x, lib.linalg.lu_factor(x))
    return _FACTORS[key][1]


def main(argv=None):
    host_table(__doc__.splitlines()[0], "LAPACK", _workloads(), argv)


if __name__ == "__main__":
    main()
