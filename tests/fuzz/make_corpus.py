#!/usr/bin/env python3
"""make_corpus.py — writes the fuzz seed corpus, tests/fuzz/corpus/<target>/.

Small valid inputs of every form each parser takes, so the fuzzer starts inside the success paths
instead of having to discover a PNG or a tar by itself: PNGs of every colour type, bit depth and
interlacing; safetensors with F32/F16/BF16, scalars, empty tensors and metadata (plus the real
header layout of a checkpoint written by `drl train`, when --drl is given); IDX of every type,
plain and gzip; .npy 1.0 and 2.0; base64 text; one body per route for the codecs target (byte 0
the route, byte 1 the flags: bit 0 time-conditioned model, bits 1-2 the media type spelling);
dataset uploads as tars (plain, gzip, bzip2, xz; flat and class folders; GNU long names), IDX and
JSON. Everything is built with the standard library and is byte-for-byte reproducible.

usage: tests/fuzz/make_corpus.py [--drl build/drl]
"""
import argparse
import base64
import bz2
import gzip
import io
import json
import lzma
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

# Route indexes of tests/fuzz/targets.h
ENCODE_JSON, ENCODE_PNG, TRAJ_JSON, TRAJ_PNG, SAMPLE, OIP, RELOAD, JOB = range(8)


# ------------------------------------------------------------------------------------------- PNG

def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def pack_row(pixels, depth):
    """pixels: list of sample tuples -> the row's bytes at this bit depth."""
    samples = [s for p in pixels for s in p]
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    if depth == 8:
        return bytes(samples)
    out, acc, bits = bytearray(), 0, 0
    for s in samples:
        acc = acc << depth | s
        bits += depth
        if bits == 8:
            out.append(acc)
            acc, bits = 0, 0
    if bits:
        out.append(acc << (8 - bits))
    return bytes(out)


def png(img, ctype, depth, interlace=False, extra=b""):
    """img: rows of sample tuples. extra: chunks placed before IDAT (PLTE, tRNS, text...)."""
    h, w = len(img), len(img[0])
    raw = b""
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            for y in range(y0, h, dy):
                row = [img[y][x] for x in range(x0, w, dx)]
                if row:
                    raw += b"\0" + pack_row(row, depth)
    else:
        raw = b"".join(b"\0" + pack_row(r, depth) for r in img)
    ihdr = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 1 if interlace else 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def gray(w, h, f, depth=8):
    return [[(f(x, y),) for x in range(w)] for y in range(h)]


def gray28():
    return png(gray(28, 28, lambda x, y: (x * 9 + y * 3) % 256), 0, 8)


def rgb28():
    return png([[((x * 9) % 256, (y * 9) % 256, 77) for x in range(28)] for y in range(28)], 2, 8)


def small_gray(seed, w=8, h=8):
    return png(gray(w, h, lambda x, y: (x * 31 + y * 17 + seed * 53) % 256), 0, 8)


def small_rgb(seed, w=8, h=8):
    return png([[((x * 30 + seed) % 256, (y * 30) % 256, (x * y + seed) % 256) for x in range(w)]
                for y in range(h)], 2, 8)


def png_seeds():
    pal = bytes(v for i in range(16) for v in (i * 16, 255 - i * 16, (i * 40) % 256))
    text = chunk(b"tEXt", b"Comment\0fuzz seed") + chunk(b"gAMA", struct.pack(">I", 45455))
    return {
        "gray8_28x28.png": gray28(),
        "gray1_8x8.png": png(gray(8, 8, lambda x, y: (x + y) % 2), 0, 1),
        "gray2_trns_6x5.png": png(gray(6, 5, lambda x, y: (x + y) % 4), 0, 2,
                                  extra=chunk(b"tRNS", struct.pack(">H", 3))),
        "gray16_adam7_9x9.png": png(gray(9, 9, lambda x, y: (x * 7000 + y * 300) % 65536), 0, 16,
                                    interlace=True),
        "graya8_8x8.png": png([[((x * 32) % 256, (y * 32) % 256) for x in range(8)]
                               for y in range(8)], 4, 8, extra=text),
        "rgb8_12x10.png": png([[((x * 20) % 256, (y * 25) % 256, 128) for x in range(12)]
                               for y in range(10)], 2, 8),
        "rgb8_adam7_7x5.png": png([[((x * 36) % 256, (y * 50) % 256, (x * y * 9) % 256)
                                    for x in range(7)] for y in range(5)], 2, 8, interlace=True),
        "rgba16_6x6.png": png([[(x * 10000, y * 10000, 30000, (x + y) * 6000) for x in range(6)]
                               for y in range(6)], 6, 16),
        "pal4_trns_9x7.png": png([[((x + y) % 16,) for x in range(9)] for y in range(7)], 3, 4,
                                 extra=chunk(b"PLTE", pal) + chunk(b"tRNS", bytes(range(0, 256, 32)))),
    }


