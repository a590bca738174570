#!/bin/bash
# The one prepared check for a lent NVIDIA machine (docs/gpu.md), sized to one call of
# under ten minutes: benchmarks/gpu.py first (eager and compiled steps against PyTorch
# CUDA eager and torch.compile "reduce-overhead" in the same run),
# benchmarks/attention.py (forward and backward at lengths 1024 and 4096: the fused
# kernel, the composed op, torch eager and compiled), benchmarks/gpt.py (the example
# GPT's training step against torch's, eager and compiled, in float32 and under bfloat16
# autocast) and
# benchmarks/compiled.py, then ember's own tests and the conformance suite on cupy, the
# conformance suite on OpenCL through NVIDIA's driver and on wgpu through NVIDIA's Vulkan
# driver, then NCCL. The machine has no network: ember and the packages it lacks travel
# as wheels in .whl/, the Vulkan loader as .debs in .gl/ (docs/gpu.md says how both are
# fetched). Every log goes whole to $OUT (or ./gpu-check). pytest is stopped by SIGINT at
# its time limit, so it still prints the summary of what ran and which tests failed.
#
#   bash benchmarks/gpu_check.sh [STEP...]     (steps: bench attention gpt compiled nccl,
#                                               or a backend; default, or "all": every
#                                               one, in the order below)
set -u
every="bench attention gpt compiled cupy opencl:0 wgpu:0 nccl"
steps=${*:-$every}
[ "$steps" = all ] && steps=$every
out=${OUT:-gpu-check}
root=$(pwd)
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

for step in $steps; do
    case $step in
    bench)
        echo "== benchmarks/gpu.py"
        timeout 200 python3 benchmarks/gpu.py --backend cupy 2>&1 | tee "$out/bench.txt" ;;
    attention)
        echo "== benchmarks/attention.py"
        timeout 60 python3 benchmarks/attention.py --backend cupy --lengths 1024 4096 \
            --composed --torch-device cuda 2>&1 | tee "$out/attention.txt" ;;
    gpt)
        for precision in fp32 bf16; do
            echo "== benchmarks/gpt.py --precision $precision"
            timeout 60 python3 benchmarks/gpt.py --backend cupy --torch-device cuda \
                --precision $precision 2>&1 | tee "$out/gpt-$precision.txt"
        done ;;
    compiled)
        echo "== benchmarks/compiled.py"
        timeout 60 python3 benchmarks/compiled.py --backend cupy --backend opencl:0 \
            --backend wgpu:0 2>&1 | tee "$out/compiled.txt" ;;
    nccl)
        echo "== NCCL (one rank per GPU: $(nvidia-smi -L | wc -l))"
        EMBER_TRANSPORT=nccl timeout 30 python3 tests/mpi/nccl_check.py 2>&1 | tee "$out/nccl.txt" ;;
    *)  # a backend: ember's own tests and the suite on cupy, the conformance suite elsewhere
        name=${step%%:*}
        echo "== tests on $step"
        if [ "$name" = cupy ]; then
            where=$root; args="tests -k cupy"; limit=130
        else
            where=/tmp/suite; args="-p ember.testing"; limit=50
        fi
        mkdir -p /tmp/suite
        (cd "$where" && timeout -s INT -k 15 $limit python3 -m pytest $args --backend "$step" \
            -q -n 14 -p no:cacheprovider -rfE --continue-on-collection-errors 2>&1) > "$out/suite-$name.txt"
        grep -E "^(FAILED|ERROR)|passed|failed" "$out/suite-$name.txt" | tail -30 ;;
    esac
done
