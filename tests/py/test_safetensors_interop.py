"""test_safetensors_interop.py — drl's safetensors against an independent numpy implementation.

The files here are written and read with numpy + json + struct only (no drl code), so both
directions check drl against the format rather than against itself:

  a) numpy -> drl:  a file with F32, F16, BF16 (float32 bits truncated), a scalar, a zero-size
     tensor and __metadata__ is listed by `drl inspect --json` (names, dtypes, shapes, counts,
     metadata) and `drl inspect`; corrupt files and bad usage give the documented exit codes.
  b) drl -> numpy:  the test binary's interop case (DRL_ST_WRITE=path) writes a file of known
     values; it is read back strictly (layout, padding, offsets) and compared bit for bit, and
     with torch.frombuffer too when torch is importable.
  c) numpy -> drl -> numpy:  the same binary (DRL_ST_RESAVE_IN/OUT) loads the file from (a) and
     re-saves it as F32; every value must equal numpy's own F16/BF16 -> float32 widening.

Run by ctest (DRL_BIN and DRL_BUILD_DIR set); exits 77 when numpy is missing.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError as e:  # pragma: no cover
    print("skip: numpy not importable: %s" % e)
    sys.exit(77)

DTYPE_SIZE = {"F32": 4, "F16": 2, "BF16": 2}


# ----------------------------------------------------------------------------- numpy format

def bf16_bits(a):
    """bfloat16 codes of float32 values by truncation (the top 16 bits)."""
    return (np.asarray(a, dtype="<f4").view("<u4") >> 16).astype("<u2")


def bf16_to_f32(codes):
    return (np.asarray(codes, dtype="<u2").astype("<u4") << 16).view("<f4")


def write_st(path, tensors, metadata, header_order=None):
    """tensors: list of (name, dtype, shape, raw little-endian bytes), laid out in that order.
    header_order: names in the order the JSON header lists them (default: data order)."""
    entries, blobs, off = {}, [], 0
    for name, dtype, shape, raw in tensors:
        entries[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header = {"__metadata__": metadata}
    for name in header_order or [t[0] for t in tensors]:
        header[name] = entries[name]
    h = json.dumps(header).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def read_st(path):
    """Strict reader: returns (header dict, data bytes, hlen); checks the reference layout."""
    with open(path, "rb") as f:
        buf = f.read()
    assert len(buf) >= 8, "%s: %d bytes" % (path, len(buf))
    (n,) = struct.unpack("<Q", buf[:8])
    assert 0 < n <= len(buf) - 8, "header length %d, file %d bytes" % (n, len(buf))
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    data = buf[8 + n:]
    spans = sorted(tuple(v["data_offsets"]) for k, v in header.items() if k != "__metadata__")
    at = 0
    for b0, b1 in spans:
        assert b0 == at and b1 >= b0, "spans not contiguous: %s" % spans
        at = b1
    assert at == len(data), "tensors cover %d of %d data bytes" % (at, len(data))
    return header, data, n


def tensor(header, data, name):
    info = header[name]
    b0, b1 = info["data_offsets"]
    dt = {"F32": "<f4", "F16": "<f2"}[info["dtype"]]
    return np.frombuffer(data[b0:b1], dtype=dt).reshape(info["shape"])


def same_bits(a, b):
    a = np.ascontiguousarray(a, dtype="<f4")
    b = np.ascontiguousarray(b, dtype="<f4")
    return a.shape == b.shape and np.array_equal(a.view("<u4"), b.view("<u4"))


# ----------------------------------------------------------------------------- the checks

def numpy_file(path):
    """The file of check (a); returns {name: (dtype, shape, expected float32 values)}."""
    rng = np.random.default_rng(7)
    w = rng.standard_normal((2, 3)).astype("<f4")
    h = np.array([1, -2, 65504, 2.0 ** -24, 6.1e-5, np.inf, -np.inf, np.nan, -0.0, 0.1],
                 dtype="<f2").reshape(2, 5)
    bf_src = np.array([1.0, -3.14159, 1e-40, 3e38, np.inf, np.nan], dtype="<f4")
    bf = bf16_bits(bf_src).reshape(3, 2)
    scalar = np.array(2.5, dtype="<f4")
    empty = np.zeros((0, 4), dtype="<f2")
    tensors = [
        ("enc.w", "F32", w.shape, w.tobytes()),
        ("half", "F16", h.shape, h.tobytes()),
        ("brain", "BF16", bf.shape, bf.tobytes()),
        ("scalar", "F32", (), scalar.tobytes()),
        ("empty", "F16", empty.shape, b""),
    ]
    meta = {"format": "pt", "note": "written by numpy \u00e9", "drl.config": '{"latent_dim": 4}'}
    # The header lists the tensors in another order than the data: readers must sort by offset.
    write_st(path, tensors, meta, ["scalar", "empty", "brain", "enc.w", "half"])
    expect = {
        "enc.w": ("F32", [2, 3], w),
        "half": ("F16", [2, 5], h.astype("<f4")),
        "brain": ("BF16", [3, 2], bf16_to_f32(bf)),
        "scalar": ("F32", [], scalar),
        "empty": ("F16", [0, 4], empty.astype("<f4")),
    }
    return expect, meta


def run(cmd, env=None):
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def check_inspect(drl, tmp):
    path = os.path.join(tmp, "from_numpy.safetensors")
    expect, meta = numpy_file(path)
    r = run([drl, "inspect", "--json", path])
    assert r.returncode == 0, "inspect --json exit %d: %s" % (r.returncode, r.stderr)
    out = json.loads(r.stdout)
    assert out["file"] == path, out["file"]
    names = [t["name"] for t in out["tensors"]]
    assert names == ["enc.w", "half", "brain", "scalar", "empty"], "data order: %s" % names
    for t in out["tensors"]:
        dtype, shape, vals = expect[t["name"]]
        assert t["dtype"] == dtype, (t, dtype)
        assert t["shape"] == shape, (t, shape)
        assert t["numel"] == int(np.prod(shape, dtype=np.int64)), t
    assert out["parameters"] == 6 + 10 + 6 + 1 + 0, out["parameters"]
    assert out["metadata"] == meta, out["metadata"]

    r = run([drl, "inspect", path])
    assert r.returncode == 0, r.stderr
    for name in expect:
        assert name in r.stdout, "%s missing from:\n%s" % (name, r.stdout)
    assert "parameters: 23" in r.stdout and "note = written by numpy \u00e9" in r.stdout, r.stdout

    # Errors: a corrupt file is a runtime failure (1) with the reason, bad usage is 2.
    bad = os.path.join(tmp, "bad.safetensors")
    with open(path, "rb") as f:
        good = f.read()
    with open(bad, "wb") as f:
        f.write(good[:-1])
    r = run([drl, "inspect", bad])
    assert r.returncode == 1 and r.stderr.startswith("drl inspect: ") and "out of range" in r.stderr, \
        (r.returncode, r.stderr)
    r = run([drl, "inspect", "--json", os.path.join(tmp, "missing.safetensors")])
    assert r.returncode == 1 and "drl inspect: " in r.stderr and r.stdout == "", (r.returncode, r.stderr)
    for args in ([], ["--bogus", path], [path, path]):
        r = run([drl, "inspect"] + args)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
    return path, expect, meta


def test_binary(build, env_extra):
    exe = os.path.join(build, "test_safetensors")
    assert os.path.exists(exe), "%s not built" % exe
    env = dict(os.environ, CK_RUN_CASE="interop", **env_extra)
    r = run([exe], env=env)
    assert r.returncode == 0, "test_safetensors interop failed (exit %d):\n%s%s" % (
        r.returncode, r.stdout, r.stderr)


def check_from_c(build, tmp):
    path = os.path.join(tmp, "st_from_c.safetensors")
    test_binary(build, {"DRL_ST_WRITE": path})
    header, data, hlen = read_st(path)
    assert hlen % 8 == 0, "header length %d not padded to 8" % hlen
    with open(path, "rb") as f:
        raw_header = f.read(8 + hlen)[8:].decode("utf-8")
    assert raw_header.rstrip(" ").endswith("}"), "padding is not spaces: %r" % raw_header[-8:]
    assert header.pop("__metadata__") == {"writer": "drl test_safetensors", "answer": "42"}
    assert list(header) == ["ramp", "third", "scale", "empty", "specials"], list(header)
    for v in header.values():
        assert v["dtype"] == "F32", v
    want = {
        "ramp": ((np.arange(12, dtype="<f4") - 5) / np.float32(8)).reshape(3, 4),
        "third": np.arange(1, 6, dtype="<f4") / np.float32(3),
        "scale": np.array(0.5, dtype="<f4"),
        "empty": np.zeros((0, 3), dtype="<f4"),
        "specials": np.array([0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x00000001,
                              0x7f7fffff, 0x7fc00001], dtype="<u4").view("<f4"),
    }
    for name, w in want.items():
        got = tensor(header, data, name)
        assert same_bits(got, w), "%s: got %r want %r" % (name, got, w)
    try:
        import torch
    except ImportError:
        return "numpy only"
    for name, w in want.items():
        b0, b1 = header[name]["data_offsets"]
        if b1 == b0:
            continue  # torch.frombuffer rejects an empty buffer
        t = torch.frombuffer(bytearray(data[b0:b1]), dtype=torch.float32).reshape(header[name]["shape"])
        assert same_bits(t.numpy(), w), "torch %s: %r" % (name, t)
    return "numpy + torch"


def check_resave(build, tmp, src, expect, meta):
    out = os.path.join(tmp, "resaved.safetensors")
    test_binary(build, {"DRL_ST_RESAVE_IN": src, "DRL_ST_RESAVE_OUT": out})
    header, data, _ = read_st(out)
    assert header.pop("__metadata__") == meta
    assert sorted(header) == sorted(expect), list(header)
    for name, (_, shape, vals) in expect.items():
        assert header[name]["dtype"] == "F32" and header[name]["shape"] == shape, header[name]
        got = tensor(header, data, name)
        assert same_bits(got, vals), "%s: got %r want %r" % (name, got, vals)


def main():
    drl, build = os.environ.get("DRL_BIN"), os.environ.get("DRL_BUILD_DIR")
    if not drl or not build:
        print("set DRL_BIN and DRL_BUILD_DIR (ctest does)")
        return 2
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        state = {}

        def a():
            state["src"] = check_inspect(drl, tmp)
            return "drl inspect reads F32/F16/BF16/scalar/empty + metadata"

        def b():
            return "drl-written file matches (%s)" % check_from_c(build, tmp)

        def c():
            if "src" not in state:
                raise AssertionError("needs the file of check (a)")
            check_resave(build, tmp, *state["src"])
            return "F16/BF16 decoded by drl == numpy widening, bit for bit"

        for name, fn in (("numpy->drl", a), ("drl->numpy", b), ("numpy->drl->numpy", c)):
            try:
                print("ok   %s: %s" % (name, fn()))
                passed += 1
            except Exception as e:  # report every check, then fail
                print("FAIL %s: %s: %s" % (name, type(e).__name__, e))
                failed += 1
    print("safetensors interop: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
