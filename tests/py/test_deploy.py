#!/usr/bin/python3
"""test_deploy.py - the deployment files under deploy/ (and the Dockerfile) keep their invariants.

Offline: reads the files; runs `haproxy -c`, `kubectl kustomize` and `systemd-analyze verify`
only where those tools exist (each such part is skipped, not failed, without its tool).
Checks that
  - every YAML file under deploy/ parses (yaml.safe_load_all);
  - every DRL_* variable set anywhere in deploy/ is one `drl serve` knows (docs/api.md, and
    `drl serve --help` when DRL_BIN is set), so a typo never silently does nothing;
  - compose: >= 2 serving replicas with DRL_TRAIN_WORKER=off, exactly one worker (one replica,
    DRL_TRAIN_WORKER=on); every drl service mounts one shared named volume at DRL_WORK_DIR and
    reads its token from a compose secret through DRL_TOKEN_FILE; stop_grace_period exceeds
    DRL_DRAIN_DELAY_MS + DRL_DRAIN_TIMEOUT_MS; the serving drain delay exceeds HAProxy's
    check interval x fall; the balancer mounts deploy/haproxy/haproxy.cfg;
  - HAProxy (both configs): httpchk GET /readyz expecting 200, leastconn, retry-on with retries
    and redispatch, L7 retries disabled except for GET/HEAD and the side-effect-free POST routes;
    the local template has the @PORT@/@S1@/@S2@ placeholders; `haproxy -c` accepts both;
  - Kubernetes: no hard-coded namespace; liveness /healthz, readiness /readyz, a startup probe,
    all on the container's 8080 port; terminationGracePeriodSeconds exceeds drain delay + drain
    timeout; DRL_THREADS fits the CPU limit; exactly one worker Deployment (1 replica, Recreate);
    every pod mounts the ReadWriteMany PVC at DRL_WORK_DIR and the token Secret at
    DRL_TOKEN_FILE; Service/PDB select the serving pods only; HPA autoscaling/v2 on CPU; the
    train Job resumes from checkpoints with a backoffLimit; kustomization lists the rest;
  - systemd: ExecStart, ExecReload (SIGHUP), KillSignal, TimeoutStopSec above the drain sum of
    drl.env, StateDirectory = DRL_WORK_DIR, Restart=on-failure, the hardening directives;
  - Dockerfile: bookworm stages, non-root USER, EXPOSE 8080, HEALTHCHECK /healthz, STOPSIGNAL
    SIGTERM, ENTRYPOINT ["drl","serve"], VOLUME /var/lib/drl, DRL_WORK_DIR not set by default;
    .dockerignore keeps build dirs and .git out but nothing the Dockerfile copies.
Exits 77 (skipped) when PyYAML is missing."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

NAME = "test_deploy"

try:
    import yaml
except ImportError:
    print(f"{NAME}: PyYAML not installed, skipping")
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("DRL_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
DEPLOY = os.path.join(SRC, "deploy")
DRAIN_DELAY_DEFAULT, DRAIN_TIMEOUT_DEFAULT = 0, 30000  # docs/api.md, drl serve --help

passed = failed = skipped = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}")
    return cond


def skip(what):
    global skipped
    skipped += 1
    print(f"skip: {what}")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def rel(path):
    return os.path.relpath(path, SRC)


# ---- helpers -------------------------------------------------------------------------------
def go_duration_s(text):
    """Compose durations: '45s', '1m30s', '2m', '500ms'; a bare number is seconds."""
    text = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    total, pos = 0.0, 0
    for m in re.finditer(r"(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)", text):
        if m.start() != pos:
            raise ValueError(text)
        pos = m.end()
        total += float(m.group(1)) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}[m.group(2)]
    if pos != len(text) or not text:
        raise ValueError(text)
    return total


def systemd_seconds(text):
    """systemd time spans: '60', '60s', '1min 30s', '2min'."""
    units = {"us": 1e-6, "ms": 1e-3, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600}
    text = text.strip()
    if re.fullmatch(r"\d+", text):
        return float(text)
    total = 0.0
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]+)", text):
        total += float(num) * units[unit]
    return total


def haproxy_ms(text):
    m = re.fullmatch(r"(\d+)(us|ms|s|m|h|d)?", text)
    return int(m.group(1)) * {"us": 1e-3, "ms": 1, None: 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}[m.group(2)]


def known_env():
    """The DRL_* names drl serve reads: docs/api.md, plus `drl serve --help` when DRL_BIN runs."""
    names = set(re.findall(r"`(DRL_[A-Z_]+)`", read(os.path.join(SRC, "docs", "api.md"))))
    binary = os.environ.get("DRL_BIN")
    if binary and os.access(binary, os.X_OK):
        try:
            out = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True, timeout=30).stdout
            names |= set(re.findall(r"\b(DRL_[A-Z_]+)\b", out))
        except (OSError, subprocess.SubprocessError):
            pass
    return names


def compose_env(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, "") for e in env)
    return {k: ("" if v is None else str(v)) for k, v in env.items()}


def k8s_env(container):
    return {e["name"]: str(e.get("value", "")) for e in container.get("env", []) if "value" in e}


def drain_ms(env):
    return (int(env.get("DRL_DRAIN_DELAY_MS", DRAIN_DELAY_DEFAULT)),
            int(env.get("DRL_DRAIN_TIMEOUT_MS", DRAIN_TIMEOUT_DEFAULT)))


def haproxy_check_window_ms(cfg_text):
    """How long a server whose /readyz turned 503 may still get requests: inter x fall (the
    largest of any default-server/server line; HAProxy's defaults are 2 s and 3)."""
    inters, falls = [2000], [3]
    for line in cfg_text.splitlines():
        words = line.split("#", 1)[0].split()
        if words[:1] in (["default-server"], ["server"], ["server-template"]):
            for w, v in zip(words, words[1:]):
                if w == "inter":
                    inters.append(haproxy_ms(v))
                elif w == "fall":
                    falls.append(int(v))
    if len(inters) > 1:
        inters = inters[1:]
    if len(falls) > 1:
        falls = falls[1:]
    return max(inters) * max(falls)


def haproxy_maxconn(cfg_text):
    """The per-server maxconn of the backend (default-server line), 0 when unlimited."""
    m = re.search(r"^\s*default-server\b.*\bmaxconn\s+(\d+)", cfg_text, re.M)
    return int(m.group(1)) if m else 0


def compose_mounts(svc):
    """(source, target) of a compose service's volumes, short or long syntax."""
    out = []
    for v in svc.get("volumes", []):
        if isinstance(v, str):
            parts = v.split(":")
            out.append((parts[0], parts[1] if len(parts) > 1 else parts[0]))
        else:
            out.append((v.get("source"), v.get("target")))
    return out


# ---- YAML everywhere -----------------------------------------------------------------------
def load_all_yaml():
    docs = {}
    files = sorted(glob.glob(os.path.join(DEPLOY, "**", "*.yaml"), recursive=True)
                   + glob.glob(os.path.join(DEPLOY, "**", "*.yml"), recursive=True))
    check(len(files) >= 10, f"deploy/ has the compose file and the Kubernetes manifests ({len(files)} YAML files)")
    for path in files:
        try:
            docs[path] = [d for d in yaml.safe_load_all(read(path)) if d is not None]
            check(bool(docs[path]), f"{rel(path)}: has a document")
        except yaml.YAMLError as e:
            check(False, f"{rel(path)}: does not parse: {e}")
    return docs


def check_env_names(docs, names):
    used = set()
    for path in glob.glob(os.path.join(DEPLOY, "**", "*"), recursive=True):
        if os.path.isfile(path) and not path.endswith(".md"):
            for m in re.finditer(r"\b(DRL_[A-Z_]+)\s*[:=]|name:\s*(DRL_[A-Z_]+)", read(path)):
                used.add((m.group(1) or m.group(2), rel(path)))
    check(len(used) > 10, f"DRL_* settings found in deploy/ ({len(used)})")
    for var, where in sorted(used):
        check(var in names, f"{where}: {var} is not a drl serve setting (docs/api.md)")


# ---- compose -------------------------------------------------------------------------------
def check_compose(doc, haproxy_cfg):
    where = "deploy/compose.yaml"
    services = doc.get("services", {})
    drl = {n: s for n, s in services.items()
           if "drl" in str(s.get("image", "")).split(":")[0].split("/")[-1] or "build" in s}
    check(len(drl) >= 2, f"{where}: drl services ({sorted(drl)})")
    workers, serving = [], []
    volumes_at_work_dir = set()
    window = haproxy_check_window_ms(haproxy_cfg)
    for name, svc in drl.items():
        env = compose_env(svc)
        replicas = int((svc.get("deploy") or {}).get("replicas", 1))
        mode = env.get("DRL_TRAIN_WORKER", "on")  # drl's default is on
        (workers if mode in ("on", "1", "true") else serving).append((name, replicas))
        work = env.get("DRL_WORK_DIR")
        check(work == "/var/lib/drl", f"{where}: {name}: DRL_WORK_DIR=/var/lib/drl (got {work!r})")
        mounted = [src for src, target in compose_mounts(svc) if target == work]
        check(len(mounted) == 1 and mounted[0] in (doc.get("volumes") or {}),
              f"{where}: {name}: a named volume at DRL_WORK_DIR ({mounted})")
        volumes_at_work_dir.update(mounted)
        tf = env.get("DRL_TOKEN_FILE", "")
        secret = tf[len("/run/secrets/"):] if tf.startswith("/run/secrets/") else None
        svc_secrets = [s if isinstance(s, str) else s.get("source") for s in svc.get("secrets", [])]
        check(secret is not None and secret in svc_secrets and secret in (doc.get("secrets") or {}),
              f"{where}: {name}: token from a compose secret via DRL_TOKEN_FILE (got {tf!r})")
        check("DRL_TOKEN" not in env, f"{where}: {name}: no DRL_TOKEN literal")
        delay, timeout = drain_ms(env)
        grace = go_duration_s(svc.get("stop_grace_period", "10s"))
        check(grace * 1000 > delay + timeout,
              f"{where}: {name}: stop_grace_period {grace}s > drain delay {delay} ms + drain timeout {timeout} ms")
        check(svc.get("stop_signal", "SIGTERM") == "SIGTERM", f"{where}: {name}: stop signal SIGTERM")
        if mode not in ("on", "1", "true"):
            check(delay > window, f"{where}: {name}: DRL_DRAIN_DELAY_MS {delay} > HAProxy inter x fall {window} ms")
            per_ip = int(env.get("DRL_MAX_CONNECTIONS_PER_IP", "0"))
            check(per_ip == 0 or per_ip >= haproxy_maxconn(haproxy_cfg),
                  f"{where}: {name}: DRL_MAX_CONNECTIONS_PER_IP {per_ip}: every connection comes from HAProxy")
    check(len(workers) == 1 and workers[0][1] == 1,
          f"{where}: exactly one training worker with one replica (DRL_TRAIN_WORKER=on): {workers}")
    check(sum(r for _, r in serving) >= 2, f"{where}: at least two serving replicas with DRL_TRAIN_WORKER=off: {serving}")
    check(len(volumes_at_work_dir) == 1, f"{where}: every drl service shares one volume at DRL_WORK_DIR ({volumes_at_work_dir})")
    lbs = [s for s in services.values() if "haproxy" in str(s.get("image", ""))]
    check(len(lbs) == 1, f"{where}: one HAProxy service")
    if lbs:
        check(any(src == "./haproxy/haproxy.cfg" for src, _ in compose_mounts(lbs[0])),
              f"{where}: the balancer mounts ./haproxy/haproxy.cfg")
        deps = lbs[0].get("depends_on") or []
        check(any(d in [n for n, _ in serving] for d in deps), f"{where}: the balancer depends on the serving service")
        cfg_servers = re.findall(r"^\s*server-template\s+\S+\s+\S+\s+([^:\s]+):8080", haproxy_cfg, re.M)
        check(cfg_servers and all(h in [n for n, _ in serving] for h in cfg_servers),
              f"{where}: haproxy.cfg resolves the serving service's name ({cfg_servers})")
    for name, svc in drl.items():
        check(not svc.get("ports"), f"{where}: {name}: replicas are reached through the balancer only (no published ports)")


# ---- HAProxy -------------------------------------------------------------------------------
def check_haproxy_text(text, where):
    lines = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    has = lambda pat: any(re.fullmatch(pat, ln) for ln in lines)  # noqa: E731
    check(has(r"option httpchk GET /readyz"), f"{where}: option httpchk GET /readyz")
    check(has(r"http-check expect status 200"), f"{where}: http-check expect status 200")
    check(has(r"balance leastconn"), f"{where}: balance leastconn")
    check(has(r"retry-on .*all-retryable-errors.*"), f"{where}: retry-on all-retryable-errors")
    check(has(r"retries [1-9]"), f"{where}: retries")
    check(has(r"option redispatch( -?\d+)?"), f"{where}: option redispatch")
    check(has(r"default-server .*\bcheck\b.*") or all("check" in ln.split() for ln in lines if ln.startswith("server")),
          f"{where}: servers are health-checked")
    rule = [ln for ln in lines if ln.startswith("http-request disable-l7-retry")]
    check(len(rule) == 1 and "METH_GET" in rule[0] and "METH_POST" in rule[0],
          f"{where}: one disable-l7-retry rule that exempts GET and the safe POSTs")
    acl = " ".join(ln for ln in lines if ln.startswith("acl safe_post"))
    for route in ("/v1/encode", "/v1/trajectory", "infer"):
        check(route in acl, f"{where}: {route} is retryable")
    for route in ("/v1/sample", "/v1/models/reload", "/v1/datasets", "/v1/train"):
        check(route not in acl, f"{where}: {route} is not replayed")
    for t in ("connect", "client", "server", "http-request", "check"):
        check(has(rf"timeout {t} \d+\w*"), f"{where}: timeout {t}")
    check(has(r"stats uri \S+") and any("prometheus-exporter" in ln for ln in lines),
          f"{where}: stats page and Prometheus metrics")


def haproxy_c(path):
    r = subprocess.run(["haproxy", "-c", "-f", path], capture_output=True, text=True, timeout=60)
    out = [ln for ln in (r.stdout + r.stderr).splitlines() if "NOTICE" not in ln and ln.strip()]
    return r.returncode == 0, " | ".join(out)


def check_haproxy(cfg, local):
    check_haproxy_text(cfg, "deploy/haproxy/haproxy.cfg")
    check("server-template" in cfg and "resolvers" in cfg, "deploy/haproxy/haproxy.cfg: replicas found by DNS")
    check_haproxy_text(local, "deploy/haproxy/haproxy-local.cfg.in")
    for ph in ("@PORT@", "@S1@", "@S2@"):
        check(ph in local, f"haproxy-local.cfg.in: placeholder {ph}")
    check(not re.search(r"@[A-Z0-9_]+@", local.replace("@PORT@", "").replace("@S1@", "").replace("@S2@", "")),
          "haproxy-local.cfg.in: no other placeholders")
    if not shutil.which("haproxy"):
        skip("haproxy not installed: haproxy -c not run")
        return
    ok, out = haproxy_c(os.path.join(DEPLOY, "haproxy", "haproxy.cfg"))
    check(ok and "WARNING" not in out and "ALERT" not in out, f"haproxy -c deploy/haproxy/haproxy.cfg: {out}")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "lb.cfg")
        with open(path, "w") as f:
            f.write(local.replace("@PORT@", "18080").replace("@S1@", "18081").replace("@S2@", "18082"))
        ok, out = haproxy_c(path)
        check(ok and "WARNING" not in out and "ALERT" not in out,
              f"haproxy -c haproxy-local.cfg.in with ports substituted: {out}")


