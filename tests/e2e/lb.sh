#!/usr/bin/env bash
# lb.sh — two `drl serve` replicas behind a real HAProxy on loopback, end to end:
#   1. keep-alive load through the balancer; SIGTERM one replica mid-load: no request may fail,
#      the draining replica exits 0 and the survivor carries the rest (the balancer routed
#      around it, seeing /readyz turn 503 during --drain-delay-ms);
#   2. restart it; upload a dataset, run a job and promote it, all through the balancer (admin
#      requests land on whichever replica): every replica serves the new version.
# Uses $DRL_BIN (else build/drl) and drl_load from $DRL_BUILD_DIR; needs haproxy (Debian
# package `haproxy`) and skips (exit 77) without it.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../integration/lib.sh"
HAPROXY=$(command -v haproxy || ls /usr/sbin/haproxy 2>/dev/null)
[ -n "$HAPROXY" ] || { echo "haproxy not installed: skipped"; exit 77; }
LOAD=${DRL_BUILD_DIR:-$(dirname "$BIN")}/drl_load
[ -x "$LOAD" ] || { echo "drl_load not built ($LOAD)"; exit 1; }

free_port() { $PY -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
make_pngs "$TMP"
train_tiny "$TMP/a.safetensors" 1 || exit 1
echo "lb-token-000111" > "$TMP/token"
AUTH=(-H 'Authorization: Bearer lb-token-000111')
W="$TMP/shared"
P1=$(free_port); P2=$(free_port); PLB=$(free_port)
DRAIN=$((3000 * SLOW))
common=(--model "$TMP/a.safetensors" --name tiny --token-file "$TMP/token" --threads 1 --work-dir "$W"
        --drain-delay-ms "$DRAIN" --manifest-poll-ms 200 --quiet)
start_replica() { # start_replica NAME PORT WORKER
  local name=$1 port=$2 worker=$3
  "$BIN" serve --host 127.0.0.1 --port "$port" --port-file "$TMP/$name.port" --train-worker "$worker" "${common[@]}" \
    2>>"$TMP/$name.log" &
  PIDS+=($!)
  printf -v "${name}_PID" '%s' "$!"
  for i in $(seq 1 $((100 * SLOW))); do [ -s "$TMP/$name.port" ] && return 0; sleep 0.1; done
  echo "replica $name did not start"; cat "$TMP/$name.log"; return 1
}
start_replica R1 "$P1" on || exit 1
start_replica R2 "$P2" off || exit 1

# The balancer: the deployed config's loopback template when present, with our ports.
TPL="$HERE/../../deploy/haproxy/haproxy-local.cfg.in"
if [ -f "$TPL" ]; then
  sed -e "s/@PORT@/$PLB/g" -e "s/@S1@/$P1/g" -e "s/@S2@/$P2/g" "$TPL" > "$TMP/haproxy.cfg"
else
  cat > "$TMP/haproxy.cfg" <<CFG
global
  maxconn 1024
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  retries 3
  option redispatch 1
  retry-on all-retryable-errors
frontend fe
  bind 127.0.0.1:$PLB
  default_backend drl
backend drl
  balance leastconn
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 200ms fall 2 rise 2
  server s1 127.0.0.1:$P1 check
  server s2 127.0.0.1:$P2 check
CFG
fi
"$HAPROXY" -c -f "$TMP/haproxy.cfg" >/dev/null 2>&1 && ok "haproxy config valid" || { bad "haproxy config: $("$HAPROXY" -c -f "$TMP/haproxy.cfg" 2>&1 | tail -3)"; finish; }
"$HAPROXY" -db -f "$TMP/haproxy.cfg" >"$TMP/haproxy.log" 2>&1 &
HPID=$!
PIDS+=("$HPID")
URL="http://127.0.0.1:$PLB"
for i in $(seq 1 50); do curl -fs -o /dev/null "$URL/readyz" && break; sleep 0.1; done
req GET /readyz; expect_status 200 "ready through the balancer"

# ---- 1. SIGTERM one replica under load ------------------------------------------------------
DUR=$((8 * SLOW))
"$LOAD" --url "$URL/v1/encode" --concurrency 8 --duration "$DUR" --png "$TMP/a.png" --json-out > "$TMP/load.json" 2>"$TMP/load.err" &
LPID=$!
sleep $((2 * SLOW))
n1_before=$(curl -s "127.0.0.1:$P1/metrics" | awk -F' ' '/^drl_http_requests_total\{route="\/v1\/encode",method="POST",status="200"\}/ {print $2}')
n2_before=$(curl -s "127.0.0.1:$P2/metrics" | awk -F' ' '/^drl_http_requests_total\{route="\/v1\/encode",method="POST",status="200"\}/ {print $2}')
kill -TERM "$R2_PID"
wait "$R2_PID"; rc2=$?
n1_after=$(curl -s "127.0.0.1:$P1/metrics" | awk -F' ' '/^drl_http_requests_total\{route="\/v1\/encode",method="POST",status="200"\}/ {print $2}')
wait "$LPID"
[ "$rc2" = 0 ] && ok "draining replica exited 0" || bad "draining replica exit $rc2"
$PY - "$TMP/load.json" <<'PYEOF' && ok "no request failed while a replica drained: $(head -c 160 "$TMP/load.json")" || bad "failures during the drain: $(cat "$TMP/load.json") $(tail -3 "$TMP/load.err")"
import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
sys.exit(0 if d["ok"] > 100 and d["failures"] == 0 and d["socket_errors"] == 0 and d["protocol_errors"] == 0 else 1)
PYEOF
awk -v a="${n1_before:-0}" -v b="${n2_before:-0}" 'BEGIN { exit !(a > 0 && b > 0) }' \
  && ok "both replicas served before the drain ($n1_before / $n2_before)" || bad "balancer did not spread load: $n1_before / $n2_before"
n1_end=$(curl -s "127.0.0.1:$P1/metrics" | awk -F' ' '/^drl_http_requests_total\{route="\/v1\/encode",method="POST",status="200"\}/ {print $2}')
awk -v a="${n1_after:-0}" -v b="${n1_end:-0}" 'BEGIN { exit !(b > a + 50) }' \
  && ok "the survivor carried the load after the drain ($n1_after -> $n1_end)" || bad "survivor did not take over: $n1_after -> $n1_end"
grep -qiE "s2.*(DOWN|is going down|maintenance)" "$TMP/haproxy.log" && ok "haproxy marked the draining replica down" || bad "haproxy log lacks s2 DOWN: $(tail -5 "$TMP/haproxy.log")"

# ---- 2. promote through the balancer reaches every replica -------------------------------------
rm -f "$TMP/R2.port"
start_replica R2 "$P2" off || exit 1
for i in $(seq 1 $((50 * SLOW))); do grep -qiE "s2.*is UP" "$TMP/haproxy.log" && break; sleep 0.1; done
req POST /v1/datasets "${AUTH[@]}" -H 'Content-Type: image/png' --data-binary @"$TMP/a.png"
[ "$STATUS" = 400 ] || [ "$STATUS" = 422 ] && ok "a single PNG is not a dataset ($STATUS)" || bad "single PNG upload: $STATUS"
$PY - "$TMP/ds.json" "$TMP/a.png" "$TMP/b.png" <<'PYEOF'
import base64, json, sys
imgs = [base64.b64encode(open(p, "rb").read()).decode() for p in sys.argv[2:]] * 8
json.dump({"images": [{"png": b} for b in imgs]}, open(sys.argv[1], "w"))
PYEOF
req POST /v1/datasets "${AUTH[@]}" -H 'Content-Type: application/json' --data-binary @"$TMP/ds.json"
expect_status 201 "dataset uploaded through the balancer"
DS=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['id'])" "$BODY")
req POST /v1/train/jobs "${AUTH[@]}" -H 'Content-Type: application/json' --data-binary '{"dataset":"'"$DS"'","steps":20,"batch_size":8,"log_every":5}'
expect_status 202 "job created through the balancer"
J=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['id'])" "$BODY")
for i in $(seq 1 $((300 * SLOW))); do
  req GET "/v1/train/jobs/$J" "${AUTH[@]}"
  $PY -c "import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))['state'] in ('succeeded','failed') else 1)" "$BODY" && break
  sleep 0.1
