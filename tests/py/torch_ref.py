"""torch_ref.py — an independent PyTorch implementation of drl's networks and DRL loss.

Built from stock torch modules (nn.Conv2d, nn.GroupNorm, nn.Linear, F.silu, F.interpolate),
not from the C code, so agreement between the two is evidence that both are right. Module
attribute names are chosen so that `state_dict()` keys are exactly the C parameter names
("encoder.block0.gn1.weight", "score.temb.fourier.W", ...): a checkpoint maps 1:1.

Also here: a safetensors writer/reader using only numpy + json + struct, and the SDE
coefficients (VE / VP) of core/sde.c.

    x_t = alpha(t) x0 + std(t) eps,  z = E(x0[, t]),  h = score(x_t, t, z)
    L   = 1/B sum_b ||h_b + eps_b||^2 + lambda_z R(z)
R is L1 (1/B sum |z|, on the mean for a variational encoder) or KL (1/B sum 1/2 (mu^2 + var -
log var - 1)), with z = mu + exp(logvar / 2) eps_z for the variational encoder.
"""
import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


# ----------------------------------------------------------------------------- config

def default_config():
    """The same keys and defaults as drl_config_defaults() / drl_config_to_json()."""
    return {
        "C": 1, "H": 28, "W": 28, "latent_dim": 128, "time_cond": False, "variational": False,
        "reg": "none", "lambda_z": 0.0, "mode": "drl", "enc_ch": [32, 64, 128],
        "unet_ch": [32, 64, 128], "groups": 8, "fourier_dim": 64, "fourier_scale": 16.0,
        "temb_dim": 128, "dropout": 0.0, "sde": "ve", "sigma_min": 0.01, "sigma_max": 50.0,
        "beta_min": 0.1, "beta_max": 20.0, "t_eps": 1e-5, "t_min": 1e-5, "t_max": 1.0,
        "tdist": "uniform", "code_t_min": 0.0, "code_t_max": 1.0,
        "weighting": "sigma2", "snr_gamma": 5.0,
    }


def make_config(**kw):
    c = default_config()
    for k, v in kw.items():
        if k not in c:
            raise KeyError("unknown config key %s" % k)
        c[k] = v
    return c


def f32(x):
    """The value the C side sees after parsing the JSON into a float field."""
    return float(np.float32(x))


# ----------------------------------------------------------------------------- SDE

def sde_alpha(c, t):
    if c["sde"] == "ve":
        return torch.ones_like(t)
    db = f32(c["beta_max"]) - f32(c["beta_min"])
    return torch.exp(-0.25 * t * t * db - 0.5 * t * f32(c["beta_min"]))


def sde_std(c, t):
    if c["sde"] == "ve":
        smin, smax = f32(c["sigma_min"]), f32(c["sigma_max"])
        return smin * (smax / smin) ** t
    return torch.sqrt(1.0 - sde_alpha(c, t) ** 2)


def sde_noise_input(c, t):
    """log sigma(t) for VE, t for VP: the scalar fed to the Fourier features."""
    return torch.log(sde_std(c, t)) if c["sde"] == "ve" else t


# ----------------------------------------------------------------------------- networks

class Fourier(nn.Module):
    def __init__(self, n, scale):
        super().__init__()
        self.register_buffer("W", torch.randn(n) * scale)  # fixed, not trained

    def forward(self, x):
        p = 2.0 * math.pi * x[:, None] * self.W[None, :]
        return torch.cat([torch.sin(p), torch.cos(p)], dim=1)


class TimeEmbed(nn.Module):
    def __init__(self, n_fourier, scale, dim):
        super().__init__()
        self.fourier = Fourier(n_fourier, scale)
        self.dense1 = nn.Linear(2 * n_fourier, dim)
        self.dense2 = nn.Linear(dim, dim)

    def forward(self, s):
        return self.dense2(F.silu(self.dense1(self.fourier(s))))


