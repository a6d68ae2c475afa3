#!/usr/bin/env python3
"""PyTorch twin of dream's world model: the training step and the
imagination step of whatever config dream resolved, in float32 on the CPU.

The twin reads its inputs from a fixture directory that dream writes
(`dream bench`, or the agreement test twin_test.go):

  fixture.json   what to run: the batch, the models, the draws (below)
  *.dwm          dream model files: the resolved model config (JSON), the
                 input spec, the weights with their Adam moments and step
                 count, and the input statistics of the mean image. The
                 twin builds its networks from them, so a config it was not
                 taught refuses to run instead of timing other work.
  *.npy          the batch (obs, actions, rewards, terminated), the
                 imagination rows, SIGReg's directions.

  torch_twin.py time FIXTURE [--style plain|tuned] [--threads 1,2] [knobs]
      Times every training row and the imagination row of fixture.json:
      two warm-up steps, then `rounds` rounds of `ops` steps each (the
      round length dream's own row used), and prints, as JSON on stdout,
      the best and the median time per step of each row for each thread
      count.
  torch_twin.py check FIXTURE... [--styles plain,tuned,...]
      Runs one training step of each fixture's `check` model on its batch
      with dream's SIGReg directions and prints every loss term, the
      gradient norms, the value targets and the largest difference of each
      weight after the step (Adam, clipping, EMA and Polyak average) from
      dream's, and one sampled imagination step with dream's draws, for
      each style, as JSON on stdout.

Styles (the twin's version string is "2-<style>", with any knob that
differs from the style's defaults appended):

  plain  as a PyTorch user writes it, and as the first twin was measured:
         a patchify Conv2d, standardisation with temporaries, LeJEPA's
         reference SIGReg (the N x M x K tensor, autograd recomputing sin
         and cos in its backward pass), torch.optim.Adam with its default
         per-parameter loop, clip_grad_norm_ and EMA over the parameters in
         Python, the thread counts set in one process (OpenBLAS keeps its
         own count).
  tuned  as a PyTorch engineer tunes it: the patchify a view and a Linear,
         the standardisation in place on the patchified copy, SIGReg a
         custom autograd Function that keeps its cosines, sines and
         moments for the backward pass, Adam, clipping and the EMA on
         torch._foreach_* lists (or one flat buffer, --optim flat), and one
         process per thread count with OPENBLAS_NUM_THREADS and
         OMP_NUM_THREADS equal to torch's.

Knobs of the tuned style (their speed is for a quiet machine to decide):
  --sigreg direct|rotation   cos and sin of every knot (direct), or of the
                             first knot and the others by rotation (a
                             complex cumulative product), as dream does
  --optim foreach|flat       torch._foreach_* lists, or every parameter a
                             view of one flat buffer (one op per update)
  --patchify linear|conv|conv-cl   view + Linear, Conv2d, or Conv2d on
                             channels-last tensors
  --jit                      torch.jit.script the elementwise helpers, with
                             the CPU fuser on
"""

import argparse
import json
import math
import os
import statistics
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

TWIN_VERSION = 2
STYLES = ("plain", "tuned")
TUNED_DEFAULTS = {"sigreg": "direct", "optim": "foreach", "patchify": "linear", "jit": False}
KNOB_CHOICES = {"sigreg": ("direct", "rotation"), "optim": ("foreach", "flat"), "patchify": ("linear", "conv", "conv-cl")}
PLAIN_SETTINGS = {"sigreg": "reference", "optim": "loop", "patchify": "conv", "jit": False}


class TwinError(Exception):
    """An input the twin cannot run: a config it was not taught, a bad file."""


def twin_name(style, settings):
    """The version string: "2-plain", "2-tuned", "2-tuned+sigreg=rotation"."""
    name = f"{TWIN_VERSION}-{style}"
    if style == "tuned":
        extra = [f"{k}={v}" if not isinstance(v, bool) else k
                 for k, v in settings.items() if v != TUNED_DEFAULTS[k] and v is not False]
        if extra:
            name += "+" + ",".join(extra)
    return name


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("time", help="time the rows of a fixture")
    t.add_argument("fixture")
    t.add_argument("--style", choices=STYLES, default="tuned")
    t.add_argument("--threads", default="1,2")
    add_knobs(t)
    c = sub.add_parser("check", help="one step of each fixture's check model, term by term")
    c.add_argument("fixtures", nargs="+")
    c.add_argument("--styles", default="plain,tuned",
                   help="comma-separated styles; a tuned style may carry knobs: tuned:sigreg=rotation:jit")
    a = p.parse_args()
    try:
        if a.cmd == "time":
            out = run_time(a)
        else:
            out = run_check(a)
    except TwinError as e:
        print(f"torch twin: {e}", file=sys.stderr)
        sys.exit(2)
    print(json.dumps(out))


def add_knobs(p):
    for k, choices in KNOB_CHOICES.items():
        p.add_argument("--" + k, choices=choices, default=TUNED_DEFAULTS[k])
    p.add_argument("--jit", action="store_true")


def settings_of(style, a):
    if style == "plain":
        return dict(PLAIN_SETTINGS)
    return {"sigreg": a.sigreg, "optim": a.optim, "patchify": a.patchify, "jit": bool(a.jit)}


def parse_style(spec):
    """"tuned:sigreg=rotation:jit" -> ("tuned", settings)."""
    parts = spec.split(":")
    style = parts[0]
    if style not in STYLES:
        raise TwinError(f"style {style!r} (allowed: {', '.join(STYLES)})")
    if style == "plain":
        if len(parts) > 1:
            raise TwinError("the plain style has no knobs")
        return style, dict(PLAIN_SETTINGS)
    s = dict(TUNED_DEFAULTS)
    for kv in parts[1:]:
        k, _, v = kv.partition("=")
        if k == "jit" and v in ("", "true", "false"):
            s[k] = v != "false"
        elif v in KNOB_CHOICES.get(k, ()):
            s[k] = v
        else:
            raise TwinError(f"knob {kv!r} (allowed: jit, " + ", ".join(f"{k}={'|'.join(c)}" for k, c in KNOB_CHOICES.items()) + ")")
    return style, s


# ---------------------------------------------------------------------------
# Timing: one process per thread count for the tuned style, so that OpenBLAS
# (torch's BLAS on Debian) runs as many threads as torch.