# ----------------------------------------------------------------------------------- safetensors

ABSENT = object()


def safetensors(tensors, meta=ABSENT, pad=True):
    """tensors: list of (name, dtype, shape, raw bytes). Offsets in order given. meta: a dict, None
    (written as null) or ABSENT."""
    header, off, data = {}, 0, b""
    if meta is not ABSENT:
        header["__metadata__"] = meta
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def f32(*v):
    return struct.pack("<%df" % len(v), *v)


def st_seeds():
    f16 = struct.pack("<4e", 1.0, -2.5, 65504.0, 6e-8)
    bf16 = b"".join(struct.pack("<f", v)[2:] for v in (1.0, -0.5, 3.0e38, 1e-40))
    return {
        "f32.safetensors": safetensors([("w", "F32", [2, 3], f32(1, 2, 3, 4, 5, 6))], meta=ABSENT),
        "mixed_meta.safetensors": safetensors(
            [("a", "F16", [4], f16), ("b", "BF16", [2, 2], bf16), ("c", "F32", [], f32(7.5)),
             ("z", "F32", [0, 5], b"")], meta={"format": "pt", "drl": "fuzz"}),
        "meta_null_3d.safetensors": safetensors(
            [("x.y", "F32", [1, 2, 2], f32(0.5, -0.5, 1e-3, -1e3))], meta=None, pad=False),
    }


