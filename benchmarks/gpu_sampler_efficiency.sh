#!/usr/bin/env bash
# Issue 18 item 5: sampler_efficiency.py on a GPU at widths 1024 and 4096, in stages of falling priority, each under
# its own time limit so that a short lease still returns the first ones. Usage, from the repository root on a machine
# whose python3 has jax with CUDA, numpy, scipy, xarray, threadpoolctl and blackjax:
#   bash benchmarks/gpu_sampler_efficiency.sh OUT_DIR
# Every stage's output goes to OUT_DIR/<stage>.log as it is printed. The samplers run at full float32 matmul precision
# (JAX's GPU default for float32 is TF32, ~1e-3 relative error: the collapsed sampler factorises G + T with T down to
# 0.01); the last stage repeats one point at the default precision to show what TF32 would buy.
set -u
out=${1:?usage: gpu_sampler_efficiency.sh OUT_DIR}
mkdir -p "$out"
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
bench="python3 benchmarks/sampler_efficiency.py --chains 8 --samplers baoab collapsed_readout_1"

stage() {  # stage NAME SECONDS PRECISION ARGS...: one run of the benchmark, its log in $out/NAME.log
    local name=$1 limit=$2 precision=$3
    shift 3
    echo "== $name (limit ${limit} s, matmul precision $precision): $*" | tee "$out/$name.log"
    local t0=$SECONDS
    JAX_DEFAULT_MATMUL_PRECISION=$precision timeout "$limit" $bench "$@" 2>&1 | tee -a "$out/$name.log"
    local status=${PIPESTATUS[0]}
    echo "== $name: exit $status after $((SECONDS - t0)) s" | tee -a "$out/$name.log"
    return "$status"
}

{
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
    python3 -c "import jax, jaxlib, blackjax; print('jax', jax.__version__, 'jaxlib', jaxlib.__version__, \
'blackjax', blackjax.__version__, jax.devices())"
} 2>&1 | tee "$out/device.log"

stage smoke 45 highest --width 64 --ridge 0.05 --depth 3 --n 64 || exit 1  # a broken setup stops here
stage w1024 180 highest --full --width 1024
stage w4096_d3 150 highest --width 4096 --depth 3 --n 64 256
stage w4096_d6 100 highest --width 4096 --depth 6 --n 64
stage w4096_tf32 60 default --width 4096 --depth 3 --n 256 --ridge 0.05