def run_time(a):
    threads = [int(s) for s in a.threads.split(",") if s]
    settings = settings_of(a.style, a)
    out = {"twin": twin_name(a.style, settings), "version": TWIN_VERSION, "style": a.style,
           "settings": settings, "threads": {}}
    if a.style == "tuned" and not (len(threads) == 1 and os.environ.get("OPENBLAS_NUM_THREADS") == str(threads[0])):
        for n in threads:
            env = dict(os.environ, OPENBLAS_NUM_THREADS=str(n), OMP_NUM_THREADS=str(n))
            args = [sys.executable, os.path.abspath(__file__), "time", a.fixture, "--style", a.style,
                    "--threads", str(n), "--sigreg", a.sigreg, "--optim", a.optim, "--patchify", a.patchify]
            if a.jit:
                args.append("--jit")
            r = subprocess.run(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                raise TwinError(f"{n} thread(s): " + (r.stderr.strip().splitlines() or ["failed"])[-1])
            res = json.loads(r.stdout.strip().splitlines()[-1])
            out["torch"] = res["torch"]
            out["threads"].update(res["threads"])
            out.setdefault("openblas_threads", {}).update(res.get("openblas_threads", {}))
        return out
    out["torch"] = torch.__version__
    fx = Fixture(a.fixture)
    batch = fx.batch()
    for n in threads:
        torch.set_num_threads(n)
        rows = {}
        for tr in fx.meta.get("train", []):
            model = Twin(fx.path(tr["model"]), a.style, settings)
            rows[tr["row"]] = time_rows(lambda: model.train_step(batch), fx.meta.get("rounds", 3), tr["ops"])
        im = fx.meta.get("imagine")
        if im:
            model = Twin(fx.path(im["model"]), a.style, settings, train=False)
            z, act = fx.tensor(im["z"]), fx.tensor(im["actions"])
            with torch.no_grad():
                rows[im["row"]] = time_rows(lambda: model.imagine(z, act), fx.meta.get("rounds", 3), im["ops"])
        out["threads"][str(n)] = rows
        out.setdefault("openblas_threads", {})[str(n)] = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    return out


def time_rows(fn, rounds, ops):
    """dream's protocol (cmd/dream/bench.go, measure): warm-up calls, then
    rounds of the same length; the best and the median round per call."""
    fn()
    fn()
    per = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(ops):
            fn()
        per.append((time.perf_counter() - start) / ops * 1e3)
    return {"best_ms": min(per), "median_ms": statistics.median(per), "rounds": rounds, "ops": ops}


# ---------------------------------------------------------------------------
# Checking: one step term by term against dream's trace.


def run_check(a):
    torch.set_num_threads(1)
    styles = [parse_style(s) for s in a.styles.split(",") if s]
    cases = []
    for path in a.fixtures:
        fx = Fixture(path)
        ck = fx.meta["check"]
        batch = fx.batch()
        dirs = fx.tensor(ck["directions"]) if ck.get("directions") else None
        before, after = read_model(fx.path(ck["model"])), read_model(fx.path(ck["after"]))
        res = {}
        for style, settings in styles:
            model = Twin(fx.path(ck["model"]), style, settings)
            terms = model.train_step(batch, dirs=dirs, trace=True)
            terms["after"] = model.compare(before, after)
            im = ck.get("imagine")
            if im:
                model = Twin(fx.path(im["model"]), style, settings, train=False)
                with torch.no_grad():
                    nxt, r, c = model.imagine(fx.tensor(im["z"]), fx.tensor(im["actions"]),
                                              fx.tensor(im["noise"]) if im.get("noise") else None)
                terms["imagine"] = {"next": nxt.reshape(-1).tolist(), "reward": r.tolist(), "cont": c.tolist()}
            res[twin_name(style, settings)] = terms
        cases.append({"fixture": path, "styles": res})
    return {"torch": torch.__version__, "version": TWIN_VERSION, "cases": cases}


# ---------------------------------------------------------------------------
# dream's files.

MODEL_MAGIC = b"dreamwm\x00"
MODEL_FORMAT = 1


class Param:
    __slots__ = ("name", "data", "m", "v")

    def __init__(self, name, data, m, v):
        self.name, self.data, self.m, self.v = name, data, m, v


def trained_name(name):
    """dream's untrained params are its target copies and the average."""
    return not (name.startswith("target_") or name.startswith("average."))


def read_model(path):
    """A dream model file (worldmodel/persist.go): config, spec, steps,
    input statistics and params by name, as numpy arrays."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != MODEL_MAGIC:
        raise TwinError(f"{path}: not a dream model file")
    if zlib.crc32(data[:-4]) & 0xFFFFFFFF != struct.unpack_from("<I", data, len(data) - 4)[0]:
        raise TwinError(f"{path}: checksum mismatch")
    off = 8

    def take(fmt):
        nonlocal off
        v = struct.unpack_from(fmt, data, off)
        off += struct.calcsize(fmt)
        return v

    def blob():
        nonlocal off
        (n,) = take("<I")
        b = data[off:off + n]
        off += n
        return json.loads(b)

    def floats(n, dtype="<f4", size=4):
        nonlocal off
        a = np.frombuffer(data, dtype, n, off).copy()
        off += size * n
        return a

    (version,) = take("<I")
    if version != MODEL_FORMAT:
        raise TwinError(f"{path}: model file format {version}, the twin reads {MODEL_FORMAT}")
    cfg, spec = blob(), blob()
    (steps,) = take("<q")
    (count,) = take("<q")
    (sum_sq,) = take("<d")
    (n,) = take("<I")
    sums = floats(n, "<f8", 8)
    (count_params,) = take("<I")
    params = {}
    for _ in range(count_params):
        (ln,) = take("<H")
        name = data[off:off + ln].decode()
        off += ln
        rows, cols = take("<II")
        w = floats(rows * cols).reshape(rows, cols)
        m = v = None
        if trained_name(name):
            m = floats(rows * cols).reshape(rows, cols)
            v = floats(rows * cols).reshape(rows, cols)
        params[name] = Param(name, w, m, v)
    if off != len(data) - 4:
        raise TwinError(f"{path}: {len(data) - 4 - off} bytes left over")
    return {"config": cfg, "spec": spec, "steps": steps,
            "norm": {"count": count, "sum_sq": sum_sq, "sums": sums}, "params": params}


class Fixture:
    def __init__(self, path):
        self.dir = path
        with open(os.path.join(path, "fixture.json")) as f:
            self.meta = json.load(f)
        if self.meta.get("format") != 1:
            raise TwinError(f"{path}: fixture format {self.meta.get('format')}, the twin reads 1")

    def path(self, name):
        return os.path.join(self.dir, name)

    def array(self, name):
        return np.load(self.path(name))

    def tensor(self, name):
        return torch.from_numpy(self.array(name))

    def batch(self):
        b = self.meta["batch"]
        return Batch(b["B"], b["K"], self.array(b["obs"]), self.tensor(b["actions"]),
                     self.tensor(b["rewards"]).reshape(-1), self.tensor(b["terminated"]).reshape(-1))


class Batch:
    def __init__(self, B, K, obs_np, actions, rewards, terminated):
        self.B, self.K = B, K
        self.obs_np = obs_np
        self.obs = torch.from_numpy(obs_np)
        self.actions, self.rewards, self.terminated = actions, rewards, terminated


# ---------------------------------------------------------------------------
# The config: every key of dream's worldmodel.Config must be known here, and
# each value one the twin implements, so that a setting dream adds or
# changes stops the twin instead of leaving it timing other work.

ANY = None


def one_of(*vals):
    return lambda v: v in vals


CONFIG_KEYS = {
    "dynamics": one_of("gaussian", "deterministic", "mixture"),
    "latent_dim": ANY, "hidden": ANY, "patch": ANY, "channels": ANY, "encoder_hidden": ANY,
    "rank": one_of(0),
    "components": ANY, "mixture_entropy": ANY, "mixture_floor": ANY,
    "min_log_var": ANY, "max_log_var": ANY, "var_floor": ANY, "beta_nll": ANY,
    "embed_norm": one_of("none", "rms"),
    "guard": one_of("sigreg", "none"),
    "guard_weight": ANY, "sigreg_directions": ANY, "sigreg_knots": ANY,
    "horizon": ANY, "rho": ANY,
    "feed_samples": one_of(False),
    "target": one_of("ema", "stopgrad"),
    "ema_tau": ANY, "average_tau": ANY, "frame_stack": ANY, "discount": ANY,
    "value_target": one_of("q", "nstep", "lambda"),
    "value_expectile": ANY,
    "value_greedy": one_of("max", "average"),
    "q_head": one_of("direct", "advantage"),
    "q_net": one_of("trunk", "own"),
    "q_quantiles": one_of(0),
    "q_quantile_kappa": ANY,  # read by q_quantiles only
    "value_latents": one_of("imagined", "real"),
    "value_transform": one_of("none", "symlog"),
    "n_step": ANY, "lambda": ANY, "value_horizon": ANY,
    "value_candidates": ANY,  # continuous candidates: refused below
    "reward_weight": ANY, "cont_weight": ANY, "value_weight": ANY,
    "lr": ANY, "beta1": ANY, "beta2": ANY, "adam_eps": ANY, "grad_clip": ANY,
    "mean_image_frames": ANY, "decoder_hidden": ANY, "decoder_batch": ANY,
}
SPEC_KEYS = {"obs_dim", "frame", "stack", "action_dim", "discrete"}


def check_config(cfg, spec):
    for k in cfg:
        if k not in CONFIG_KEYS:
            raise TwinError(f"model config key {k!r} is new to twin {TWIN_VERSION}: teach torch_twin.py what it does")
    for k, ok in CONFIG_KEYS.items():
        if k not in cfg:
            raise TwinError(f"model config has no key {k!r}: the twin reads dream's config of another version")
        if ok is not None and not ok(cfg[k]):
            raise TwinError(f"model config {k} = {cfg[k]!r} is not implemented by twin {TWIN_VERSION}")
    if set(spec) != SPEC_KEYS:
        raise TwinError(f"spec keys {sorted(spec)}, the twin knows {sorted(SPEC_KEYS)}")
    expectile = cfg["value_expectile"] > 0
    if not spec["discrete"] and (cfg["value_target"] == "lambda" or (cfg["value_target"] == "q" and not expectile)):
        raise TwinError("continuous actions with a value target over random candidate actions are not implemented")


# ---------------------------------------------------------------------------
# The model.

LOG_2PI = math.log(2 * math.pi)
MIN_INPUT_SCALE = 0.02  # worldmodel.minInputScale
SIGREG_TMAX = 3.0


def rms_norm(z):
    # 1e-6 is worldmodel.rmsEps (a literal: torch.jit.script reads no
    # Python globals).
    return z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-6)


def log_var_plain(raw, lo: float, hi: float, floor: float):
    """mbrl-lib's soft bounds, then the floor: log(exp(softBound(raw)) + floor)."""
    x = hi - F.softplus(hi - raw)
    x = lo + F.softplus(x - lo)
    return torch.log(torch.exp(x) + floor)


def log_var_fused(raw, lo: float, hi: float, floor: float):
    """The same in one exponential: log(e^lo + e^hi·sigmoid(raw − hi) + floor)."""
    return torch.log(torch.sigmoid(raw - hi) * math.exp(hi) + (math.exp(lo) + floor))


def gaussian_nll(target, mu, lv, beta: float):
    """Mean over rows of ½ Σ_i w_i [(z̄−μ)² e^{−s} + s + log 2π], w = sg(e^s)^β."""
    term = (target - mu).pow(2) * torch.exp(-lv) + lv + 1.8378770664093453  # log 2π
    if beta != 0.0:
        term = term * torch.exp(beta * lv).detach()
    return 0.5 * term.sum(1).mean()


def symlog(x):
    return torch.sign(x) * torch.log1p(x.abs())


def symexp(y):
    return torch.sign(y) * torch.expm1(y.abs())


class Layers:
    """Builds torch layers from dream's params (W in×out, b 1×out) and
    remembers how to map each torch tensor back to dream's layout."""

    def __init__(self, params):
        self.params = params
        self.links = []  # (dream name, torch tensor, to dream layout)

    def linear(self, name, bias=True, rows_perm=None):
        w = self.params[name + ".w"].data
        if rows_perm is not None:
            w = w[rows_perm]
        lin = nn.Linear(w.shape[0], w.shape[1], bias=bias)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.T.copy()))
            if bias:
                lin.bias.copy_(torch.from_numpy(self.params[name + ".b"].data.reshape(-1)))
        if rows_perm is None:
            self.links.append((name + ".w", lin.weight, lambda t: t.t()))
        else:
            inv = np.argsort(rows_perm)
            self.links.append((name + ".w", lin.weight, lambda t, inv=inv: t.t()[torch.from_numpy(inv)]))
        if bias:
            self.links.append((name + ".b", lin.bias, lambda t: t.reshape(1, -1)))
        return lin

    def conv(self, name, channels_in, patch):
        w = self.params[name + ".w"].data  # (ch·P·P) × C, rows ordered (ch, ky, kx)
        out = w.shape[1]
        conv = nn.Conv2d(channels_in, out, patch, stride=patch)
        with torch.no_grad():
            conv.weight.copy_(torch.from_numpy(w.T.reshape(out, channels_in, patch, patch).copy()))
            conv.bias.copy_(torch.from_numpy(self.params[name + ".b"].data.reshape(-1)))
        self.links.append((name + ".w", conv.weight, lambda t: t.reshape(t.shape[0], -1).t()))
        self.links.append((name + ".b", conv.bias, lambda t: t.reshape(1, -1)))
        return conv


