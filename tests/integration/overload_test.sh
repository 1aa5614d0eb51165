#!/usr/bin/env bash
# overload_test.sh — bounded queues and cancellation: a full encode queue answers 503 with
# Retry-After, a full sampling queue 429, a sampling client that disconnects has its job
# cancelled (the worker is free again at once), and /healthz answers within 100 ms while the
# sampler is busy.
source "$(dirname "$0")/lib.sh"
make_pngs "$TMP"
train_tiny "$TMP/a.safetensors" 1 || exit 1
b64() { base64 -w0 "$1"; }

# Encode queue of 2 images, batches held for 1.5 s: the second request finds the queue full.
start_server Q --model "$TMP/a.safetensors" --threads 1 --queue 2 --max-batch 64 --max-delay-ms 1500 || exit 1
URL=$Q_URL
printf '{"images":[{"png":"%s"},{"png":"%s"}]}' "$(b64 "$TMP/a.png")" "$(b64 "$TMP/b.png")" > "$TMP/two.json"
curl -s -o "$TMP/first.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary @"$TMP/two.json" "$URL/v1/encode" > "$TMP/first.status" &
CPID=$!
sleep 0.5
req POST /v1/encode -H 'Content-Type: image/png' --data-binary @"$TMP/a.png"
expect_error 503 overloaded "encode queue full"; expect_header '^Retry-After: 1' "Retry-After on 503"
wait "$CPID"
[ "$(cat "$TMP/first.status")" = 200 ] && ok "the queued request still completes" || bad "queued request: $(cat "$TMP/first.status")"
req GET /metrics
grep -q 'drl_http_requests_total{route="/v1/encode",method="POST",status="503"} 1' "$BODY" && ok "503 counted in metrics" || bad "503 not in metrics"
kill -TERM "$Q_PID"; wait "$Q_PID"

# Sampling: queue of 1, one job running, one waiting, the third gets 429.
start_server P --model "$TMP/a.safetensors" --threads 1 --sample-queue 1 --max-sample-steps 100000 || exit 1
URL=$P_URL
CODE=$($PY -c "print([0.2]*8)")
long='{"code":'"$CODE"',"n":4,"sampler":"pc","steps":100000}'
curl -s -o /dev/null --max-time $((3 * SLOW)) -X POST -H 'Content-Type: application/json' --data-binary "$long" "$URL/v1/sample" &
C1=$!
sleep 0.5
curl -s -o /dev/null --max-time $((3 * SLOW)) -X POST -H 'Content-Type: application/json' --data-binary "$long" "$URL/v1/sample" &
C2=$!
sleep 0.5
req POST /v1/sample -H 'Content-Type: application/json' --data-binary "$long"
expect_error 429 too_many_requests "sampling queue full"; expect_header '^Retry-After: 1' "Retry-After on 429"
# health stays fast while the sampler runs
worst=$($PY - "$URL" <<'PYEOF'
import sys, time, urllib.request
worst = 0
for _ in range(20):
    t = time.time(); urllib.request.urlopen(sys.argv[1] + "/healthz", timeout=5).read(); worst = max(worst, time.time() - t)
    time.sleep(0.05)
print(f"{worst*1000:.1f}")
PYEOF
)
awk -v w="$worst" -v s="$SLOW" 'BEGIN { exit !(w < 100 * s) }' && ok "healthz within 100 ms while sampling (worst ${worst} ms)" || bad "healthz slow while sampling: ${worst} ms"
# both clients give up (curl --max-time); their jobs must be cancelled, not run 100000 steps
wait "$C1" "$C2"
sleep $((1 * SLOW))
t0=$(date +%s.%N)
req POST /v1/sample -H 'Content-Type: application/json' --data-binary '{"code":'"$CODE"',"n":1,"sampler":"ode","steps":3}'
t1=$(date +%s.%N)
expect_status 200 "sampler free again after the clients left"
awk -v a="$t0" -v b="$t1" -v s="$SLOW" 'BEGIN { exit !(b - a < 5 * s) }' && ok "next sample answered at once ($(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s)" || bad "sampler still busy with cancelled jobs"
n_cancel=$(grep -c '"route":"/v1/sample","status":503' "$P_LOG")
[ "$n_cancel" -ge 2 ] && ok "both abandoned jobs cancelled ($n_cancel)" || bad "cancelled jobs in log: $n_cancel; $(grep sample "$P_LOG" | tail -3)"
kill -TERM "$P_PID"; wait "$P_PID"; rc=$?
[ "$rc" = 0 ] && ok "clean exit" || bad "exit $rc"
finish
