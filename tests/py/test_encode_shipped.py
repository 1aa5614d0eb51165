"""test_encode_shipped.py — `drl encode` on the shipped full-size models against PyTorch.

The inference path (drl_model_prepare: Winograd-transformed 3×3 filters, used at every batch
size; a batch with fewer tile blocks than threads shares each block across the team) only runs
on layers of 16+ channels, which the small parity models (test_parity.py) do not have. Here
the shipped models/drl-fmnist.safetensors and models/drl-fmnist-tc.safetensors are loaded into
the independent PyTorch reference (torch_ref.py, float64), and `drl encode` must give the same
codes to 2e-5 relative (measured: 1e-7 to 1e-6) for a few images: batch 1 on 1 thread, batch 5
on 2 threads (a partial last batch), and for the time-conditioned model also at an explicit t
and as a trajectory.

Run by ctest (DRL_BIN set); exits 77 when torch is not importable.
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover
    print("skip: torch not importable: %s" % e)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_ref as R  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.environ.get("DRL_SOURCE_DIR", os.path.join(HERE, "..", ".."))
BIN = os.environ.get("DRL_BIN", os.path.join(SRC, "build", "drl"))
N = 7  # images


def write_idx(path, imgs):
    """imgs (N, 28, 28) uint8 -> IDX3 file."""
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 8, 3]))
        for d in imgs.shape:
            f.write(int(d).to_bytes(4, "big"))
        f.write(imgs.tobytes())


def load_reference(path):
    tensors, meta = R.safetensors_read(path)
    cfg = R.make_config(**json.loads(meta["drl.config"]))
    model = R.DRLModel(cfg).double()
    sd = model.state_dict()
    missing = set(sd) ^ set(tensors)
    if missing:
        raise SystemExit("%s: tensor names differ from the reference: %s" % (path, sorted(missing)[:5]))
    model.load_state_dict({k: torch.from_numpy(v).double() for k, v in tensors.items()})
    return model.eval(), cfg


def reference_codes(model, cfg, imgs, t):
    x = torch.from_numpy(imgs.astype(np.float32) * np.float32(1.0 / 255.0)).double()[:, None]
    tt = torch.full((imgs.shape[0],), float(np.float32(t)), dtype=torch.float64)
    with torch.no_grad():
        out = model.encoder(x, R.sde_noise_input(cfg, tt))
    return out[:, :cfg["latent_dim"]].numpy()


def drl_codes(model_path, idx, tmp, *args):
    out = os.path.join(tmp, "z.npy")
    subprocess.run([BIN, "encode", "--model", model_path, "--out", out, *args, idx], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return np.load(out).astype(np.float64)


def compare(name, got, want):
    err = np.abs(got - want).max() / max(1.0, np.abs(want).max())
    ok = err <= 2e-5
    print("%-58s max rel err %.2e %s" % (name, err, "ok" if ok else "FAIL"))
    return ok


def main():
    rng = np.random.default_rng(5)
    imgs = rng.integers(0, 256, size=(N, 28, 28), dtype=np.uint8)
    imgs[:, :4] = 0  # a dark band, as in real images
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        idx = os.path.join(tmp, "x.idx")
        write_idx(idx, imgs)
        for fname in ("drl-fmnist.safetensors", "drl-fmnist-tc.safetensors"):
            path = os.path.join(SRC, "models", fname)
            model, cfg = load_reference(path)
            want = reference_codes(model, cfg, imgs, cfg["t_min"])
            for batch, threads in ((1, 1), (5, 2)):
                got = drl_codes(path, idx, tmp, "--batch", str(batch), "--threads", str(threads))
                ok &= compare("%s batch %d, %d thread(s)" % (fname, batch, threads), got, want)
            if cfg["time_cond"]:
                got = drl_codes(path, idx, tmp, "--t", "0.5", "--batch", "1", "--threads", "2")
                ok &= compare("%s t = 0.5, batch 1, 2 threads" % fname, got,
                              reference_codes(model, cfg, imgs, 0.5))
                K, d = 3, cfg["latent_dim"]
                got = drl_codes(path, idx, tmp, "--times", str(K), "--batch", "4", "--threads", "1")
                for k in range(K):
                    t = cfg["t_min"] + (cfg["t_max"] - cfg["t_min"]) * k / (K - 1)
                    ok &= compare("%s trajectory, t = %g" % (fname, t), got[:, k * d:(k + 1) * d],
                                  reference_codes(model, cfg, imgs, t))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