# ---- Kubernetes ----------------------------------------------------------------------------
def pod_spec(obj):
    if obj["kind"] in ("Deployment", "StatefulSet", "Job"):
        return obj["spec"]["template"]["spec"]
    return None


def labels_match(selector, labels):
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def cpu_cores(q):
    q = str(q)
    return int(q[:-1]) / 1000 if q.endswith("m") else float(q)


def check_probe(container, kind, path, where):
    p = container.get(kind)
    if not check(p is not None and "httpGet" in p, f"{where}: {kind} over HTTP"):
        return
    check(p["httpGet"].get("path") == path, f"{where}: {kind} path {path} (got {p['httpGet'].get('path')})")
    port = p["httpGet"].get("port")
    ports = {cp.get("name"): cp["containerPort"] for cp in container.get("ports", [])}
    check(ports.get(port, port) == 8080, f"{where}: {kind} port is the container's 8080 ({port})")
    return p


def check_k8s(docs):
    k8s = {p: d for p, d in docs.items() if os.sep + "k8s" + os.sep in p}
    objs = []
    for path, ds in k8s.items():
        for d in ds:
            where = rel(path)
            if d.get("kind") == "Kustomization":
                continue
            check(all(k in d for k in ("apiVersion", "kind", "metadata")) and d["metadata"].get("name"),
                  f"{where}: apiVersion, kind, metadata.name")
            check("namespace" not in d.get("metadata", {}), f"{where}: no hard-coded namespace")
            objs.append((where, d))
    by_kind = {}
    for where, d in objs:
        by_kind.setdefault(d["kind"], []).append((where, d))
    pvcs = {d["metadata"]["name"]: d for _, d in by_kind.get("PersistentVolumeClaim", [])}
    check(len(pvcs) == 1, "k8s: one PVC")
    for name, pvc in pvcs.items():
        check(pvc["spec"].get("accessModes") == ["ReadWriteMany"], f"k8s: PVC {name} is ReadWriteMany")
        check(pvc["spec"]["resources"]["requests"]["storage"] == "5Gi", f"k8s: PVC {name} requests 5Gi")
    secrets = {d["metadata"]["name"]: d for _, d in by_kind.get("Secret", [])}
    check(len(secrets) == 1, "k8s: the example token Secret")

    deployments = by_kind.get("Deployment", [])
    serving, workers = [], []
    for where, d in deployments + by_kind.get("Job", []):
        spec = pod_spec(d)
        containers = spec["containers"]
        check(len(containers) == 1, f"{where}: one container")
        c = containers[0]
        env = k8s_env(c)
        check(str(c.get("image", "")).split(":")[0].split("/")[-1] == "drl", f"{where}: runs the drl image")
        sc = spec.get("securityContext", {})
        check(sc.get("runAsNonRoot") is True and sc.get("runAsUser") == 10001 and sc.get("fsGroup") == 10001,
              f"{where}: non-root (uid 10001) with fsGroup for the volume")
        vols = {v["name"]: v for v in spec.get("volumes", [])}
        mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
        # the work dir: the shared PVC
        work = env.get("DRL_WORK_DIR", "/var/lib/drl" if d["kind"] == "Job" else None)
        m = mounts.get(work)
        check(m is not None and vols.get(m["name"], {}).get("persistentVolumeClaim", {}).get("claimName") in pvcs,
              f"{where}: the PVC is mounted at DRL_WORK_DIR ({work})")
        if d["kind"] == "Job":
            check_job(where, d, c)
            continue
        check_probe(c, "livenessProbe", "/healthz", where)
        check_probe(c, "readinessProbe", "/readyz", where)
        check(c.get("startupProbe", {}).get("httpGet") is not None, f"{where}: startupProbe")
        delay, timeout = drain_ms(env)
        grace = spec.get("terminationGracePeriodSeconds", 30)
        check(grace * 1000 > delay + timeout,
              f"{where}: terminationGracePeriodSeconds {grace} s > drain delay {delay} ms + drain timeout {timeout} ms")
        check("preStop" not in c.get("lifecycle", {}), f"{where}: no preStop hook (drl drains on SIGTERM)")
        # the token: a Secret volume file named by DRL_TOKEN_FILE
        tf = env.get("DRL_TOKEN_FILE", "")
        tdir, tname = os.path.split(tf)
        tm = mounts.get(tdir)
        sv = vols.get(tm["name"], {}).get("secret") if tm else None
        check(sv is not None and sv.get("secretName") in secrets
              and tname in [i["path"] for i in sv.get("items", [{"path": k} for k in secrets.get(sv.get("secretName"), {}).get("stringData", {})])],
              f"{where}: DRL_TOKEN_FILE ({tf!r}) is a file of the token Secret's volume")
        check(not any(e["name"] == "DRL_TOKEN" for e in c.get("env", [])), f"{where}: no DRL_TOKEN in env")
        res = c.get("resources", {})
        check(all(res.get(a, {}).get(b) for a in ("requests", "limits") for b in ("cpu", "memory")),
              f"{where}: cpu and memory requests and limits")
        threads = int(env.get("DRL_THREADS", "0"))
        limit = cpu_cores(res.get("limits", {}).get("cpu", "0"))
        check(0 < threads <= max(1, round(limit)),
              f"{where}: DRL_THREADS ({threads}) set and within the CPU limit ({limit}): drl counts the node's CPUs")
        mode = env.get("DRL_TRAIN_WORKER", "on")
        (workers if mode in ("on", "1", "true") else serving).append((where, d))
    check(len(workers) == 1, f"k8s: exactly one Deployment with DRL_TRAIN_WORKER=on ({[w for w, _ in workers]})")
    for where, d in workers:
        check(d["spec"].get("replicas") == 1, f"{where}: one worker replica")
        check(d["spec"].get("strategy", {}).get("type") == "Recreate", f"{where}: strategy Recreate")
    check(len(serving) == 1, "k8s: one serving Deployment (DRL_TRAIN_WORKER=off)")
    if not serving:
        return
    sw, sd = serving[0]
    check(sd["spec"].get("replicas") == 2, f"{sw}: replicas 2")
    res = pod_spec(sd)["containers"][0]["resources"]
    check(res["requests"] == {"cpu": "500m", "memory": "256Mi"} and res["limits"] == {"cpu": "2", "memory": "512Mi"},
          f"{sw}: requests 500m/256Mi, limits 2/512Mi ({res})")
    ru = sd["spec"].get("strategy", {}).get("rollingUpdate", {})
    check(ru.get("maxUnavailable") == 0, f"{sw}: rolling updates never drop below the replica count")
    serving_labels = sd["spec"]["template"]["metadata"]["labels"]
    worker_labels = [pod for _, w in workers for pod in [w["spec"]["template"]["metadata"]["labels"]]]
    check(labels_match(sd["spec"]["selector"]["matchLabels"], serving_labels), f"{sw}: selector matches its pods")
    ready = pod_spec(sd)["containers"][0]["readinessProbe"]
    delay, _ = drain_ms(k8s_env(pod_spec(sd)["containers"][0]))
    check(delay > ready.get("periodSeconds", 10) * ready.get("failureThreshold", 3) * 1000,
          f"{sw}: DRL_DRAIN_DELAY_MS {delay} > readiness period x failureThreshold")

    svcs = by_kind.get("Service", [])
    check(len(svcs) == 1, "k8s: one Service")
    for where, s in svcs:
        sel = s["spec"].get("selector")
        check(s["spec"].get("type", "ClusterIP") == "ClusterIP", f"{where}: ClusterIP")
        check(labels_match(sel, serving_labels), f"{where}: selects the serving pods")
        check(not any(labels_match(sel, wl) for wl in worker_labels), f"{where}: does not select the training worker")
        ports = s["spec"]["ports"]
        cports = {cp.get("name"): cp["containerPort"] for cp in pod_spec(sd)["containers"][0]["ports"]}
        check(len(ports) == 1 and ports[0]["port"] == 80 and cports.get(ports[0]["targetPort"], ports[0]["targetPort"]) == 8080,
              f"{where}: port 80 -> 8080")
    pdbs = by_kind.get("PodDisruptionBudget", [])
    check(len(pdbs) == 1, "k8s: one PodDisruptionBudget")
    for where, p in pdbs:
        check(p["apiVersion"] == "policy/v1" and p["spec"].get("minAvailable") == 1, f"{where}: policy/v1, minAvailable 1")
        check(labels_match(p["spec"]["selector"]["matchLabels"], serving_labels)
              and not any(labels_match(p["spec"]["selector"]["matchLabels"], wl) for wl in worker_labels),
              f"{where}: covers the serving pods only")
    hpas = by_kind.get("HorizontalPodAutoscaler", [])
    check(len(hpas) == 1, "k8s: one HorizontalPodAutoscaler")
    for where, h in hpas:
        ref = h["spec"]["scaleTargetRef"]
        check(h["apiVersion"] == "autoscaling/v2", f"{where}: autoscaling/v2")
        check(ref["kind"] == "Deployment" and ref["name"] == sd["metadata"]["name"], f"{where}: scales the serving Deployment")
        cpu = [m for m in h["spec"].get("metrics", []) if m.get("resource", {}).get("name") == "cpu"]
        check(len(cpu) == 1 and cpu[0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70},
              f"{where}: CPU 70 %")
        check(h["spec"].get("minReplicas", 1) >= 2, f"{where}: minReplicas >= 2 (the PDB keeps 1)")


