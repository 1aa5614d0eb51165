#!/usr/bin/env bash
# cli_test.sh — drives the drl binary as a user would: help and usage errors of every
# subcommand, then a tiny end-to-end run: train on a slice of Fashion-MNIST, resume, inspect the
# checkpoint, encode PNG and IDX inputs to .npy and JSON lines, evaluate (and compare two
# evaluations run by run), sample (also a latent
# grid of a model with 2-D codes) and evaluate sampling.
# Needs DRL_BIN (set by ctest). Prints "cli: N passed, M failed".
set -u
BIN=${DRL_BIN:?DRL_BIN not set}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
expect_rc() { # expect_rc WANT DESC CMD...
  local want=$1 desc=$2; shift 2
  "$@" >"$TMP/out" 2>"$TMP/err"; local rc=$?
  if [ "$rc" = "$want" ]; then ok "$desc (rc $rc)"; else bad "$desc: rc $rc, want $want; stderr: $(head -c 300 "$TMP/err")"; fi
}
expect_err() { # expect_err SUBSTRING DESC  (checks the last command's stderr)
  if grep -q -- "$1" "$TMP/err"; then ok "$2"; else bad "$2: stderr lacks '$1': $(head -c 300 "$TMP/err")"; fi
}

expect_rc 0 "drl --help" "$BIN" --help
expect_rc 2 "drl with no command" "$BIN"
expect_rc 2 "unknown command" "$BIN" frobnicate
for c in serve train encode sample eval compare inspect; do
  expect_rc 0 "drl $c --help" "$BIN" "$c" --help
  grep -q "usage: drl $c" "$TMP/out" && ok "drl $c --help prints usage" || bad "drl $c --help prints usage"