class ResBlock(nn.Module):
    def __init__(self, cin, cout, groups, cond_dim):
        super().__init__()
        self.gn1 = nn.GroupNorm(groups, cin, eps=1e-5)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.dense = nn.Linear(cond_dim, cout) if cond_dim > 0 else None
        self.gn2 = nn.GroupNorm(groups, cout, eps=1e-5)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, scond):
        h = self.conv1(F.silu(self.gn1(x)))
        if self.dense is not None:
            h = h + self.dense(scond)[:, :, None, None]
        h = self.conv2(F.silu(self.gn2(h)))
        return (self.skip(x) if self.skip is not None else x) + h


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        c1, c2, c3 = c["enc_ch"]
        G = c["groups"]
        self.time_cond = bool(c["time_cond"])
        E = c["temb_dim"] if self.time_cond else 0
        if self.time_cond:
            self.temb = TimeEmbed(c["fourier_dim"], c["fourier_scale"], E)
        D = 2 * c["latent_dim"] if c["variational"] else c["latent_dim"]
        self.conv_in = nn.Conv2d(c["C"], c1, 3, padding=1)
        self.block0 = ResBlock(c1, c1, G, E)
        self.down0 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.block1 = ResBlock(c2, c2, G, E)
        self.down1 = nn.Conv2d(c2, c3, 3, stride=2, padding=1)
        self.block2 = ResBlock(c3, c3, G, E)
        self.norm_out = nn.GroupNorm(G, c3, eps=1e-5)
        self.fc = nn.Linear(c3, D)

    def forward(self, x, tin):
        sc = F.silu(self.temb(tin)) if self.time_cond else None
        h = self.block0(self.conv_in(x), sc)
        h = self.block1(self.down0(h), sc)
        h = self.block2(self.down1(h), sc)
        h = F.silu(self.norm_out(h)).mean(dim=(2, 3))
        return self.fc(h)


def up2(x):
    return F.interpolate(x, scale_factor=2, mode="nearest")


class ScoreNet(nn.Module):
    def __init__(self, c):
        super().__init__()
        c1, c2, c3 = c["unet_ch"]
        G, E = c["groups"], c["temb_dim"]
        CD = 2 * E
        self.temb = TimeEmbed(c["fourier_dim"], c["fourier_scale"], E)
        self.latent_proj = nn.Linear(c["latent_dim"], E)
        self.conv_in = nn.Conv2d(c["C"], c1, 3, padding=1)
        self.down_block0 = ResBlock(c1, c1, G, CD)
        self.down0 = nn.Conv2d(c1, c2, 3, stride=2, padding=1)
        self.down_block1 = ResBlock(c2, c2, G, CD)
        self.down1 = nn.Conv2d(c2, c3, 3, stride=2, padding=1)
        self.down_block2 = ResBlock(c3, c3, G, CD)
        self.mid_block = ResBlock(c3, c3, G, CD)
        self.up_block2 = ResBlock(2 * c3, c3, G, CD)
        self.up1 = nn.Conv2d(c3, c2, 3, padding=1)
        self.up_block1 = ResBlock(2 * c2, c2, G, CD)
        self.up0 = nn.Conv2d(c2, c1, 3, padding=1)
        self.up_block0 = ResBlock(2 * c1, c1, G, CD)
        self.norm_out = nn.GroupNorm(G, c1, eps=1e-5)
        self.conv_out = nn.Conv2d(c1, c["C"], 3, padding=1)

    def forward(self, x, tin, z):
        sc = F.silu(torch.cat([self.temb(tin), self.latent_proj(z)], dim=1))
        r1 = self.down_block0(self.conv_in(x), sc)
        r2 = self.down_block1(self.down0(r1), sc)
        r3 = self.down_block2(self.down1(r2), sc)
        m = self.mid_block(r3, sc)
        u3 = self.up_block2(torch.cat([m, r3], dim=1), sc)
        u2 = self.up_block1(torch.cat([self.up1(up2(u3)), r2], dim=1), sc)
        u1 = self.up_block0(torch.cat([self.up0(up2(u2)), r1], dim=1), sc)
        return self.conv_out(F.silu(self.norm_out(u1)))


class DRLModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.cfg = c
        self.encoder = Encoder(c)
        self.score = ScoreNet(c)

    def loss(self, x0, t, eps, eps_z=None):
        """Returns (enc_out, h, dsm, reg, total) for one batch."""
        c = self.cfg
        B = x0.shape[0]
        d = c["latent_dim"]
        al = sde_alpha(c, t)[:, None, None, None]
        sd = sde_std(c, t)[:, None, None, None]
        xt = al * x0 + sd * eps
        tin = sde_noise_input(c, t)
        enc = self.encoder(x0, tin)
        R = torch.zeros((), dtype=x0.dtype)
        if c["variational"]:
            mu, lv = enc[:, :d], enc[:, d:]
            z = mu + torch.exp(0.5 * lv) * eps_z if eps_z is not None else mu
            if c["reg"] == "kl":
                R = 0.5 * (mu * mu + torch.exp(lv) - lv - 1.0).sum() / B
            elif c["reg"] == "l1":
                R = mu.abs().sum() / B
        else:
            z = enc
            if c["reg"] == "l1":
                R = z.abs().sum() / B
        seen = (t >= f32(c["code_t_min"])) & (t <= f32(c["code_t_max"]))
        z = z * seen[:, None].to(z.dtype)  # zero code outside the code window
        h = self.score(xt, tin, z)
        w = torch.ones_like(t)  # lambda(t) = sigma(t)^2: unit weight on the noise error
        if c["weighting"] == "min_snr":  # min(1, gamma / SNR), SNR = alpha^2 / sigma^2
            w = torch.clamp(f32(c["snr_gamma"]) * (sde_std(c, t) / sde_alpha(c, t)) ** 2, max=1.0)
        elif c["weighting"] == "truncated_snr":  # max(1, 1 / SNR)
            w = torch.clamp((sde_std(c, t) / sde_alpha(c, t)) ** 2, min=1.0)
        dsm = (w[:, None, None, None] * (h + eps) ** 2).sum() / B
        reg = f32(c["lambda_z"]) * R
        return enc, h, dsm, reg, dsm + reg


def randomize(model, gen, scale=0.2):
    """Moves GroupNorm affine parameters away from (1, 0) and jitters every bias, so that
    gradients of all of them are exercised."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".bias"):
                p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))
        for mod in model.modules():
            if isinstance(mod, nn.GroupNorm):
                mod.weight.copy_(1.0 + scale * torch.randn(mod.weight.shape, generator=gen))


def parameter_names(model):
    """state_dict order: every tensor the C model declares (trainable or fixed)."""
    return list(model.state_dict().keys())


# ----------------------------------------------------------------------------- safetensors

def safetensors_write(path, tensors, metadata=None):
    """tensors: list of (name, array) written as F32 in the order given."""
    header = {}
    blobs = []
    off = 0
    for name, arr in tensors:
        a = np.ascontiguousarray(np.asarray(arr, dtype="<f4"))
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


_DTYPES = {"F32": "<f4", "F64": "<f8", "F16": "<f2"}


def safetensors_read(path):
    """Returns (dict name -> float32 array, metadata dict). Checks the layout strictly."""
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise ValueError("%s: too short" % path)
    (n,) = struct.unpack("<Q", buf[:8])
    if 8 + n > len(buf):
        raise ValueError("%s: header length %d beyond file" % (path, n))
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    data = buf[8 + n:]
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    spans = []
    for name, info in header.items():
        b0, b1 = info["data_offsets"]
        shape = tuple(info["shape"])
        dt = np.dtype(_DTYPES[info["dtype"]])
        if not (0 <= b0 <= b1 <= len(data)) or (b1 - b0) != dt.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise ValueError("%s: bad data_offsets for %s" % (path, name))
        spans.append((b0, b1))
        out[name] = np.frombuffer(data[b0:b1], dtype=dt).reshape(shape).astype(np.float32)
    spans.sort()
    for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
        if b0 < a1:
            raise ValueError("%s: overlapping tensors" % path)
    return out, meta


def save_model(path, model, extra_meta=None):
    """Writes the model as a drl checkpoint (weights + config in the metadata)."""
    meta = {"drl.config": json.dumps(model.cfg), "format": "drl"}
    if extra_meta:
        meta.update(extra_meta)
    sd = model.state_dict()
    safetensors_write(path, [(k, v.detach().cpu().float().numpy()) for k, v in sd.items()], meta)