done
expect_json "d['state']=='succeeded'" "job succeeded (status read through whichever replica answered)"
req POST "/v1/train/jobs/$J/promote" "${AUTH[@]}"; expect_status 200 "promoted through the balancer"
V=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['version'])" "$BODY")
for p in "$P1" "$P2"; do
  got=""
  for i in $(seq 1 $((50 * SLOW))); do
    got=$(curl -s "127.0.0.1:$p/v1/models" | $PY -c "import json,sys; print(json.load(sys.stdin)['models'][0]['version'])")
    [ "$got" = "$V" ] && break
    sleep 0.1
  done
  [ "$got" = "$V" ] && ok "replica :$p serves the promoted version $V" || bad "replica :$p serves $got, want $V"
done
n_workers=$(grep -l '"msg":"training job started"' "$TMP/R1.log" "$TMP/R2.log" 2>/dev/null | wc -l)
[ "$n_workers" = 1 ] && grep -q '"msg":"training job started"' "$TMP/R1.log" && ok "exactly one replica (the worker) ran the job" || bad "job ran on $n_workers replicas"

kill -TERM "$R1_PID" "$R2_PID"; wait "$R1_PID"; r1=$?; wait "$R2_PID"; r2=$?
[ "$r1" = 0 ] && [ "$r2" = 0 ] && ok "replicas exit 0" || bad "replica exits $r1 $r2"
kill "$HPID" 2>/dev/null
finish
