"""ember.compile against eager execution on one backend, side by side in one run:
a chain of eight elementwise ops on 4M float32 elements (one fused kernel compiled)
and the MLP 784-128-10 SGD-with-momentum training step at batch 64.

    python benchmarks/compiled.py [--backend opencl] [--backend wgpu ...]
"""

import argparse
import os
import sys

import ember

sys.path.insert(0, os.path.dirname(__file__))
import workloads  # noqa: E402
from timing import median_time  # noqa: E402


def rows(backend):
    """[(label, eager seconds, compiled seconds)] on ``backend``."""
    out = []
    for label, make in (
            ("8 elementwise ops, 4M float32", lambda c: workloads.ember_chain(4 * 2 ** 20, backend, c)),
            ("MLP 784-128-10 SGD step, batch 64",
             lambda c: workloads.ember_step(workloads.mlp, (64, 784), backend, "momentum", c))):
        eager, compiled = make(False), make(True)
        for _ in range(3):
            compiled()          # two traces, then the first replay builds the kernels
        out.append((label, median_time(eager, backend.synchronize),
                    median_time(compiled, backend.synchronize)))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", action="append", default=[])
    args = parser.parse_args(argv)
    print(f"{'backend':10s} {'workload':36s} {'eager':>10s} {'compiled':>10s} {'speed-up':>9s}")
    for name in args.backend or ["numpy"]:
        backend = ember.get_backend(name)
        for label, eager, compiled in rows(backend):
            print(f"{backend.device:10s} {label:36s} {eager * 1e3:8.2f}ms {compiled * 1e3:8.2f}ms "
                  f"{eager / compiled:8.1f}x", flush=True)


if __name__ == "__main__":
    main()