def st_from_drl(drl):
    """The header of a real checkpoint (names, metadata, order) with every tensor cut to at most
    4 values, so the seed stays small."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "tiny.safetensors")
        subprocess.run([drl, "train", "--out", out, "--steps", "1", "--max-n", "16", "--batch", "8",
                        "--channels", "8,8,8", "--latent-dim", "2", "--log-every", "1",
                        "--ckpt-every", "100", "--threads", "1", "--seed", "1"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        b = open(out, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    meta = header.pop("__metadata__", ABSENT)
    ents = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0])
    tensors = []
    for name, e in ents:
        lo = e["data_offsets"][0] + 8 + n
        k = 1
        for d in e["shape"]:
            k *= d
        k = min(k, 4)
        tensors.append((name, "F32", [k], b[lo:lo + 4 * k]))
    return safetensors(tensors, meta=meta)


# ------------------------------------------------------------------------------------------- IDX

def idx(type_byte, dims, values):
    fmt = {0x08: "B", 0x09: "b", 0x0B: ">h", 0x0C: ">i", 0x0D: ">f", 0x0E: ">d"}[type_byte]
    body = b"".join(struct.pack(fmt, v) for v in values)
    return bytes([0, 0, type_byte, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + body


def gz(b):
    return gzip.compress(b, compresslevel=9, mtime=0)


def idx_seeds():
    img = idx(0x08, [3, 4, 4], [(i * 17) % 256 for i in range(48)])
    return {
        "u8_3x4x4.idx": img,
        "u8_3x4x4.idx.gz": gz(img),
        "u8_labels_5.idx": idx(0x08, [5], [0, 9, 3, 3, 1]),
        "i8_2x3.idx": idx(0x09, [2, 3], [-128, -1, 0, 1, 64, 127]),
        "i16_3.idx": idx(0x0B, [3], [-32768, 0, 32767]),
        "i32_2x2.idx": idx(0x0C, [2, 2], [-2 ** 31, -1, 1, 2 ** 31 - 1]),
        "f32_2x2.idx": idx(0x0D, [2, 2], [0.5, -1.25, 3.0e38, 1e-40]),
        "f64_3.idx.gz": gz(idx(0x0E, [3], [1e300, -0.1, 2.5])),
        "u8_4d_2x1x2x2.idx": idx(0x08, [2, 1, 2, 2], list(range(8))),
    }


# ------------------------------------------------------------------------------------------- npy

def npy(shape, values, version=1, fortran=False, style="drl"):
    if style == "drl":  # the spelling drl_npy_serialize writes
        s = "(%s)" % (", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else ""))
        d = "{'descr': '<f4', 'fortran_order': %s, 'shape': %s, }" % (fortran, s)
    else:  # other orders and quotes numpy files may have
        s = "(%s)" % ",".join(str(d) for d in shape)
        if len(shape) == 1:
            s = "(%d,)" % shape[0]
        d = '{"shape": %s, "fortran_order": %s, "descr": "<f4"}' % (s, fortran)
    pre = 10 if version == 1 else 12
    hlen = len(d) + 1
    hlen += -(pre + hlen) % 64
    h = d.ljust(hlen - 1) + "\n"
    lenfield = struct.pack("<H", hlen) if version == 1 else struct.pack("<I", hlen)
    return b"\x93NUMPY" + bytes([version, 0]) + lenfield + h.encode() + f32(*values)


def npy_seeds():
    return {
        "v1_1d_3.npy": npy([3], [1.0, -2.0, 0.5]),
        "v1_2d_2x3.npy": npy([2, 3], [0, 1, 2, 3, 4, 5]),
        "v2_1d_4.npy": npy([4], [1e-3, 1e3, -7.0, 0.0], version=2),
        "v1_fortran_1x3.npy": npy([1, 3], [1, 2, 3], fortran=True, style="numpy"),
        "v1_0x4.npy": npy([0, 4], []),
        "v1_numpy_style_2x2.npy": npy([2, 2], [9, 8, 7, 6], style="numpy"),
    }


# ---------------------------------------------------------------------------------------- base64

def b64(b):
    return base64.b64encode(b)


def base64_seeds():
    return {
        "empty.txt": b"",
        "pad2.txt": b"Zg==",
        "pad1.txt": b"Zm8=",
        "nopad.txt": b"Zm9vYmFy",
        "all_chars.txt": b64(bytes(range(256))),
        "png.txt": b64(small_gray(1)),
        "bad_newline.txt": b"Zm9v\n",
        "bad_padbits.txt": b"Zh==",
        "bad_eq.txt": b"Z===",
        "bad_char.txt": b"Zm9v!A==",
    }


# ---------------------------------------------------------------------------------------- codecs

def body(route, flags, obj):
    raw = obj if isinstance(obj, bytes) else json.dumps(obj, separators=(",", ":")).encode()
    return bytes([route, flags]) + raw


def codec_seeds():
    g = b64(gray28()).decode()
    rgb = b64(rgb28()).decode()
    pixels = [round(((i * 37) % 256) / 255, 4) for i in range(784)]
    pimg = {"pixels": pixels, "width": 28, "height": 28, "channels": 1}
    nested = [[[pixels[y * 28:(y + 1) * 28] for y in range(28)]]]
    return {
        "encode_png_json.bin": body(ENCODE_JSON, 0, {"images": [{"png": g}]}),
        "encode_pixels_t.bin": body(ENCODE_JSON, 1, {"images": [pimg, {"png": rgb}], "t": 0.5}),
        "encode_body_png.bin": body(ENCODE_PNG, 0, gray28()),
        "encode_body_rgb.bin": body(ENCODE_PNG, 2, rgb28()),
        "trajectory_times.bin": body(TRAJ_JSON, 1, {"image": {"png": g}, "times": [0.001, 0.5, 1]}),
        "trajectory_steps.bin": body(TRAJ_JSON, 3, {"image": pimg, "steps": 4}),
        "trajectory_png.bin": body(TRAJ_PNG, 1, gray28()),
        "sample_code.bin": body(SAMPLE, 0, {"code": [0.1, -0.2, 1.5, 0, 3, -4, 0.25, 1e-3], "n": 2,
                                            "sampler": "ode", "steps": 10, "seed": 3, "snr": 0.2,
                                            "denoise": False}),
        "sample_image.bin": body(SAMPLE, 1, {"image": {"png": g}, "t_init": 0.5, "sampler": "em",
                                             "n": 1}),
        "sample_pc.bin": body(SAMPLE, 4, {"image": pimg, "sampler": "pc", "steps": 5}),
        "oip_fp32.bin": body(OIP, 0, {"id": "req-1", "inputs": [{"name": "input", "shape": [1, 1, 28, 28],
                                                                 "datatype": "FP32", "data": pixels}]}),
        "oip_nested.bin": body(OIP, 0, {"inputs": [{"name": "input", "shape": [1, 1, 28, 28],
                                                    "datatype": "FP32", "data": nested,
                                                    "parameters": {}}]}),
        "oip_png.bin": body(OIP, 2, {"id": "caf\u00e9", "inputs": [{"name": "png", "shape": [2],
                                                                    "datatype": "BYTES", "data": [g, rgb]}],
                                     "outputs": [{"name": "embedding"}], "parameters": {}}),
        "reload_path.bin": body(RELOAD, 0, {"path": "models/other.safetensors"}),
        "reload_empty.bin": body(RELOAD, 0, b""),
        "reload_ws.bin": body(RELOAD, 0, b" \r\n\t"),
        "job_full.bin": body(JOB, 0, {"dataset": "ds-1", "base_model": "current", "steps": 100,
                                      "batch_size": 8, "lr": 0.0001, "warmup": 10, "clip": 1.0,
                                      "flip": True, "seed": 7, "t_range": [1e-5, 1.0], "sde": "ve",
                                      "ckpt_every": 10, "log_every": 5, "name": "fuzz"}),
        "job_scratch.bin": body(JOB, 0, {"dataset": "ds-2", "base_model": None, "latent_dim": 16,
                                         "time_cond": True, "sde": "vp"}),
        "job_base_job.bin": body(JOB, 2, {"dataset": "ds-3", "base_model": "job-abc"}),
    }


# ---------------------------------------------------------------------------------------- upload

def tar(files, fmt=tarfile.USTAR_FORMAT):
    """files: list of (name, bytes or None for a folder). Fixed metadata: reproducible bytes."""
    bio = io.BytesIO()
    with tarfile.open(fileobj=bio, mode="w", format=fmt) as t:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                t.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                t.addfile(info, io.BytesIO(data))
    return bio.getvalue()


def upload_seeds():
    flat = tar([("a.png", small_gray(1)), ("b.png", small_gray(2)), ("c.png", small_gray(3))])
    classes = tar([("mydata/", None), ("mydata/cat/", None), ("mydata/cat/1.png", small_gray(4)),
                   ("mydata/cat/2.png", small_gray(5)), ("mydata/dog/", None),
                   ("mydata/dog/1.png", small_gray(6)), ("mydata/README.txt", b"two classes\n"),
                   ("mydata/.DS_Store", b"\0\0\0\1")])
    long_name = "c" * 120
    gnu = tar([(long_name + "/x.png", small_rgb(1)), ("other/y.png", small_rgb(2))],
              fmt=tarfile.GNU_FORMAT)
    rgb = tar([("r1.png", small_rgb(3)), ("r2.png", small_rgb(4))])
    return {
        "flat.tar": flat,
        "classes.tar.gz": gz(classes),
        "gnu_longname.tar": gnu,
        "rgb.tar.bz2": bz2.compress(rgb, 9),
        "flat.tar.xz": lzma.compress(flat, preset=6),
        "pax.tar": tar([("p/a.png", small_gray(7)), ("q/b.png", small_gray(8))],
                       fmt=tarfile.PAX_FORMAT),
        "u8_4x8x8.idx": idx(0x08, [4, 8, 8], [(i * 7) % 256 for i in range(256)]),
        "u8_2x3x4x4.idx.gz": gz(idx(0x08, [2, 3, 4, 4], [(i * 5) % 256 for i in range(96)])),
        "labels.json": json.dumps({"images": [{"png": b64(small_gray(9)).decode()},
                                              {"png": b64(small_gray(10)).decode()}],
                                   "labels": [0, 1], "classes": ["a", "b"]}).encode(),
        "nolabels.json": b" " + json.dumps({"images": [{"png": b64(small_rgb(5)).decode()}]}).encode(),
    }


# ------------------------------------------------------------------------------------------------

def write(target, files):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--drl", help="the drl binary: adds a seed with a real checkpoint's header")
    args = ap.parse_args()
    keep = os.path.join(CORPUS, "safetensors", "drl_tiny_header.safetensors")
    kept = open(keep, "rb").read() if os.path.exists(keep) and not args.drl else None
    if os.path.isdir(CORPUS):
        shutil.rmtree(CORPUS)
    write("png", png_seeds())
    st = st_seeds()
    if args.drl:
        st["drl_tiny_header.safetensors"] = st_from_drl(args.drl)
    elif kept is not None:
        st["drl_tiny_header.safetensors"] = kept
    write("safetensors", st)
    write("idx", idx_seeds())
    write("npy", npy_seeds())
    write("base64", base64_seeds())
    write("codecs", codec_seeds())
    write("upload", upload_seeds())
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(CORPUS) for f in fs)
    print("corpus: %s, %d bytes" % (CORPUS, total))


if __name__ == "__main__":
    sys.exit(main())
