"""DDNSR (Li et al., 2023): joint training of the dual-input degradation network and an RRDB reconstruction.

From the paper (§3, §4.1) — there is no official code, so every choice the paper leaves open is ours and
documented here and in the README:

1. ``1-source-rrdb``: ESRGAN's PSNR-oriented pre-training of the RRDB (L1 on the source camera's pairs,
   Adam 2e-4 halved every 200k, 1M iterations, batch 16, HR 128) — the "training schedule proposed in
   ESRGAN" the paper follows. ``--source-weights`` gives this model instead.
2. ``2-ddnsr``: degradation D(Y_H, X_L) from a source HR patch and an unpaired real LR patch of the target
   camera, reconstruction R on D's output:
   - L_sr = L_perceptual (VGG19 conv5_4, L1) + 0.005·L_adv (PatchGAN on SR vs HR) + 0.01·L1   (eq. 2)
   - L_deg = 0.1·L_cont + 1·L_adv + 10·L_cycle                                                (eq. 3)
     with L_feature = squared L2 of VGG19 features (eq. 4): L_cont on "VGG-34" (relu3_4, SRGAN's phi_3,4)
     between D's output and the 4x4 average-pooled HR, L_adv = PatchGAN on D's output vs real target LR,
     L_cycle on "VGG-22" (relu2_2) between R(D(...)) and the HR (gradients reach D through R; R is updated
     only by L_sr).
   Adam 1e-4 for all, halved at 50k/100k/200k/300k, 300k iterations, batch 16, LR patch 32. Vanilla GAN
   losses; PatchGANs as in the paper's Track 2. With ``--perceptual none`` every feature loss (L_perceptual,
   L_cont, L_cycle) becomes a pixel L1 at the same weight (a logged deviation; L1 rather than squared L2
   because pixel MSE values are ~100x smaller and would leave the degradation's adversarial term alone).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..archs.ddnsr import DDNSR_FORMAT, DualInputDegradation
from ..archs.discriminators import NLayerDiscriminator, init_normal
from ..archs.rrdb import RRDBNet, init_rrdb
from .context import StageContext
from .job import sync_gradients
from .losses import VGGFeatureLoss, bce_gan, perceptual_loss
from .plan import Exports, Plan, Recipe, StartWeights, Step, Upscaler, cpu_state, rrdb_upscaler

SOURCE = {"iters": 1_000_000, "batch": 16, "lr": 2e-4, "step": 200_000, "lr_patch": 32}
JOINT = {
    "iters": 300_000,
    "batch": 16,
    "lr": 1e-4,
    "milestones": [50_000, 100_000, 200_000, 300_000],
    "lr_patch": 32,
    "w_percep": 1.0,
    "w_adv_sr": 0.005,
    "w_l1": 0.01,
    "w_cont": 0.1,
    "w_adv_deg": 1.0,
    "w_cycle": 10.0,
}
VGG22_LAYER = 8  # relu2_2 of VGG19 (SRGAN's phi_2,2: after activation, 1/2 resolution): L_cycle
VGG34_LAYER = 17  # relu3_4 of VGG19 (phi_3,4, 1/4 resolution): L_cont


def _evaluate(ctx: StageContext, net: torch.nn.Module) -> dict[str, float]:
    net.eval()
    metrics = ctx.validate(net)
    net.train()
    return metrics


class SourceRRDB:
    name = "1-source-rrdb"

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        ctx.seed_networks(10)
        self.net = RRDBNet(scale=ctx.data.scale)
        init_rrdb(self.net)
        self.net.to(ctx.device)
        self.networks = {"reconstruction": self.net}
        self.optimizers = {
            "reconstruction": torch.optim.Adam(self.net.parameters(), lr=SOURCE["lr"], betas=(0.9, 0.999))
        }
        self.schedulers = {
            "reconstruction": torch.optim.lr_scheduler.StepLR(self.optimizers["reconstruction"], SOURCE["step"], 0.5)
        }
        self.pairs = ctx.sampler(ctx.data.source_train, 11, paper_patch=SOURCE["lr_patch"])
        self.samplers = [self.pairs]
        self.iterations = ctx.config.stage_value("iters", SOURCE["iters"])
        self.done = 0

    def step(self, iteration: int) -> dict[str, float]:
        lr, hr, _ = self.pairs.draw(self.ctx.batch(SOURCE["batch"]))
        lr, hr = self.ctx.to_device(lr, hr)
        opt = self.optimizers["reconstruction"]
        opt.zero_grad(set_to_none=True)
        loss = (self.net(lr) - hr).abs().mean()
        loss.backward()
        sync_gradients([self.net], self.ctx.dist)
        opt.step()
        self.schedulers["reconstruction"].step()
        self.done = iteration + 1
        return {"l1": loss.item()}

    def evaluate(self) -> dict[str, float]:
        return _evaluate(self.ctx, self.net)

    def export(self) -> dict[str, Any]:
        return {"reconstruction": cpu_state(self.net.state_dict()), "iteration": self.done}


class DDNSRStage:
    name = "2-ddnsr"

    def __init__(self, ctx: StageContext, source_state: dict) -> None:
        self.ctx = ctx
        scale = ctx.data.scale
        ctx.seed_networks(11)
        self.r = RRDBNet(scale=scale)
        self.r.load_state_dict(source_state)
        self.deg = DualInputDegradation(scale=scale)
        self.d_lr = NLayerDiscriminator(3, n_layers=2)
        self.d_sr = NLayerDiscriminator(3, n_layers=3)
        init_normal(self.d_lr)
        init_normal(self.d_sr)
        self.networks = {"reconstruction": self.r, "degradation": self.deg, "d_lr": self.d_lr, "d_sr": self.d_sr}
        for module in self.networks.values():
            module.to(ctx.device)
        self.optimizers = {
            n: torch.optim.Adam(m.parameters(), lr=JOINT["lr"], betas=(0.9, 0.999)) for n, m in self.networks.items()
        }
        self.schedulers = {
            n: torch.optim.lr_scheduler.MultiStepLR(o, JOINT["milestones"], 0.5) for n, o in self.optimizers.items()
        }
        self.vgg54 = perceptual_loss(ctx.config.perceptual, ctx.device)
        features = self.vgg54 is not None
        self.vgg22 = VGGFeatureLoss(VGG22_LAYER, distance="mse").to(ctx.device) if features else None
        self.vgg34 = VGGFeatureLoss(VGG34_LAYER, distance="mse").to(ctx.device) if features else None
        self.hr = ctx.sampler(ctx.data.source_train, 12, paper_patch=JOINT["lr_patch"])
        self.real = ctx.sampler(ctx.data.target_train, 13, paper_patch=JOINT["lr_patch"])
        self.samplers = [self.hr, self.real]
        self.iterations = ctx.config.stage_value("iters", JOINT["iters"])
        self.done = 0

    @staticmethod
    def _feature_loss(vgg: VGGFeatureLoss | None, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return vgg(a, b) if vgg is not None else (a - b).abs().mean()

    def step(self, iteration: int) -> dict[str, float]:
        batch = self.ctx.batch(JOINT["batch"])
        _, y_h, _ = self.hr.draw(batch)
        x_l, _, _ = self.real.draw(batch, with_hr=False)
        y_h, x_l = self.ctx.to_device(y_h, x_l)
        opts = self.optimizers
        for disc in (self.d_lr, self.d_sr):
            disc.requires_grad_(False)

        # degradation: eq. (3); R only carries the cycle gradient back to D
        opts["degradation"].zero_grad(set_to_none=True)
        y_l = self.deg(y_h, x_l)
        l_cont = self._feature_loss(self.vgg34, y_l, F.avg_pool2d(y_h, self.ctx.data.scale))
        l_adv_deg = bce_gan(self.d_lr(y_l), True)
        l_cycle = self._feature_loss(self.vgg22, self.r(y_l), y_h)
        loss_deg = JOINT["w_cont"] * l_cont + JOINT["w_adv_deg"] * l_adv_deg + JOINT["w_cycle"] * l_cycle
        loss_deg.backward()
        sync_gradients([self.deg], self.ctx.dist)
        opts["degradation"].step()

        # reconstruction: eq. (2) on the degraded LR, the degradation network held fixed
        opts["reconstruction"].zero_grad(set_to_none=True)
        sr = self.r(y_l.detach())
        l_percep = self.vgg54(sr, y_h) if self.vgg54 is not None else (sr - y_h).abs().mean()
        l_adv_sr = bce_gan(self.d_sr(sr), True)
        l_l1 = (sr - y_h).abs().mean()
        loss_sr = JOINT["w_percep"] * l_percep + JOINT["w_adv_sr"] * l_adv_sr + JOINT["w_l1"] * l_l1
        loss_sr.backward()
        sync_gradients([self.r], self.ctx.dist)
        opts["reconstruction"].step()

        d_losses = {}
        for name, disc, real, fake in (("d_lr", self.d_lr, x_l, y_l.detach()), ("d_sr", self.d_sr, y_h, sr.detach())):
            disc.requires_grad_(True)
            opts[name].zero_grad(set_to_none=True)
            loss = 0.5 * (bce_gan(disc(real), True) + bce_gan(disc(fake), False))
            loss.backward()
            sync_gradients([disc], self.ctx.dist)
            opts[name].step()
            d_losses[name] = loss.item()
        for scheduler in self.schedulers.values():
            scheduler.step()
        self.done = iteration + 1
        return {
            "cont": l_cont.item(),
            "adv_deg": l_adv_deg.item(),
            "cycle": l_cycle.item(),
            "percep": l_percep.item(),
            "adv_sr": l_adv_sr.item(),
            "l1": l_l1.item(),
            **d_losses,
        }

    def evaluate(self) -> dict[str, float]:
        return _evaluate(self.ctx, self.r)

    def export(self) -> dict[str, Any]:
        """srx's DDNSR checkpoint (``srx run ddnsr``, ``srx degrade``)."""
        return {
            "format": DDNSR_FORMAT,
            "version": 1,
            "scale": self.ctx.data.scale,
            "iteration": self.done,
            "reconstruction": cpu_state(self.r.state_dict()),
            "degradation": cpu_state(self.deg.state_dict()),
        }


def plan(ctx: StageContext, start: StartWeights, run_root: Path) -> Plan:
    """Source-only RRDB (skipped when --source-weights gives one), then the joint DDNSR stage."""
    steps = [
        Step("1-source-rrdb", lambda exports: SourceRRDB(ctx)),
        Step("2-ddnsr", lambda exports: DDNSRStage(ctx, exports["1-source-rrdb"]["reconstruction"])),
    ]
    given: Exports = {}
    if start is not None:
        given["1-source-rrdb"] = {"reconstruction": start[1]}
        steps = steps[1:]

    def compare(exports: Exports) -> dict[str, Upscaler]:
        return {
            "source-only": rrdb_upscaler(ctx, exports["1-source-rrdb"]["reconstruction"]),
            "adapted": rrdb_upscaler(ctx, exports["2-ddnsr"]["reconstruction"]),
        }

    return Plan(steps, compare, start=given)


RECIPE = Recipe(plan, source_weights=("rrdb",))