done
expect_rc 2 "serve with a bad port" "$BIN" serve --port 70000
expect_err "not an integer in" "serve names the bad value"
expect_rc 2 "serve with an unknown flag" "$BIN" serve --bogus
expect_rc 1 "serve with a missing model" "$BIN" serve --model "$TMP/none.safetensors" --port 0
expect_err "no such model file" "serve names the missing model"
expect_rc 2 "sample without a condition" "$BIN" sample --model x --out "$TMP/g.png"
expect_rc 2 "sample with a bad sampler" "$BIN" sample --model x --image a.png --sampler heun --out "$TMP/g.png"
expect_rc 2 "train without --out" "$BIN" train
expect_rc 2 "train with unknown flag" "$BIN" train --out "$TMP/m" --bogus
expect_rc 2 "train with bad --sde" "$BIN" train --out "$TMP/m" --sde xx
expect_rc 2 "train with bad t-range" "$BIN" train --out "$TMP/m" --t-range 0.5,0.1
expect_err "t range" "bad t-range names the field"
expect_rc 2 "train with bad --weighting" "$BIN" train --out "$TMP/m" --weighting snr
expect_rc 2 "train with a cooldown longer than the run" "$BIN" train --out "$TMP/m" --steps 20 --lr-decay 30
expect_err "lr_decay_steps" "the cooldown refusal names the field"
# numbers must parse whole: no silent 1 step from "1e4", no lr from "3e-4x"
expect_rc 2 "train --steps 1e4" "$BIN" train --out "$TMP/m" --steps 1e4
expect_err "--steps: '1e4' is not an integer" "the refusal names the flag and the value"
expect_rc 2 "train --lr 3e-4x" "$BIN" train --out "$TMP/m" --lr 3e-4x
expect_err "--lr: '3e-4x' is not a finite number" "a float with trailing junk is refused"
expect_rc 2 "train --batch -8" "$BIN" train --out "$TMP/m" --batch -8
expect_rc 2 "train --channels 8,16,1e4" "$BIN" train --out "$TMP/m" --channels 8,16,1e4
expect_rc 2 "train --channels with four numbers" "$BIN" train --out "$TMP/m" --channels 8,16,16,32
expect_rc 2 "train --t-range 0.5,1x" "$BIN" train --out "$TMP/m" --t-range 0.5,1x
expect_rc 2 "encode --batch abc" "$BIN" encode --model x --batch abc in.png
expect_err "--batch" "encode names the flag"
expect_rc 2 "eval --runs two" "$BIN" eval --model x --runs two
expect_rc 2 "eval --probe-c 0" "$BIN" eval --model x --probe-c 0
expect_rc 2 "eval --sampling --snr nan" "$BIN" eval --model x --sampling --snr nan
expect_rc 2 "sample --steps 1.5" "$BIN" sample --model x --image a.png --steps 1.5 --out "$TMP/g.png"
expect_rc 2 "serve --port 80x" "$BIN" serve --port 80x
expect_rc 2 "train with a non-positive --snr-gamma" "$BIN" train --out "$TMP/m" --weighting min_snr --snr-gamma 0
expect_err "snr_gamma" "bad snr-gamma names the field"
expect_rc 2 "min-SNR weighting on the autoencoder" "$BIN" train --out "$TMP/m" --autoencoder --weighting min_snr
expect_err "weighting" "the refusal names the weighting"
expect_rc 2 "truncated-SNR weighting on the autoencoder" "$BIN" train --out "$TMP/m" --autoencoder --weighting truncated_snr
expect_err "weighting" "the refusal names the weighting"
expect_rc 2 "an unknown --weighting" "$BIN" train --out "$TMP/m" --weighting snr
expect_err "sigma2, min_snr or truncated_snr" "the refusal lists the weightings"
expect_rc 1 "inspect of a missing file" "$BIN" inspect "$TMP/nope.safetensors"
printf 'garbage!' > "$TMP/bad.safetensors"
expect_rc 1 "inspect of a corrupt file" "$BIN" inspect "$TMP/bad.safetensors"
expect_rc 1 "encode with a corrupt model" "$BIN" encode --model "$TMP/bad.safetensors" x.png

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "fashion-mnist missing: skipping the training part"
else
  M="$TMP/tiny.safetensors"
  small=(--max-n 256 --batch 16 --channels 8,16,16 --latent-dim 8 --lr 2e-3 --warmup 5 --log-every 5 --ckpt-every 10 --threads 2)
  expect_rc 0 "train a tiny model" "$BIN" train --out "$M" --steps 20 "${small[@]}"
  grep -q "img/s" "$TMP/err" && grep -q "ETA" "$TMP/err" && ok "progress line shows rate and ETA" || bad "progress line"
  [ -f "$M" ] && [ -f "$M.state" ] && [ -f "$M.csv" ] && ok "model, state and curve written" || bad "checkpoint files"
  first=$(sed -n 2p "$M.csv" | cut -d, -f2); last=$(tail -1 "$M.csv" | cut -d, -f2)
  awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < 0.8 * a) }' && ok "loss falls ($first -> $last)" || bad "loss did not fall: $first -> $last"
  # Resume equivalence: 10 steps, then resume to 20, must give the same curve as the 20-step run.
  R="$TMP/resumed.safetensors"
  expect_rc 0 "train 10 steps" "$BIN" train --out "$R" --steps 10 "${small[@]}"
  expect_rc 0 "resume to 20" "$BIN" train --out "$R" --steps 20 --resume "${small[@]}"
  if diff <(cut -d, -f1-5 "$M.csv") <(cut -d, -f1-5 "$R.csv") >/dev/null; then ok "resumed curve equals the uninterrupted one"; else bad "resume curve differs: $(diff <(cut -d, -f1-5 "$M.csv") <(cut -d, -f1-5 "$R.csv") | head -5)"; fi
  cmp -s "$M" "$R" && ok "resumed model is bit-identical" || bad "resumed model differs"
  # Cooldown: lr falls linearly to 0 over the last 10 of 20 steps; resuming a constant-lr run at
  # step 10 with the cooldown gives the same curve (how a long run is cooled down late).
  D="$TMP/cool.safetensors" D2="$TMP/cool2.safetensors"
  expect_rc 0 "train with a cooldown" "$BIN" train --out "$D" --steps 20 --lr-decay 10 "${small[@]}"
  lrs=$(awk -F, '$1==10||$1==15||$1==20 {printf "%s ", $6}' "$D.csv")
  [ "$lrs" = "0.002 0.0012 0.0002 " ] && ok "cooldown lr at steps 10/15/20: $lrs" || bad "cooldown lr: '$lrs'"
  expect_rc 0 "10 constant-lr steps of a 20-step run" "$BIN" train --out "$D2" --steps 10 "${small[@]}"
  expect_rc 0 "resume to 20 with the cooldown" "$BIN" train --out "$D2" --steps 20 --lr-decay 10 --resume "${small[@]}"
  if diff <(cut -d, -f1-6 "$D.csv") <(cut -d, -f1-6 "$D2.csv") >/dev/null; then ok "late cooldown by resume equals the one-run curve"; else bad "cooldown-by-resume curve differs: $(diff <(cut -d, -f1-6 "$D.csv") <(cut -d, -f1-6 "$D2.csv") | head -4)"; fi
  # Fine-tuning keeps the base model's architecture whatever the flags say, and records it.
  F="$TMP/ft.safetensors"
  expect_rc 0 "fine-tune with --init-from" "$BIN" train --out "$F" --init-from "$M" --steps 5 --time-cond --latent-dim 4 "${small[@]:0:4}" --log-every 5 --threads 1
  expect_rc 0 "inspect the fine-tuned model" "$BIN" inspect --json "$F"
  /usr/bin/python3 -c "
