#!/usr/bin/env bash
# The linear probe's solvers on real codes, beside scikit-learn in the same run: a model's
# embeddings of the Fashion-MNIST train and test splits, a probe fitted at each C by drl's Newton
# and L-BFGS solvers and by sklearn's LogisticRegression (lbfgs, tol 1e-10) on the same
# standardised features. Prints, per C: seconds, iterations, how each fit ended, the objective
# (1/N) Σ xent + (1/2CN) ‖W‖² each reached (lower is closer to the minimiser), test accuracy, and
# the time ratio sklearn / Newton. Not a test: run it by hand on a quiet machine.
# usage: bench/probe.sh [BUILD_DIR] [MODEL]   (default build/, models/drl-fmnist.safetensors)
#        C="1 100" THREADS=2 MAX_N=60000 to change the grid, threads or train rows.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
MODEL=${2:-models/drl-fmnist.safetensors}
CS=${C:-1 100}
TH=${THREADS:-2}
MAX_N=${MAX_N:-60000}
DATA=/usr/share/datasets/fashion-mnist
[ -x "$BUILD/bench_probe" ] && [ -x "$BUILD/drl" ] || { echo "build first: cmake --build $BUILD" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$BUILD/drl" encode --model "$MODEL" --threads "$TH" --out "$TMP/tr.npy" "$DATA/train-images-idx3-ubyte.gz" >&2
"$BUILD/drl" encode --model "$MODEL" --threads "$TH" --out "$TMP/te.npy" "$DATA/t10k-images-idx3-ubyte.gz" >&2
for c in $CS; do
  drl=$("$BUILD/bench_probe" --train "$TMP/tr.npy" --train-labels "$DATA/train-labels-idx1-ubyte.gz" \
        --test "$TMP/te.npy" --test-labels "$DATA/t10k-labels-idx1-ubyte.gz" --c "$c" --threads "$TH" --max-n "$MAX_N")
  sk=$(OPENBLAS_NUM_THREADS=$TH OMP_NUM_THREADS=$TH /usr/bin/python3 bench/probe_sklearn.py "$TMP/tr.npy" \
       "$DATA/train-labels-idx1-ubyte.gz" "$TMP/te.npy" "$DATA/t10k-labels-idx1-ubyte.gz" "$c" "$MAX_N")
  echo "$drl"
  echo "$sk"
  /usr/bin/python3 -c "
import json, sys
rows = [json.loads(l) for l in sys.argv[1].splitlines()] + [json.loads(sys.argv[2])]
best = min(r['objective'] for r in rows)
for r in rows:
    print('C=%-5g %-14s %8.2f s %5d it %-14s objective %.9f (+%.1e) test %.2f%%' % (r['c'], r['solver'], r['seconds'],
          r['iters'], r.get('stop', '-'), r['objective'], r['objective'] - best, 100 * r['test_acc']))
n = rows[0]; s = rows[-1]
print('C=%-5g sklearn / newton time: %.1fx' % (n['c'], s['seconds'] / n['seconds']))" "$drl" "$sk"
done
