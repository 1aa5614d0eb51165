#!/usr/bin/env bash
# api_test.sh — every route of `drl serve` and every documented error status, over real HTTP
# with curl (docs/api.md). Two tiny models are trained first: a plain DRL model (A) and a
# time-conditioned one (TC, served by a second server for /v1/trajectory).
source "$(dirname "$0")/lib.sh"

make_pngs "$TMP"
train_tiny "$TMP/a.safetensors" 1 || exit 1
train_tiny "$TMP/tc.safetensors" 2 --time-cond || exit 1
echo "s3cret-token-123" > "$TMP/token"
start_server A --model "$TMP/a.safetensors" --name tiny --token-file "$TMP/token" --threads 2 \
  --max-body 200000 --max-images 8 --max-sample-n 4 --max-sample-steps 50 || exit 1
URL=$A_URL
b64() { base64 -w0 "$1"; }
pix() { $PY -c "import json; print(json.dumps([((i % 28) * 9 + (i // 28) * 3) % 256 / 255 for i in range(784)]))"; }

# ---- health, readiness, metrics, openapi -----------------------------------------------------
req GET /healthz; expect_status 200 "healthz"; expect_json "d['status']=='ok'" "healthz body"
expect_header '^X-Request-Id: [0-9a-f]+' "generated request id"
req GET /healthz -H 'X-Request-Id: my-req.42'; expect_header '^X-Request-Id: my-req\.42' "request id echoed"
req GET /healthz -H 'X-Request-Id: bad id!'; expect_header '^X-Request-Id: [0-9a-f]{24}' "invalid request id replaced"
req GET /readyz; expect_status 200 "readyz"; expect_json "d['status']=='ready' and d['model']=='tiny' and len(d['version'])==12" "readyz body"
req GET /openapi.yaml; expect_status 200 "openapi"
$PY -c "import yaml,sys; d=yaml.safe_load(open(sys.argv[1])); sys.exit(0 if '/v1/encode' in d['paths'] else 1)" "$BODY" \
  && ok "openapi.yaml parses and documents /v1/encode" || bad "openapi.yaml"
expect_header '^Content-Type: application/yaml' "openapi media type"

# ---- models -------------------------------------------------------------------------------
req GET /v1/models; expect_status 200 "models"
expect_json "(m:=d['models'][0]) and m['name']=='tiny' and m['dim']==8 and m['image']=={'channels':1,'height':28,'width':28} and m['sde']=='ve' and len(m['sha256'])==64 and m['version']==m['sha256'][:12] and m['generation']==1 and m['time_conditioned'] is False" "models body"
SHA=$(sha256sum "$TMP/a.safetensors" | cut -c1-64)
expect_json "d['models'][0]['sha256']=='$SHA'" "sha256 equals sha256sum of the file"

# ---- encode: PNG body, JSON png, JSON pixels; equals `drl encode` ------------------------
req POST /v1/encode -H 'Content-Type: image/png' --data-binary @"$TMP/a.png"; expect_status 200 "encode PNG body"
expect_json "d['model']=='tiny' and d['dim']==8 and len(d['embedding'])==8 and d['embeddings']==[d['embedding']]" "encode PNG body shape"
cp "$BODY" "$TMP/enc_png.json"
"$BIN" encode --model "$TMP/a.safetensors" "$TMP/a.png" > "$TMP/cli.json" 2>/dev/null
$PY - "$TMP/enc_png.json" "$TMP/cli.json" <<'PYEOF' && ok "HTTP embedding equals drl encode" || bad "HTTP embedding differs from drl encode"
import json, sys
a = json.load(open(sys.argv[1]))["embedding"]; b = json.loads(open(sys.argv[2]).readline())["embedding"]
sys.exit(0 if max(abs(x - y) for x, y in zip(a, b)) <= 1e-6 * max(1, max(abs(v) for v in b)) else 1)
PYEOF
printf '{"images":[{"png":"%s"},{"png":"%s"},{"pixels":%s,"width":28,"height":28,"channels":1}]}' \
  "$(b64 "$TMP/a.png")" "$(b64 "$TMP/b.png")" "$(pix)" > "$TMP/enc3.json"