import json; md = json.load(open('$TMP/out'))['metadata']; c = json.loads(md['drl.config']); t = json.loads(md['drl.train'])
assert c['latent_dim'] == 8 and c['time_cond'] is False, c
assert t['model'] == c and t['init_from'].endswith('tiny.safetensors'), t" \
    && ok "fine-tune keeps and records the base architecture" || bad "fine-tune metadata: $(head -c 400 "$TMP/out")"
  expect_rc 0 "inspect the checkpoint" "$BIN" inspect "$M"
  grep -q "encoder.conv_in.weight" "$TMP/out" && ok "inspect lists tensors" || bad "inspect lists tensors"
  expect_rc 0 "inspect --json" "$BIN" inspect --json "$M"
  /usr/bin/python3 -c "import json,sys; d=json.load(open('$TMP/out')); assert d['metadata']['format']=='drl'; assert json.loads(d['metadata']['drl.config'])['latent_dim']==8" \
    && ok "inspect --json parses and carries the config" || bad "inspect --json content"
  expect_rc 0 "encode an IDX slice to npy" "$BIN" encode --model "$M" --max-n 50 --out "$TMP/e.npy" /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
  /usr/bin/python3 -c "import numpy as np; a=np.load('$TMP/e.npy'); assert a.shape==(50,8) and a.dtype==np.float32 and np.isfinite(a).all(), a.shape" \
    && ok "npy loads in numpy with shape (50, 8)" || bad "npy content"
  expect_rc 0 "encode to JSON lines" "$BIN" encode --model "$M" --max-n 3 /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
  [ "$(wc -l < "$TMP/out")" = 3 ] && /usr/bin/python3 -c "import json; [json.loads(l) for l in open('$TMP/out')]" \
    && ok "3 JSON lines" || bad "JSON lines"
  expect_rc 2 "encode --times on a non-time-conditioned model" "$BIN" encode --model "$M" --times 3 --max-n 3 /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
  expect_err "time-conditioned" "the error says why"
  expect_rc 0 "eval on a slice" "$BIN" eval --model "$M" --max-train 1000 --max-test 200 --runs 2
  grep -q "raw pixels" "$TMP/out" && grep -q "model" "$TMP/out" && ok "eval prints pixels and model rows" || bad "eval table"
  expect_rc 0 "eval --probe-c auto --json" "$BIN" eval --model "$M" --max-train 600 --max-test 100 --runs 1 --probe-c auto --json --threads 1
  /usr/bin/python3 -c "
