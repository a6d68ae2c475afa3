#!/usr/bin/env python3
"""PyTorch twin of dream's default world model, for timing only.

It reproduces, in float32 on the CPU, the two hot paths that `dream bench`
compares with PyTorch:

  train    one training step of the default world model (worldmodel.Config
           defaults: pixel encoder with a 4x4 patchify convolution, latent d,
           hidden width h, Gaussian or deterministic predictor rolled out K
           steps on its means with weights rho^j, Gaussian NLL with the
           soft-bounded log-variance, SIGReg on every online embedding,
           reward/continuation/value heads, value targets (by default an
           action value q on the predictor's trunk regressing one-step
           returns bootstrapped by the EMA target value, and the value
           regressing max_a q at the replay latents; or n-step returns from
           replay; or imagined TD(lambda) returns with a greedy one-step
           lookahead over every action; the values on the batch's real
           latents or on the rollout), latents divided by their RMS value,
           the probe decoder on detached latents, gradient
           clipping per group, Adam, EMA of the target encoder and value)
           at batch B;
  imagine  one batched imagination step (the planner's Model.Step with
           sampling: trunk, mean, log-variance, reward and continuation
           heads, z' = mu + sigma * eps) on N*K rows.

Each is timed with 1 and 2 intra-op threads; the best (smallest) per-step
time of several rounds is reported, as JSON on stdout:

  {"torch": "1.13.1", "threads": {"1": {"train_gaussian_ms": ..,
   "train_deterministic_ms": .., "imagine_ms": ..}, "2": {...}},
   "best": {...}, "config": {...}}

Usage: python3 torch_twin.py [--batch 256] [--rows 512] [--threads 1,2]
The defaults are the model's and the planner's defaults; `dream bench`
passes its own values.
"""

import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

LOG_2PI = math.log(2 * math.pi)


def soft_bound(x, lo, hi):
    """mbrl-lib's soft bounds on a log-variance (worldmodel.softBound)."""
    x = hi - F.softplus(hi - x)
    return lo + F.softplus(x - lo)


class Encoder(nn.Module):
    """Patchify convolution (kernel = stride = P), ReLU, linear to d."""

    def __init__(self, a):
        super().__init__()
        self.conv = nn.Conv2d(3 * a.stack, a.channels, a.patch, stride=a.patch)
        n_patch = (a.size // a.patch) ** 2
        self.out = nn.Linear(n_patch * a.channels, a.latent)

        self.rms = a.embed_norm == "rms"

    def forward(self, x):
        z = self.out(F.relu(self.conv(x)).flatten(1))
        if self.rms:
            z = z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-6)
        return z


class Value(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(a.latent, a.hidden), nn.ReLU(),
                                 nn.Linear(a.hidden, a.hidden), nn.ReLU(),
                                 nn.Linear(a.hidden, 1))

    def forward(self, z):
        return self.net(z)


class Predictor(nn.Module):
    """t = relu(relu(z W_z + a W_a + b1) W_2 + b2); heads on t."""

    def __init__(self, a, gaussian):
        super().__init__()
        self.in_z = nn.Linear(a.latent, a.hidden)
        self.in_a = nn.Linear(a.actions, a.hidden, bias=False)
        self.hidden = nn.Linear(a.hidden, a.hidden)
        self.mu = nn.Linear(a.hidden, a.latent)
        self.log_var = nn.Linear(a.hidden, a.latent) if gaussian else None
        self.reward = nn.Linear(a.hidden, 1)
        self.cont = nn.Linear(a.hidden, 1)
        self.q = nn.Linear(a.hidden, 1) if a.value_target == "q" else None
        self.lo, self.hi, self.floor = a.min_log_var, a.max_log_var, a.var_floor

    def trunk(self, z, act):
        return F.relu(self.hidden(F.relu(self.in_z(z) + self.in_a(act))))

    def log_var_of(self, t):
        return torch.log(torch.exp(soft_bound(self.log_var(t), self.lo, self.hi)) + self.floor)