def check_job(where, d, c):
    spec = d["spec"]
    check(d["apiVersion"] == "batch/v1", f"{where}: batch/v1")
    check(spec.get("backoffLimit", 6) >= 1, f"{where}: backoffLimit lets a preempted pod resume")
    check(spec["template"]["spec"].get("restartPolicy") in ("Never", "OnFailure"), f"{where}: restartPolicy")
    cmd = " ".join(c.get("command", []) + c.get("args", []))
    check(re.search(r"\bdrl train\b", cmd) is not None, f"{where}: runs drl train")
    for flag in ("--resume", "--ckpt-every", "--steps"):
        check(flag in cmd, f"{where}: drl train {flag}")
    m = re.search(r"--out\s+\"?(\S+?)\"?(\s|$)", cmd)
    check(m is not None and m.group(1).startswith("/var/lib/drl/"), f"{where}: --out on the shared volume")


def check_kustomization(docs):
    path = os.path.join(DEPLOY, "k8s", "kustomization.yaml")
    if not check(path in docs, "deploy/k8s/kustomization.yaml"):
        return
    k = docs[path][0]
    res = k.get("resources", [])
    k8s_files = {os.path.basename(p) for p in glob.glob(os.path.join(DEPLOY, "k8s", "*.yaml"))}
    for r in res:
        check(r in k8s_files, f"kustomization: {r} exists")
    expected = k8s_files - {"kustomization.yaml", "secret.example.yaml", "train-job.yaml"}
    check(set(res) == expected, f"kustomization lists every long-running manifest (missing {sorted(expected - set(res))})")
    check("secret.example.yaml" not in res, "kustomization never deploys the placeholder token")
    kubectl = shutil.which("kubectl")
    if not kubectl:
        skip("kubectl not installed: kustomize build not run")
        return
    r = subprocess.run([kubectl, "kustomize", os.path.dirname(path)], capture_output=True, text=True, timeout=120)
    if r.returncode != 0 and "unknown command" in r.stderr:
        skip("kubectl without kustomize")
        return
    if check(r.returncode == 0, f"kubectl kustomize deploy/k8s: {r.stderr.strip()}"):
        kinds = sorted(d["kind"] for d in yaml.safe_load_all(r.stdout) if d)
        check(kinds == sorted(["Deployment", "Deployment", "Service", "PersistentVolumeClaim",
                               "PodDisruptionBudget", "HorizontalPodAutoscaler"]), f"kustomize output kinds {kinds}")