import json; o = json.load(open('$TMP/out')); assert o['probe_c_auto'] is True, o
grid = (0.001, 0.01, 0.1, 1.0, 10.0, 100.0)
assert all(any(abs(r['labels_100_c'] - c) < 1e-6 * c for c in grid) for r in o['results']), o['results']
assert all(any(abs(r['linear_c'] - c) < 1e-6 * c for c in grid + (1000.0, 10000.0)) for r in o['results']), o['results']
assert all(r['labels_1000'] == -1 and r['labels_1000_c'] == -1 for r in o['results']), o['results']" \
    && grep -q "held-out accuracy by C" "$TMP/err" && grep -q "100 labels: C by 5-fold cross-validation per run" "$TMP/err" \
    && ok "eval --probe-c auto reports each row's C (linear: held out; few-label: cross-validated)" || bad "eval --probe-c auto: $(head -c 600 "$TMP/out")"
  expect_rc 2 "eval --probe-c auto on 10 images" "$BIN" eval --model "$M" --max-train 10 --max-test 10 --probe-c auto
  expect_err "at least 12" "the error says why"
  expect_rc 0 "eval --probe-c auto then 0.5: the last wins" "$BIN" eval --model "$M" --max-train 200 --max-test 50 --runs 1 --probe-c auto --probe-c 0.5 --json --no-pixels --threads 1
  /usr/bin/python3 -c "
import json; o = json.load(open('$TMP/out')); assert o['probe_c_auto'] is False and abs(o['probe_c'] - 0.5) < 1e-6, o
assert all(abs(r[k] - 0.5) < 1e-6 for r in o['results'] for k in ('linear_c', 'labels_100_c')), o['results']" \
    && ok "a numeric --probe-c after auto turns auto off" || bad "--probe-c auto then 0.5: $(head -c 400 "$TMP/out")"
  # drl compare: the few-label runs of two evaluations, paired; figures checked against numpy.
  expect_rc 0 "eval --json with per-run accuracies" "$BIN" eval --model "$M" --max-train 1000 --max-test 100 --runs 3 --json --threads 1
  cp "$TMP/out" "$TMP/ev.json"
  /usr/bin/python3 -c "
import json; o = json.load(open('$TMP/ev.json'))
for r in o['results']:
    for k in ('labels_100', 'labels_1000'):
        a = r[k + '_runs']; assert len(a) == 3 and abs(sum(a) / 3 - r[k]) < 1e-9, (k, r)" \
    && ok "eval --json lists each run's accuracy, averaging to the mean" || bad "eval per-run: $(head -c 600 "$TMP/ev.json")"
  /usr/bin/python3 -c "
import json; o = json.load(open('$TMP/ev.json'))
assert all(r['linear_stop'] in ('tolerance', 'flat') and 0 < r['linear_iters'] <= 1000 and r['linear_grad_max'] >= 0 for r in o['results']), o['results']
assert all(r['labels_100_capped'] == 0 and r['labels_1000_capped'] == 0 for r in o['results']), o['results']" \
    && ok "eval --json says how each linear probe's fit ended, and how many few-label fits hit the cap" || bad "eval linear_stop: $(head -c 600 "$TMP/ev.json")"
  expect_rc 0 "eval --probe-iters 2" "$BIN" eval --model "$M" --max-train 300 --max-test 50 --runs 1 --no-pixels --probe-iters 2 --threads 1
  expect_err "stopped after 2 iterations" "a linear probe at the iteration cap is reported"
  expect_err "100 labels: warning: 1 of 1 runs' fits stopped at the iteration cap" "few-label fits at the iteration cap are reported"
  expect_rc 2 "eval --probe-iters 0" "$BIN" eval --model "$M" --probe-iters 0
  # both solvers reach the same minimiser: the same accuracies, each run says which it used
  expect_rc 0 "eval --probe-solver lbfgs" "$BIN" eval --model "$M" --max-train 1000 --max-test 100 --runs 3 --json --threads 1 --probe-solver lbfgs
  /usr/bin/python3 -c "
import json; n = json.load(open('$TMP/ev.json')); l = json.load(open('$TMP/out'))
assert n['probe_solver'] == 'newton' and l['probe_solver'] == 'lbfgs', (n['probe_solver'], l['probe_solver'])
for a, b in zip(n['results'], l['results']):
    assert abs(a['linear'] - b['linear']) <= 0.011 and abs(a['labels_1000'] - b['labels_1000']) <= 0.011, (a, b)" \
    && ok "Newton and L-BFGS probes agree (within one test image)" || bad "solvers disagree: $(head -c 600 "$TMP/out")"
  expect_rc 2 "eval --probe-solver sgd" "$BIN" eval --model "$M" --probe-solver sgd
  expect_err "newton or lbfgs" "the error names the solvers"
  expect_rc 0 "compare the model with raw pixels" "$BIN" compare "$TMP/ev.json#model" "$TMP/ev.json#raw pixels" --json
  /usr/bin/python3 -c "
