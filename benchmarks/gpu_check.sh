#!/bin/bash
# The one prepared check for a lent NVIDIA machine (docs/gpu.md): the conformance
# suite on cupy, on OpenCL through NVIDIA's driver and on wgpu through NVIDIA's
# Vulkan driver, then benchmarks/gpu.py (eager and compiled steps against PyTorch
# CUDA eager and torch.compile "reduce-overhead" in the same run). The machine has no
# network: ember and the packages it lacks travel as wheels in .whl/, the Vulkan loader
# as a .deb in .gl/ (see
# docs/gpu.md for how both are fetched). Logs go to $OUT (or ./gpu-check).
#
#   [BACKENDS="cupy opencl:0 wgpu:0"] [BENCH_BACKENDS=...] bash benchmarks/gpu_check.sh [suite|bench|nccl|all]
set -u
what=${1:-all}
out=${OUT:-gpu-check}
mkdir -p "$out"
export PYTHONUNBUFFERED=1

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
mkdir -p /etc/OpenCL/vendors
echo /usr/local/nvidia/lib64/libnvidia-opencl.so.1 > /etc/OpenCL/vendors/nvidia.icd
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json

nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
python3 -m ember.cli info 2>&1 | tee "$out/info.txt"

if [ "$what" = all ] || [ "$what" = suite ]; then
    for b in ${BACKENDS:-cupy opencl:0 wgpu:0}; do
        echo "== conformance on $b"
        (mkdir -p /tmp/suite && cd /tmp/suite && timeout 150 python3 -m pytest -p ember.testing \
            --backend "$b" -q -n 8 -p no:cacheprovider 2>&1) | tail -25 | tee "$out/suite-${b%%:*}.txt"
    done
fi
if [ "$what" = all ] || [ "$what" = nccl ]; then
    echo "== NCCL (one rank per GPU: $(nvidia-smi -L | wc -l))"
    EMBER_TRANSPORT=nccl timeout 90 python3 tests/mpi/nccl_check.py 2>&1 | tee "$out/nccl.txt"
fi
if [ "$what" != suite ] && [ "$what" != nccl ]; then
    echo "== benchmarks/compiled.py"
    timeout 120 python3 benchmarks/compiled.py $(for b in ${BENCH_BACKENDS:-opencl:0 wgpu:0 cupy}; \
        do echo --backend $b; done) 2>&1 | tee "$out/compiled.txt"
    echo "== benchmarks/gpu.py"
    timeout 240 python3 benchmarks/gpu.py --backend cupy 2>&1 | tee "$out/bench.txt"
fi
