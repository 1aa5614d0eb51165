#!/usr/bin/env bash
# train_test.sh — the training worker over HTTP: upload datasets (tar of PNG class folders, IDX
# gzip, JSON), reject bad uploads and job specs, run a short fine-tuning job while watching its
# progress rise, promote it (the served version changes and /v1/encode answers with the new
# model), cancel a job, and kill -9 the server mid-job: after a restart the finished jobs are
# listed, the running one is "interrupted", and it resumes from its checkpoint.
source "$(dirname "$0")/lib.sh"
make_pngs "$TMP"
train_tiny "$TMP/a.safetensors" 1 || exit 1
echo "train-token-789" > "$TMP/token"
AUTH=(-H 'Authorization: Bearer train-token-789')
W="$TMP/work"
start_server S --model "$TMP/a.safetensors" --name tiny --token-file "$TMP/token" --threads 1 --work-dir "$W" --train-threads 1 || exit 1
URL=$S_URL
jq_() { $PY -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$BODY"; }

# ---- datasets -------------------------------------------------------------------------------
$PY - "$TMP" <<'PYEOF'
import gzip, io, os, struct, sys, tarfile, zlib, json, base64
d = sys.argv[1]
def png(seed):
    def chunk(t, b): return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
    rows = [bytes(((x * 7 + y * 3 + seed * 13) % 256) if (x + seed) % 5 else 0 for x in range(28)) for y in range(28)]
    raw = b"".join(b"\0" + r for r in rows)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
def tar(path, entries, mode="w"):
    with tarfile.open(path, mode) as t:
        for name, data, kind in entries:
            ti = tarfile.TarInfo(name)
            if kind == "sym": ti.type = tarfile.SYMTYPE; ti.linkname = "/etc/passwd"; t.addfile(ti)
            else: ti.size = len(data); t.addfile(ti, io.BytesIO(data))
good = [(f"mydata/{c}/{i}.png", png(i + 10 * k), "f") for k, c in enumerate(["boots", "shirts"]) for i in range(24)] + [("mydata/README.txt", b"hi", "f")]
tar(os.path.join(d, "good.tar.gz"), good, "w:gz")
tar(os.path.join(d, "dotdot.tar"), [("../evil.png", png(1), "f")])
tar(os.path.join(d, "sym.tar"), [("a.png", png(1), "f"), ("link.png", b"", "sym")])
idx = struct.pack(">BBBBIII", 0, 0, 8, 3, 40, 28, 28) + bytes((i * 31) % 256 for i in range(40 * 784))
open(os.path.join(d, "set.idx.gz"), "wb").write(gzip.compress(idx))
json.dump({"images": [{"png": base64.b64encode(png(i)).decode()} for i in range(10)], "labels": [i % 2 for i in range(10)]}, open(os.path.join(d, "set.json"), "w"))
big = struct.pack(">BBBBIII", 0, 0, 8, 3, 8, 32, 32) + bytes(8 * 1024)
open(os.path.join(d, "big.idx"), "wb").write(big)
PYEOF
req POST /v1/datasets -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/good.tar.gz"
expect_error 401 unauthorized "upload without a token"
req POST /v1/datasets "${AUTH[@]}" -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/good.tar.gz"
expect_status 201 "upload a tar.gz of class folders"
expect_json "d['count']==48 and d['shape']==[1,28,28] and d['labels'] and d['classes']==['boots','shirts']" "tar dataset: count, shape, classes"
DS=$(jq_ "d['id']")
req POST /v1/datasets "${AUTH[@]}" -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/set.idx.gz"
expect_status 201 "upload a gzip'd IDX"; expect_json "d['count']==40 and d['format']=='idx.gz'" "IDX dataset"
req POST /v1/datasets "${AUTH[@]}" -H 'Content-Type: application/json' --data-binary @"$TMP/set.json"
expect_status 201 "upload JSON with base64 PNGs"; expect_json "d['count']==10 and d['format']=='json'" "JSON dataset"
req POST /v1/datasets "${AUTH[@]}" -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/big.idx"
expect_status 201 "upload a 32x32 IDX"; BIGDS=$(jq_ "d['id']")
req POST /v1/datasets "${AUTH[@]}" -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/dotdot.tar"
expect_error 422 invalid_input "tar entry with ../ refused"
req POST /v1/datasets "${AUTH[@]}" -H 'Content-Type: application/octet-stream' --data-binary @"$TMP/sym.tar"
expect_error 422 invalid_input "tar symlink refused"
req POST /v1/datasets "${AUTH[@]}" -H 'Content-Type: application/octet-stream' --data-binary 'definitely not a dataset'
expect_status 400 "garbage upload refused"
req GET /v1/datasets "${AUTH[@]}"; expect_json "len(d['datasets'])==4" "four datasets listed"
req GET "/v1/datasets/$DS" "${AUTH[@]}"; expect_status 200 "dataset metadata"
req GET /v1/datasets/ds-nope "${AUTH[@]}"; expect_error 404 not_found "unknown dataset"
ls -a "$W/datasets" | grep -q '^\.tmp' && bad "temporary upload directories left behind" || ok "no temporary upload directories left"

req GET /v1/train/jobs "${AUTH[@]}"; expect_json "d['jobs']==[]" "empty job list"

# ---- job specs ------------------------------------------------------------------------------
job() { req POST /v1/train/jobs "${AUTH[@]}" -H 'Content-Type: application/json' --data-binary "$1"; }
job '{"steps":10}'; expect_error 422 invalid_input "job without a dataset"
job '{"dataset":"ds-0000000000000000","steps":10}'; expect_error 404 not_found "job on an unknown dataset"
job '{"dataset":"'"$DS"'","steps":-1}'; expect_error 422 invalid_input "negative steps"; grep -q steps "$BODY" && ok "message names steps" || bad "steps not named"
job '{"dataset":"'"$DS"'","sde":"vp"}'; expect_error 422 invalid_input "changing the SDE of the base"
job '{"dataset":"'"$BIGDS"'"}'; expect_error 422 invalid_input "32x32 dataset vs a 28x28 base"
job '{"dataset":"'"$DS"'","t_range":[0.9,0.1]}'; expect_error 422 invalid_input "inverted t_range"
job '{"dataset":"'"$DS"'","bogus":1}'; expect_error 422 invalid_input "unknown job key"
job '{"dataset":"'"$DS"'","weighting":"snr"}'; expect_error 422 invalid_input "unknown weighting"; grep -q weighting "$BODY" && ok "message names weighting" || bad "weighting not named"
job '{"dataset":"'"$DS"'","code_t_range":[0.5]}'; expect_error 422 invalid_input "code_t_range of one number"
job '{"dataset":"'"$DS"'","snr_gamma":0}'; expect_error 422 invalid_input "snr_gamma 0"
job '{"dataset":"'"$DS"'","steps":10,"lr_decay_steps":11}'; expect_error 422 invalid_input "cooldown longer than the job"; grep -q lr_decay_steps "$BODY" && ok "message names lr_decay_steps" || bad "lr_decay_steps not named"

# ---- a short job to completion, promote ------------------------------------------------------
job '{"dataset":"'"$DS"'","steps":40,"batch_size":8,"log_every":2,"ckpt_every":10,"lr":0.002,"seed":3,"weighting":"min_snr","snr_gamma":4,"code_t_range":[0,0.95],"lr_decay_steps":20}'
expect_status 202 "job accepted"; J1=$(jq_ "d['id']"); expect_json "d['state']=='queued'" "job queued"
expect_json "d['model_config']['weighting']=='min_snr' and d['model_config']['snr_gamma']==4 and d['model_config']['code_t_max']>0.94 and d['spec']['weighting']=='min_snr'" "method keys reach the job's model config"
steps_seen=""
for i in $(seq 1 $((600 * SLOW))); do
  req GET "/v1/train/jobs/$J1" "${AUTH[@]}"
  st=$(jq_ "d['state']"); stp=$(jq_ "d['step']")
  steps_seen="$steps_seen $stp"
  case "$st" in succeeded|failed|cancelled) break;; esac
  sleep 0.1