import json, numpy as np; o = json.load(open('$TMP/ev.json')); c = json.load(open('$TMP/out'))
rows = {r['representation']: r for r in o['results']}; A, B = rows['model'], rows['raw pixels']
assert abs(c['linear']['diff'] - 100 * (A['linear'] - B['linear'])) < 1e-9, c
for k in ('labels_100', 'labels_1000'):
    d = 100 * (np.array(A[k + '_runs']) - np.array(B[k + '_runs']))
    assert abs(c[k]['diff'] - d.mean()) < 1e-9 and abs(c[k]['se'] - d.std(ddof=1) / np.sqrt(3)) < 1e-9, (k, c[k], d)
    assert c[k]['a_ahead'] == (d > 0).sum() and c[k]['b_ahead'] == (d < 0).sum(), (k, c[k], d)" \
    && ok "compare: differences and standard errors match numpy on the runs" || bad "compare --json: $(head -c 800 "$TMP/out")"
  expect_rc 0 "compare defaults to the last row" "$BIN" compare "$TMP/ev.json" "$TMP/ev.json#model"
  grep -q "^100 labels .* +0.00 ± 0.00" "$TMP/out" && grep -q "# model$" "$TMP/out" \
    && ok "a row compared with itself differs by 0" || bad "compare with itself: $(head -c 600 "$TMP/out")"
  # hand-made runs: A - B = +1, +2, -1, +1 points: mean 0.75, s.e. sqrt(4.75 / 3) / 2, sign test 2 * 5/16
  for f in a b; do
    if [ $f = a ]; then r='[0.70, 0.72, 0.74, 0.71]'; else r='[0.69, 0.70, 0.75, 0.70]'; fi
    printf '{"train": 60000, "test": 10000, "runs": 4, "results": [{"representation": "model", "linear": 0.9,
      "labels_100_runs": %s, "labels_1000_runs": []}]}\n' "$r" > "$TMP/$f.json"
  done
  expect_rc 0 "compare hand-made runs" "$BIN" compare "$TMP/a.json" "$TMP/b.json" --json
  /usr/bin/python3 -c "
import json, math; c = json.load(open('$TMP/out'))['labels_100']
assert abs(c['diff'] - 0.75) < 1e-9 and abs(c['se'] - math.sqrt(4.75 / 3) / 2) < 1e-9, c
assert (c['a_ahead'], c['b_ahead'], c['runs']) == (3, 1, 4) and abs(c['sign_test_p'] - 0.625) < 1e-12, c" \
    && ok "compare: mean, s.e. and exact sign test on known runs" || bad "compare hand-made: $(head -c 600 "$TMP/out")"
  sed 's/"runs": 4/"runs": 5/' "$TMP/b.json" > "$TMP/b5.json"
  expect_rc 2 "compare evaluations with different run counts" "$BIN" compare "$TMP/a.json" "$TMP/b5.json"
  expect_err "not paired" "the refusal says the runs are not paired"
  sed 's/"labels_100_runs": \[[^]]*\], //' "$TMP/b.json" > "$TMP/old.json"
  expect_rc 2 "compare with output of an older drl eval" "$BIN" compare "$TMP/a.json" "$TMP/old.json"
  expect_err "no per-run accuracies" "the refusal says what is missing"
  expect_rc 2 "compare with an unknown row" "$BIN" compare "$TMP/a.json#trajectory" "$TMP/b.json"
  expect_err "its rows: 'model'" "the refusal lists the rows there are"
  expect_rc 1 "compare with a missing file" "$BIN" compare "$TMP/none.json" "$TMP/b.json"
  expect_rc 2 "compare with one evaluation" "$BIN" compare "$TMP/a.json"
  # Sampling: PNG inputs written by numpy/zlib (independent of drl's PNG code).
  /usr/bin/python3 - "$TMP" <<'PY'
