"""Run the data-apis array-api-tests suite on ``ember.array_api``, once per backend.

    python tests/run_array_api_tests.py --checkout ../array-api-tests [--backends numpy opencl wgpu]

array-api-tests is a git repository, not a package: clone
https://github.com/data-apis/array-api-tests with its ``array-api`` submodule (the
figures in docs/user-guide.md are from commit 55fcc60, spec 5f847a3) and install its
requirements (hypothesis, ndindex, pytest-json-report). The suite draws arrays on the
default device, so each backend runs as EMBER_BACKEND, and the standard's dtypes that
backend does not hold are skipped (ARRAY_API_TESTS_SKIP_DTYPES); it would otherwise
count each refusal as a failure. The suite cannot start without a complex dtype (it
makes complex arrays as it loads), so on a backend with none it reports that.
``--module array_api_strict`` runs the reference implementation instead, for comparison.
"""

import argparse
import os
import re
import subprocess
import sys


def missing_dtypes(backend):
    """The standard's dtype names the backend does not hold."""
    import ember
    from ember import array_api
    held = {d.name for d in ember.get_backend(backend).dtypes}
    return [d.name for d in array_api._STANDARD if d.name not in held]


def run(checkout, backend, module, max_examples):
    env = dict(os.environ, ARRAY_API_TESTS_MODULE=module, EMBER_BACKEND=backend,
               ARRAY_API_TESTS_SKIP_DTYPES=",".join(missing_dtypes(backend)))
    cmd = [sys.executable, "-m", "pytest", "array_api_tests", "-q", "-p", "no:cacheprovider",
           "-p", "no:warnings", f"--max-examples={max_examples}", "-n", "auto", "-rf"]
    out = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True)
    lines = out.stdout.strip().splitlines()
    summary = lines[-1] if lines and "passed" in lines[-1] else out.stdout + out.stderr
    failed = [line for line in lines if line.startswith("FAILED")]
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|error)", summary)}
    return counts, failed, summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", default="../array-api-tests")
    parser.add_argument("--backends", nargs="+", default=["numpy", "opencl", "wgpu"])
    parser.add_argument("--module", default="ember.array_api")
    parser.add_argument("--max-examples", type=int, default=5)
    args = parser.parse_args()
    if not os.path.isdir(os.path.join(args.checkout, "array_api_tests")):
        sys.exit(f"{args.checkout} is not an array-api-tests checkout; clone "
                 f"https://github.com/data-apis/array-api-tests --recursive and pass --checkout")
    print(f"{'backend':8} {'passed':>7} {'failed':>7} {'skipped':>8}  skipped dtypes")
    for backend in args.backends:
        if {"complex64", "complex128"} <= set(missing_dtypes(backend)):
            print(f"{backend:8} cannot start: it holds no complex dtype")
            continue
        counts, failed, summary = run(args.checkout, backend, args.module, args.max_examples)
        if not counts:
            print(f"{backend:8} did not run: {summary[-2000:]}")
            continue
        print(f"{backend:8} {counts.get('passed', 0):7} {counts.get('failed', 0):7} "
              f"{counts.get('skipped', 0):8}  {','.join(missing_dtypes(backend)) or '-'}")
        for line in failed:
            print("   ", line[:160])


if __name__ == "__main__":
    main()