class WorldModel(nn.Module):
    def __init__(self, a, gaussian):
        super().__init__()
        self.a, self.gaussian = a, gaussian
        self.enc = Encoder(a)
        self.pred = Predictor(a, gaussian)
        self.val = Value(a)
        self.dec = nn.Sequential(nn.Linear(a.latent, a.decoder_hidden), nn.ReLU(),
                                 nn.Linear(a.decoder_hidden, a.size * a.size * 3))
        self.tenc = Encoder(a)
        self.tval = Value(a)
        self.tenc.load_state_dict(self.enc.state_dict())
        self.tval.load_state_dict(self.val.state_dict())
        for p in list(self.tenc.parameters()) + list(self.tval.parameters()):
            p.requires_grad_(False)
        model = [p for n, p in self.named_parameters()
                 if p.requires_grad and not n.startswith("dec.")]
        self.model_params = model
        self.dec_params = list(self.dec.parameters())
        self.opt = torch.optim.Adam(model + self.dec_params, lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
        k = a.knots
        dt = 3.0 / (k - 1)
        t = torch.arange(k, dtype=torch.float32) * dt
        phi = torch.exp(-0.5 * t * t)
        trap = torch.full((k,), dt)
        trap[0] = trap[-1] = dt / 2
        self.t, self.phi, self.w = t, phi, 2 * trap * phi
        w = torch.tensor([a.rho ** j for j in range(a.horizon)])
        self.step_w = (w / w.sum()).tolist()

    def sigreg(self, z):
        """LeJEPA's SIGReg: Epps-Pulley statistic on M random directions."""
        a = self.a
        dirs = torch.randn(a.latent, a.directions)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)
        x = z @ dirs                                   # N x M
        tx = x.unsqueeze(-1) * self.t                  # N x M x K
        c = torch.cos(tx).mean(0) - self.phi           # M x K
        s = torch.sin(tx).mean(0)
        ep = z.shape[0] * ((c * c + s * s) * self.w).sum(-1)
        return ep.mean()

    @torch.no_grad()
    def nstep_targets(self, zbar, rew, term, n=None):
        """n-step returns from replay, cut at a terminal step, bootstrapped
        by the target value of the target embeddings (K*B rows, time-major)."""
        a = self.a
        B, K = a.batch, a.horizon
        vb = self.tval(zbar).view(K, B)
        r, t = rew.view(K, B), term.view(K, B)
        out = []
        for j in range(K):
            m = min(n or a.n_step, K - j)
            g = torch.zeros(B)
            disc = torch.ones(B)
            alive = torch.ones(B)
            for i in range(m):
                g = g + alive * disc * r[j + i]
                disc = disc * a.discount
                alive = alive * (1 - t[j + i])
            out.append(g + alive * disc * vb[j + m - 1])
        return torch.cat(out)

    @torch.no_grad()
    def lambda_targets(self, s):
        """Imagined TD(lambda) returns with a greedy one-step lookahead."""
        a = self.a
        rows, na = s.shape[0], a.actions
        eye = torch.eye(na).repeat(rows, 1)
        rew, cont, boot = [], [], []
        for _ in range(a.value_horizon):
            cz = s.repeat_interleave(na, 0)
            t = self.pred.trunk(cz, eye)
            nxt = cz + self.pred.mu(t)
            cr = self.pred.reward(t).squeeze(-1)
            cc = torch.sigmoid(self.pred.cont(t)).squeeze(-1)
            cv = self.tval(nxt).squeeze(-1)
            q = (cr + a.discount * cc * cv).view(rows, na)
            best = q.argmax(1) + torch.arange(rows) * na
            rew.append(cr[best]); cont.append(cc[best]); boot.append(cv[best])
            s = nxt[best]
        g = boot[-1]
        for h in reversed(range(a.value_horizon)):
            g = rew[h] + a.discount * cont[h] * ((1 - a.lam) * boot[h] + a.lam * g)
        return g

    @torch.no_grad()
    def greedy_targets(self, s):
        """max_a q(s, a) over every action at the replay latents s."""
        rows, na = s.shape[0], self.a.actions
        eye = torch.eye(na).repeat(rows, 1)
        q = self.pred.q(self.pred.trunk(s.repeat_interleave(na, 0), eye))
        return q.view(rows, na).max(1).values

    def train_step(self, batch):
        a = self.a
        obs, act, rew, term, mean, inv = batch
        B, K = a.batch, a.horizon
        x = (obs - mean) * inv                          # standardised inputs
        z = self.enc(x)
        with torch.no_grad():
            zbar = self.tenc(x[B:])
            qt = None
            # The targets that need the online latents of frames 0 … K−1
            # read them, detached, off the encoder pass above.
            if a.value_target == "nstep":
                vt = self.nstep_targets(zbar, rew, term)
            elif a.value_target == "q":
                vt = self.greedy_targets(z[:K * B].detach())
                qt = self.nstep_targets(zbar, rew, term, n=1)
            else:
                vt = self.lambda_targets(z[:K * B].detach())
        zhat = z[:B]
        pred_loss, rewards, conts, values, qs = 0.0, [], [], [], []
        for j in range(K):
            aj = act[j * B:(j + 1) * B]
            t = self.pred.trunk(zhat, aj)
            vz, vt_ = zhat, t
            if j > 0 and a.value_latents == "real":
                vz = z[j * B:(j + 1) * B]
                if qt is not None:
                    vt_ = self.pred.trunk(vz, aj)
            values.append(self.val(vz))
            if qt is not None:
                qs.append(self.pred.q(vt_))
            mu = zhat + self.pred.mu(t)
            target = zbar[j * B:(j + 1) * B]
            if self.gaussian:
                lv = self.pred.log_var_of(t)
                nll = 0.5 * (((target - mu) ** 2) * torch.exp(-lv) + lv + LOG_2PI).sum(1).mean()
            else:
                nll = ((target - mu) ** 2).sum(1).mean()
            pred_loss = pred_loss + self.step_w[j] * nll
            rewards.append(self.pred.reward(t))
            conts.append(self.pred.cont(t))
            zhat = mu
        # Head rows weighted rho^j / sum rho^i times K, as dream weighs them.
        hw = torch.tensor([w * K for w in self.step_w]).repeat_interleave(B).unsqueeze(-1)
        r_loss = (hw * (torch.cat(rewards) - rew) ** 2).mean()
        c_loss = F.binary_cross_entropy_with_logits(torch.cat(conts), 1 - term, weight=hw)
        vw = hw[:len(values) * B].squeeze(-1)
        v_loss = (vw * (torch.cat(values).squeeze(-1) - vt) ** 2).mean()
        if qt is not None:
            v_loss = v_loss + (vw * (torch.cat(qs).squeeze(-1) - qt) ** 2).mean()
        lam = a.guard_weight
        total = (1 - lam) * pred_loss + lam * self.sigreg(z) + r_loss + c_loss + v_loss
        dz = z[:a.decoder_batch].detach()
        frames = obs[:a.decoder_batch].permute(0, 2, 3, 1).reshape(a.decoder_batch, -1)
        dec_loss = F.mse_loss(self.dec(dz), frames)
        self.opt.zero_grad(set_to_none=True)
        (total + dec_loss).backward()
        nn.utils.clip_grad_norm_(self.model_params, a.grad_clip)
        nn.utils.clip_grad_norm_(self.dec_params, a.grad_clip)
        self.opt.step()
        with torch.no_grad():
            for tgt, src in ((self.tenc, self.enc), (self.tval, self.val)):
                for pt, ps in zip(tgt.parameters(), src.parameters()):
                    pt.mul_(a.tau).add_(ps, alpha=1 - a.tau)
        return total.item()

    @torch.no_grad()
    def imagine(self, z, act):
        """One sampled imagination step on N*K rows (planner.Model.Step)."""
        t = self.pred.trunk(z, act)
        mu = z + self.pred.mu(t)
        reward = self.pred.reward(t)
        cont = torch.sigmoid(self.pred.cont(t))
        if self.gaussian:
            sigma = torch.exp(0.5 * self.pred.log_var_of(t))
            mu = mu + sigma * torch.randn_like(mu)
        return mu, reward, cont


