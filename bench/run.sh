#!/usr/bin/env bash
# Benchmarks drl's C networks against PyTorch eager in the same run, for 1 and 2 threads, and
# prints the ratios the numerics issue sets targets for:
#   encoder forward (batch 256) images/s  — target >= 1.5x PyTorch
#   encoder batch-1 latency               — target <= 0.6x PyTorch
#   training step images/s (batch 64)     — target >= 1.0x PyTorch
# C's training figure is drl train's data-parallel step (one shard per thread), the one-pass
# step beside it; the batch-256 encoder figure is one pass (drl eval / encode), one shard per
# thread beside it (the server's one-thread encode workers).
# and the conv-vs-sgemm GFLOP/s table (bench_conv). Not a test: run it by hand on a quiet machine.
# usage: bench/run.sh [BUILD_DIR]   (default build/)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
REPS=${REPS:-5}
[ -x "$BUILD/bench_model" ] || { echo "build first: cmake --build $BUILD" >&2; exit 1; }

ratio() { /usr/bin/python3 -c "import json,sys; c=json.loads(sys.argv[1]); t=json.loads(sys.argv[2]);
print('threads=%d  encoder b%d: C %.0f img/s one pass (%.0f as one shard per thread), torch %.0f img/s, ratio %.2fx (%.2fx) (target >= 1.5)' % (c['threads'], c['encoder_batch'], c['encoder_team_img_per_s'], c['encoder_img_per_s'], t['encoder_img_per_s'], c['encoder_team_img_per_s']/t['encoder_img_per_s'], c['encoder_img_per_s']/t['encoder_img_per_s']));
print('threads=%d  encoder b1 latency: C %.2f ms, torch %.2f ms, ratio %.2fx (target <= 0.6)' % (c['threads'], c['encoder_b1_latency_ms'], t['encoder_b1_latency_ms'], c['encoder_b1_latency_ms']/t['encoder_b1_latency_ms']));
print('threads=%d  train step b%d: C %.0f img/s (one pass split in every layer: %.0f), torch %.0f img/s, ratio %.2fx (target >= 1.0)' % (c['threads'], c['train_batch'], c['train_img_per_s'], c['train_team_img_per_s'], t['train_img_per_s'], c['train_img_per_s']/t['train_img_per_s']))" "$1" "$2"; }

for th in 1 2; do
  if [ "$th" = 2 ]; then bind="env OMP_PROC_BIND=true OPENBLAS_NUM_THREADS=1"; else bind="env"; fi
  c=$("$BUILD/bench_model" --threads "$th" --reps "$REPS")
  t=$($bind /usr/bin/python3 bench/torch_bench.py --threads "$th" --reps "$REPS")
  echo "C:     $c"
  echo "torch: $t"
  ratio "$c" "$t"
done
if [ -x "$BUILD/bench_conv" ]; then
  for th in 1 2; do "$BUILD/bench_conv" --threads "$th"; done
fi
