# lib.sh — shared helpers for the curl-based integration tests (sourced, not run).
#
# start_server NAME ARGS...   starts `$DRL_BIN serve --host 127.0.0.1 --port 0 --port-file ...`
#                             in the background, waits for /readyz, sets ${NAME}_PID/_URL/_LOG
# req METHOD PATH [curl args] one request against $URL; sets STATUS, BODY (file), HDRS (file)
# expect_status WANT DESC     checks $STATUS
# expect_json PYEXPR DESC     evaluates a Python expression over the JSON body `d`
# Every check prints "ok"/"FAIL" and counts; finish prints the summary and sets the exit code.
set -u
BIN=${DRL_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/drl}
PY=/usr/bin/python3
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done
  rm -rf "$TMP"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
finish() {
  echo "$(basename "$0" .sh): $pass passed, $fail failed"
  [ "$fail" = 0 ]
  exit $?
}

# Timeouts are generous under ASan.
if [ "${DRL_SANITIZE:-OFF}" = "ON" ]; then SLOW=4; else SLOW=1; fi

start_server() { # start_server NAME ARGS...
  local name=$1; shift
  local pf="$TMP/$name.port" log="$TMP/$name.log"
  rm -f "$pf"
  "$BIN" serve --host 127.0.0.1 --port 0 --port-file "$pf" "$@" 2>"$log" &
  local pid=$!
  PIDS+=("$pid")
  local i
  for i in $(seq 1 $((300 * SLOW))); do
    if [ -s "$pf" ]; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then echo "server $name died at start:"; cat "$log"; return 1; fi
    sleep 0.1
  done
  [ -s "$pf" ] || { echo "server $name did not start"; cat "$log"; return 1; }
  printf -v "${name}_PID" '%s' "$pid"
  printf -v "${name}_URL" 'http://127.0.0.1:%s' "$(tr -d '\n' < "$pf")"
  printf -v "${name}_LOG" '%s' "$log"
}

STATUS=0
BODY="$TMP/body"
HDRS="$TMP/hdrs"
req() { # req METHOD PATH [curl args...]   (against $URL)
  local m=$1 p=$2; shift 2
  STATUS=$(curl -s -o "$BODY" -D "$HDRS" -w '%{http_code}' --max-time $((60 * SLOW)) -X "$m" "$@" "$URL$p")
}
expect_status() {
  if [ "$STATUS" = "$1" ]; then ok "$2 ($STATUS)"; else bad "$2: status $STATUS, want $1; body: $(head -c 300 "$BODY")"; fi
}
expect_json() { # expect_json PYEXPR DESC   (d = the parsed body)
  if $PY -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($1) else 1)" "$BODY" 2>/dev/null; then
    ok "$2"
  else
    bad "$2: '$1' is false for $(head -c 300 "$BODY")"
  fi
}
expect_error() { # expect_error STATUS CODE DESC  (also checks the JSON error shape)
  if [ "$STATUS" = "$1" ] && $PY -c "import json,sys; d=json.load(open(sys.argv[1])); e=d['error']; sys.exit(0 if e['code']==sys.argv[2] and len(e['message'])>0 else 1)" "$BODY" "$2" 2>/dev/null; then
    ok "$3 ($1 $2)"
  else
    bad "$3: want $1 $2, got $STATUS $(head -c 300 "$BODY")"
  fi
}
expect_header() { # expect_header REGEX DESC
  if grep -qiE "$1" "$HDRS"; then ok "$2"; else bad "$2: no header matching '$1' in $(tr '\r\n' '  ' < "$HDRS")"; fi
}

# Tiny models for the tests: `train_tiny OUT SEED [extra train flags]`.
train_tiny() {
  local out=$1 seed=$2; shift 2
  "$BIN" train --out "$out" --steps 2 --max-n 64 --batch 8 --channels 8,16,16 --latent-dim 8 \
    --log-every 1 --ckpt-every 100 --threads 2 --seed "$seed" "$@" >"$TMP/train.log" 2>&1 \
    || { echo "training a tiny model failed:"; cat "$TMP/train.log"; return 1; }
}

# Test images: `make_pngs DIR` writes gray 28x28 (a.png, b.png), RGB 28x28 (rgb.png), 32x32
# (big.png), a 16-bit gray 28x28 (g16.png), and a PNG declaring 100000x100000 (bomb.png).
make_pngs() {
  $PY - "$1" <<'PYEOF'
import struct, sys, zlib, os
d = sys.argv[1]
def chunk(t, b): return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
def png(w, h, ctype, depth, rows):
    raw = b"".join(b"\0" + r for r in rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
def gray(w, h, f): return png(w, h, 0, 8, [bytes(f(x, y) for x in range(w)) for y in range(h)])
open(os.path.join(d, "a.png"), "wb").write(gray(28, 28, lambda x, y: (x * 9 + y * 3) % 256))
open(os.path.join(d, "b.png"), "wb").write(gray(28, 28, lambda x, y: 255 if 8 < x < 20 and 4 < y < 24 else 0))
open(os.path.join(d, "big.png"), "wb").write(gray(32, 32, lambda x, y: 128))
open(os.path.join(d, "rgb.png"), "wb").write(png(28, 28, 2, 8, [bytes(v for x in range(28) for v in ((x*9)%256, (y*9)%256, 77)) for y in range(28)]))
open(os.path.join(d, "g16.png"), "wb").write(png(28, 28, 0, 16, [b"".join(struct.pack(">H", (x * 9 + y * 3) % 256 * 257) for x in range(28)) for y in range(28)]))
bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)) + \
    chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")
open(os.path.join(d, "bomb.png"), "wb").write(bomb)
PYEOF
}
