#!/usr/bin/env bash
# soak.sh — a long mixed load against one `drl serve`: keep-alive encode clients, a trajectory
# loop, a sampling loop, a training job running (and replaced when it ends), and a model reload
# every RELOAD_EVERY seconds, for DURATION seconds. Reports the request count, every non-2xx
# status, and the server's RSS after warm-up and at the end (a leak shows as growth); the server
# must exit 0 on SIGTERM (with an ASan build, LeakSanitizer then checks for leaks at exit).
# Not a test (it takes minutes); run by hand and record the figures in docs/reliability.md.
#
# usage: bench/soak.sh   DRL_BIN=build/drl DURATION=600 WARM=60 CONC=4 RELOAD_EVERY=30
set -uo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
DRL_BIN=${DRL_BIN:-build/drl}
BUILD=${BUILD:-$(dirname "$DRL_BIN")}
LOAD=${DRL_LOAD:-$BUILD/drl_load}
DURATION=${DURATION:-600}
CONC=${CONC:-4}
RELOAD_EVERY=${RELOAD_EVERY:-30}
source tests/integration/lib.sh  # make_pngs, train_tiny (sets TMP and its own trap: replaced below)
trap 'kill $(jobs -p) 2>/dev/null; cp "$TMP/server.log" "${SOAK_LOG:-/tmp/drl-soak-server.log}" 2>/dev/null; rm -rf "$TMP"' EXIT
BIN=$DRL_BIN
make_pngs "$TMP"
train_tiny "$TMP/tc.safetensors" 5 --time-cond || exit 1
echo "soak-token-123456" > "$TMP/token"
AUTH="Authorization: Bearer soak-token-123456"
"$DRL_BIN" serve --host 127.0.0.1 --port 0 --port-file "$TMP/port" --model "$TMP/tc.safetensors" --name soak \
  --token-file "$TMP/token" --work-dir "$TMP/work" --threads 1 --train-threads 1 --quiet 2>"$TMP/server.log" &
SPID=$!
for i in $(seq 1 300); do [ -s "$TMP/port" ] && break; sleep 0.1; done
[ -s "$TMP/port" ] || { echo "server did not start"; cat "$TMP/server.log"; exit 1; }
URL="http://127.0.0.1:$(cat "$TMP/port")"
rss() { awk '/VmRSS/ {print $2}' "/proc/$SPID/status"; }
b64=$(base64 -w0 "$TMP/a.png")
printf '{"image":{"png":"%s"},"steps":8}' "$b64" > "$TMP/traj.json"
printf '{"image":{"png":"%s"},"n":2,"sampler":"ode","steps":10}' "$b64" > "$TMP/sample.json"
$PY - "$TMP/ds.json" "$TMP/a.png" "$TMP/b.png" <<'PYEOF'
import base64, json, sys
imgs = [base64.b64encode(open(p, "rb").read()).decode() for p in sys.argv[2:]] * 16
json.dump({"images": [{"png": b} for b in imgs]}, open(sys.argv[1], "w"))
PYEOF
DS=$(curl -s -H "$AUTH" -H 'Content-Type: application/json' --data-binary @"$TMP/ds.json" "$URL/v1/datasets" | $PY -c "import json,sys; print(json.load(sys.stdin)['id'])")

count_loop() { # count_loop NAME CURL-ARGS... : repeats a request until $TMP/stop, tallying statuses
  local name=$1; shift
  while [ ! -e "$TMP/stop" ]; do
    curl -s -o /dev/null -w '%{http_code}\n' "$@" >> "$TMP/$name.codes"
  done
}
sleep 5
T0=$(date +%s)
WARM=${WARM:-60}   # RSS is compared from the end of the warm-up (every feature has run once)
RSS0=
"$LOAD" --url "$URL/v1/encode" --concurrency "$CONC" --duration "$DURATION" --png "$TMP/a.png" --json-out > "$TMP/load.json" 2>/dev/null &
LPID=$!
count_loop traj -H 'Content-Type: application/json' --data-binary @"$TMP/traj.json" "$URL/v1/trajectory" &
count_loop sample -H 'Content-Type: application/json' --data-binary @"$TMP/sample.json" "$URL/v1/sample" &
jobs_started=0 reloads=0 reload_fail=0
while [ $(( $(date +%s) - T0 )) -lt "$DURATION" ]; do
  running=$(curl -s -H "$AUTH" "$URL/v1/train/jobs" | $PY -c "import json,sys; print(sum(j['state'] in ('queued','running') for j in json.load(sys.stdin)['jobs']))")
  if [ "$running" = 0 ]; then
    curl -s -o /dev/null -H "$AUTH" -H 'Content-Type: application/json' \
      --data-binary '{"dataset":"'"$DS"'","base_model":null,"latent_dim":8,"time_cond":true,"steps":300,"batch_size":8,"log_every":10}' "$URL/v1/train/jobs"
    jobs_started=$((jobs_started + 1))
  fi
  el=$(( $(date +%s) - T0 ))
  [ -z "$RSS0" ] && [ "$el" -ge "$WARM" ] && RSS0=$(rss)
  echo "$el $(rss)" >> "$TMP/rss.series"
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "$AUTH" "$URL/v1/models/reload")
  reloads=$((reloads + 1)); [ "$code" = 200 ] || reload_fail=$((reload_fail + 1))
  sleep "$RELOAD_EVERY"
done
wait "$LPID"
touch "$TMP/stop"; wait $(jobs -p | grep -v "^$SPID$") 2>/dev/null
RSS1=$(rss)
[ -n "$RSS0" ] || RSS0=$RSS1
curl -s "$URL/metrics" > "$TMP/metrics"
kill -TERM "$SPID"; wait "$SPID"; RC=$?
$PY - "$TMP" "$RSS0" "$RSS1" "$RC" "$jobs_started" "$reloads" "$reload_fail" "$DURATION" <<'PYEOF'
import collections, json, sys, re
d, rss0, rss1, rc, jobs, reloads, rfail, dur = sys.argv[1], *map(int, sys.argv[2:])
load = json.loads(open(f"{d}/load.json").read().strip().splitlines()[-1])
codes = collections.Counter()
for n in ("traj", "sample"):
    try: codes.update(f"{n}:{c.strip()}" for c in open(f"{d}/{n}.codes"))
    except FileNotFoundError: pass
five = 0
for line in open(f"{d}/metrics"):
    m = re.match(r'drl_http_requests_total\{route="([^"]+)",method="([^"]+)",status="(\d+)"\} (\S+)', line)
    if m and m.group(3).startswith("5") and not (m.group(1) == "/v1/sample" and m.group(3) == "503"):
        five += int(float(m.group(4)))
total = sum(int(float(x)) for x in re.findall(r'^drl_http_requests_total\{[^}]*\} (\S+)', open(f"{d}/metrics").read(), re.M))
out = {"duration_s": dur, "requests_total": total, "encode": {k: load[k] for k in ("requests", "ok", "failures", "socket_errors")},
       "encode_p99_ms": load.get("latency_ms", {}).get("p99"), "other": dict(codes), "server_5xx": five,
       "rss_kib_start": rss0, "rss_kib_end": rss1, "rss_growth_pct": round(100.0 * (rss1 - rss0) / rss0, 1),
       "rss_series_kib": [list(map(int, l.split())) for l in open(f"{d}/rss.series")],
       "jobs_started": jobs, "reloads": reloads, "reload_failures": rfail, "exit_status": rc}
print(json.dumps(out))
PYEOF
grep -E '"level":"error"|ERROR: (Address|Leak)Sanitizer' "$TMP/server.log" | head -5
exit "$RC"