req POST /v1/encode -H 'Content-Type: application/json' --data-binary @"$TMP/enc3.json"; expect_status 200 "encode JSON batch"
expect_json "len(d['embeddings'])==3 and 'embedding' not in d" "three embeddings in order"
$PY - "$BODY" "$TMP/enc_png.json" <<'PYEOF' && ok "pixels and PNG of the same image agree" || bad "pixels vs png"
import json, sys
d = json.load(open(sys.argv[1]))["embeddings"]; p = json.load(open(sys.argv[2]))["embedding"]
sys.exit(0 if max(abs(x - y) for x, y in zip(d[0], p)) < 1e-6 and max(abs(x - y) for x, y in zip(d[2], p)) < 1e-5 and d[0] != d[1] else 1)
PYEOF
printf '{"images":[{"png":"%s"}]}' "$(b64 "$TMP/rgb.png")" > "$TMP/rgb.json"
req POST /v1/encode -H 'Content-Type: application/json' --data-binary @"$TMP/rgb.json"; expect_status 200 "RGB PNG converted to gray"
printf '{"images":[{"png":"%s"}]}' "$(b64 "$TMP/g16.png")" > "$TMP/g16.json"
req POST /v1/encode -H 'Content-Type: application/json' --data-binary @"$TMP/g16.json"; expect_status 200 "16-bit PNG"

