"""test_ops_torch.py — drl's layer ops against PyTorch, one op at a time.

The C suites test_norm, test_act, test_embed, test_loss and test_optim each have a "torch" case
that, with DRL_OPS_DUMP=<dir> set, writes its inputs, outputs and gradients there as 1-D float32
.npy files (<prefix>.<name>.npy; shapes travel in a "<prefix>.shape" array). This script runs
those cases, recomputes everything with stock torch functions (in float64 from the same float32
inputs, plus autograd for the gradients) and compares:

  GroupNorm   F.group_norm (eps 1e-5)            out, mean, rstd, dinp, dgamma, dbeta
  SiLU, ReLU  F.silu, F.relu                     out, dinp
  dropout     F.dropout                          the kept value 1/(1-p); out = inp * mask
  Fourier     Song et al.'s GaussianFourierProjection: cat([sin(2πxW), cos(2πxW)], -1)
  losses      F.mse_loss (weighted), F.cross_entropy, softmax     value and gradient
  Adam(W)     torch.optim.Adam / AdamW + clip_grad_norm_ + per-step warm-up lr

Run by ctest (DRL_BUILD_DIR set); exits 77 when torch is not importable.
"""
import math
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover
    print("skip: torch not importable: %s" % e)
    sys.exit(77)

SUITES = ["test_norm", "test_act", "test_embed", "test_loss", "test_optim"]
failures = []


def load(d, prefix, name):
    return np.load(os.path.join(d, "%s.%s.npy" % (prefix, name)))


def t64(a):
    return torch.tensor(np.asarray(a, dtype=np.float64))


def check(what, got, want, tol):
    """Max |got - want| / max |want|, the measure the C suites use."""
    got = np.asarray(got, dtype=np.float64).ravel()
    want = np.asarray(want, dtype=np.float64).ravel()
    scale = max(np.max(np.abs(want)), 1e-30)
    err = float(np.max(np.abs(got - want))) / scale
    ok = err <= tol
    print("%-28s max rel diff %.3g  (tol %.0e)  %s" % (what, err, tol, "ok" if ok else "FAIL"))
    if not ok:
        failures.append(what)


def check_groupnorm(d):
    B, C, HW, G = (int(v) for v in load(d, "gn", "shape"))
    x = t64(load(d, "gn", "x").reshape(B, C, HW)).requires_grad_()
    gamma = t64(load(d, "gn", "gamma")).requires_grad_()
    beta = t64(load(d, "gn", "beta")).requires_grad_()
    dout = t64(load(d, "gn", "dout").reshape(B, C, HW))
    out = F.group_norm(x, G, gamma, beta, eps=1e-5)
    out.backward(dout)
    xg = x.detach().reshape(B, G, -1)
    mean = xg.mean(-1)
    rstd = 1.0 / torch.sqrt(xg.var(-1, unbiased=False) + 1e-5)
    check("groupnorm out", load(d, "gn", "out"), out.detach(), 1e-6)
    check("groupnorm mean", load(d, "gn", "mean"), mean, 1e-6)
    check("groupnorm rstd", load(d, "gn", "rstd"), rstd, 1e-6)
    check("groupnorm dinp", load(d, "gn", "dinp"), x.grad, 1e-5)
    check("groupnorm dgamma", load(d, "gn", "dgamma"), gamma.grad, 1e-5)
    check("groupnorm dbeta", load(d, "gn", "dbeta"), beta.grad, 1e-5)


def check_act(d):
    x = load(d, "act", "x")
    dout = t64(load(d, "act", "dout"))
    for name, fn in (("silu", F.silu), ("relu", F.relu)):
        xt = t64(x).requires_grad_()
        out = fn(xt)
        out.backward(dout)
        check(name + " out", load(d, "act", name), out.detach(), 1e-6)
        check(name + " dinp", load(d, "act", "d" + name), xt.grad, 1e-6)
    p = float(load(d, "act", "dropout_p")[0])
    mask = load(d, "act", "dropout_mask")
    torch.manual_seed(0)
    kept = F.dropout(torch.ones(100000), p=p, training=True)
    torch_scale = float(kept[kept != 0][0])
    vals = set(np.unique(mask).tolist())
    ok = vals <= {0.0, torch_scale} and np.array_equal(load(d, "act", "dropout"), x * mask)
    frac = float(np.mean(mask == 0))
    ok = ok and abs(frac - p) < 0.05
    print("%-28s mask values %s vs torch's kept value %.9g, dropped %.3f (p %.2f)  %s"
          % ("dropout", sorted(vals), torch_scale, frac, p, "ok" if ok else "FAIL"))
    if not ok:
        failures.append("dropout")


