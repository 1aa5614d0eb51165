#!/usr/bin/python3
"""test_npy_interop.py - .npy files written by drl load in numpy, and numpy's files load in drl.

Runs $DRL_BUILD_DIR/test_npy twice: once with DRL_NPY_WRITE / DRL_NPY_WRITE_1D set, so the C
side writes its reference arrays for numpy.load to check here, and once with DRL_NPY_READ /
DRL_NPY_READ_1D / DRL_NPY_READ_V2 pointing at arrays numpy wrote, which the C side reads and
checks. Both sides build the reference from the same formula (ref_value in tests/test_npy.c).
Exits 77 (skipped) when numpy is missing or DRL_BUILD_DIR is not set."""
import os
import subprocess
import sys
import tempfile

NAME = "test_npy_interop"
ROWS, COLS, N1 = 5, 7, 11

try:
    import numpy as np
except ImportError:
    print(f"{NAME}: numpy not installed, skipping")
    sys.exit(77)

passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what}")


def ref(n):
    i = np.arange(n, dtype=np.int64)
    return ((i * 7 % 13) / 8.0 - 0.75).astype(np.float32)


def run_binary(binary, env_extra):
    env = dict(os.environ)
    env.update(env_extra)
    env["CK_VERBOSITY"] = "normal"
    r = subprocess.run([binary], env=env, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        print(r.stdout + r.stderr)
    return r.returncode == 0


def main():
    build = os.environ.get("DRL_BUILD_DIR", "")
    binary = os.path.join(build, "test_npy")
    if not build:
        print(f"{NAME}: DRL_BUILD_DIR not set (run through ctest), skipping")
        sys.exit(77)
    if not os.access(binary, os.X_OK):
        print(f"{NAME}: {binary} not built")
        print(f"{NAME}: 0 passed, 1 failed")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        # C writes, numpy reads.
        p2, p1 = os.path.join(tmp, "c2.npy"), os.path.join(tmp, "c1.npy")
        check(run_binary(binary, {"DRL_NPY_WRITE": p2, "DRL_NPY_WRITE_1D": p1}),
              "test_npy with DRL_NPY_WRITE")
        for path, shape in ((p2, (ROWS, COLS)), (p1, (N1,))):
            try:
                a = np.load(path, allow_pickle=False)
            except Exception as exc:  # noqa: BLE001 - any failure to load is the finding
                check(False, f"numpy.load({os.path.basename(path)}): {exc}")
                continue
            check(a.dtype == np.dtype("<f4"), f"{path}: dtype {a.dtype}")
            check(a.shape == shape, f"{path}: shape {a.shape} != {shape}")
            check(a.flags["C_CONTIGUOUS"], f"{path}: not C order")
            want = ref(int(np.prod(shape))).reshape(shape)
            check(a.shape == shape and np.array_equal(a, want),
                  f"{path}: values differ, max {np.abs(a.ravel()[:want.size] - want.ravel()).max()}")
            with open(path, "rb") as f:
                head = f.read(10)
            hlen = head[8] | head[9] << 8
            check(head[:8] == b"\x93NUMPY\x01\x00" and (10 + hlen) % 64 == 0,
                  f"{path}: header not v1.0 / not 64-aligned")

        # numpy writes, C reads (v1.0 2-D and 1-D, and a v2.0 file).
        r2, r1, rv2 = (os.path.join(tmp, n) for n in ("n2.npy", "n1.npy", "nv2.npy"))
        np.save(r2, ref(ROWS * COLS).reshape(ROWS, COLS))
        np.save(r1, ref(N1))
        with open(rv2, "wb") as f:
            np.lib.format.write_array(f, ref(ROWS * COLS).reshape(ROWS, COLS), version=(2, 0))
        check(run_binary(binary, {"DRL_NPY_READ": r2, "DRL_NPY_READ_1D": r1,
                                  "DRL_NPY_READ_V2": rv2}),
              "test_npy with DRL_NPY_READ")
    print(f"{NAME}: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
