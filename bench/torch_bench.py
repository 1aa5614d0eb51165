"""torch_bench.py — the PyTorch eager reference for bench_model: the same encoder and score
network (tests/py/torch_ref.py, default config), timed the same way (best of reps, after one
warm-up): encoder forward images/s at batch B, batch-1 encoder latency, and a training step
(DRL loss forward + backward + Adam) images/s. Prints one JSON line.
usage: /usr/bin/python3 bench/torch_bench.py --threads N [--batch 256] [--train-batch 64] [--reps 5]
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "py"))
import torch  # noqa: E402
import torch_ref  # noqa: E402


def best_of(fn, reps):
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--train-batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    c = torch_ref.default_config()
    model = torch_ref.DRLModel(c).float()
    B, TB = a.batch, a.train_batch
    x = torch.rand(max(B, TB), 1, 28, 28)
    eps = torch.randn_like(x)
    t = 0.05 + 0.9 * torch.rand(max(B, TB))
    tin = torch_ref.sde_noise_input(c, torch.full((B,), float(c["t_min"])))

    def enc():
        with torch.no_grad():
            model.encoder(x[:B], tin)

    enc_s = best_of(enc, a.reps)
    tin1 = tin[:1]

    def enc1():
        with torch.no_grad():
            model.encoder(x[:1], tin1)

    lat = best_of(enc1, 20 * a.reps)
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)

    def step():
        opt.zero_grad(set_to_none=False)
        total = model.loss(x[:TB], t[:TB], eps[:TB])[4]
        total.backward()
        opt.step()

    train_s = best_of(step, a.reps)
    print(json.dumps({"impl": "torch-%s" % torch.__version__, "threads": a.threads,
                      "encoder_batch": B, "encoder_img_per_s": round(B / enc_s, 1),
                      "encoder_b1_latency_ms": round(lat * 1e3, 3), "train_batch": TB,
                      "train_img_per_s": round(TB / train_s, 1)}))


if __name__ == "__main__":
    main()
