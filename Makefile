# The two set-up commands from README.md: `make demo` and `make test`.
# Each creates .venv on first use and installs ember from pyproject.toml.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
APT_POCL := DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends pocl-opencl-icd

.PHONY: demo test bench clean

# pyopencl's bundled pocl 3.0 (LLVM 14) cannot build kernels for CPUs newer than its LLVM
# ("unknown target CPU 'generic'" on AMD Zen 5): where apt-get runs as root, the system pocl
# is added beside it, and ember's OpenCL backend uses the device that builds.
# --no-compile: Python compiles a module to bytecode when it is first imported; pip's
# compiling every file of torch, transformers and the rest took 76 s of a 132 s set-up
# on 2 cores (AMD EPYC, 2026-12-03).
$(STAMP): pyproject.toml examples/third_party_plugin/pyproject.toml
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ ! -e /etc/OpenCL/vendors/pocl.icd ]; then \
		$(APT_POCL) >/dev/null 2>&1 || (apt-get update -qq && $(APT_POCL)) >/dev/null 2>&1 || \
		echo "the system pocl could not be installed; OpenCL keeps pyopencl's own"; fi
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --no-compile -e '.[test,plot,opencl,wgpu,distributed,onnx,bfloat16]'
	$(BIN)/pip install --quiet --no-compile torch==2.13.0 || \
		echo "PyTorch could not be installed; the tests that use it as their oracle skip"
	$(BIN)/pip install --quiet --no-compile onnxruntime || \
		echo "onnxruntime could not be installed; the ONNX export tests that use it skip"
	$(BIN)/pip install --quiet --no-compile nvidia-cuda-nvrtc || \
		echo "NVRTC could not be installed; the test that compiles the CuPy kernels skips"
	$(BIN)/pip install --quiet --no-deps -e examples/third_party_plugin
	touch $(STAMP)

# Bytecode is kept, in one folder inside the venv, even where PYTHONDONTWRITEBYTECODE is
# set: otherwise every process compiles every module it imports, again. make test starts
# two workers and dozens of Python subprocesses (CLI runs, distributed ranks, savers
# killed mid-write, the third-party suite). Importing ember, torch, transformers, onnx
# and scikit-learn took 21.9 s from source and 7.4 s from bytecode; ember alone, 1.5 s
# and 0.5 s (2 cores, AMD EPYC, 2026-12-04).
PYTHON := env -u PYTHONDONTWRITEBYTECODE PYTHONPYCACHEPREFIX=$(abspath $(VENV))/pycache $(BIN)/python

demo: $(STAMP)
	$(PYTHON) examples/digits_mlp.py --out runs/digits_mlp

# Every test on every backend, spread over the machine's cores (pytest-xdist); a worker
# that runs out takes tests queued for the other (worksteal), so neither waits at the end.
test: $(STAMP)
	$(PYTHON) -m pytest -q -n auto --dist worksteal

# PyTorch (2.13.0, the CPU wheel) is a test oracle and a yardstick, never a dependency of
# ember: the set-up above installs it beside ember where it can. Some machines set
# OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) for old OpenBLAS builds, forcing NumPy's current
# one onto older kernels (Haswell's on an AVX-512 CPU: half its GEMM speed); the benchmarks
# run without them, and docs/performance.md names the kernels NumPy's BLAS then picked.
bench: $(STAMP)
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info
