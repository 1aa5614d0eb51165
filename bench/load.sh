#!/usr/bin/env bash
# Load benchmark of `drl serve`: HTTP encode throughput and latency at several concurrencies,
# beside the in-process batched encoder throughput of the same model measured in the same run.
#
#   1. bench_model --model M --threads N --batch MAX_BATCH --encoder-only   (server not running)
#   2. drl serve --model M --host 127.0.0.1 --port 0 --port-file F --threads N, wait for /readyz
#   3. drl_load POST /v1/encode (one image/png per request) at each concurrency, DURATION s each
#   4. SIGTERM; the server must exit 0
# and prints a table: concurrency, req/s (= img/s), p50, p99, failures and the ratio
# HTTP img/s / in-process img/s (target >= 0.8 at the highest concurrency), with the server's
# VmRSS before and after the load. Builds nothing: build drl, drl_load and bench_model first.
# Not a test; run it by hand on a quiet machine.
#
# usage: bench/load.sh   (settings from the environment)
#   DRL_BIN=build/drl  MODEL=models/drl-fmnist.safetensors  BUILD=<dir of DRL_BIN>
#   DURATION=10  WARMUP=2  CONCURRENCY="1 8 64"  THREADS=<cores>  MAX_BATCH=64  REPS=5
#   TIMEOUT=10     drl_load's per-request timeout (s)
#   PNG=<file>     request body (default: Fashion-MNIST test image 0 when the model is 1x28x28
#                  and FMNIST_DIR=/usr/share/datasets/fashion-mnist has it, else a synthetic image)
#   JSON_OUT=<file> also write the figures as one JSON object
#   SERVER_ARGS="..." extra `drl serve` flags (e.g. --quiet)
# The server's log is kept (and its path printed) when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
DRL_BIN=${DRL_BIN:-build/drl}
MODEL=${MODEL:-models/drl-fmnist.safetensors}
BUILD=${BUILD:-$(dirname "$DRL_BIN")}
DRL_LOAD=${DRL_LOAD:-$BUILD/drl_load}
BENCH_MODEL=${BENCH_MODEL:-$BUILD/bench_model}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
CONCURRENCY=${CONCURRENCY:-1 8 64}
THREADS=${THREADS:-$(nproc)}
MAX_BATCH=${MAX_BATCH:-64}
REPS=${REPS:-5}
FMNIST_DIR=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}

die() { echo "load.sh: $*" >&2; exit 1; }
for b in "$DRL_BIN" "$DRL_LOAD" "$BENCH_MODEL"; do
  [ -x "$b" ] || die "$b not built (cmake --build $BUILD --target drl drl_load bench_model)"
done
[ -f "$MODEL" ] || die "no model at $MODEL"
SERVE_HELP=$("$DRL_BIN" serve --help 2>&1 || true)
case "$SERVE_HELP" in
  *"not built yet"*) die "$DRL_BIN: 'serve' is not built yet in this version" ;;
esac

TMP=$(mktemp -d /tmp/drl-load.XXXXXX)
SERVER_PID=
cleanup() {
  local rc=$?
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -KILL "$SERVER_PID" 2>/dev/null || true; fi
  if [ "$rc" != 0 ] && [ -s "$TMP/server.log" ]; then
    cp "$TMP/server.log" "/tmp/drl-load-server.$$.log"
    echo "load.sh: server log kept in /tmp/drl-load-server.$$.log" >&2
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# ---- the request body: one PNG of the model's shape ---------------------------------------------
CONFIG=$("$DRL_BIN" inspect "$MODEL" | sed -n 's/^ *drl\.config = //p')
[ -n "$CONFIG" ] || die "$MODEL: no drl.config metadata"
PNG=${PNG:-$TMP/image.png}
if [ ! -f "$PNG" ]; then
  "$PY" - "$CONFIG" "$FMNIST_DIR" "$PNG" <<'EOF'
import gzip, json, os, struct, sys, zlib
import numpy as np
cfg, fdir, out = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
C, H, W = cfg["C"], cfg["H"], cfg["W"]
idx = os.path.join(fdir, "t10k-images-idx3-ubyte.gz")
if (C, H, W) == (1, 28, 28) and os.path.exists(idx):
    with gzip.open(idx, "rb") as f:
        magic, n, h, w = struct.unpack(">IIII", f.read(16))
        img = np.frombuffer(f.read(h * w), dtype=np.uint8).reshape(h, w, 1)
    what = "Fashion-MNIST test image 0"
else:
    y, x = np.mgrid[0:H, 0:W]
    img = np.stack([((x * 7 + y * 3 + 40 * c) % 256) for c in range(C)], axis=-1).astype(np.uint8)
    what = "a synthetic image"
ctype = {1: 0, 3: 2, 4: 6}[C]
raw = b"".join(b"\0" + img[r].tobytes() for r in range(H))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, ctype, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
open(out, "wb").write(png)
print(f"request body: {what}, {C}x{H}x{W}, {len(png)} bytes PNG", file=sys.stderr)
EOF
fi

read -r LOAD1 _ </proc/loadavg
if awk -v l="$LOAD1" -v n="$(nproc)" 'BEGIN { exit !(l > 0.5 * n) }'; then
  echo "load.sh: warning: load average $LOAD1 on $(nproc) cores; the figures will be noisy" >&2
fi

# ---- in-process encoder throughput (before the server starts, so they do not compete) -----------
echo "in-process: $BENCH_MODEL --model $MODEL --threads $THREADS --batch $MAX_BATCH --encoder-only" >&2
INPROC=$("$BENCH_MODEL" --model "$MODEL" --threads "$THREADS" --batch "$MAX_BATCH" --reps "$REPS" --encoder-only)
echo "  $INPROC" >&2

# ---- server --------------------------------------------------------------------------------------
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
"$DRL_BIN" serve --model "$MODEL" --host 127.0.0.1 --port 0 --port-file "$TMP/port" \
  --threads "$THREADS" --max-batch "$MAX_BATCH" ${SERVER_ARGS:-} >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 600); do
  [ -s "$TMP/port" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log" >&2; die "server exited during start-up"; }
  sleep 0.1
done
[ -s "$TMP/port" ] || { cat "$TMP/server.log" >&2; die "no port file after 60 s"; }
PORT=$(cat "$TMP/port")
BASE=http://127.0.0.1:$PORT
for _ in $(seq 600); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz")" = 200 ] && break
  sleep 0.1
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz")" = 200 ] || die "/readyz never answered 200"
code=$(curl -s -o "$TMP/check.json" -w '%{http_code}' -H 'Content-Type: image/png' --data-binary "@$PNG" "$BASE/v1/encode")
[ "$code" = 200 ] || { cat "$TMP/check.json" >&2; die "POST /v1/encode answered $code"; }
echo "server: pid $SERVER_PID, port $PORT, threads $THREADS, max-batch $MAX_BATCH" >&2