# ---- systemd -------------------------------------------------------------------------------
def parse_unit(text):
    out, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        k, _, v = line.partition("=")
        out.setdefault((section, k.strip()), []).append(v.strip())
    return out


def parse_env_file(text):
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, _, v = line.partition("=")
            env[k.strip()] = v.strip().strip('"')
    return env


def check_systemd():
    unit_path = os.path.join(DEPLOY, "systemd", "drl.service")
    env_path = os.path.join(DEPLOY, "systemd", "drl.env")
    if not check(os.path.exists(unit_path) and os.path.exists(env_path), "deploy/systemd/drl.service and drl.env"):
        return
    u = parse_unit(read(unit_path))
    env = parse_env_file(read(env_path))
    g = lambda k, s="Service": (u.get((s, k)) or [None])[-1]  # noqa: E731
    check(g("Type") == "simple", "drl.service: Type=simple")
    check(g("ExecStart") == "/usr/local/bin/drl serve", "drl.service: ExecStart=/usr/local/bin/drl serve")
    check(g("ExecReload") == "/bin/kill -HUP $MAINPID", "drl.service: ExecReload sends SIGHUP (model reload)")
    check((g("EnvironmentFile") or "").lstrip("-") == "/etc/drl/drl.env", "drl.service: EnvironmentFile /etc/drl/drl.env")
    check(g("KillSignal") == "SIGTERM", "drl.service: KillSignal=SIGTERM")
    check(g("Restart") == "on-failure", "drl.service: Restart=on-failure")
    check(g("DynamicUser") == "yes" or (g("User") not in (None, "root")), "drl.service: not root")
    check(g("StateDirectory") == "drl" and env.get("DRL_WORK_DIR") == "/var/lib/drl",
          "drl.service: StateDirectory=drl is the work dir (DRL_WORK_DIR=/var/lib/drl)")
    delay, timeout = drain_ms(env)
    stop = systemd_seconds(g("TimeoutStopSec") or "90")
    check(stop * 1000 > delay + timeout, f"drl.service: TimeoutStopSec {stop}s > drain {delay} + {timeout} ms")
    check(any("DRL_TOKEN_FILE=" in v for v in u.get(("Service", "Environment"), []))
          and "DRL_TOKEN" not in env, "drl.service: token through DRL_TOKEN_FILE (a credential), not in drl.env")
    for k, v in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                 ("PrivateTmp", "yes"), ("ReadWritePaths", "/var/lib/drl"),
                 ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX")):
        check(g(k) == v, f"drl.service: {k}={v} (got {g(k)!r})")
    check(g("MemoryMax") is not None, "drl.service: MemoryMax")
    check(g("WantedBy", "Install") == "multi-user.target", "drl.service: WantedBy=multi-user.target")
    sa = shutil.which("systemd-analyze")
    if not sa:
        skip("systemd-analyze not installed: unit not verified")
        return
    units = next((d for d in ("/usr/lib/systemd/system", "/lib/systemd/system") if os.path.isdir(d)), None)
    if not units:
        skip("no system unit directory to verify against")
        return
    with tempfile.TemporaryDirectory() as root:
        # an alternate root with the system's units, the unit under test, its binary and kill
        shutil.copytree(units, os.path.join(root, "usr/lib/systemd/system"), symlinks=True)
        os.symlink("usr/lib", os.path.join(root, "lib"))
        os.makedirs(os.path.join(root, "etc/systemd/system"))
        shutil.copy(unit_path, os.path.join(root, "etc/systemd/system/drl.service"))
        for exe in ("usr/local/bin/drl", "bin/kill"):
            os.makedirs(os.path.join(root, os.path.dirname(exe)), exist_ok=True)
            with open(os.path.join(root, exe), "w") as f:
                f.write("#!/bin/sh\n")
            os.chmod(os.path.join(root, exe), 0o755)
        r = subprocess.run([sa, "verify", f"--root={root}", "drl.service"], capture_output=True, text=True, timeout=120)
        out = (r.stdout + r.stderr).strip()
        if r.returncode != 0 and "drl.service" not in out:
            skip(f"systemd-analyze verify cannot run here: {out[:200]}")
            return
        check(r.returncode == 0 and "drl.service" not in out, f"systemd-analyze verify drl.service: {out}")


