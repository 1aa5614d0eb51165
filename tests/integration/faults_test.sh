#!/usr/bin/env bash
# faults_test.sh — nothing is lost: kill -9 during checkpoint writes (repeatedly, at random
# moments) always leaves a loadable model and a resumable state; kill -9 during a dataset upload
# leaves no partial dataset; a truncated or corrupt checkpoint is refused at start-up (clear
# error, exit 1) and at reload (422, the old model keeps serving); a full disk (a 3 MB tmpfs work
# dir, when this machine lets us mount one) fails a training job cleanly with the reason.
source "$(dirname "$0")/lib.sh"
make_pngs "$TMP"
train_tiny "$TMP/a.safetensors" 1 || exit 1

# ---- kill -9 during checkpoint writes ------------------------------------------------------------
M="$TMP/k.safetensors"
small=(--max-n 128 --batch 8 --channels 8,16,16 --latent-dim 8 --log-every 1 --ckpt-every 1 --threads 1 --seed 4)
kills=0 good=0
for i in 1 2 3 4 5 6; do
  lines=$( [ -f "$M.csv" ] && wc -l < "$M.csv" || echo 0)
  "$BIN" train --out "$M" --steps 100000 --resume "${small[@]}" >/dev/null 2>&1 &
  p=$!
  # wait until this run has checkpointed at least once, then kill at a random moment. A step's
  # curve row is written before its checkpoint, so two new rows (not one) are needed: in the
  # first run a kill right after the first row can land before any checkpoint exists at all.
  for k in $(seq 1 $((300 * SLOW))); do [ -f "$M.csv" ] && [ "$(wc -l < "$M.csv")" -gt $((lines + 2)) ] && break; sleep 0.05; done
  sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
  kill -9 "$p" 2>/dev/null && kills=$((kills + 1)); wait "$p" 2>/dev/null
  if [ -f "$M" ] && "$BIN" inspect "$M" >/dev/null 2>&1 && "$BIN" inspect "$M.state" >/dev/null 2>&1; then good=$((good + 1)); fi
done
[ "$good" = 6 ] && ok "model and state loadable after each of $kills kill -9s during checkpointing" || bad "only $good of 6 kills left loadable files"
step0=$(tail -1 "$M.csv" | cut -d, -f1)
"$BIN" train --out "$M" --steps $((step0 + 3)) --resume "${small[@]}" >/dev/null 2>"$TMP/resume.err" \
  && ok "training resumes after the kills (from step $step0)" || bad "resume failed: $(tail -2 "$TMP/resume.err")"

# ---- truncated / corrupt checkpoints ------------------------------------------------------------
head -c 5000 "$TMP/a.safetensors" > "$TMP/trunc.safetensors"
"$BIN" serve --model "$TMP/trunc.safetensors" --port 0 2>"$TMP/trunc.err"; rc=$?
[ "$rc" = 1 ] && grep -qiE "safetensors|truncat|short|size" "$TMP/trunc.err" && ok "truncated checkpoint refused at start-up (exit 1): $(tail -1 "$TMP/trunc.err" | head -c 150)" || bad "truncated start-up: rc $rc $(cat "$TMP/trunc.err" | tail -2)"
cp "$TMP/a.safetensors" "$TMP/flip.safetensors"
printf '\xff\xff\xff\xff' | dd of="$TMP/flip.safetensors" bs=1 seek=0 conv=notrunc 2>/dev/null
"$BIN" serve --model "$TMP/flip.safetensors" --port 0 2>"$TMP/flip.err"; rc=$?
[ "$rc" = 1 ] && ok "corrupt header refused at start-up: $(tail -1 "$TMP/flip.err" | head -c 150)" || bad "corrupt start-up: rc $rc"
echo "faults-token-1234" > "$TMP/token"
start_server S --model "$TMP/a.safetensors" --token-file "$TMP/token" --threads 1 --work-dir "$TMP/work" || exit 1
URL=$S_URL
AUTH=(-H 'Authorization: Bearer faults-token-1234')
req GET /v1/models; V=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['models'][0]['version'])" "$BODY")
for f in trunc flip; do
  req POST /v1/models/reload "${AUTH[@]}" -H 'Content-Type: application/json' --data-binary '{"path":"'"$TMP/$f.safetensors"'"}'
  expect_error 422 bad_checkpoint "$f checkpoint refused at reload"
done
req POST /v1/encode -H 'Content-Type: image/png' --data-binary @"$TMP/a.png"; expect_json "d['version']=='$V'" "the old model keeps serving"