RSS0=$(rss_kb "$SERVER_PID")
: >"$TMP/runs.jsonl"
for c in $CONCURRENCY; do
  echo "drl_load: concurrency $c, ${DURATION}s (+${WARMUP}s warm-up)" >&2
  "$DRL_LOAD" --url "$BASE/v1/encode" --concurrency "$c" --duration "$DURATION" --warmup "$WARMUP" \
    --timeout "${TIMEOUT:-10}" --png "$PNG" --json-out >>"$TMP/runs.jsonl" ||
    echo "load.sh: drl_load at concurrency $c got no 2xx answer" >&2
done
RSS1=$(rss_kb "$SERVER_PID")

# Stop: SIGTERM, and the server must exit 0 (within its drain timeout, 30 s by default).
rc=0
if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  wait "$SERVER_PID" || rc=$?
  echo "load.sh: the server died during the load (exit status $rc)" >&2
  [ "$rc" != 0 ] || rc=1
  SERVER_PID=
else
  kill -TERM "$SERVER_PID"
  for _ in $(seq 450); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "load.sh: server still running 45 s after SIGTERM (killed on exit)" >&2
    rc=1
  else
    wait "$SERVER_PID" || rc=$?
    [ "$rc" = 0 ] || echo "load.sh: server exited $rc after SIGTERM" >&2
    SERVER_PID=
  fi
fi

# ---- report --------------------------------------------------------------------------------------
"$PY" - "$INPROC" "$TMP/runs.jsonl" "$RSS0" "$RSS1" "$rc" "${JSON_OUT:-}" <<'EOF'
import json, sys
inproc = json.loads(sys.argv[1])
runs = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
rss0, rss1, rc, out = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
base = inproc["encoder_img_per_s"]
print(f"in-process encoder: {base:.1f} img/s at batch {inproc['encoder_batch']}, "
      f"{inproc['threads']} threads (batch-1 latency {inproc['encoder_b1_latency_ms']:.2f} ms)")
print(f"{'concurrency':>11} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} {'failures':>9} {'ratio':>7}")
for r in runs:
    lat = r["latency_ms"]
    print(f"{r['concurrency']:>11} {r['ok_rps']:>9.1f} {lat['p50']:>9.2f} {lat['p99']:>9.2f} "
          f"{lat['max']:>9.2f} {r['failures']:>9} {r['ok_rps'] / base:>7.2f}")
best = max(runs, key=lambda r: r["ok_rps"])
ratio = best["ok_rps"] / base
print(f"best HTTP / in-process: {ratio:.2f} at concurrency {best['concurrency']} "
      f"(target >= 0.8: {'met' if ratio >= 0.8 else 'NOT met'})")
print(f"server VmRSS: {rss0 / 1024:.1f} MiB before load, {rss1 / 1024:.1f} MiB after; "
      f"server exit status: {rc} (0 expected after SIGTERM)")
if out:
    with open(out, "w") as f:
        json.dump({"inprocess": inproc, "runs": runs, "rss_kb_before": rss0, "rss_kb_after": rss1,
                   "server_exit": rc, "best_ratio": ratio}, f)
        f.write("\n")
EOF
failed=$("$PY" -c 'import json,sys; print(sum(json.loads(l)["failures"] for l in open(sys.argv[1])))' "$TMP/runs.jsonl")
[ "$rc" = 0 ] || exit 1
[ "$failed" = 0 ] || { echo "load.sh: $failed failed requests" >&2; exit 1; }