done
expect_json "d['state']=='succeeded' and d['step']==40 and d['progress']==1" "job succeeded at step 40"
expect_json "d['spec']['lr_decay_steps']==20 and abs(d['lr']-0.002/20)<1e-9" "cooldown: the last step's lr is lr/20"
expect_json "len(d['curve'])>=5 and d['images_per_s']>0 and d['checkpoint'].endswith('model.safetensors') and 'eta_s' in d" "curve, rate, checkpoint reported"
# (a short job can finish between two polls on a loaded machine; progress rising while a job runs
# is checked on the long job below)
$PY -c "import sys; s=[int(x) for x in sys.argv[1:]]; sys.exit(0 if s==sorted(s) and s[-1]==40 else 1)" $steps_seen \
  && ok "progress never went back ($(echo $steps_seen | tr ' ' '\n' | sort -nu | tr '\n' ' '))" || bad "progress: $steps_seen"
req GET /v1/train/jobs "${AUTH[@]}"; expect_json "any(j['id']=='$J1' for j in d['jobs']) and all('curve' not in j for j in d['jobs'])" "job listed (summary)"
req GET /v1/models; V0=$(jq_ "d['models'][0]['version']")
req POST "/v1/train/jobs/$J1/promote"; expect_error 401 unauthorized "promote without a token"
req POST "/v1/train/jobs/$J1/promote" "${AUTH[@]}"; expect_status 200 "promote"
expect_json "d['previous_version']=='$V0' and d['version']!='$V0'" "promote changes the version"
V1=$(jq_ "d['version']")
req GET /v1/models; expect_json "d['models'][0]['version']=='$V1'" "/v1/models shows the promoted version"
req POST /v1/encode -H 'Content-Type: image/png' --data-binary @"$TMP/a.png"; expect_json "d['version']=='$V1'" "/v1/encode answers with the promoted model"
"$BIN" encode --model "$W/jobs/$J1/model.safetensors" "$TMP/a.png" > "$TMP/cli.json" 2>/dev/null
$PY - "$BODY" "$TMP/cli.json" <<'PYEOF' && ok "embedding equals drl encode on the job's checkpoint" || bad "promoted embedding differs"
import json, sys
a = json.load(open(sys.argv[1]))["embedding"]; b = json.loads(open(sys.argv[2]).readline())["embedding"]
sys.exit(0 if max(abs(x - y) for x, y in zip(a, b)) < 1e-5 else 1)
PYEOF
[ -f "$W/models/current" ] && grep -q "$V1" "$W/models/current" && ok "current manifest names the promoted model" || bad "manifest"
req GET /metrics; grep -q "drl_model_info{.*version=\"$V1\"" "$BODY" && ok "metrics show the promoted version" || bad "metrics version"

