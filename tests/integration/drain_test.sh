#!/usr/bin/env bash
# drain_test.sh — graceful shutdown: after SIGTERM /readyz answers 503 at once while the listener
# stays open for --drain-delay-ms, requests already running (a long sample) finish with 200, new
# connections are refused once the listener closes, and the process exits 0.
source "$(dirname "$0")/lib.sh"
make_pngs "$TMP"
train_tiny "$TMP/a.safetensors" 1 || exit 1
start_server S --model "$TMP/a.safetensors" --name tiny --threads 2 --drain-delay-ms $((4000 * SLOW)) --drain-timeout-ms $((60000 * SLOW)) --max-sample-steps 2000 || exit 1
URL=$S_URL

# a sample request long enough to be in flight when the signal arrives (~3 s in a release build;
# fewer steps under ASan, which runs it ~10x slower)
CODE=$($PY -c "print([0.2]*8)")
curl -s -o "$TMP/sample.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data-binary '{"code":'"$CODE"',"n":4,"sampler":"pc","steps":'"$((1500 / (SLOW * SLOW)))"'}' "$URL/v1/sample" > "$TMP/sample.status" &
CPID=$!
sleep $((1 * SLOW))
req GET /readyz; expect_status 200 "ready before SIGTERM"
kill -TERM "$S_PID"
T_TERM=$(date +%s%N)
sleep 0.3
req GET /readyz; expect_error 503 draining "readyz 503 right after SIGTERM"
expect_header '^Connection: close' "responses ask clients to reconnect elsewhere while draining"
req GET /healthz; expect_status 200 "healthz still answers during the drain delay"
# (the delay is 4 s so that the three requests above fit in it on a loaded machine; the message
# says how late the request was if they did not)
T_ENC=$(( ($(date +%s%N) - T_TERM) / 1000000 ))
req POST /v1/encode -H 'Content-Type: image/png' --data-binary @"$TMP/a.png"; expect_status 200 "encode still served during the drain delay (sent $T_ENC ms after SIGTERM)"
wait "$CPID"
[ "$(cat "$TMP/sample.status")" = 200 ] && ok "in-flight sample finished with 200" || bad "in-flight sample: $(cat "$TMP/sample.status") $(head -c 200 "$TMP/sample.json")"
wait "$S_PID"; rc=$?
[ "$rc" = 0 ] && ok "exit 0 after the drain" || bad "exit $rc"
curl -s -o /dev/null --max-time 2 "$URL/healthz" && bad "still accepting after exit" || ok "listener closed"
grep -q '"msg":"draining"' "$S_LOG" && grep -q '"msg":"stopped","unfinished":0' "$S_LOG" && ok "drain logged" || bad "drain log lines"
finish
