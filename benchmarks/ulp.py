"""Worst error in ULPs of ember's float32 transcendental functions over their whole
finite domain, per backend, against NumPy float64.

    python benchmarks/ulp.py [--backend NAME ...] [--points N]

Inputs: N float32 values spread evenly over the bit patterns of all finite floats (so
every binade, subnormals included, gets its share), plus their negatives. A backend that
flushes subnormals (flushes_subnormals) is judged with zero allowed for subnormal results
and without subnormal inputs.
"""

import argparse
import math

import numpy as np

import ember
from ember.plugins.nn import functional as F
from ember.testing.checks import ulp_error


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


FUNCTIONS = {
    "sigmoid": (ember.sigmoid, _sigmoid),
    "log_sigmoid": (ember.log_sigmoid, lambda x: -np.logaddexp(0.0, -x)),
    "softplus": (ember.softplus, lambda x: np.where(x > 20, x, np.logaddexp(0.0, x))),
    "tanh": (ember.tanh, np.tanh),
    "exp": (ember.exp, np.exp),
    "log": (ember.log, np.log),
    "log1p": (ember.log1p, np.log1p),
    "expm1": (ember.expm1, np.expm1),
    "sin": (ember.sin, np.sin),
    "cos": (ember.cos, np.cos),
    "erf": (F.erf, lambda x: np.vectorize(math.erf)(x)),
}


def inputs(points):
    bits = np.linspace(0, 0x7f7fffff, points).astype(np.uint32)
    x = bits.view(np.float32)
    return np.concatenate([x, -x])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append")
    parser.add_argument("--points", type=int, default=1_000_000)
    args = parser.parse_args()
    x = inputs(args.points)
    print(f"{2 * args.points} float32 inputs per function; worst error in ULPs (input)")
    for name in args.backend or ["numpy", "opencl", "wgpu"]:
        b = ember.get_backend(name)
        xs = x[~((x != 0) & (np.abs(x) < np.finfo(np.float32).tiny))] if b.flushes_subnormals else x
        row = []
        for fname, (fn, ref) in FUNCTIONS.items():
            with np.errstate(all="ignore"):
                want = ref(xs.astype(np.float64))
                if fname in ("log", "log1p"):
                    keep = xs >= (0 if fname == "log" else -1)
                else:
                    keep = np.ones(xs.shape, bool)
            got = fn(ember.tensor(xs[keep], backend=b)).numpy()
            err = ulp_error(got, want[keep], ember.float32, b.flushes_subnormals)
            i = int(np.argmax(err))
            row.append(f"{fname} {err[i]:.2f} ({xs[keep][i]:.4g})")
        print(f"{b.device}: " + ", ".join(row))


if __name__ == "__main__":
    main()