class Encoder(nn.Module):
    """relu(patchify(x)·W₁ + b₁) [→ relu(·W_h + b_h)] → ·W₂ + b₂, RMS-normalised."""

    def __init__(self, tw, L, prefix):
        super().__init__()
        self.tw = tw
        if tw.pixels:
            if tw.patchify == "linear":
                self.patch = L.linear(prefix + ".patch")
                perm = None
            else:
                self.patch = L.conv(prefix + ".patch", 3 * tw.stack, tw.P)
                # Conv2d's flatten is channel-major (c·nPatch + p); dream's
                # features are patch-major (p·C + c).
                n, c = tw.n_patch, tw.channels
                perm = np.arange(n * c).reshape(n, c).T.reshape(-1)
            self.hidden = None
            if tw.encoder_hidden:
                self.hidden = L.linear(prefix + ".hidden", rows_perm=perm)
                perm = None
            self.out = L.linear(prefix + ".out", rows_perm=perm)
        else:
            self.l1 = L.linear(prefix + ".l1")
            self.l2 = L.linear(prefix + ".l2")

    def forward(self, x, frames: int):
        tw = self.tw
        if tw.pixels:
            h = F.relu(self.patch(x))
            h = h.reshape(frames, -1) if tw.patchify == "linear" else h.flatten(1)
            if self.hidden is not None:
                h = F.relu(self.hidden(h))
            z = self.out(h)
        else:
            z = self.l2(F.relu(self.l1(x)))
        if tw.rms:
            z = tw.rms_norm(z)
        return z


