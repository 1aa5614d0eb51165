#!/usr/bin/env bash
# docker.sh — the container image end to end: lint the Dockerfile, and where a Docker daemon
# answers, build the image, run it on a free loopback port and check it over HTTP.
#
#   tests/e2e/docker.sh            (from anywhere; DRL_SOURCE_DIR overrides the repository root)
#
# Lint (always): hadolint when installed, else a built-in check (FROM lines on bookworm, a
# non-root USER, HEALTHCHECK / EXPOSE / STOPSIGNAL / ENTRYPOINT present). With a daemon:
#   1. docker build;  2. docker run -p 127.0.0.1::8080: /healthz, /readyz, POST /v1/encode with a
#   PNG made by /usr/bin/python3, /v1/models, the process runs as uid 10001, the HEALTHCHECK turns
#   healthy; 3. docker stop drains (SIGTERM) and the exit status is 0; 4. a second container with
#   DRL_WORK_DIR on a fresh named volume and a token file: a dataset upload succeeds (the volume
#   is writable by the non-root user). Without a daemon it prints
#   "docker: no daemon here, skipped" and exits 0 (after a passing lint).
set -u
SRC=${DRL_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PY=/usr/bin/python3
TAG="drl:e2e-$$"
TMP=$(mktemp -d)
CONTAINERS=()
VOLUME=""
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
finish() {
  echo "$(basename "$0" .sh): $pass passed, $fail failed"
  [ "$fail" = 0 ]
  exit $?
}
cleanup() {
  local c
  for c in "${CONTAINERS[@]:-}"; do [ -n "$c" ] && docker rm -f "$c" >/dev/null 2>&1; done
  [ -n "$VOLUME" ] && docker volume rm -f "$VOLUME" >/dev/null 2>&1
  if [ -n "${BUILT:-}" ]; then docker image rm -f "$TAG" >/dev/null 2>&1; fi
  rm -rf "$TMP"
}
trap cleanup EXIT

# ---- lint ------------------------------------------------------------------------------------
DOCKERFILE="$SRC/Dockerfile"
lint_builtin() {
  # logical lines: continuations joined, comments dropped
  local text
  text=$(sed -e 's/#.*$//' "$DOCKERFILE" | sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' | grep -v '^[[:space:]]*$')
  local froms
  froms=$(grep -iE '^[[:space:]]*FROM[[:space:]]' <<<"$text")
  if [ -n "$froms" ] && ! grep -viq 'bookworm' <<<"$froms"; then ok "lint: every FROM is Debian 12 (bookworm)"
  else bad "lint: FROM lines not all bookworm: $froms"; fi
  local user
  user=$(grep -iE '^[[:space:]]*USER[[:space:]]' <<<"$text" | tail -1 | awk '{print $2}' | cut -d: -f1)
  if [ -n "$user" ] && [ "$user" != root ] && [ "$user" != 0 ]; then ok "lint: runs as non-root USER $user"
  else bad "lint: no non-root USER (last USER: '${user}')"; fi
  local want
  for want in 'HEALTHCHECK .*/healthz' 'EXPOSE 8080' 'STOPSIGNAL SIGTERM' 'ENTRYPOINT \["drl", *"serve"\]'; do
    if grep -qE "^[[:space:]]*$want" <<<"$text"; then ok "lint: ${want%% *} present"
    else bad "lint: missing $want"; fi
  done
}
if command -v hadolint >/dev/null 2>&1; then
  if hadolint "$DOCKERFILE"; then ok "hadolint Dockerfile"; else bad "hadolint Dockerfile"; fi
else
  lint_builtin
fi
[ "$fail" = 0 ] || finish

# ---- the daemon ----------------------------------------------------------------------------
if ! command -v docker >/dev/null 2>&1 || ! docker info >/dev/null 2>&1; then
  echo "docker: no daemon here, skipped"
  echo "$(basename "$0" .sh): $pass passed (lint), 0 failed"
  exit 0
fi

echo "== docker build -t $TAG"
if docker build -t "$TAG" "$SRC" >"$TMP/build.log" 2>&1; then BUILT=1; ok "docker build"
else bad "docker build:"; tail -30 "$TMP/build.log"; finish; fi
SIZE=$(docker image inspect -f '{{.Size}}' "$TAG" 2>/dev/null)
echo "image size: $((SIZE / 1000000)) MB"

# run NAME [docker run args...]: starts the image detached on a random loopback port, sets URL
run() {
  local name=$1; shift
  local cid
  cid=$(docker run -d --name "$name" -p 127.0.0.1::8080 "$@" "$TAG") || return 1
  CONTAINERS+=("$cid")
  CID=$cid
  local hostport i
  for i in $(seq 1 50); do
    hostport=$(docker port "$cid" 8080/tcp 2>/dev/null | grep -m1 '^127\.0\.0\.1:' || true)
    [ -n "$hostport" ] && break
    sleep 0.2
  done
  [ -n "$hostport" ] || { echo "no port mapping for $name"; docker logs "$cid" 2>&1 | tail -20; return 1; }
  URL="http://$hostport"
  for i in $(seq 1 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/readyz")" = 200 ] && return 0
    [ "$(docker inspect -f '{{.State.Running}}' "$cid")" = true ] || break
    sleep 0.2
  done
  echo "$name did not become ready:"; docker logs "$cid" 2>&1 | tail -20
  return 1
}

# status METHOD PATH [curl args]: sets STATUS, body in $TMP/body
req() {
  local m=$1 p=$2; shift 2
  STATUS=$(curl -s -o "$TMP/body" -w '%{http_code}' --max-time 60 -X "$m" "$@" "$URL$p")
}
expect() { # expect STATUS PYEXPR DESC   (PYEXPR over the JSON body d; "" = status only)
  if [ "$STATUS" != "$1" ]; then bad "$3: status $STATUS, want $1; body: $(head -c 300 "$TMP/body")"; return; fi
  if [ -z "$2" ] || $PY -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($2) else 1)" "$TMP/body" 2>/dev/null
  then ok "$3"; else bad "$3: $(head -c 300 "$TMP/body")"; fi
}

# a 28x28 8-bit grayscale PNG, written by the standard library only
$PY - "$TMP/a.png" <<'PYEOF'
import struct, sys, zlib
w = h = 28
raw = b"".join(b"\x00" + bytes(((x * 9 + y * 3) % 256) for x in range(w)) for y in range(h))
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
       + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
open(sys.argv[1], "wb").write(png)
PYEOF

# ---- 1: the default container ----------------------------------------------------------------
echo "== docker run (defaults)"
if run "drl-e2e-$$" -e DRL_THREADS=2 -e DRL_DRAIN_DELAY_MS=500; then
  ok "container ready at $URL"
  A=$CID
  req GET /healthz; expect 200 "d['status']=='ok'" "GET /healthz"
  req GET /readyz; expect 200 "d['status']=='ready' and d['model']=='drl-fmnist' and len(d['version'])==12" "GET /readyz"
  req POST /v1/encode -H 'Content-Type: image/png' --data-binary @"$TMP/a.png"
  expect 200 "d['dim']==len(d['embedding'])>0 and d['embeddings']==[d['embedding']]" "POST /v1/encode (PNG body)"
  printf '{"images":[{"png":"%s"}]}' "$(base64 -w0 "$TMP/a.png")" >"$TMP/enc.json"
  req POST /v1/encode -H 'Content-Type: application/json' --data-binary @"$TMP/enc.json"
  expect 200 "len(d['embeddings'])==1" "POST /v1/encode (JSON)"
  req GET /v1/models
  expect 200 "d['models'][0]['name']=='drl-fmnist' and d['models'][0]['path'].startswith('/usr/share/drl/models/')" "GET /v1/models"
  req GET /metrics; expect 200 "" "GET /metrics"
  uid=$(docker exec "$A" id -u 2>/dev/null)
  if [ "$uid" = 10001 ]; then ok "runs as uid 10001"; else bad "runs as uid '$uid'"; fi
  health=""
  for i in $(seq 1 60); do
    health=$(docker inspect -f '{{.State.Health.Status}}' "$A" 2>/dev/null)
    [ "$health" = healthy ] && break
    sleep 1
  done
  if [ "$health" = healthy ]; then ok "HEALTHCHECK reports healthy"; else bad "HEALTHCHECK status '$health'"; fi
  echo "memory in use: $(docker stats --no-stream --format '{{.MemUsage}}' "$A" 2>/dev/null)"
  # ---- 2: docker stop = SIGTERM: drain, exit 0 ---------------------------------------------
  docker stop -t 30 "$A" >/dev/null
  code=$(docker inspect -f '{{.State.ExitCode}}' "$A")
  if [ "$code" = 0 ]; then ok "docker stop: exit status 0"; else bad "docker stop: exit status $code"; fi
  if docker logs "$A" 2>&1 | grep -q '"draining"'; then ok "drained on SIGTERM"; else bad "no drain log line"; fi
else
  bad "container did not start"
fi

# ---- 3: training enabled: work dir on a named volume, token file --------------------------
echo "== docker run (DRL_WORK_DIR on a named volume)"
VOLUME="drl-e2e-$$"
docker volume create "$VOLUME" >/dev/null
printf 'e2e-token-%s\n' "$$" >"$TMP/token"
chmod 0644 "$TMP/token"
if run "drl-e2e-work-$$" -e DRL_THREADS=1 -e DRL_WORK_DIR=/var/lib/drl -e DRL_TRAIN_WORKER=off \
     -e DRL_TOKEN_FILE=/run/secrets/drl_token -v "$TMP/token:/run/secrets/drl_token:ro" \
     -v "$VOLUME:/var/lib/drl"; then
  B=$CID
  AUTH="Authorization: Bearer e2e-token-$$"
  req GET /v1/datasets -H "$AUTH"; expect 200 "d['datasets']==[]" "GET /v1/datasets (training enabled)"
  req GET /v1/datasets; expect 401 "" "training routes need the token"
  printf '{"images":[{"png":"%s"},{"png":"%s"}]}' "$(base64 -w0 "$TMP/a.png")" "$(base64 -w0 "$TMP/a.png")" >"$TMP/ds.json"
  req POST /v1/datasets -H "$AUTH" -H 'Content-Type: application/json' --data-binary @"$TMP/ds.json"
  expect 201 "d['count']==2 and d['shape']==[1,28,28]" "dataset upload written to the volume as uid 10001"
  docker stop -t 30 "$B" >/dev/null
  code=$(docker inspect -f '{{.State.ExitCode}}' "$B")
  if [ "$code" = 0 ]; then ok "work-dir container: exit status 0"; else bad "work-dir container: exit status $code"; fi
else
  bad "work-dir container did not start"
fi
finish