import gzip, struct, sys, zlib
import numpy as np
d = gzip.open('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz').read()[16:16 + 784 * 2]
def png(path, a):
    raw = b''.join(b'\x00' + bytes(a[r * 28:(r + 1) * 28]) for r in range(28))
    chunk = lambda t, b: struct.pack('>I', len(b)) + t + b + struct.pack('>I', zlib.crc32(t + b) & 0xffffffff)
    open(path, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 28, 28, 8, 0, 0, 0, 0))
                           + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
png(sys.argv[1] + '/a.png', d[:784]); png(sys.argv[1] + '/b.png', d[784:])
np.save(sys.argv[1] + '/z.npy', np.zeros(8, np.float32))
np.save(sys.argv[1] + '/z3.npy', np.zeros(3, np.float32))
PY
  expect_rc 0 "encode PNG files" "$BIN" encode --model "$M" "$TMP/a.png" "$TMP/b.png"
  [ "$(wc -l < "$TMP/out")" = 2 ] && ok "two embeddings for two PNGs" || bad "PNG embeddings"
  expect_rc 0 "sample from an image's code" "$BIN" sample --model "$M" --image "$TMP/a.png" --n 4 --steps 8 --seed 3 --out "$TMP/g1.png"
  expect_rc 0 "same seed, same grid" "$BIN" sample --model "$M" --image "$TMP/a.png" --n 4 --steps 8 --seed 3 --out "$TMP/g2.png"
  cmp -s "$TMP/g1.png" "$TMP/g2.png" && ok "sampling is reproducible by seed" || bad "same seed gave different grids"
  expect_rc 0 "reconstruct with the ODE from t=0.3" "$BIN" sample --model "$M" --image "$TMP/a.png" --t-init 0.3 --sampler ode --n 2 --steps 8 --out "$TMP/g3.png" --each "$TMP"
  [ -f "$TMP/sample_001.png" ] && ok "--each writes one PNG per sample" || bad "--each"
  expect_rc 0 "sample from an explicit code" "$BIN" sample --model "$M" --code "$TMP/z.npy" --sampler em --n 2 --steps 8 --out "$TMP/g4.png"
  expect_rc 0 "interpolate two images' codes" "$BIN" sample --model "$M" --interpolate "$TMP/a.png" "$TMP/b.png" --sampler ode --n 3 --steps 8 --out "$TMP/g5.png"
  expect_rc 2 "a code of the wrong size" "$BIN" sample --model "$M" --code "$TMP/z3.npy" --out "$TMP/g6.png"
  expect_err "the model's codes have 8" "the error names both sizes"
  # Latent grid (2-D codes only) and the sampling evaluation (one thread: a tiny model gains
  # nothing from two, and loses much when the cores are busy).
  G="$TMP/d2.safetensors"
  expect_rc 0 "train a tiny model with 2-D codes" "$BIN" train --out "$G" --steps 2 "${small[@]}" --latent-dim 2 --threads 1
  expect_rc 0 "a 3x3 latent grid" "$BIN" sample --model "$G" --latent-grid 3 --range 1.5 --sampler ode --steps 3 --seed 1 --threads 1 --out "$TMP/lg.png"
  /usr/bin/python3 -c "import struct; b=open('$TMP/lg.png','rb').read(24); assert b[:8]==b'\x89PNG\r\n\x1a\n' and struct.unpack('>II', b[16:24])==(92, 92), struct.unpack('>II', b[16:24])" \
    && ok "the grid PNG is 3 x (28 + 2) + 2 = 92 pixels square" || bad "latent grid PNG size"
  # Same noise in every cell: on a grid too small for the code to matter the 9 cells are equal
  # (pc, so noise enters at every step); on the 3x3 grid over [-1.5, 1.5]^2 they differ.
  expect_rc 0 "a latent grid over [-1e-6, 1e-6]^2" "$BIN" sample --model "$G" --latent-grid 3 --range 1e-6 --sampler pc --steps 3 --threads 1 --out "$TMP/lg0.png"
  cell_diff() { # largest pixel difference between a 3x3 grid's cells and its first cell (PNG decoded here)
    /usr/bin/python3 - "$1" <<'PY'
import struct, sys, zlib
b = open(sys.argv[1], 'rb').read()
i, idat = 8, b''
while i < len(b):
    L, t = struct.unpack('>I', b[i:i + 4])[0], b[i + 4:i + 8]
    if t == b'IHDR': w, h = struct.unpack('>II', b[i + 8:i + 16])
    if t == b'IDAT': idat += b[i + 8:i + 8 + L]
    i += 12 + L
raw, rows, prev = zlib.decompress(idat), [], [0] * w
for y in range(h):
    f, line = raw[y * (w + 1)], list(raw[y * (w + 1) + 1:(y + 1) * (w + 1)])
    for x in range(w):
        a, c, u = line[x - 1] if x else 0, prev[x - 1] if x else 0, prev[x]
        p = a + u - c; pa, pb, pc = abs(p - a), abs(p - u), abs(p - c)
        line[x] = (line[x] + [0, a, u, (a + u) // 2, a if pa <= pb and pa <= pc else u if pb <= pc else c][f]) & 255
    rows.append(line); prev = line
cells = [[rows[2 + r * 30 + y][2 + q * 30:2 + q * 30 + 28] for y in range(28)] for r in range(3) for q in range(3)]
print(max(abs(u - v) for c in cells for a, b0 in zip(c, cells[0]) for u, v in zip(a, b0)))
PY
  }
  d0=$(cell_diff "$TMP/lg0.png"); d1=$(cell_diff "$TMP/lg.png")
  [ "$d0" -le 1 ] 2>/dev/null && [ "$d1" -gt 1 ] 2>/dev/null && ok "every cell gets the same noise (cells differ by $d0 at range 1e-6, $d1 at 1.5)" \
    || bad "latent grid noise: cells differ by '$d0' at range 1e-6, '$d1' at 1.5"
  expect_rc 2 "--latent-grid on a model with 8-D codes" "$BIN" sample --model "$M" --latent-grid 3 --out "$TMP/lg8.png"
  expect_err "needs a model with 2-D codes" "the error says why"
  expect_rc 2 "--latent-grid with --n" "$BIN" sample --model "$G" --latent-grid 3 --n 4 --out "$TMP/lg9.png"
  expect_rc 0 "eval --sampling on 8 test images" "$BIN" eval --model "$M" --sampling --max-test 8 --max-train 500 --steps 3 --threads 1
  grep -q "^E(x0)" "$TMP/out" && grep -q "^shuffled code" "$TMP/out" && grep -q "^zero code" "$TMP/out" && grep -q "class from t=1" "$TMP/out" \
    && ok "eval --sampling prints the three codes' errors and the consistency" || bad "eval --sampling table: $(head -c 600 "$TMP/out")"
  grep -q "samples/s" "$TMP/err" && grep -q "ETA" "$TMP/err" && ok "eval --sampling progress shows rate and ETA" || bad "eval --sampling progress"
  expect_rc 0 "eval --sampling --json" "$BIN" eval --model "$M" --sampling --json --max-test 8 --max-train 500 --steps 3 --t-partial 0 --threads 1
  /usr/bin/python3 -c "
import json; d=json.load(open('$TMP/out')); assert d['test']==8 and d['steps']==3 and len(d['starts'])==1, d
c=d['starts'][0]['conditions']; assert set(c)=={'code','shuffled','zero'}
assert all(0 <= c[k]['mse'] <= 1 and 0 <= c[k]['class_consistency'] <= 1 for k in c), c" \
    && ok "eval --sampling --json parses with the three codes" || bad "eval --sampling --json: $(head -c 600 "$TMP/out")"
  expect_rc 2 "eval --sampling with a bad --t-partial" "$BIN" eval --model "$M" --sampling --t-partial 1.5 --max-test 8
  expect_err "t-partial" "the error names the flag"
  T="$TMP/tc.safetensors"
  expect_rc 0 "train a time-conditioned model" "$BIN" train --out "$T" --steps 6 --time-cond "${small[@]}"
  expect_rc 0 "encode a trajectory" "$BIN" encode --model "$T" --times 3 --max-n 4 --out "$TMP/tr.npy" /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
  /usr/bin/python3 -c "import numpy as np; a=np.load('$TMP/tr.npy'); assert a.shape==(4,24), a.shape" \
    && ok "trajectory is (4, 3*8)" || bad "trajectory shape"
fi

echo "cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
