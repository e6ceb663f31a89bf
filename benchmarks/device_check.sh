#!/usr/bin/env bash
# GPU check of the batched zero-shot engine, meant to finish in under 8 minutes on one GPU:
#   1. a 200-iteration CUDA run against the CPU run of the same seed, for fp32 / tf32 / bf16 / CUDA graphs
#      (output difference in 8-bit levels, PSNR against the CPU output, kernel difference, peak memory);
#   2. the throughput table for N = 1 .. 64 runs trained together, both stackings, with peak memory;
#   3. the same table with CUDA graphs and with bf16 for N up to 16.
# Usage: bash benchmarks/device_check.sh [python]   (default: .venv/bin/python)
set -uo pipefail  # a failed or timed-out part is reported and the next one still runs
cd "$(dirname "$0")/.."
PY="${1:-.venv/bin/python}"
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'device_check.sh needs a CUDA device')"
"$PY" -c "import torch; print('device:', torch.cuda.get_device_name(0), '| torch', torch.__version__)"
echo "== 1. CUDA vs CPU, 200 iterations, same seed =="
timeout 240 "$PY" benchmarks/device_compare.py --iters 200 --crop 256 || echo "(part 1 failed or timed out: $?)"
echo "== 2. throughput, N up to 64, fp32 =="
timeout 150 "$PY" benchmarks/zero_shot_throughput.py --device cuda --sizes 1,2,4,8,16,32,64 --rounds 3 \
    --stacking both --crop 256 || echo "(part 2 failed or timed out: $?)"
echo "== 3. throughput with CUDA graphs and with bf16 =="
timeout 45 "$PY" benchmarks/zero_shot_throughput.py --device cuda --sizes 1,4,16 --rounds 3 --crop 256 --cuda-graphs || echo "(part 3a failed or timed out: $?)"
timeout 45 "$PY" benchmarks/zero_shot_throughput.py --device cuda --sizes 1,4,16 --rounds 3 --crop 256 --precision bf16 || echo "(part 3b failed or timed out: $?)"