class Predictor(nn.Module):
    """Trunk t = relu(relu(z W_z + a W_a + b₁) W₂ + b₂) and its heads."""

    def __init__(self, tw, L, prefix):
        super().__init__()
        c = tw.cfg
        self.in_z = L.linear(prefix + ".in_z")
        self.in_a = L.linear(prefix + ".in_a", bias=False)
        self.hidden = L.linear(prefix + ".hidden")
        self.mu = L.linear(prefix + ".mu")
        self.log_var = L.linear(prefix + ".log_var") if c["dynamics"] != "deterministic" else None
        self.logits = L.linear(prefix + ".logits") if c["dynamics"] == "mixture" else None
        self.reward = L.linear(prefix + ".reward")
        self.cont = L.linear(prefix + ".cont")
        self.q = self.q_in_z = None
        if c["value_target"] == "q":
            self.q = L.linear(prefix + ".q")
            if c["q_net"] == "own":
                self.q_in_z = L.linear(prefix + ".q_in_z")
                self.q_in_a = L.linear(prefix + ".q_in_a", bias=False)
                self.q_hidden = L.linear(prefix + ".q_hidden")

    def trunk(self, z, a):
        return F.relu(self.hidden(F.relu(self.in_z(z) + self.in_a(a))))

    def q_trunk(self, z, a):
        """The hidden layers q's head reads: its own network's, or the trunk's."""
        if self.q_in_z is None:
            return self.trunk(z, a)
        return F.relu(self.q_hidden(F.relu(self.q_in_z(z) + self.q_in_a(a))))


class Value(nn.Module):
    def __init__(self, L, prefix):
        super().__init__()
        self.l1 = L.linear(prefix + ".l1")
        self.l2 = L.linear(prefix + ".l2")
        self.out = L.linear(prefix + ".out")

    def forward(self, z):
        return self.out(F.relu(self.l2(F.relu(self.l1(z)))))


class Decoder(nn.Module):
    def __init__(self, L):
        super().__init__()
        self.l1 = L.linear("decoder.l1")
        self.out = L.linear("decoder.out")

    def forward(self, z):
        return self.out(F.relu(self.l1(z)))


def sigreg_knots(k):
    """Knots t_k on [0, 3], φ(t_k) and the weights w_k = 2·trapezoid·φ
    (loss.eppsPulleyKnots), computed in float64 as dream does."""
    dt = SIGREG_TMAX / (k - 1)
    t = [i * dt for i in range(k)]
    phi = [math.exp(-0.5 * x * x) for x in t]
    w = [2 * (dt / 2 if i in (0, k - 1) else dt) * phi[i] for i in range(k)]
    f = lambda v: torch.tensor(v, dtype=torch.float32)
    return f(t), f(phi), f(w), dt


def sigreg_reference(z, dirs, t, phi, w):
    """LeJEPA's reference: the N x M x K tensor of t_k·x, cos and sin, means."""
    x = z @ dirs
    tx = x.unsqueeze(-1) * t
    c = torch.cos(tx).mean(0) - phi
    s = torch.sin(tx).mean(0)
    return z.shape[0] * ((c * c + s * s) * w).sum(-1).mean()


class SIGRegKept(torch.autograd.Function):
    """SIGReg whose backward pass reads the cosines, sines and moments its
    forward pass kept (knot-major, K×N×M and K×M) instead of recomputing
    them:

        ∂L/∂x_nm = (2/M) Σ_k w_k t_k [ s̄_km cos(t_k x_nm) − (c̄_km − φ_k) sin(t_k x_nm) ]

    then ∂L/∂z = (∂L/∂x) Aᵀ. With rotation, cos and sin of t_k x = k·dt·x
    come from e^{i·dt·x} by a cumulative complex product: one sincos per
    projection, as dream computes them."""

    @staticmethod
    def forward(ctx, z, dirs, t, phi, w, dt, rotation):
        x = z @ dirs  # N×M
        k = t.shape[0]
        n, m = x.shape
        if rotation:
            e = torch.empty(k, n, m, dtype=torch.complex64)
            e[0] = 1
            torch.cumprod(torch.polar(torch.ones_like(x), x * dt).expand(k - 1, n, m), 0, out=e[1:])
            cos, sin = e.real, e.imag
        else:
            tx = t.view(-1, 1, 1) * x
            cos, sin = torch.cos(tx), torch.sin(tx)
        c = cos.mean(1) - phi.view(-1, 1)  # K×M
        s = sin.mean(1)
        ctx.save_for_backward(dirs, cos, sin, c, s, t, w)
        return (n / m) * ((c * c + s * s) * w.view(-1, 1)).sum()

    @staticmethod
    def backward(ctx, g):
        dirs, cos, sin, c, s, t, w = ctx.saved_tensors
        f = (2 / dirs.shape[1]) * g * (w * t).view(-1, 1)
        gx = (cos * (f * s).unsqueeze(1)).sum(0) - (sin * (f * c).unsqueeze(1)).sum(0)
        return gx @ dirs.t(), None, None, None, None, None, None


