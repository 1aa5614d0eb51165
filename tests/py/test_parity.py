"""test_parity.py — the C encoder, score U-Net and DRL loss against the PyTorch reference.

For each case: build the torch model (torch_ref.py) from a fixed seed, randomise biases and
GroupNorm affines, write it as a drl model file, and write a batch file with inputs (x0, t, eps,
eps_z) and the expected outputs computed in float64: encoder output, score output h, loss parts
and the gradient of the total with respect to every parameter ("grad.<name>"). The C check
binary test_model (suite case "parity") recomputes everything with drl_model_loss and compares;
it also re-saves the model it loaded, which is read back here with the independent reader.

Run by ctest (DRL_BUILD_DIR set); exits 77 when torch is not importable.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover
    print("skip: torch not importable: %s" % e)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ref as R  # noqa: E402

SMALL = dict(C=1, H=8, W=8, enc_ch=[8, 16, 16], unet_ch=[8, 16, 16], groups=4, latent_dim=5,
             temb_dim=16, fourier_dim=8, fourier_scale=4.0)

# name, config overrides, batch size, relative tolerance. Every GroupNorm group holds at least
# two channels: with one, the bias before it cancels and its gradient is exactly zero, which a
# relative comparison cannot judge.
CASES = [
    ("drl_ve", dict(), 3, 1e-4),
    ("drl_ve_rect_rgb", dict(C=3, H=12, W=8, enc_ch=[4, 8, 12], unet_ch=[8, 12, 16], groups=2),
     2, 1e-4),
    ("tcond_ve", dict(time_cond=True, H=12, W=12, enc_ch=[8, 12, 16]), 3, 1e-4),
    ("drl_vp", dict(sde="vp", unet_ch=[8, 12, 16]), 3, 1e-4),
    ("tcond_vp_l1", dict(sde="vp", time_cond=True, reg="l1", lambda_z=0.3), 2, 1e-4),
    ("vdrl_kl_ve", dict(variational=True, reg="kl", lambda_z=0.5), 3, 1e-4),
    ("vdrl_kl_tcond_vp", dict(variational=True, reg="kl", lambda_z=0.2, sde="vp",
                              time_cond=True, C=3, W=12), 2, 1e-4),
    ("l1_ve", dict(reg="l1", lambda_z=0.7), 3, 1e-4),
    ("vdrl_l1_ve", dict(variational=True, reg="l1", lambda_z=0.4), 2, 1e-4),
    # the default Fourier scale: arguments of sin/cos reach ~1e3
    ("drl_ve_scale16", dict(fourier_scale=16.0, time_cond=True), 2, 1e-4),
    # the code window zeroes the code of images whose t lies outside [0.3, 0.7]
    ("code_window_tcond", dict(time_cond=True, code_t_min=0.3, code_t_max=0.7), 6, 1e-4),
    # min-SNR loss weighting (gamma 20 puts t < ~0.3 below weight 1 on VE, a VP case too)
    ("min_snr_ve", dict(weighting="min_snr", snr_gamma=20.0), 4, 1e-4),
    ("min_snr_vp_tcond", dict(weighting="min_snr", snr_gamma=0.5, sde="vp", time_cond=True), 4, 1e-4),
    # truncated-SNR weighting: max(1, 1 / SNR) -- VE from sigma = 1 (t ~ 0.54) up, VP from t ~ 0.37
    ("truncated_snr_ve", dict(weighting="truncated_snr"), 4, 1e-4),
    ("truncated_snr_vp_tcond", dict(weighting="truncated_snr", sde="vp", time_cond=True), 4, 1e-4),
]


def build_case(dirname, name, over, B, tol, seed):
    cfg = R.make_config(**dict(SMALL, **over))
    torch.manual_seed(seed)
    model = R.DRLModel(cfg)
    gen = torch.Generator().manual_seed(seed + 1)
    R.randomize(model, gen)
    R.save_model(os.path.join(dirname, name + ".model.safetensors"), model)

    C, H, W, d = cfg["C"], cfg["H"], cfg["W"], cfg["latent_dim"]
    x0 = torch.rand(B, C, H, W, generator=gen) * 2 - 1
    t = torch.rand(B, generator=gen) * 0.95 + 0.05
    eps = torch.randn(B, C, H, W, generator=gen)
    eps_z = torch.randn(B, d, generator=gen) if cfg["variational"] else None
    if cfg["weighting"] != "sigma2":  # the case must exercise weights of 1 and not 1
        snr = (R.sde_alpha(cfg, t.double()) / R.sde_std(cfg, t.double())) ** 2
        edge = cfg["snr_gamma"] if cfg["weighting"] == "min_snr" else 1.0
        assert (snr > edge).any() and (snr < edge).any(), name

    ref = model.double()
    ref.zero_grad()
    enc, h, dsm, reg, total = ref.loss(x0.double(), t.double(), eps.double(),
                                       eps_z.double() if eps_z is not None else None)
    total.backward()
    out = [("x0", x0.numpy()), ("t", t.numpy()), ("eps", eps.numpy())]
    if eps_z is not None:
        out.append(("eps_z", eps_z.numpy()))
    out += [("enc_out", enc.detach().numpy()), ("h", h.detach().numpy()),
            ("loss", np.array([dsm.item(), reg.item(), total.item()]))]
    params = dict(ref.named_parameters())
    for pname, tensor in ref.state_dict().items():
        g = params[pname].grad if pname in params else None
        out.append(("grad." + pname, (g if g is not None else torch.zeros_like(tensor)).numpy()))
    R.safetensors_write(os.path.join(dirname, name + ".batch.safetensors"), out,
                        {"case": name, "tol": repr(tol)})
    return model.float(), cfg


def check_resaved(dirname, name, model, cfg):
    """The model file written by the C writer must read back to the same weights and config."""
    path = os.path.join(dirname, name + ".resaved.safetensors")
    if not os.path.exists(path):
        return "C did not write %s" % path
    tensors, meta = R.safetensors_read(path)
    if meta.get("format") != "drl":
        return "resaved: format metadata %r" % meta.get("format")
    back = json.loads(meta.get("drl.config", "{}"))
    for k, v in cfg.items():
        w = back.get(k)
        if isinstance(v, float):
            ok = w is not None and np.float32(w) == np.float32(v)
        else:
            ok = w == v
        if not ok:
            return "resaved: config %s = %r, wrote %r" % (k, w, v)
    if set(back) != set(cfg):
        return "resaved: config keys differ: %s" % sorted(set(back) ^ set(cfg))
    sd = model.state_dict()
    if set(tensors) != set(sd):
        return "resaved: tensor names differ: %s" % sorted(set(tensors) ^ set(sd))
    for k, v in sd.items():
        a = v.detach().numpy()
        if tensors[k].shape != a.shape or not np.array_equal(tensors[k], a):
            return "resaved: tensor %s differs" % k
    return None


def main():
    build = os.environ.get("DRL_BUILD_DIR") or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "build")
    binary = os.path.join(build, "test_model")
    if not os.path.exists(binary):
        print("FAIL: %s not built" % binary)
        print("parity: 0 passed, %d failed" % len(CASES))
        return 1
    t0 = time.time()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="drl-parity-") as d:
        models = {}
        for i, (name, over, B, tol) in enumerate(CASES):
            models[name] = build_case(d, name, over, B, tol, 1234 + 17 * i)
        with open(os.path.join(d, "cases.txt"), "w") as f:
            f.write("".join(name + "\n" for name, _, _, _ in CASES))
        env = dict(os.environ, DRL_PARITY_DIR=d, CK_RUN_CASE="parity")
        env.setdefault("CK_DEFAULT_TIMEOUT", "300")
        proc = subprocess.run([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              universal_newlines=True, timeout=600)
        print(proc.stdout, end="")
        results = {}
        for line in proc.stdout.splitlines():
            m = re.match(r"parity-result (\S+) (ok|FAIL)\b(.*)", line)
            if m:
                results[m.group(1)] = (m.group(2) == "ok", m.group(3).strip())
        passed = failed = 0
        for name, _, _, _ in CASES:
            ok, detail = results.get(name, (False, "no result from test_model"))
            problem = check_resaved(d, name, *models[name]) if ok else None
            if problem:
                ok, detail = False, problem
            print("%-18s %s  %s" % (name, "ok  " if ok else "FAIL", detail))
            passed += ok
            failed += not ok
        if proc.returncode != 0 and failed == 0:
            print("test_model exited with status %d" % proc.returncode)
            failed += 1
    print("(%.1f s)" % (time.time() - t0))
    print("parity: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
