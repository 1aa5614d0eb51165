#!/usr/bin/env bash
# reload_test.sh — models swapped under concurrent load lose no request: 8 keep-alive clients
# (bench drl_load) encode PNGs while the model is reloaded back and forth between two files
# through the admin route and SIGHUP; every request must answer 200, and the served version must
# end on the last file loaded.
source "$(dirname "$0")/lib.sh"
LOAD=${DRL_BUILD_DIR:-$(dirname "$BIN")}/drl_load
[ -x "$LOAD" ] || { echo "drl_load not built ($LOAD)"; exit 1; }

make_pngs "$TMP"
train_tiny "$TMP/a.safetensors" 1 || exit 1
train_tiny "$TMP/b.safetensors" 2 || exit 1
echo "reload-token-456" > "$TMP/token"
start_server S --model "$TMP/a.safetensors" --name tiny --token-file "$TMP/token" --threads 2 --max-batch 16 || exit 1
URL=$S_URL

DUR=$((8 * SLOW))
"$LOAD" --url "$URL/v1/encode" --concurrency 8 --duration "$DUR" --png "$TMP/a.png" --json-out \
  > "$TMP/load.json" 2>"$TMP/load.err" &
LPID=$!
sleep 1
n=0
for i in $(seq 1 $((3 * DUR / SLOW))); do
  f=$([ $((i % 2)) = 0 ] && echo a || echo b)
  req POST /v1/models/reload -H 'Authorization: Bearer reload-token-456' -H 'Content-Type: application/json' \
    --data-binary '{"path":"'"$TMP/$f.safetensors"'"}'
  [ "$STATUS" = 200 ] && n=$((n + 1))
  [ $((i % 5)) = 0 ] && kill -HUP "$S_PID"
  sleep 0.2
done
wait "$LPID"
[ "$n" -ge 10 ] && ok "$n reloads answered 200 during the load" || bad "only $n reloads succeeded"
$PY - "$TMP/load.json" <<'PYEOF' && ok "no request failed during reloads ($(cat "$TMP/load.json" | head -c 200))" || bad "requests failed during reloads: $(cat "$TMP/load.json") $(tail -5 "$TMP/load.err")"
import json, sys
d = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
sys.exit(0 if d["ok"] > 50 and d["failures"] == 0 and d["socket_errors"] == 0 and d["requests"] == d["ok"] else 1)
PYEOF
# settle on b and check every answer now comes from b
req POST /v1/models/reload -H 'Authorization: Bearer reload-token-456' -H 'Content-Type: application/json' \
  --data-binary '{"path":"'"$TMP/b.safetensors"'"}'
VB=$(sha256sum "$TMP/b.safetensors" | cut -c1-12)
req POST /v1/encode -H 'Content-Type: image/png' --data-binary @"$TMP/a.png"
expect_json "d['version']=='$VB'" "answers come from the last model loaded"
"$BIN" encode --model "$TMP/b.safetensors" "$TMP/a.png" > "$TMP/cli.json" 2>/dev/null
$PY - "$BODY" "$TMP/cli.json" <<'PYEOF' && ok "embedding equals drl encode with the new model" || bad "embedding after reload differs"
import json, sys
a = json.load(open(sys.argv[1]))["embedding"]; b = json.loads(open(sys.argv[2]).readline())["embedding"]
sys.exit(0 if max(abs(x - y) for x, y in zip(a, b)) < 1e-5 else 1)
PYEOF
req GET /metrics
grep -q 'drl_model_reloads_total{result="ok"}' "$BODY" && ok "reloads counted in metrics" || bad "reload metric"
kill -TERM "$S_PID"; wait "$S_PID"; rc=$?
[ "$rc" = 0 ] && ok "clean exit" || bad "exit $rc"
finish
