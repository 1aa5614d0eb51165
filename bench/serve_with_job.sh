#!/usr/bin/env bash
# serve_with_job.sh — what a training job costs serving: encode throughput and p50/p99 latency
# at concurrency CONC without a job, then with a fine-tuning job running on the server's
# training worker (--train-threads TRAIN_THREADS, lower CPU priority), same model, same run.
# Not a test; run by hand on a quiet machine.
#
# usage: bench/serve_with_job.sh   DRL_BIN=build/drl MODEL=models/drl-fmnist.safetensors
#        CONC=8 DURATION=15 THREADS=<cores> TRAIN_THREADS=1
set -uo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
DRL_BIN=${DRL_BIN:-build/drl}
BUILD=${BUILD:-$(dirname "$DRL_BIN")}
LOAD=${DRL_LOAD:-$BUILD/drl_load}
MODEL=${MODEL:-models/drl-fmnist.safetensors}
CONC=${CONC:-8}
DURATION=${DURATION:-15}
THREADS=${THREADS:-$(nproc)}
TRAIN_THREADS=${TRAIN_THREADS:-1}
TMP=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$TMP"' EXIT
echo "bench-token-12345" > "$TMP/token"
AUTH="Authorization: Bearer bench-token-12345"
"$DRL_BIN" serve --host 127.0.0.1 --port 0 --port-file "$TMP/port" --model "$MODEL" --token-file "$TMP/token" \
  --work-dir "$TMP/work" --threads "$THREADS" --train-threads "$TRAIN_THREADS" --quiet 2>"$TMP/server.log" &
SPID=$!
for i in $(seq 1 300); do [ -s "$TMP/port" ] && break; sleep 0.1; done
URL="http://127.0.0.1:$(cat "$TMP/port")"
# a Fashion-MNIST test image as the request, 2000 training images as the job's dataset
$PY - "$TMP" <<'PYEOF'
import gzip, struct, sys, zlib
d = sys.argv[1]
raw = gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").read()
n = 2000
open(f"{d}/ds.idx", "wb").write(struct.pack(">BBBBIII", 0, 0, 8, 3, n, 28, 28) + raw[16:16 + n * 784])
img = raw[16:16 + 784]
def chunk(t, b): return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
rows = b"".join(b"\0" + img[y * 28:(y + 1) * 28] for y in range(28))
open(f"{d}/x.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
PYEOF
DS=$(curl -s -H "$AUTH" --data-binary @"$TMP/ds.idx" "$URL/v1/datasets" | $PY -c "import json,sys; print(json.load(sys.stdin)['id'])")
run() { "$LOAD" --url "$URL/v1/encode" --concurrency "$CONC" --duration "$DURATION" --warmup 2 --png "$TMP/x.png" --json-out 2>/dev/null | tail -1; }
A=$(run)
J=$(curl -s -H "$AUTH" -H 'Content-Type: application/json' --data-binary '{"dataset":"'"$DS"'","steps":1000000,"batch_size":32,"log_every":5}' "$URL/v1/train/jobs" | $PY -c "import json,sys; print(json.load(sys.stdin)['id'])")
sleep 5
B=$(run)
JOB=$(curl -s -H "$AUTH" "$URL/v1/train/jobs/$J")
curl -s -o /dev/null -X DELETE -H "$AUTH" "$URL/v1/train/jobs/$J"
kill -TERM "$SPID"; wait "$SPID"
$PY - "$A" "$B" "$JOB" "$CONC" "$THREADS" "$TRAIN_THREADS" <<'PYEOF'
import json, sys
a, b, job = (json.loads(x) for x in sys.argv[1:4])
conc, thr, tthr = sys.argv[4:]
print(f"encode at concurrency {conc}, {thr} encoder threads; training worker {tthr} thread(s)")
print(f"{'':14s} {'img/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'failures':>8s}")
for name, d in (("no job", a), ("job running", b)):
    l = d["latency_ms"]
    print(f"{name:14s} {d['ok_rps']:8.1f} {l['p50']:8.2f} {l['p99']:8.2f} {d['failures'] + d['socket_errors']:8d}")
print(f"training while serving: {job.get('images_per_s', 0):.1f} img/s at step {job.get('step')}")
print(json.dumps({"no_job": a, "job": b, "train_img_per_s": job.get("images_per_s")}))
PYEOF