def make_batch(a, gen):
    B, K = a.batch, a.horizon
    obs = torch.rand((K + 1) * B, 3 * a.stack, a.size, a.size, generator=gen)
    act = F.one_hot(torch.randint(0, a.actions, (K * B,), generator=gen), a.actions).float()
    rew = torch.rand(K * B, 1, generator=gen)
    term = torch.zeros(K * B, 1)
    mean = obs[:B].mean(0, keepdim=True)
    inv = 1.0 / max(float((obs[:B] - mean).std()), 0.02)
    return obs, act, rew, term, mean, inv


def best_time(fn, rounds, per_round):
    fn()
    fn()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(per_round):
            fn()
        best = min(best, (time.perf_counter() - start) / per_round)
    return best * 1e3


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--rows", type=int, default=512, help="imagination rows N*K")
    p.add_argument("--latent", type=int, default=32)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--horizon", type=int, default=3)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--actions", type=int, default=4)
    p.add_argument("--value-target", choices=("lambda", "nstep", "q"), default="q")
    p.add_argument("--n-step", type=int, default=3)
    p.add_argument("--embed-norm", choices=("none", "rms"), default="rms")
    p.add_argument("--value-latents", choices=("imagined", "real"), default="real")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--train-steps", type=int, default=5, help="training steps per round")
    p.add_argument("--imagine-steps", type=int, default=200, help="imagination steps per round")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    a.stack, a.patch, a.channels = 1, 4, 16
    a.min_log_var, a.max_log_var, a.var_floor = -10.0, 2.0, 1e-4
    a.guard_weight, a.directions, a.knots = 0.05, 64, 17
    a.rho, a.tau, a.discount, a.lam = 0.5, 0.99, 0.99, 0.95
    a.value_horizon, a.lr, a.grad_clip = 5, 3e-4, 20.0
    a.decoder_hidden, a.decoder_batch = 128, 32

    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    batch = make_batch(a, gen)
    models = {g: WorldModel(a, g) for g in (True, False)}
    z = torch.randn(a.rows, a.latent, generator=gen)
    act = F.one_hot(torch.randint(0, a.actions, (a.rows,), generator=gen), a.actions).float()

    out = {"torch": torch.__version__, "threads": {}, "best": {},
           "config": {k: getattr(a, k) for k in ("batch", "rows", "latent", "hidden", "horizon", "size", "actions",
                                                 "value_target", "n_step")}}
    for n in [int(s) for s in a.threads.split(",") if s]:
        torch.set_num_threads(n)
        r = {
            "train_gaussian_ms": best_time(lambda: models[True].train_step(batch), a.rounds, a.train_steps),
            "train_deterministic_ms": best_time(lambda: models[False].train_step(batch), a.rounds, a.train_steps),
            "imagine_ms": best_time(lambda: models[True].imagine(z, act), a.rounds, a.imagine_steps),
        }
        out["threads"][str(n)] = r
        for k, v in r.items():
            out["best"][k] = min(out["best"].get(k, v), v)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
