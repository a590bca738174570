"""Kernel tuning, cold and warm: each strided backend's first matmul in a fresh process
with an empty tuning cache (the search runs inside that call), then in a second fresh
process that finds the cache the first left (no search); the GFLOP/s each reaches after,
and NumPy's BLAS in the same process.

    python benchmarks/tuning.py [--backend opencl] [--size 1024]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

#: the matmul size each backend is judged at (issue 22: OpenCL 1024, wgpu 512)
SIZES = {"opencl": 1024, "wgpu": 512}


def _child(backend, n):
    """One process's figures: its first call (seconds), then GFLOP/s of ember and NumPy."""
    import ember
    sys.path.insert(0, os.path.dirname(__file__))
    from timing import median_time
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    t = ember.tensor(a, backend=backend)
    be = ember.get_backend(backend)
    be.synchronize()
    start = time.perf_counter()
    (t @ t)
    be.synchronize()
    first = time.perf_counter() - start
    flops = 2 * n ** 3
    ours = flops / median_time(lambda: t @ t, be.synchronize, 0.3, 5) / 1e9
    theirs = flops / median_time(lambda: a @ a, min_time=0.3, repeat=5) / 1e9
    print(json.dumps({"first": first, "ember": ours, "numpy": theirs}))


def rows(backends, sizes=SIZES):
    """[(backend, size, cache, first call s, ember GFLOP/s, NumPy GFLOP/s)], cold then warm."""
    out = []
    for backend in backends:
        if backend not in sizes:
            continue
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, EMBER_CACHE_DIR=cache, EMBER_TUNING="1")
            for state in ("cold", "warm"):
                done = subprocess.run([sys.executable, __file__, "--child", backend,
                                       "--size", str(sizes[backend])], env=env, check=True,
                                      capture_output=True, text=True)
                r = json.loads(done.stdout.strip().splitlines()[-1])
                out.append((backend, sizes[backend], state, r["first"], r["ember"], r["numpy"]))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append")
    parser.add_argument("--size", type=int)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.child, args.size)
    backends = args.backend or list(SIZES)
    sizes = {b: args.size or SIZES.get(b, 1024) for b in backends}
    print("backend | matmul | cache | first call | ember GFLOP/s | NumPy GFLOP/s | ember / NumPy")
    for b, n, state, first, ours, theirs in rows(backends, sizes):
        print(f"{b} | {n} | {state} | {first:.2f} s | {ours:.1f} | {theirs:.1f} | {ours / theirs:.2f}x",
              flush=True)


if __name__ == "__main__":
    main()