# ---- cancel ---------------------------------------------------------------------------------
job '{"dataset":"'"$DS"'","steps":1000000,"batch_size":8,"log_every":1,"ckpt_every":5}'; J2=$(jq_ "d['id']")
steps_seen=""
for i in $(seq 1 $((300 * SLOW))); do
  req GET "/v1/train/jobs/$J2" "${AUTH[@]}"; steps_seen="$steps_seen $(jq_ "d['step']")"
  [ "$(jq_ "d.get('checkpoint_step',0)")" -ge 5 ] && [ "$(echo $steps_seen | tr ' ' '\n' | sort -u | wc -l)" -ge 3 ] && break
  sleep 0.1
done
$PY -c "import sys; s=[int(x) for x in sys.argv[1:]]; sys.exit(0 if s==sorted(s) and len(set(s))>=3 else 1)" $steps_seen \
  && ok "progress rose while the job ran ($(echo $steps_seen | tr ' ' '\n' | sort -nu | head -5 | tr '\n' ' ')...)" || bad "progress: $steps_seen"
req DELETE "/v1/train/jobs/$J2" "${AUTH[@]}"; expect_status 202 "cancel a running job"
for i in $(seq 1 $((300 * SLOW))); do req GET "/v1/train/jobs/$J2" "${AUTH[@]}"; [ "$(jq_ "d['state']")" = cancelled ] && break; sleep 0.1; done
expect_json "d['state']=='cancelled' and d['checkpoint'] is not None and d['step']<1000000" "job cancelled, checkpoint kept"
req DELETE "/v1/train/jobs/$J2" "${AUTH[@]}"; expect_error 409 conflict "cancel of a cancelled job"
req POST "/v1/train/jobs/$J2/promote" "${AUTH[@]}"; expect_status 200 "a cancelled job's checkpoint can be promoted"
V2=$(jq_ "d['version']")

# ---- kill -9 mid-job, restart, resume ---------------------------------------------------------
job '{"dataset":"'"$DS"'","steps":1000000,"batch_size":8,"log_every":1,"ckpt_every":5}'; J3=$(jq_ "d['id']")
for i in $(seq 1 $((300 * SLOW))); do req GET "/v1/train/jobs/$J3" "${AUTH[@]}"; [ "$(jq_ "d.get('checkpoint_step',0)")" -ge 10 ] && break; sleep 0.1; done
CK=$(jq_ "d['checkpoint_step']")
kill -9 "$S_PID"; wait "$S_PID" 2>/dev/null
"$BIN" inspect "$W/jobs/$J3/model.safetensors" >/dev/null 2>&1 && ok "checkpoint intact after kill -9" || bad "checkpoint unreadable after kill -9"
start_server S --model "$TMP/a.safetensors" --name tiny --token-file "$TMP/token" --threads 1 --work-dir "$W" --train-threads 1 || exit 1
URL=$S_URL
req GET /v1/models; expect_json "d['models'][0]['version']=='$V2'" "restart serves the promoted model (manifest)"
sleep $((2 * SLOW))
req GET "/v1/train/jobs/$J3" "${AUTH[@]}"; expect_json "d['state']=='interrupted'" "killed job is interrupted"
req GET "/v1/train/jobs/$J1" "${AUTH[@]}"; expect_json "d['state']=='succeeded'" "finished job still listed after restart"
req POST "/v1/train/jobs/$J3/resume" "${AUTH[@]}"; expect_status 202 "resume the interrupted job"
for i in $(seq 1 $((300 * SLOW))); do req GET "/v1/train/jobs/$J3" "${AUTH[@]}"; [ "$(jq_ "d['state']")" = running ] && [ "$(jq_ "d['step']")" -gt "$CK" ] && break; sleep 0.1; done
expect_json "d['state']=='running' and d['step']>$CK" "resumed job runs on from its checkpoint (step > $CK)"
grep -q '"msg":"training job started"' "$S_LOG" && ok "job start logged" || bad "job log"
req DELETE "/v1/train/jobs/$J3" "${AUTH[@]}"
kill -TERM "$S_PID"; wait "$S_PID"; rc=$?
[ "$rc" = 0 ] && ok "clean exit with a job running" || bad "exit $rc"
grep -q 'train-token-789' "$S_LOG" && bad "token in the log" || ok "token not logged"
finish
