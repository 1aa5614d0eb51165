#!/usr/bin/env bash
# hostile_test.sh — hostile clients against a running server (loopback, bounded): slowloris,
# bodies over --max-body with and without Content-Length, chunked bodies that never end (slow and
# fast), a silent body, request-byte budget (--max-inflight-body), decompression bombs, deep JSON,
# NaN/Inf/huge numbers, 10k-element batches, unknown routes and methods, bad tokens; then the
# connection limit on a second server. Each gets its documented status, and /healthz answers
# within 100 ms throughout (a prober runs the whole time).
source "$(dirname "$0")/lib.sh"
H="$PY $(dirname "$0")/hostile.py"
make_pngs "$TMP"
train_tiny "$TMP/a.safetensors" 1 || exit 1
echo "hostile-token-42" > "$TMP/token"
start_server S --model "$TMP/a.safetensors" --token-file "$TMP/token" --threads 1 --timeout 3 --request-timeout 4 \
  --max-body 100000 --max-inflight-body 300000 --max-connections 256 || exit 1
URL=$S_URL
PORT=${URL##*:}
$H "$PORT" probe "$TMP/stop" "$TMP/probe.out" &
PROBE=$!

$H "$PORT" slowloris 60 4 && ok "60 slowloris connections held while serving" || bad "slowloris"
req GET /healthz; expect_status 200 "healthz after slowloris"
out=$($H "$PORT" trickle) && ok "trickling chunked body: $out" || bad "trickle: $out"
grep -q '"status":408' "$S_LOG" && ok "the cut-off body is logged as 408" || bad "no 408 in the log"
out=$($H "$PORT" silent) && ok "silent body: $out" || bad "silent: $out"
out=$($H "$PORT" chunked_flood) && ok "endless chunked body: $out" || bad "chunked flood: $out"
out=$($H "$PORT" inflight 4 90000) && ok "request-byte budget enforced: $out" || bad "inflight: $out"
head -c 200000 /dev/zero > "$TMP/big"
req POST /v1/encode -H 'Content-Type: image/png' --data-binary @"$TMP/big"; expect_error 413 payload_too_large "Content-Length over --max-body"
req POST /v1/encode -H 'Content-Type: image/png' -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/big"; expect_error 413 payload_too_large "chunked over --max-body"
req POST /v1/encode -H 'Content-Type: image/png' --data-binary @"$TMP/bomb.png"; expect_error 422 invalid_input "PNG declaring 100000x100000"
$PY - "$TMP/idat.png" <<'PYEOF'
import struct, sys, zlib
def chunk(t, b): return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
raw = zlib.compress(b"\0" * (1025 * 1024 * 16), 9)  # 16 MiB of zeros behind a 28x28 header
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0)) + chunk(b"IDAT", raw) + chunk(b"IEND", b""))
PYEOF
req POST /v1/encode -H 'Content-Type: image/png' --data-binary @"$TMP/idat.png"
case "$STATUS" in 200|400) ok "28x28 PNG with a 16 MiB IDAT stream decodes only 28x28 ($STATUS)";; *) bad "huge IDAT: $STATUS";; esac
$PY -c "print('{\"images\":' + '['*40000 + ']'*40000 + '}')" > "$TMP/deep.json"
req POST /v1/encode -H 'Content-Type: application/json' --data-binary @"$TMP/deep.json"; expect_error 400 bad_json "40000-deep JSON"
req POST /v1/encode -H 'Content-Type: application/json' --data-binary '{"images":[{"pixels":[NaN],"width":1,"height":1,"channels":1}]}'; expect_error 400 bad_json "NaN literal"
req POST /v1/sample -H 'Content-Type: application/json' --data-binary '{"code":[1e308,0,0,0,0,0,0,0]}'; expect_error 422 invalid_input "code value beyond float range"
req POST /v1/sample -H 'Content-Type: application/json' --data-binary '{"code":[1,0,0,0,0,0,0,0],"n":1e30}'; expect_error 422 invalid_input "huge n"
req POST /v1/sample -H 'Content-Type: application/json' --data-binary '{"code":[1,0,0,0,0,0,0,0],"seed":-1}'; expect_error 422 invalid_input "negative seed"
$PY -c "import json; print(json.dumps({'images':[{'png':'iVBORw0KGgo='}]*10000}))" > "$TMP/10k.json"
req POST /v1/encode -H 'Content-Type: application/json' --data-binary @"$TMP/10k.json"
case "$STATUS" in 413|422) ok "10k-element batch refused ($STATUS)";; *) bad "10k batch: $STATUS";; esac
req PUT /v1/encode; expect_error 405 method_not_allowed "PUT"
req PATCH /healthz; expect_error 405 method_not_allowed "PATCH"
req GET '/v1/../../etc/passwd' --path-as-is; expect_error 404 not_found "path traversal"
req GET "/$(head -c 3000 /dev/zero | tr '\0' a)"; expect_error 404 not_found "3000-char path"
req POST /v1/models/reload -H "Authorization: Bearer $(head -c 10000 /dev/zero | tr '\0' x)"; expect_error 401 unauthorized "10 KB bearer token"
req POST /v1/models/reload -H 'Authorization: Basic aG9zdGlsZQ=='; expect_error 401 unauthorized "Basic auth"
req POST /v1/models/reload -H 'Authorization: Bearer hostile-token-4'; expect_error 401 unauthorized "token prefix"
req POST /v1/models/reload -H 'Authorization: Bearer hostile-token-42x'; expect_error 401 unauthorized "token with a suffix"
touch "$TMP/stop"; wait "$PROBE"
read -r worst fails count < "$TMP/probe.out"
awk -v w="$worst" -v s="$SLOW" 'BEGIN { exit !(w < 100 * s) }' && [ "$fails" = 0 ] \
  && ok "healthz answered within 100 ms throughout ($count probes, worst $worst ms, $fails failures)" \
  || bad "healthz during the attacks: worst $worst ms, $fails failures of $count"
req GET /healthz; expect_status 200 "still alive"
kill -TERM "$S_PID"; wait "$S_PID"; rc=$?
[ "$rc" = 0 ] && ok "clean exit after the attacks" || bad "exit $rc"
grep -q 'hostile-token-42' "$S_LOG" && bad "token in the log" || ok "token never logged"

# connection limit on a second server
start_server L --model "$TMP/a.safetensors" --threads 1 --max-connections 20 --timeout 5 || exit 1
refused=$($H "${L_URL##*:}" conn_limit 30 2>&1 >/dev/null | tail -1)
[ "${refused:-0}" -ge 10 ] && ok "--max-connections 20 enforced ($refused of 30 refused)" || bad "connection limit: $refused of 30 refused"
sleep 0.5
URL=$L_URL; req GET /healthz; expect_status 200 "serving again once the connections closed"
kill -TERM "$L_PID"; wait "$L_PID"
finish