# ---- Dockerfile ----------------------------------------------------------------------------
def check_dockerfile():
    text = read(os.path.join(SRC, "Dockerfile"))
    joined = re.sub(r"\\\n", " ", text)
    lines = [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    instr = lambda name: [ln for ln in lines if ln.split()[0].upper() == name]  # noqa: E731
    froms = instr("FROM")
    check(len(froms) == 2 and "debian:bookworm" in froms[0] and "debian:bookworm-slim" in froms[1],
          f"Dockerfile: build on debian:bookworm, run on debian:bookworm-slim ({froms})")
    runtime = joined[joined.rfind("FROM "):]
    for pkg in ("libarchive13", "libgomp1", "libopenblas0-pthread", "libmicrohttpd12", "libjansson4",
                "libpng16-16", "zlib1g", "curl"):
        check(re.search(rf"\b{re.escape(pkg)}\b", runtime) is not None, f"Dockerfile: runtime installs {pkg}")
    check(not re.search(r"\b[a-z0-9.+-]+-dev\b", runtime), "Dockerfile: no -dev package in the runtime stage")
    check("libarchive-dev" in joined[:joined.rfind("FROM ")], "Dockerfile: build stage has libarchive-dev")
    users = instr("USER")
    check(len(users) == 1 and users[0].split()[1].split(":")[0] not in ("root", "0"), f"Dockerfile: non-root USER ({users})")
    check(any(ln.split()[1:] == ["8080"] for ln in instr("EXPOSE")), "Dockerfile: EXPOSE 8080")
    check(any("/healthz" in ln for ln in instr("HEALTHCHECK")), "Dockerfile: HEALTHCHECK on /healthz")
    check(any(ln.split()[1:] == ["SIGTERM"] for ln in instr("STOPSIGNAL")), "Dockerfile: STOPSIGNAL SIGTERM")
    check(any(re.fullmatch(r'ENTRYPOINT \[\s*"drl",\s*"serve"\s*\]', ln) for ln in instr("ENTRYPOINT")),
          'Dockerfile: ENTRYPOINT ["drl", "serve"]')
    check(any("/var/lib/drl" in ln for ln in instr("VOLUME")), "Dockerfile: VOLUME /var/lib/drl")
    env_text = " ".join(instr("ENV"))
    for var in ("DRL_MODEL", "DRL_PORT"):
        check(var in env_text, f"Dockerfile: ENV {var}")
    check("DRL_WORK_DIR" not in env_text, "Dockerfile: DRL_WORK_DIR is opt-in (not set by the image)")
    check(any("models/" in ln for ln in instr("COPY")), "Dockerfile: copies the shipped models")
    ignore = [ln.strip() for ln in read(os.path.join(SRC, ".dockerignore")).splitlines()
              if ln.strip() and not ln.startswith("#")]
    for pat in ("build*/", ".git/", "runs/"):
        check(pat in ignore or pat.rstrip("/") in ignore, f".dockerignore: {pat}")
    copied = [w for ln in instr("COPY") if "--from=" not in ln for w in ln.split()[1:-1]]
    for src in copied:
        top = src.rstrip("/").split("/")[0]
        check(not any(p.rstrip("/") in (top, src.rstrip("/")) for p in ignore), f".dockerignore keeps {src} in the context")


def main():
    docs = load_all_yaml()
    check_env_names(docs, known_env())
    cfg = read(os.path.join(DEPLOY, "haproxy", "haproxy.cfg"))
    local = read(os.path.join(DEPLOY, "haproxy", "haproxy-local.cfg.in"))
    compose = docs.get(os.path.join(DEPLOY, "compose.yaml"))
    if check(compose is not None, "deploy/compose.yaml"):
        check_compose(compose[0], cfg)
    check_haproxy(cfg, local)
    check_k8s(docs)
    check_kustomization(docs)
    check_systemd()
    check_dockerfile()
    print(f"{NAME}: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