class Twin:
    """dream's world model of one model file, in one style."""

    def __init__(self, model_file, style, settings, train=True):
        f = read_model(model_file)
        cfg, spec = f["config"], f["spec"]
        check_config(cfg, spec)
        self.cfg, self.spec, self.style, self.settings = cfg, spec, style, settings
        self.patchify = settings["patchify"]
        self.steps = f["steps"]
        c = cfg
        self.d, self.A = c["latent_dim"], spec["action_dim"]
        self.pixels = spec["frame"] != [0, 0, 0]
        self.stack = spec["stack"]
        self.P, self.channels = c["patch"], c["channels"]
        self.encoder_hidden = max(c["encoder_hidden"], 0)
        if self.pixels:
            self.H, self.W = spec["frame"][0], spec["frame"][1]
            self.pr, self.pc = self.H // self.P, self.W // self.P
            self.n_patch = self.pr * self.pc
            self.unit = 3 * self.H * self.W
        else:
            self.unit = spec["obs_dim"]
        self.rms = c["embed_norm"] == "rms"
        self.gaussian, self.mixture = c["dynamics"] == "gaussian", c["dynamics"] == "mixture"
        self.M = c["components"] if self.mixture else 1
        self.floor, self.bonus = max(c["mixture_floor"], 0.0), max(c["mixture_entropy"], 0.0)
        self.expectile = c["value_expectile"] if c["value_expectile"] > 0 else 0.0
        self.q_on = c["value_target"] == "q"
        self.advantage = self.q_on and c["q_head"] == "advantage"
        self.symlog = c["value_transform"] == "symlog"
        self.averaged = c["average_tau"] > 0
        self.norm = f["norm"]

        jit = settings["jit"]
        if jit and torch._C._llvm_enabled():
            # NNC fuses the scripted elementwise chains on the CPU only
            # where torch was built with LLVM (Debian's 1.13 is not).
            torch._C._jit_override_can_fuse_on_cpu(True)
            torch._C._jit_set_texpr_fuser_enabled(True)
        script = torch.jit.script if jit else (lambda fn: fn)
        self.rms_norm = script(rms_norm)
        self.log_var = script(log_var_plain if style == "plain" else log_var_fused)
        self.nll = script(gaussian_nll)

        L = Layers(f["params"])
        self.enc = Encoder(self, L, "enc")
        self.pred = Predictor(self, L, "pred")
        self.val = Value(L, "value")
        n_model = len(L.links)
        self.dec = Decoder(L)
        n_online = len(L.links)
        self.tenc = Encoder(self, L, "target_enc")
        self.tval = Value(L, "target_value")
        n_target = len(L.links)
        if self.averaged:
            self.aenc = Encoder(self, L, "average.enc")
            self.apred = Predictor(self, L, "average.pred")
            self.aval = Value(L, "average.value")
        self.links = L.links
        for _, p, _ in L.links[n_online:]:
            p.requires_grad_(False)
        self.model_params = [p for _, p, _ in L.links[:n_model]]
        self.dec_params = [p for _, p, _ in L.links[n_model:n_online]]
        # EMA and Polyak pairs, (target, online), by dream's names.
        by_name = {n: p for n, p, _ in L.links}
        self.ema_pairs = [(p, by_name[n.replace("target_enc.", "enc.", 1).replace("target_value.", "value.", 1)])
                          for n, p, _ in L.links[n_online:n_target]]
        # With target stopgrad the target encoder is a copy, not an average.
        self.copied = {id(p) for n, p, _ in L.links[n_online:n_target]
                       if c["target"] == "stopgrad" and n.startswith("target_enc.")}
        self.conversions = {id(p): conv for _, p, conv in L.links}
        self.avg_pairs = [(p, by_name[n[len("average."):]]) for n, p, _ in L.links[n_target:]]
        # The same as lists for torch._foreach_*, made once.
        averaged = [(t_, s_) for t_, s_ in self.ema_pairs if id(t_) not in self.copied]
        self.ema_lists = ([t_ for t_, _ in averaged], [s_ for _, s_ in averaged])
        self.copy_pairs = [(t_, s_) for t_, s_ in self.ema_pairs if id(t_) in self.copied]
        self.avg_lists = ([t_ for t_, _ in self.avg_pairs], [s_ for _, s_ in self.avg_pairs])
        self.patch_buf = None
        if self.pixels and settings["patchify"] == "conv-cl":
            for mod in (self.enc, self.tenc) + ((self.aenc,) if self.averaged else ()):
                mod.patch.to(memory_format=torch.channels_last)

        t, phi, w, dt = sigreg_knots(c["sigreg_knots"])
        self.t, self.phi, self.w, self.dt = t, phi, w, dt
        rho, k = c["rho"], c["horizon"]
        ws = [rho ** j for j in range(k)]
        self.step_w = [x / sum(ws) for x in ws]
        self.refresh_norm()
        if train:
            self.make_optimiser(f["params"])

    # -- optimiser -----------------------------------------------------

    def make_optimiser(self, params):
        c = self.cfg
        names = {id(p): n for n, p, _ in self.links}
        self.opt_kind = self.settings["optim"]

        def moment(p, which):
            """dream's Adam moment of p, in p's layout."""
            return self.from_dream(p, torch.from_numpy(getattr(params[names[id(p)]], which).copy()))

        if self.opt_kind == "flat":
            self.make_flat(moment)
            return
        all_params = self.model_params + self.dec_params
        # torch 1.13's default is the per-parameter loop (foreach=False).
        self.opt = torch.optim.Adam(all_params, lr=c["lr"], betas=(c["beta1"], c["beta2"]), eps=c["adam_eps"],
                                    foreach=self.opt_kind == "foreach")
        for p in all_params:
            self.opt.state[p] = {"step": torch.tensor(float(self.steps)),
                                 "exp_avg": moment(p, "m"), "exp_avg_sq": moment(p, "v")}

    def from_dream(self, p, src):
        """A tensor in p's torch layout from one in dream's layout, by
        inverting p's link conversion (a transposition, a reshape, or a
        row permutation and a transposition)."""
        conv = self.conversions[id(p)]
        probe = torch.arange(p.numel(), dtype=torch.float64).reshape(p.shape)
        idx = conv(probe).reshape(-1).long()  # dream position i holds torch element idx[i]
        out = torch.empty(p.numel(), dtype=src.dtype)
        out[idx] = src.reshape(-1)
        return out.reshape(p.shape)

    def make_flat(self, moment):
        """Every trained param a view of one buffer, laid out [enc, value,
        pred, decoder] so that the EMA (enc, value) and the average (enc,
        value, pred) are one slice each, and every update is one op."""
        groups = [self.enc, self.val, self.pred]
        order = [p for g in groups for p in g.parameters()]
        assert set(map(id, order)) == set(map(id, self.model_params))
        order += self.dec_params
        n = sum(p.numel() for p in order)
        self.flat = torch.empty(n)
        self.flat_grad = torch.zeros(n)
        self.flat_m, self.flat_v = torch.empty(n), torch.empty(n)
        off = 0
        for p in order:
            k = p.numel()
            self.flat_m[off:off + k] = moment(p, "m").reshape(-1)
            self.flat_v[off:off + k] = moment(p, "v").reshape(-1)
            self.flat[off:off + k] = p.detach().reshape(-1)
            p.data = self.flat[off:off + k].view_as(p)
            p.grad = self.flat_grad[off:off + k].view_as(p)
            off += k
        self.n_model = sum(p.numel() for p in self.model_params)
        n_ev = sum(p.numel() for g in groups[:2] for p in g.parameters())
        n_evp = n_ev + sum(p.numel() for p in self.pred.parameters())

        def flatten(pairs, count):
            tgt = torch.empty(count)
            off = 0
            for t_, s_ in pairs:
                k = t_.numel()
                tgt[off:off + k] = t_.reshape(-1)
                t_.data = tgt[off:off + k].view_as(t_)
                off += k
            return tgt

        # The EMA pairs in the order of the online slice [enc, value].
        pos = {id(p): i for i, p in enumerate(order)}
        ema = sorted(self.ema_pairs, key=lambda pr: pos[id(pr[1])])
        self.flat_ema = (flatten(ema, n_ev), n_ev)
        self.n_enc = sum(p.numel() for p in self.enc.parameters())
        if self.averaged:
            avg = sorted(self.avg_pairs, key=lambda pr: pos[id(pr[1])])
            self.flat_avg = (flatten(avg, n_evp), n_evp)

    def step_optimiser(self):
        """Clip each group to grad_clip by global norm, Adam, then the EMA of
        the targets and the Polyak average. Returns the two norms."""
        c = self.cfg
        clip = c["grad_clip"]
        if self.style == "plain":
            gm = nn.utils.clip_grad_norm_(self.model_params, clip)
            gd = nn.utils.clip_grad_norm_(self.dec_params, clip)
            self.opt.step()
            self.steps += 1
            with torch.no_grad():
                tau = c["ema_tau"]
                for tgt, src in self.ema_pairs:
                    if id(tgt) in self.copied:
                        tgt.copy_(src)
                    else:
                        tgt.mul_(tau).add_(src, alpha=1 - tau)
                if self.averaged:
                    a = min(c["average_tau"], (1 + self.steps) / (10 + self.steps))
                    for tgt, src in self.avg_pairs:
                        tgt.mul_(a).add_(src, alpha=1 - a)
            return float(gm), float(gd)
        if self.opt_kind == "flat":
            g = self.flat_grad
            gm, gd = g[:self.n_model].norm(), g[self.n_model:].norm()
            nm, nd = float(gm), float(gd)
            if nm > clip:
                g[:self.n_model].mul_(clip / nm)
            if nd > clip:
                g[self.n_model:].mul_(clip / nd)
            self.steps += 1
            b1, b2 = c["beta1"], c["beta2"]
            self.flat_m.mul_(b1).add_(g, alpha=1 - b1)
            self.flat_v.mul_(b2).addcmul_(g, g, value=1 - b2)
            bc1, bc2 = 1 - b1 ** self.steps, 1 - b2 ** self.steps
            denom = (self.flat_v.sqrt() / math.sqrt(bc2)).add_(c["adam_eps"])
            self.flat.addcdiv_(self.flat_m, denom, value=-c["lr"] / bc1)
            tgt, n = self.flat_ema
            if c["target"] == "stopgrad":
                k = self.n_enc
                tgt[:k].copy_(self.flat[:k])
                tgt[k:].mul_(c["ema_tau"]).add_(self.flat[k:n], alpha=1 - c["ema_tau"])
            else:
                tgt.mul_(c["ema_tau"]).add_(self.flat[:n], alpha=1 - c["ema_tau"])
            if self.averaged:
                tgt, n = self.flat_avg
                a = min(c["average_tau"], (1 + self.steps) / (10 + self.steps))
                tgt.mul_(a).add_(self.flat[:n], alpha=1 - a)
            return nm, nd
        # foreach
        norms = []
        for group in (self.model_params, self.dec_params):
            grads = [p.grad for p in group]
            n = float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))))
            if n > clip:
                torch._foreach_mul_(grads, clip / n)
            norms.append(n)
        self.opt.step()
        self.steps += 1
        with torch.no_grad():
            tau = c["ema_tau"]
            for t_, s_ in self.copy_pairs:
                t_.copy_(s_)
            tgts, srcs = self.ema_lists
            torch._foreach_mul_(tgts, tau)
            torch._foreach_add_(tgts, srcs, alpha=1 - tau)
            if self.averaged:
                a = min(c["average_tau"], (1 + self.steps) / (10 + self.steps))
                tgts, srcs = self.avg_lists
                torch._foreach_mul_(tgts, a)
                torch._foreach_add_(tgts, srcs, alpha=1 - a)
        return norms[0], norms[1]

    def zero_grad(self):
        if self.opt_kind == "flat":
            self.flat_grad.zero_()
        else:
            self.opt.zero_grad(set_to_none=True)

    # -- inputs ----------------------------------------------------------

    def update_norm(self, obs_np, B):
        """inputNorm.add on the batch's first B frames, then refresh."""
        n = self.norm
        limit = self.cfg["mean_image_frames"]
        if limit <= 0 or n["count"] >= limit:
            return
        x = obs_np[:B].astype(np.float64).reshape(-1, self.unit)
        take = min(len(x), limit - n["count"])
        x = x[:take]
        n["sums"] = n["sums"] + x.sum(0)
        n["sum_sq"] = n["sum_sq"] + float((x * x).sum())
        n["count"] += take
        self.refresh_norm()

    def refresh_norm(self):
        n = self.norm
        if n["count"] == 0:
            mean, inv = np.zeros(self.unit, np.float32), np.float32(1)
        else:
            c = float(n["count"])
            mu = n["sums"] / c
            var = n["sum_sq"] / c - float((mu * mu).sum())
            scale = math.sqrt(max(var / self.unit, 0.0))
            mean, inv = mu.astype(np.float32), np.float32(1 / max(scale, MIN_INPUT_SCALE))
        self.inv = float(inv)
        mean = torch.from_numpy(mean)
        if not self.pixels:
            self.mean = mean.repeat(self.stack)
            return
        img = mean.view(3, self.H, self.W).repeat(self.stack, 1, 1)  # channel ch reads colour ch % 3
        self.mean = img.unsqueeze(0)
        if self.patchify == "conv-cl":
            self.mean = self.mean.contiguous(memory_format=torch.channels_last)

    def patch_view(self, x):
        """(N, 3F, H, W) as (N, pr, pc, 3F, P, P), a view: patch (py, px)
        of frame n, its values ordered (ch, ky, kx) as dream's patchify."""
        n, ch, P = x.shape[0], x.shape[1], self.P
        x = x[:, :, :self.pr * P, :self.pc * P]
        return x.unflatten(3, (self.pc, P)).unflatten(2, (self.pr, P)).permute(0, 2, 4, 1, 3, 5)

    def standardise(self, obs):
        """The encoder's inputs from raw rows ((K+1)·B × InputDim)."""
        n = obs.shape[0]
        if not self.pixels:
            if self.style == "plain":
                return (obs - self.mean) * self.inv
            return obs.sub(self.mean).mul_(self.inv)
        img = obs.view(n, 3 * self.stack, self.H, self.W)
        if self.style == "plain":
            return (img - self.mean) * self.inv
        if self.patchify == "linear":
            # The patchify and the mean's subtraction in one pass into a
            # buffer kept from step to step, then the scale in place.
            if self.patch_buf is None or self.patch_buf.shape[0] != n:
                self.patch_buf = torch.empty(n, self.pr, self.pc, 3 * self.stack, self.P, self.P)
            torch.sub(self.patch_view(img), self.patch_view(self.mean), out=self.patch_buf)
            return self.patch_buf.view(n * self.n_patch, -1).mul_(self.inv)
        if self.patchify == "conv-cl":
            img = img.contiguous(memory_format=torch.channels_last)
        return img.sub(self.mean).mul_(self.inv)

    def frame_rows(self, x, lo, hi):
        """Rows of frames [lo, hi) of standardised inputs."""
        if self.pixels and self.patchify == "linear" and self.style != "plain":
            return x[lo * self.n_patch:hi * self.n_patch]
        return x[lo:hi]

    # -- values ----------------------------------------------------------

    def returns(self, v):
        """Value-head outputs as returns."""
        return symexp(v) if self.symlog else v

    def to_value_space(self, g):
        return symlog(g) if self.symlog else g

    def action_value(self, pred, val, z, a):
        """q(z, a) as a return: the head on q's hidden layers, plus V(z) in
        the advantage form (worldmodel.actionValue)."""
        q = pred.q(pred.q_trunk(z, a)).squeeze(-1)
        if self.advantage:
            q = q + val(z).squeeze(-1)
        return self.returns(q)

    def every_action(self, s):
        """Each latent repeated once per discrete action, with the actions."""
        rows, na = s.shape[0], self.A
        return s.repeat_interleave(na, 0), torch.eye(na).repeat(rows, 1)

    def n_step_returns(self, zbar, rew, term, n, B, K):
        """G_j = Σ_{i<m} γ^i r_{j+i} + γ^m V̄(z̄_{j+m}), cut at a terminal step."""
        g_ = self.cfg["discount"]
        vb = self.returns(self.tval(zbar).squeeze(-1)).view(K, B).double()
        r, t = rew.view(K, B).double(), term.view(K, B)
        zero = torch.zeros((), dtype=torch.float64)
        out = []
        for j in range(K):
            m = min(n, K - j)
            g = torch.zeros(B, dtype=torch.float64)
            disc = 1.0
            alive = torch.ones(B, dtype=torch.bool)
            for i in range(m):
                g = g + torch.where(alive, disc * r[j + i], zero)
                disc *= g_
                alive = alive & (t[j + i] == 0)
            out.append(g + torch.where(alive, disc * vb[j + m - 1], zero))
        return torch.cat(out).float()

    def mean_step(self, z, a):
        """Model.Step with sample false: the mean (the mixture's most likely
        component's mean), the reward and the continuation probability."""
        p = self.pred
        t = p.trunk(z, a)
        dm = p.mu(t)
        if self.mixture:
            c = p.logits(t).argmax(1)
            dm = dm.view(-1, self.M, self.d)[torch.arange(z.shape[0]), c]
        return z + dm, p.reward(t).squeeze(-1), torch.sigmoid(p.cont(t)).squeeze(-1)

    def lambda_targets(self, s):
        """Imagined TD(λ) returns with a greedy one-step lookahead."""
        c = self.cfg
        rows, na = s.shape[0], self.A
        gamma, lam = c["discount"], c["lambda"]
        rew, cont, boot = [], [], []
        for _ in range(c["value_horizon"]):
            cz, eye = self.every_action(s)
            nxt, cr, cc = self.mean_step(cz, eye)
            cv = self.returns(self.tval(nxt).squeeze(-1))
            q = (cr + gamma * cc * cv).view(rows, na)
            best = q.argmax(1) + torch.arange(rows) * na
            rew.append(cr[best]); cont.append(cc[best]); boot.append(cv[best])
            s = nxt[best]
        g = boot[-1]
        for h in reversed(range(c["value_horizon"])):
            g = rew[h] + gamma * cont[h] * ((1 - lam) * boot[h] + lam * g)
        return g

    def value_targets(self, s, act, zbar, rew, term, weights, B, K):
        """The value's targets (value space) and its rows' weights."""
        c = self.cfg
        if c["value_target"] == "nstep":
            return self.to_value_space(self.n_step_returns(zbar, rew, term, c["n_step"], B, K)), weights
        if c["value_target"] == "lambda":
            return self.to_value_space(self.lambda_targets(s)), weights
        if self.expectile:
            # The expectile of q at the logged actions (implicit Q-learning).
            g = self.action_value(self.pred, self.val, s, act)
            v = self.returns(self.val(s).squeeze(-1))
            tau = self.expectile
            weights = weights * torch.where(g < v, torch.tensor(1 - tau), torch.tensor(tau))
            return self.to_value_space(g), weights
        cz, eye = self.every_action(s)
        q = self.action_value(self.pred, self.val, cz, eye).view(s.shape[0], self.A)
        if c["value_greedy"] == "average":
            qa = self.action_value(self.apred, self.aval, cz, eye).view(s.shape[0], self.A)
            g = q.gather(1, qa.argmax(1, keepdim=True)).squeeze(1)
        else:
            g = q.max(1).values
        return self.to_value_space(g), weights

    # -- the training step -------------------------------------------------

    def masks(self, term, B, K):
        """alive_j = 1 where no terminal step came before step j, and the head
        rows' weights alive·w_j·K."""
        t = term.view(K, B)
        alive = torch.ones(K, B)
        if K > 1:
            alive[1:] = torch.cumprod(1 - t[:-1], 0)
        hw = alive * torch.tensor([w * K for w in self.step_w], dtype=torch.float32).unsqueeze(1)
        return alive.reshape(-1), hw.reshape(-1)

    def sigreg(self, z, dirs):
        if self.style == "plain":
            return sigreg_reference(z, dirs, self.t, self.phi, self.w)
        return SIGRegKept.apply(z, dirs, self.t, self.phi, self.w, self.dt, self.settings["sigreg"] == "rotation")

    def train_step(self, batch, dirs=None, trace=False):
        c = self.cfg
        B, K, d = batch.B, batch.K, self.d
        if K != c["horizon"]:
            raise TwinError(f"batch of K = {K} for horizon {c['horizon']}")
        self.update_norm(batch.obs_np, B)
        act, rew, term = batch.actions, batch.rewards, batch.terminated
        x = self.standardise(batch.obs)
        frames = (K + 1) * B
        z = self.enc(x, frames)
        alive, hw = self.masks(term, B, K)
        with torch.no_grad():
            zbar = self.tenc(self.frame_rows(x, B, frames), K * B)
            s = z[:K * B].detach()
            vt, vw = self.value_targets(s, act, zbar, rew, term, hw, B, K)
            qt = None
            if self.q_on:
                qt = self.to_value_space(self.n_step_returns(zbar, rew, term, 1, B, K))
        zhat = z[:B]
        pred_loss, entropy = 0.0, 0.0
        rewards, conts, values, qs = [], [], [], []
        real = c["value_latents"] == "real"
        own_q = c["q_net"] == "own"
        beta = float(c["beta_nll"])
        p = self.pred
        for j in range(K):
            aj = act[j * B:(j + 1) * B]
            t = p.trunk(zhat, aj)
            target = zbar[j * B:(j + 1) * B]
            gate = alive[j * B:(j + 1) * B].unsqueeze(1) != 0
            if self.mixture:
                mus = zhat.repeat(1, self.M) + p.mu(t)
                lvs = self.log_var(p.log_var(t), c["min_log_var"], c["max_log_var"], c["var_floor"])
                logits = p.logits(t)
                lj, hj = self.mixture_loss(target, torch.where(gate, logits, torch.zeros(())),
                                           torch.where(gate, mus, target.repeat(1, self.M)),
                                           torch.where(gate, lvs, torch.zeros(())), beta)
                if self.bonus > 0:
                    entropy = entropy + self.step_w[j] * hj
            else:
                mu = zhat + p.mu(t)
                mu_g = torch.where(gate, mu, target)
                if self.gaussian:
                    lv = self.log_var(p.log_var(t), c["min_log_var"], c["max_log_var"], c["var_floor"])
                    lj = self.nll(target, mu_g, torch.where(gate, lv, torch.zeros(())), beta)
                else:
                    lj = (target - mu_g).pow(2).sum(1).mean()
            pred_loss = pred_loss + self.step_w[j] * lj
            rewards.append(p.reward(t))
            conts.append(p.cont(t))
            vz, vt_ = zhat, t
            if j > 0 and real:
                vz = z[j * B:(j + 1) * B]
            if self.q_on and ((j > 0 and real) or own_q):
                vt_ = p.q_trunk(vz, aj)
            values.append(self.val(vz))
            if self.q_on:
                q = p.q(vt_)
                if self.advantage:
                    q = q + values[j].detach()
                qs.append(q)
            if j == K - 1:
                break
            if self.mixture:
                pick = logits.argmax(1)
                zhat = mus.view(B, self.M, d)[torch.arange(B), pick]
            else:
                zhat = mu
        n = K * B
        r_loss = (hw * (torch.cat(rewards).squeeze(-1) - rew).pow(2)).sum() / n
        c_loss = F.binary_cross_entropy_with_logits(torch.cat(conts).squeeze(-1), 1 - term, weight=hw,
                                                    reduction="sum") / n
        v_loss = (vw * (torch.cat(values).squeeze(-1) - vt).pow(2)).sum() / n
        q_loss = (hw * (torch.cat(qs).squeeze(-1) - qt).pow(2)).sum() / n if self.q_on else torch.zeros(())
        lam = c["guard_weight"] if c["guard"] == "sigreg" else 0.0
        guard = torch.zeros(())
        if c["guard"] == "sigreg":
            if dirs is None:
                dirs = torch.randn(d, c["sigreg_directions"])
                dirs = dirs / dirs.norm(dim=0, keepdim=True)
            guard = self.sigreg(z, dirs)
        total = (1 - lam) * pred_loss + lam * guard + c["reward_weight"] * r_loss + c["cont_weight"] * c_loss \
            + c["value_weight"] * (v_loss + q_loss)
        if self.mixture and self.bonus > 0:
            total = total - (1 - lam) * self.bonus * entropy
        nd = c["decoder_batch"]
        # The latents and frames of the first rows, cycled when the batch
        # has fewer.
        rows = min(nd, frames)
        dz, newest = z[:rows].detach(), batch.obs[:rows]
        if rows < nd:
            idx = torch.arange(nd) % rows
            dz, newest = dz[idx], newest[idx]
        if self.pixels:
            s3 = 3 * (self.stack - 1)
            frames_hwc = newest.view(nd, 3 * self.stack, self.H, self.W)[:, s3:s3 + 3].permute(0, 2, 3, 1)
            dec_target = frames_hwc.reshape(nd, -1)
        else:
            dec_target = newest[:, (self.stack - 1) * self.unit:self.stack * self.unit]
        dec_loss = F.mse_loss(self.dec(dz), dec_target)
        self.zero_grad()
        (total + dec_loss).backward()
        gm, gd = self.step_optimiser()
        if not trace:
            return total.item()
        item = lambda v: float(v) if not torch.is_tensor(v) else v.item()
        return {
            "prediction": item(pred_loss), "entropy": item(entropy), "guard": item(guard),
            "reward": item(r_loss), "cont": item(c_loss), "value": item(v_loss), "action_value": item(q_loss),
            "total": item(total), "decoder": item(dec_loss), "grad_norm": gm, "decoder_grad_norm": gd,
            "value_targets": vt.tolist(), "value_weights": vw.tolist(),
            "action_value_targets": qt.tolist() if qt is not None else None,
        }

    def mixture_loss(self, target, logits, mus, lvs, beta):
        """MixtureNLL (or its β form, the expected complete-data loss with sg
        responsibilities) and MixtureEntropy, means over rows."""
        B, d, M = target.shape[0], self.d, self.M
        s = torch.softmax(logits, 1)
        pi = (1 - M * self.floor) * s + self.floor
        logpi = torch.log(pi)
        mus, lvs = mus.view(B, M, d), lvs.view(B, M, d)
        per = (target.unsqueeze(1) - mus).pow(2) * torch.exp(-lvs) + lvs + LOG_2PI
        comp = 0.5 * per.sum(2)
        ell = -torch.logsumexp(logpi - comp, 1)
        if beta != 0:
            gam = torch.exp(logpi - comp + ell.unsqueeze(1)).detach()
            wb = torch.exp(beta * lvs).detach()
            row = (gam * (0.5 * (per * wb).sum(2) - logpi)).sum(1)
        else:
            row = ell
        ent = -(pi * logpi).sum(1).mean()
        return row.mean(), ent

    # -- after the step ------------------------------------------------------

    def compare(self, before, after):
        """Per param, the largest |twin − dream| after the step, and dream's
        largest change in the step, for scale."""
        diff, change = {}, {}
        for name, p, conv in self.links:
            mine = conv(p.detach()).numpy()
            theirs = after["params"][name].data
            diff[name] = float(np.abs(mine - theirs).max())
            change[name] = float(np.abs(theirs - before["params"][name].data).max())
        return {"diff": diff, "change": change}

    # -- imagination -----------------------------------------------------------

    def imagine(self, z, act, noise=None):
        """One sampled imagination step on N·K rows (Model.Step with sample
        true): trunk, heads, z' = μ + σ⊙ε (for the mixture, the mean and σ
        of a component drawn by its weight), reward and continuation
        probability. noise, when given, holds the draws Model.Step would
        take row after row: ε (d), or for the mixture u then ε (1 + d)."""
        c = self.cfg
        p = self.pred
        t = p.trunk(z, act)
        rows, d = z.shape[0], self.d
        if self.style == "plain" or self.mixture:
            reward = p.reward(t).squeeze(-1)
            cont = torch.sigmoid(p.cont(t)).squeeze(-1)
            lv = None
            if not self.mixture:
                mu = z + p.mu(t)
                if self.gaussian:
                    lv = self.log_var(p.log_var(t), c["min_log_var"], c["max_log_var"], c["var_floor"])
                    eps = torch.randn_like(mu) if noise is None else noise
                    mu = mu + torch.exp(0.5 * lv) * eps
                return mu, reward, cont
            mus = p.mu(t).view(rows, self.M, d) + z.unsqueeze(1)
            lvs = self.log_var(p.log_var(t), c["min_log_var"], c["max_log_var"], c["var_floor"]).view(rows, self.M, d)
            pi = (1 - self.M * self.floor) * torch.softmax(p.logits(t), 1) + self.floor
            if noise is None:
                pick, eps = torch.multinomial(pi, 1).squeeze(1), torch.randn(rows, d)
            else:
                # The first component whose cumulative weight exceeds u.
                u, eps = noise[:, :1], noise[:, 1:]
                pick = (pi.cumsum(1) <= u).sum(1).clamp_(max=self.M - 1)
            at = torch.arange(rows)
            return mus[at, pick] + torch.exp(0.5 * lvs[at, pick]) * eps, reward, cont
        # The heads as one product on weights packed side by side, as dream
        # packs them, and σ² in one exponential.
        heads = [p.mu] + ([p.log_var] if self.gaussian else []) + [p.reward, p.cont]
        h = F.linear(t, torch.cat([l.weight for l in heads]), torch.cat([l.bias for l in heads]))
        nxt = z + h[:, :d]
        if self.gaussian:
            var = torch.sigmoid(h[:, d:2 * d] - c["max_log_var"]) * math.exp(c["max_log_var"]) \
                + (math.exp(c["min_log_var"]) + c["var_floor"])
            nxt = nxt.addcmul_(var.sqrt_(), torch.randn_like(nxt) if noise is None else noise)
        return nxt, h[:, -2], torch.sigmoid(h[:, -1])


if __name__ == "__main__":
    main()
