#!/usr/bin/python3
"""The reference for bench_probe: scikit-learn's multinomial LogisticRegression (lbfgs, run to
a tight tolerance) on the same features standardised the same way (train mean, population std,
std <= 1e-6 -> 1), and the same objective (1/N) sum xent + (1/2CN) |W|^2 evaluated in float64.
usage: probe_sklearn.py TRAIN.npy TRAIN_LABELS.idx[.gz] TEST.npy TEST_LABELS.idx[.gz] C [MAX_N]
Prints one JSON object."""
import gzip
import json
import sys
import time

import numpy as np
from sklearn.linear_model import LogisticRegression


def idx_labels(path):
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    ndim = raw[3]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).astype(np.int64)


def main():
    tr, trl, te, tel, c = sys.argv[1:6]
    c = float(c)
    Xtr = np.load(tr).astype(np.float64)
    ytr = idx_labels(trl)
    if len(sys.argv) > 6:
        n = int(sys.argv[6])
        Xtr, ytr = Xtr[:n], ytr[:n]
    Xte, yte = np.load(te).astype(np.float64), idx_labels(tel)[: len(np.load(te))]
    ytr = ytr[: len(Xtr)]
    mu = Xtr.mean(0)
    sd = Xtr.std(0)
    sd[sd <= 1e-6] = 1.0
    Xs, Xts = (Xtr - mu) / sd, (Xte - mu) / sd
    clf = LogisticRegression(C=c, tol=1e-10, max_iter=20000)
    t0 = time.perf_counter()
    clf.fit(Xs, ytr)
    secs = time.perf_counter() - t0
    z = Xs @ clf.coef_.T + clf.intercept_
    mx = z.max(1, keepdims=True)
    lse = (mx[:, 0] + np.log(np.exp(z - mx).sum(1)))
    f = np.mean(lse - z[np.arange(len(ytr)), ytr]) + 0.5 / (c * len(ytr)) * np.sum(clf.coef_ ** 2)
    print(json.dumps({"solver": "sklearn-lbfgs", "c": c, "n": len(Xtr), "d": Xtr.shape[1],
                      "seconds": round(secs, 3), "iters": int(clf.n_iter_[0]), "objective": f,
                      "test_acc": float(np.mean(clf.predict(Xts) == yte))}))


if __name__ == "__main__":
    main()