# ---- encode errors ---------------------------------------------------------------------------
req POST /v1/encode -H 'Content-Type: application/json' --data-binary '{"images":[' ; expect_error 400 bad_json "truncated JSON"
req POST /v1/encode -H 'Content-Type: image/png' --data-binary 'not a png'; expect_error 400 bad_png "garbage PNG"
req POST /v1/encode -H 'Content-Type: application/json' --data-binary '{"images":[{"png":"@@@"}]}'; expect_error 400 bad_base64 "bad base64"
req POST /v1/encode -H 'Content-Type: text/plain' --data-binary 'x'; expect_error 415 unsupported_media_type "text/plain body"
req POST /v1/encode --data-binary '{}' -H 'Content-Type:'; expect_error 415 unsupported_media_type "no Content-Type"
req POST /v1/encode -H 'Content-Type: application/json' --data-binary '{"images":[]}'; expect_error 422 invalid_input "empty image list"
req POST /v1/encode -H 'Content-Type: application/json' --data-binary '{"imgs":[]}'; expect_error 422 invalid_input "unknown key"
grep -q 'imgs' "$BODY" && ok "message names the unknown key" || bad "message lacks the key: $(cat "$BODY")"
printf '{"images":[{"png":"%s"}]}' "$(b64 "$TMP/big.png")" > "$TMP/big.json"
req POST /v1/encode -H 'Content-Type: application/json' --data-binary @"$TMP/big.json"; expect_error 422 invalid_input "32x32 image for a 28x28 model"
grep -q '32' "$BODY" && grep -q '28' "$BODY" && ok "size message names both sizes" || bad "size message: $(cat "$BODY")"
req POST /v1/encode -H 'Content-Type: image/png' --data-binary @"$TMP/bomb.png"; expect_error 422 invalid_input "100000x100000 PNG refused from its header"
req POST /v1/encode -H 'Content-Type: application/json' --data-binary '{"images":[{"pixels":[0.5],"width":28,"height":28,"channels":1}]}'; expect_error 422 invalid_input "too few pixels"
$PY -c "import json; print(json.dumps({'images':[{'pixels':[255]*784,'width':28,'height':28,'channels':1}]}))" > "$TMP/p255.json"
req POST /v1/encode -H 'Content-Type: application/json' --data-binary @"$TMP/p255.json"; expect_error 422 invalid_input "8-bit pixel values"
$PY -c "import json; print(json.dumps({'images':[{'pixels':[0.5]*784,'width':28,'height':28,'channels':3}]}))" > "$TMP/c3.json"
req POST /v1/encode -H 'Content-Type: application/json' --data-binary @"$TMP/c3.json"; expect_error 422 invalid_input "wrong channel count"
$PY -c "print('{\"images\":[{\"pixels\":[' + ','.join(['1e999']*784) + '],\"width\":28,\"height\":28,\"channels\":1}]}')" > "$TMP/inf.json"
req POST /v1/encode -H 'Content-Type: application/json' --data-binary @"$TMP/inf.json"
case "$STATUS" in 400|422) ok "huge numbers refused ($STATUS)";; *) bad "huge numbers: $STATUS $(head -c 200 "$BODY")";; esac
$PY -c "import json; print(json.dumps({'images':[{'png':'x'}]*9}))" > "$TMP/nine.json"
req POST /v1/encode -H 'Content-Type: application/json' --data-binary @"$TMP/nine.json"; expect_error 422 invalid_input "more than --max-images"
req POST /v1/encode -H 'Content-Type: application/json' --data-binary '{"images":[{"png":"'"$(b64 "$TMP/a.png")"'"}],"t":0.5}'; expect_error 422 not_time_conditioned "t on a plain model"
$PY -c "print('['*50000 + ']'*50000)" > "$TMP/deep.json"
req POST /v1/encode -H 'Content-Type: application/json' --data-binary @"$TMP/deep.json"; expect_error 400 bad_json "deeply nested JSON"
head -c 300000 /dev/zero > "$TMP/huge.bin"
req POST /v1/encode -H 'Content-Type: image/png' --data-binary @"$TMP/huge.bin"; expect_error 413 payload_too_large "body over --max-body (Content-Length)"
req POST /v1/encode -H 'Content-Type: image/png' -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/huge.bin"; expect_error 413 payload_too_large "chunked body over --max-body"
STATUS=$(printf 'POST /v1/encode HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nConnection: close\r\n\r\n' | timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/${URL##*:}; cat >&3; head -1 <&3" | cut -d' ' -f2)
[ "$STATUS" = 411 ] && ok "POST without length (411)" || bad "POST without length: status '$STATUS'"

# ---- routing errors --------------------------------------------------------------------------
req GET /nope; expect_error 404 not_found "unknown route"
req GET /v1/encode; expect_error 405 method_not_allowed "GET on a POST route"; expect_header '^Allow: POST' "Allow header"
req DELETE /healthz; expect_error 405 method_not_allowed "DELETE on healthz"

# ---- trajectory ------------------------------------------------------------------------------
req POST /v1/trajectory -H 'Content-Type: application/json' --data-binary '{"image":{"png":"'"$(b64 "$TMP/a.png")"'"},"steps":4}'
expect_error 422 not_time_conditioned "trajectory on a plain model"
start_server TC --model "$TMP/tc.safetensors" --threads 2 || exit 1
URL=$TC_URL
req GET /readyz; expect_status 200 "time-conditioned server ready" || cat "$TC_LOG"
req POST /v1/trajectory -H 'Content-Type: application/json' --data-binary '{"image":{"png":"'"$(b64 "$TMP/a.png")"'"},"steps":5}'
expect_status 200 "trajectory steps=5"
expect_json "len(d['times'])==5 and len(d['latents'])==5 and all(len(z)==8 for z in d['latents']) and d['times']==sorted(d['times']) and d['latents'][0]!=d['latents'][-1]" "trajectory shape, distinct latents"
cp "$BODY" "$TMP/traj.json"
req POST /v1/trajectory -H 'Content-Type: application/json' --data-binary '{"image":{"png":"'"$(b64 "$TMP/a.png")"'"},"times":[0.1,0.9]}'
expect_status 200 "trajectory explicit times"; cp "$BODY" "$TMP/traj2.json"; expect_json "d['times']==[0.1,0.9] or max(abs(a-b) for a,b in zip(d['times'],[0.1,0.9]))<1e-7" "times echoed"
req POST /v1/encode -H 'Content-Type: application/json' --data-binary '{"images":[{"png":"'"$(b64 "$TMP/a.png")"'"}],"t":0.9}'
expect_status 200 "encode with t on a time-conditioned model"; cp "$BODY" "$TMP/enc_t.json"
$PY - "$TMP/enc_t.json" "$TMP/traj2.json" <<'PYEOF' && ok "encode at t equals the trajectory at t" || bad "encode at t differs from trajectory"
import json, sys
e = json.load(open(sys.argv[1]))["embeddings"][0]; z = json.load(open(sys.argv[2]))["latents"][1]
sys.exit(0 if max(abs(a - b) for a, b in zip(e, z)) < 1e-5 else 1)
PYEOF
req POST /v1/trajectory -H 'Content-Type: application/json' --data-binary '{"image":{"png":"'"$(b64 "$TMP/a.png")"'"},"times":[2]}'
expect_error 422 invalid_input "time outside [eps, 1]"
URL=$A_URL

# ---- sample ----------------------------------------------------------------------------------
req POST /v1/sample -H 'Content-Type: application/json' --data-binary '{"image":{"png":"'"$(b64 "$TMP/a.png")"'"},"n":2,"sampler":"ode","steps":4,"seed":7}'
expect_status 200 "sample from an image"
expect_json "d['n']==2 and len(d['images'])==2 and d['sampler']=='ode' and d['seed']==7" "sample body"
cp "$BODY" "$TMP/s1.json"
req POST /v1/sample -H 'Content-Type: application/json' --data-binary '{"image":{"png":"'"$(b64 "$TMP/a.png")"'"},"n":2,"sampler":"ode","steps":4,"seed":7}'
cmp -s "$BODY" "$TMP/s1.json" && ok "same seed, same samples" || bad "same seed gave different samples"
$PY - "$TMP/s1.json" <<'PYEOF' && ok "samples decode as 28x28 PNGs" || bad "sample PNGs"
import json, sys, base64, struct
for im in json.load(open(sys.argv[1]))["images"]:
    b = base64.b64decode(im["png"]); assert b[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", b[16:24]); assert (w, h) == (28, 28)
PYEOF
CODE=$($PY -c "print([0.1]*8)")
req POST /v1/sample -H 'Content-Type: application/json' -H 'Accept: image/png' --data-binary '{"code":'"$CODE"',"n":3,"sampler":"em","steps":3}'
expect_status 200 "sample from a code as a PNG grid"; expect_header '^Content-Type: image/png' "grid media type"
head -c 8 "$BODY" | od -An -c | grep -q 'P   N   G' && ok "grid is a PNG" || bad "grid is not a PNG"
req POST /v1/sample -H 'Content-Type: application/json' --data-binary '{"image":{"png":"'"$(b64 "$TMP/a.png")"'"},"n":1,"sampler":"pc","steps":3,"t_init":0.5}'
expect_status 200 "pc reconstruction from t_init 0.5"
req POST /v1/sample -H 'Content-Type: application/json' --data-binary '{"code":[1,2],"n":1}'; expect_error 422 invalid_input "code of the wrong length"
req POST /v1/sample -H 'Content-Type: application/json' --data-binary '{"code":'"$CODE"',"n":5}'; expect_error 422 invalid_input "n above --max-sample-n"
req POST /v1/sample -H 'Content-Type: application/json' --data-binary '{"code":'"$CODE"',"steps":51}'; expect_error 422 invalid_input "steps above --max-sample-steps"
req POST /v1/sample -H 'Content-Type: application/json' --data-binary '{"code":'"$CODE"',"sampler":"heun"}'; expect_error 422 invalid_input "unknown sampler"
req POST /v1/sample -H 'Content-Type: application/json' --data-binary '{"code":'"$CODE"',"t_init":0.5}'; expect_error 422 invalid_input "t_init below 1 without an image"
req POST /v1/sample -H 'Content-Type: application/json' --data-binary '{"n":1}'; expect_error 422 invalid_input "neither image nor code"

# ---- Open Inference Protocol v2 ------------------------------------------------------------
req GET /v2; expect_status 200 "v2 server metadata"; expect_json "d['name']=='drl' and 'version' in d" "v2 metadata body"
req GET /v2/health/live; expect_status 200 "v2 live"
req GET /v2/health/ready; expect_status 200 "v2 ready"
req GET /v2/models/tiny; expect_status 200 "v2 model metadata"
expect_json "d['name']=='tiny' and d['inputs'][0]['shape']==[-1,1,28,28] and d['outputs'][0]['shape']==[-1,8]" "v2 model metadata body"
req GET /v2/models/tiny/ready; expect_status 200 "v2 model ready"
req GET /v2/models/other; expect_status 404 "v2 unknown model"; expect_json "isinstance(d['error'], str)" "OIP error shape"
$PY -c "import json; print(json.dumps({'id':'r1','inputs':[{'name':'input','shape':[2,1,28,28],'datatype':'FP32','data':[((i % 28) * 9 + (i // 28 % 28) * 3) % 256 / 255 for i in range(1568)]}]}))" > "$TMP/infer.json"
req POST /v2/models/tiny/infer -H 'Content-Type: application/json' --data-binary @"$TMP/infer.json"; expect_status 200 "v2 infer FP32"
expect_json "d['model_name']=='tiny' and d['id']=='r1' and d['outputs'][0]['name']=='embedding' and d['outputs'][0]['shape']==[2,8] and len(d['outputs'][0]['data'])==16" "v2 infer body"
$PY - "$BODY" "$TMP/enc_png.json" <<'PYEOF' && ok "v2 FP32 infer equals /v1/encode" || bad "v2 infer differs from /v1/encode"
import json, sys
o = json.load(open(sys.argv[1]))["outputs"][0]["data"]; p = json.load(open(sys.argv[2]))["embedding"]
sys.exit(0 if max(abs(x - y) for x, y in zip(o[:8], p)) < 1e-5 and max(abs(x - y) for x, y in zip(o[8:], p)) < 1e-5 else 1)
PYEOF
printf '{"inputs":[{"name":"png","shape":[1],"datatype":"BYTES","data":["%s"]}]}' "$(b64 "$TMP/a.png")" > "$TMP/inferpng.json"
req POST /v2/models/tiny/infer -H 'Content-Type: application/json' --data-binary @"$TMP/inferpng.json"; expect_status 200 "v2 infer BYTES PNG"
req POST /v2/models/tiny/infer -H 'Content-Type: application/json' --data-binary '{"inputs":[{"name":"input","shape":[1,1,28,27],"datatype":"FP32","data":[0]}]}'
expect_status 422 "v2 infer wrong shape"; expect_json "isinstance(d['error'], str) and len(d['error'])>0" "v2 error is a string"
req POST /v2/models/other/infer -H 'Content-Type: application/json' --data-binary @"$TMP/infer.json"; expect_status 404 "v2 infer unknown model"

# ---- admin: reload ---------------------------------------------------------------------------
req POST /v1/models/reload; expect_error 401 unauthorized "reload without a token"; expect_header '^WWW-Authenticate: Bearer' "WWW-Authenticate header"
req POST /v1/models/reload -H 'Authorization: Bearer wrong-token-000'; expect_error 401 unauthorized "reload with a wrong token"
req POST /v1/models/reload -H 'Authorization: Bearer s3cret-token-123'; expect_status 200 "reload with the token"
expect_json "d['generation']==2 and d['version']==d['previous_version']" "reload of the same file: same version, next generation"
train_tiny "$TMP/b.safetensors" 9 || exit 1
req POST /v1/models/reload -H 'Authorization: Bearer s3cret-token-123' -H 'Content-Type: application/json' --data-binary '{"path":"'"$TMP/b.safetensors"'"}'
expect_status 200 "reload a new file"; expect_json "d['version']!=d['previous_version']" "version changed"
NEWV=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['version'])" "$BODY")
req GET /v1/models; expect_json "d['models'][0]['version']=='$NEWV' and d['models'][0]['generation']==3" "models shows the new version"
req GET /metrics; grep -q "drl_model_info{.*version=\"$NEWV\"" "$BODY" && ok "metrics shows the new version" || bad "metrics model version"
printf 'garbage' > "$TMP/bad.safetensors"
req POST /v1/models/reload -H 'Authorization: Bearer s3cret-token-123' -H 'Content-Type: application/json' --data-binary '{"path":"'"$TMP/bad.safetensors"'"}'
expect_error 422 bad_checkpoint "reload of a corrupt file"
req POST /v1/models/reload -H 'Authorization: Bearer s3cret-token-123' -H 'Content-Type: application/json' --data-binary '{"path":"'"$TMP/none.safetensors"'"}'
expect_error 404 not_found "reload of a missing file"
req GET /v1/models; expect_json "d['models'][0]['version']=='$NEWV'" "the previous model keeps serving"
req POST /v1/encode -H 'Content-Type: image/png' --data-binary @"$TMP/a.png"; expect_status 200 "encode after failed reloads"
kill -HUP "$A_PID"; sleep $((1 * SLOW))
req GET /v1/models; expect_json "d['models'][0]['generation']==4" "SIGHUP reloads"
grep -q 's3cret-token-123' "$A_LOG" && bad "the token appears in the log" || ok "the token never appears in the log"

# ---- metrics ---------------------------------------------------------------------------------
req GET /metrics; expect_status 200 "metrics"; expect_header '^Content-Type: text/plain; version=0.0.4' "metrics media type"
for m in 'drl_http_requests_total{route="/v1/encode",method="POST",status="200"}' 'drl_http_request_duration_seconds_bucket{route="/v1/encode"' \
         'drl_encode_batch_size_bucket' 'drl_encode_queue_depth' 'drl_images_encoded_total' 'drl_model_generation 4' \
         'drl_process_resident_memory_bytes' 'drl_samples_generated_total' 'drl_model_reloads_total{result="error"} 2'; do
  grep -qF "$m" "$BODY" && ok "metrics has $m" || bad "metrics lacks $m"
done
grep -q 'route="/nope"' "$BODY" && bad "raw path leaked into metrics labels" || ok "metrics labels use route templates"

# ---- logs ------------------------------------------------------------------------------------
$PY - "$A_LOG" <<'PYEOF' && ok "every log line is JSON; request lines carry route, status, latency, id" || bad "log lines"
import json, sys
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d.get("msg") == "request":
        assert all(k in d for k in ("route", "status", "latency_ms", "request_id", "batch_size")); n += 1
assert n > 20
PYEOF
grep -q '"request_id":"my-req.42"' "$A_LOG" && ok "client request id in the log" || bad "request id not logged"

# ---- shutdown --------------------------------------------------------------------------------
kill -TERM "$A_PID"; wait "$A_PID"; rc=$?
[ "$rc" = 0 ] && ok "SIGTERM: exit 0" || bad "SIGTERM exit $rc"
kill -TERM "$TC_PID"; wait "$TC_PID"
finish