# ---- kill -9 during a dataset upload -----------------------------------------------------------
$PY - "$TMP/big.idx" <<'PYEOF'
import struct, sys, random
n = 20000
random.seed(1)
open(sys.argv[1], "wb").write(struct.pack(">BBBBIII", 0, 0, 8, 3, n, 28, 28) + bytes(random.getrandbits(8) for _ in range(n * 784)))
PYEOF
req POST /v1/datasets "${AUTH[@]}" -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/big.idx"
expect_status 201 "a first dataset stored"; D1=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['id'])" "$BODY")
curl -s -o /dev/null "${AUTH[@]}" -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/big.idx" "$URL/v1/datasets" &
CP=$!
# kill while the second upload is being stored: as soon as its temporary directory appears. The
# poll uses shell builtins only (no process per try) so that it keeps up on a loaded machine; the
# store can still win the race (the rename lands before the kill), which is a correct outcome
# too, so the assertion below is the invariant itself: every listed dataset is complete.
DSD="$TMP/work/datasets"
seen=0
exec {nap}<> <(:)
for i in $(seq 1 4000); do compgen -G "$DSD/.tmp-*" >/dev/null && { seen=1; break; }; read -r -t 0.002 -u "$nap" || true; done
exec {nap}>&-
kill -9 "$S_PID"; wait "$S_PID" 2>/dev/null; wait "$CP" 2>/dev/null
left=$(compgen -G "$DSD/.tmp-*" | wc -l)
start_server S --model "$TMP/a.safetensors" --token-file "$TMP/token" --threads 1 --work-dir "$TMP/work" || exit 1
URL=$S_URL
req GET /v1/datasets "${AUTH[@]}"
if [ "$left" -gt 0 ]; then how="the kill landed mid-write; its temporary directory was left behind, unlisted"
elif [ "$seen" = 1 ]; then how="the store finished between the poll and the kill"
else how="the kill missed the write (poll never saw it)"; fi
expect_json "'$D1' in [x['id'] for x in d['datasets']] and len(d['datasets']) <= 2 and all(x['count'] == 20000 for x in d['datasets'])" \
  "after kill -9 mid-upload only complete datasets are listed ($how)"
full=$(stat -c %s "$DSD/$D1/images.idx")
for id in $($PY -c "import json,sys; print(' '.join(x['id'] for x in json.load(open(sys.argv[1]))['datasets']))" "$BODY"); do
  sz=$(stat -c %s "$DSD/$id/images.idx" 2>/dev/null || echo 0)
  [ "$sz" = "$full" ] && [ "$sz" -gt $((20000 * 784)) ] && ok "listed dataset $id has all its images on disk ($sz bytes)" || bad "listed dataset $id: images.idx is $sz bytes"
done
req GET "/v1/datasets/$D1" "${AUTH[@]}"; expect_status 200 "the earlier dataset is intact"

# ---- disk full ----------------------------------------------------------------------------------
kill -TERM "$S_PID"; wait "$S_PID"
mkdir -p "$TMP/full"
if mount -t tmpfs -o size=3m tmpfs "$TMP/full" 2>/dev/null; then
  start_server F --model "$TMP/a.safetensors" --token-file "$TMP/token" --threads 1 --work-dir "$TMP/full" || exit 1
  URL=$F_URL
  $PY - "$TMP/ds.json" "$TMP/a.png" <<'PYEOF'
import base64, json, sys
b = base64.b64encode(open(sys.argv[2], "rb").read()).decode()
json.dump({"images": [{"png": b}] * 16}, open(sys.argv[1], "w"))
PYEOF
  req POST /v1/datasets "${AUTH[@]}" -H 'Content-Type: application/json' --data-binary @"$TMP/ds.json"; expect_status 201 "small dataset on the tiny disk"
  DS=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['id'])" "$BODY")
  head -c 2200000 /dev/zero > "$TMP/full/filler" 2>/dev/null
  req POST /v1/train/jobs "${AUTH[@]}" -H 'Content-Type: application/json' --data-binary '{"dataset":"'"$DS"'","steps":50,"batch_size":8,"ckpt_every":5}'
  J=$($PY -c "import json,sys; print(json.load(open(sys.argv[1])).get('id',''))" "$BODY")
  if [ -n "$J" ]; then
    for i in $(seq 1 $((200 * SLOW))); do req GET "/v1/train/jobs/$J" "${AUTH[@]}"; $PY -c "import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))['state'] in ('failed','succeeded') else 1)" "$BODY" && break; sleep 0.1; done
    expect_json "d['state']=='failed' and 'space' in d.get('error','').lower()" "job on a full disk fails with the reason: $($PY -c "import json,sys; print(json.load(open(sys.argv[1])).get('error',''))" "$BODY" | head -c 120)"
  else
    case "$STATUS" in 500|507) ok "job creation on a full disk refused cleanly ($STATUS)";; *) bad "job on full disk: $STATUS $(head -c 200 "$BODY")";; esac
  fi
  req GET /healthz; expect_status 200 "server healthy on a full disk"
  kill -TERM "$F_PID"; wait "$F_PID"
  umount "$TMP/full"
else
  echo "cannot mount a tmpfs here: disk-full case skipped"
fi
finish