def check_fourier(d):
    x = t64(load(d, "fourier", "x"))
    W = t64(load(d, "fourier", "W"))
    out = load(d, "fourier", "out")

    def project(x, W):  # Song et al., GaussianFourierProjection.forward
        x_proj = x[:, None] * W[None, :] * 2 * math.pi
        return torch.cat([torch.sin(x_proj), torch.cos(x_proj)], dim=-1)

    check("fourier (float64 torch)", out, project(x, W), 1e-6)
    # float32 torch forms the phase (up to ~1e3 rad) in float32: ~1e-4 absolute, shown only
    f32 = project(x.float(), W.float()).double()
    print("%-28s max abs diff %.3g (phase rounding in float32; informational)"
          % ("fourier vs float32 torch", float(np.max(np.abs(out - f32.numpy().ravel())))))


def check_losses(d):
    B, D, K = (int(v) for v in load(d, "loss", "shape"))
    pred = t64(load(d, "loss", "pred").reshape(B, D)).requires_grad_()
    target = t64(load(d, "loss", "target").reshape(B, D))
    w = t64(load(d, "loss", "w"))
    wsq = (w * F.mse_loss(pred, target, reduction="none").sum(dim=1)).mean()
    wsq.backward()
    check("wsq loss", load(d, "loss", "wsq"), wsq.detach(), 1e-6)
    check("wsq dpred", load(d, "loss", "dpred"), pred.grad, 1e-6)
    logits = t64(load(d, "loss", "logits").reshape(B, K)).requires_grad_()
    labels = torch.tensor(load(d, "loss", "labels").astype(np.int64))
    xent = F.cross_entropy(logits, labels)
    xent.backward()
    check("xent loss", load(d, "loss", "xent"), xent.detach(), 1e-6)
    check("xent probs", load(d, "loss", "probs"), F.softmax(logits.detach(), dim=1), 1e-6)
    check("xent dlogits", load(d, "loss", "dlogits"), logits.grad, 1e-6)


def check_adam(d):
    N, S, NC = (int(v) for v in load(d, "adam", "shape"))
    p0 = load(d, "adam", "p0")
    grads = load(d, "adam", "grads").reshape(S, N)
    cfgs = load(d, "adam", "cfg").reshape(NC, 7)
    final = load(d, "adam", "final").reshape(NC, N)
    for k in range(NC):
        lr, b1, b2, eps, wd, warmup, clip = (float(v) for v in cfgs[k])
        warmup = int(warmup)
        p = torch.nn.Parameter(torch.tensor(p0, dtype=torch.float32))
        if wd > 0:
            opt = torch.optim.AdamW([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd)
        else:
            opt = torch.optim.Adam([p], lr=lr, betas=(b1, b2), eps=eps)
        for s in range(S):
            opt.param_groups[0]["lr"] = lr * min(1.0, (s + 1) / warmup) if warmup > 0 else lr
            p.grad = torch.tensor(grads[s])
            if clip > 0:
                torch.nn.utils.clip_grad_norm_([p], clip)
            opt.step()
        what = "adam%s lr %g wd %g warm %d clip %g" % ("w" if wd > 0 else "", lr, wd, warmup, clip)
        check(what, final[k] - p0, p.detach().numpy() - p0, 1e-5)


def main():
    build = os.environ.get("DRL_BUILD_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="drl-ops-") as d:
        env = dict(os.environ, DRL_OPS_DUMP=d, CK_RUN_CASE="torch")
        for suite in SUITES:
            binary = os.path.join(build, suite)
            if not os.path.exists(binary):
                print("FAIL: %s not built" % binary)
                return 1
            proc = subprocess.run([binary], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
            if proc.returncode != 0:
                print(proc.stdout, end="")
                print("FAIL: %s exited with status %d" % (suite, proc.returncode))
                return 1
        check_groupnorm(d)
        check_act(d)
        check_fourier(d)
        check_losses(d)
        check_adam(d)
    print("ops vs torch: %s" % ("%d failed: %s" % (len(failures), ", ".join(failures))
                                if failures else "all ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
