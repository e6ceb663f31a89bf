"""DASR (ShuhangGu/DASR, Wei et al., CVPR 2021) in the cross-camera setting of the DADA paper.

``docs/dasr.md`` §5 (official configurations) and §6 (this recipe), with the roles of the Real→Real
setting: the clean HR domain is the source camera's HR, the real LR domain is the target camera's LR.

1. ``1-dsn``: DeResnet down-sampler G (source HR -> target-like LR) against a frequency-separation
   discriminator (average-pool high-pass, k 5, as the RealSR launcher); G loss = 1·L1 of the low
   frequencies (valid 5x5 mean) against bicubic x1/4 + 0.005·GAN + 0.01·LPIPS; Adam 1e-4 (β1 0.5), batch 8,
   HR crop 128; 400 epochs of the target LR, the lr constant for the first 62.5 % then linearly to 0.
   Deviation kept from modern PyTorch: D(fake) is recomputed after the D step (the official G step reused
   the pre-step D output, which PyTorch >= 1.5 rejects).
2. ``generate``: the DSN's LR for every source HR and the domain-distance map (D's realness, 17x17 box
   mean), written to ``RUN/generated``.
3. ``3-srn``: RRDBNet (23 blocks) on generated LR / source HR with the DDM-weighted L1 + L1 of Haar LL +
   0.01·VGG19 conv5_4, and 1e-4·GAN on the wavelet high frequencies of SR(real target LR) against unpaired
   HR (PatchGAN, 2 layers, 9 channels); Adam 5e-5, steps at 50k/80k, batch 16, LR patch 32, 100k iterations
   (the RealSR auto-reproduce config).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..archs.deresnet import DeResNet
from ..archs.discriminators import (
    FrequencyDiscriminator,
    LowPass,
    NLayerDiscriminator,
    domain_distance_map,
    haar_details,
    kaiming_init,
)
from ..archs.rrdb import RRDBNet, init_rrdb
from ..datasets import Pair
from ..errors import ConfigError
from ..image_io import read_image, write_image
from ..metrics.protocols import evaluate
from ..ops.resize import imresize
from .context import StageContext
from .data import augment
from .job import sync_gradients
from .losses import bce_gan, perceptual_loss
from .plan import (
    Action,
    Exports,
    Plan,
    Recipe,
    StartWeights,
    Step,
    Upscaler,
    bicubic_upscaler,
    cpu_state,
    rrdb_upscaler,
)

DSN = {"epochs": 400, "batch": 8, "lr": 1e-4, "w_col": 1.0, "w_tex": 0.005, "w_per": 0.01, "lr_patch": 32}
LPIPS_MIN_SIDE = 31  # AlexNet-LPIPS: conv1 (11, stride 4) then two 3x3/2 max-pools must leave >= 1 pixel
SRN = {
    "iters": 100_000,
    "batch": 16,
    "lr": 5e-5,
    "milestones": [50_000, 80_000],
    "w_pix": 1.0,
    "w_ll": 1.0,
    "w_fea": 0.01,
    "w_gan": 1e-4,
    "lr_patch": 32,
}


class DSNStage:
    name = "1-dsn"

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        ctx.seed_networks(0)
        self.g = DeResNet(scale=ctx.data.scale).to(ctx.device)
        self.d = FrequencyDiscriminator(filter_kind="avg_pool", kernel_size=5).to(ctx.device)
        self.low = LowPass("avg_pool", 5, padding=False).to(ctx.device)
        self.networks = {"g": self.g, "d": self.d}
        self.optimizers = {
            n: torch.optim.Adam(m.parameters(), lr=DSN["lr"], betas=(0.5, 0.999)) for n, m in self.networks.items()
        }
        self.iterations = ctx.iterations(DSN["epochs"], len(ctx.data.target_train), DSN["batch"])
        decay_from = 0.625 * self.iterations  # 250 of 400 epochs

        def factor(it: int) -> float:
            return 1.0 if it < decay_from else max(0.0, 1.0 - (it - decay_from) / (self.iterations - decay_from))

        self.schedulers = {n: torch.optim.lr_scheduler.LambdaLR(o, factor) for n, o in self.optimizers.items()}
        self.hr = ctx.sampler(ctx.data.source_train, 5, paper_patch=DSN["lr_patch"])
        self.real = ctx.sampler(ctx.data.target_train, 6, paper_patch=DSN["lr_patch"])
        self.samplers = [self.hr, self.real]
        self.lpips = None
        if ctx.config.perceptual != "none":
            if ctx.lpips is None or ctx.lpips.model is None:
                raise ConfigError(
                    (ctx.lpips.unavailable_reason if ctx.lpips else "LPIPS unavailable")
                    + "; the DSN's perceptual term needs it (or --perceptual none)"
                )
            if ctx.patch(DSN["lr_patch"]) < LPIPS_MIN_SIDE:
                raise ConfigError(
                    f"the DSN's LPIPS term needs LR patches of at least {LPIPS_MIN_SIDE} px (AlexNet's "
                    f"pooling), not {ctx.patch(DSN['lr_patch'])}; use --patch-size {LPIPS_MIN_SIDE} "
                    "or --perceptual none"
                )
            self.lpips = ctx.lpips.model.requires_grad_(False)
        self.done = 0

    def step(self, iteration: int) -> dict[str, float]:
        batch = self.ctx.batch(DSN["batch"])
        _, x, _ = self.hr.draw(batch)
        real, _, _ = self.real.draw(batch, with_hr=False)
        x, real = self.ctx.to_device(x, real)
        with torch.no_grad():
            bicubic = imresize(x.double(), 1.0 / self.ctx.data.scale).float().clamp(0, 1)
        fake = self.g(x)
        opt_g, opt_d = self.optimizers["g"], self.optimizers["d"]
        opt_d.zero_grad(set_to_none=True)
        loss_d = -torch.log(self.d(real) + 1e-8).mean() - torch.log(1 - self.d(fake.detach()) + 1e-8).mean()
        loss_d.backward()
        sync_gradients([self.d], self.ctx.dist)
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        l_col = (self.low(fake) - self.low(bicubic)).abs().mean()
        l_tex = -torch.log(self.d(fake) + 1e-8).mean()
        l_per = self.lpips(fake * 2 - 1, bicubic * 2 - 1).mean() if self.lpips is not None else torch.zeros(())
        loss_g = DSN["w_col"] * l_col + DSN["w_tex"] * l_tex + DSN["w_per"] * l_per
        loss_g.backward()
        sync_gradients([self.g], self.ctx.dist)
        opt_g.step()
        for scheduler in self.schedulers.values():
            scheduler.step()
        self.done = iteration + 1
        return {"d": loss_d.item(), "col": l_col.item(), "tex": l_tex.item(), "per": l_per.item()}

    @torch.inference_mode()
    def evaluate(self) -> dict[str, float]:
        """How well G imitates the target camera: G(target HR) against its real LR (1 px shave)."""
        self.g.eval()
        psnrs, ssims = [], []
        for pair in self.ctx.selection_pairs():
            hr = read_image(pair.hr).rgb_float64()
            lr = read_image(pair.lr).rgb_float64()
            fake = self.g(torch.from_numpy(hr.transpose(2, 0, 1)[None]).float().to(self.ctx.device))
            fake = fake[0].permute(1, 2, 0).cpu().numpy().astype(np.float64)
            h, w = min(fake.shape[0], lr.shape[0]), min(fake.shape[1], lr.shape[1])
            scores = evaluate(fake[:h, :w], lr[:h, :w], protocol=self.ctx.config.protocol, scale=1)
            psnrs.append(scores.psnr)
            ssims.append(scores.ssim)
        self.g.train()
        return {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims))}

    def export(self) -> dict[str, Any]:
        """DASR's DSN checkpoint format (loads in ``srx degrade``)."""
        return {
            "epoch": 0,
            "iteration": self.done,
            "fs_type": "avg_pool",
            "fs_kernel_size": 5,
            "D_type": "FSD",
            "model_g_state_dict": cpu_state(self.g.state_dict()),
            "models_d_state_dict": cpu_state(self.d.state_dict()),
        }


@torch.inference_mode()
def generate(ctx: StageContext, dsn: dict[str, Any], folder: Path) -> list[Pair]:
    """Generated LR (PNG) and DDM (.npy, LR size) for every source training HR; skips what exists."""
    g = DeResNet(scale=ctx.data.scale)
    g.load_state_dict(dsn["model_g_state_dict"])
    d = FrequencyDiscriminator(filter_kind="avg_pool", kernel_size=5)
    d.load_state_dict(dsn["models_d_state_dict"])
    g, d = g.to(ctx.device).eval(), d.to(ctx.device).eval()
    pairs = []
    for pair in ctx.data.source_train:
        lr_path, ddm_path = folder / "lr" / f"{pair.item}.png", folder / "ddm" / f"{pair.item}.npy"
        if ctx.dist.is_main and not (lr_path.exists() and ddm_path.exists()):
            hr = torch.from_numpy(read_image(pair.hr).rgb_float64().transpose(2, 0, 1)[None]).float().to(ctx.device)
            fake = g(hr)
            ddm = domain_distance_map(d(fake))[0, 0].cpu().numpy().astype(np.float32)
            write_image(lr_path, fake[0].permute(1, 2, 0).cpu().numpy(), mkdir=True)
            ddm_path.parent.mkdir(parents=True, exist_ok=True)
            np.save(ddm_path, ddm)
        pairs.append(Pair(pair.item, lr_path, pair.hr, camera=pair.camera))
    ctx.dist.barrier()
    return pairs


class SRNStage:
    name = "3-srn"

    def __init__(self, ctx: StageContext, generated: list[Pair], folder: Path, start: dict | None) -> None:
        self.ctx = ctx
        ctx.seed_networks(3)
        self.g = RRDBNet(scale=ctx.data.scale)
        init_rrdb(self.g)
        if start is not None:
            self.g.load_state_dict(start)
        self.d = NLayerDiscriminator(9, n_layers=2, middle_bias=False)
        kaiming_init(self.d)
        self.g.to(ctx.device)
        self.d.to(ctx.device)
        self.networks = {"g": self.g, "d_target": self.d}
        self.optimizers = {
            n: torch.optim.Adam(m.parameters(), lr=SRN["lr"], betas=(0.9, 0.999)) for n, m in self.networks.items()
        }
        self.schedulers = {
            n: torch.optim.lr_scheduler.MultiStepLR(o, SRN["milestones"], 0.5) for n, o in self.optimizers.items()
        }
        self.ddm_folder = folder / "ddm"
        self.fake = ctx.sampler(generated, 7, paper_patch=SRN["lr_patch"])
        self.real = ctx.sampler(ctx.data.target_train, 8, paper_patch=SRN["lr_patch"])
        self.unpaired = ctx.sampler(ctx.data.source_train, 9, paper_patch=SRN["lr_patch"])
        self.samplers = [self.fake, self.real, self.unpaired]
        self.vgg = perceptual_loss(ctx.config.perceptual, ctx.device)
        self.iterations = ctx.config.stage_value("iters", SRN["iters"])
        self.done = 0

    def _ddm(self, geometry: list[tuple], pairs: list[Pair]) -> torch.Tensor:
        p = self.ctx.patch(SRN["lr_patch"])
        maps = []
        for (top, left, flips), pair in zip(geometry, pairs, strict=True):
            ddm = np.load(self.ddm_folder / f"{pair.item}.npy")[None]
            maps.append(augment(ddm[:, top : top + p, left : left + p], *flips))
        return torch.from_numpy(np.ascontiguousarray(np.stack(maps))).float()

    def step(self, iteration: int) -> dict[str, float]:
        batch = self.ctx.batch(SRN["batch"])
        fake_lr, hr, geometry = self.fake.draw(batch)
        ddm = self._ddm(geometry, self.fake.last_pairs)
        real_lr, _, _ = self.real.draw(batch, with_hr=False)
        _, hr_unpaired, _ = self.unpaired.draw(batch)
        fake_lr, hr, ddm, real_lr, hr_unpaired = self.ctx.to_device(fake_lr, hr, ddm, real_lr, hr_unpaired)
        opt_g, opt_d = self.optimizers["g"], self.optimizers["d_target"]
        self.d.requires_grad_(False)
        opt_g.zero_grad(set_to_none=True)
        sr = self.g(torch.cat([fake_lr, real_lr]))
        sr_src, sr_tgt = sr[:batch], sr[batch:]
        weight = F.interpolate(ddm, size=hr.shape[-2:], mode="bilinear", align_corners=False)
        l_pix = (weight * (sr_src - hr).abs()).mean()
        l_ll = (F.avg_pool2d(sr_src, 2) - F.avg_pool2d(hr, 2)).abs().mean()
        l_fea = self.vgg(sr_src, hr) if self.vgg is not None else torch.zeros((), device=sr.device)
        l_gan = bce_gan(self.d(haar_details(sr_tgt) * 0.5 + 0.5), True)
        loss = SRN["w_pix"] * l_pix + SRN["w_ll"] * l_ll + SRN["w_fea"] * l_fea + SRN["w_gan"] * l_gan
        loss.backward()
        sync_gradients([self.g], self.ctx.dist)
        opt_g.step()
        self.d.requires_grad_(True)
        opt_d.zero_grad(set_to_none=True)
        loss_d = 0.5 * (
            bce_gan(self.d(haar_details(hr_unpaired) * 0.5 + 0.5), True)
            + bce_gan(self.d(haar_details(sr_tgt.detach()) * 0.5 + 0.5), False)
        )
        loss_d.backward()
        sync_gradients([self.d], self.ctx.dist)
        opt_d.step()
        for scheduler in self.schedulers.values():
            scheduler.step()
        self.done = iteration + 1
        return {"pix": l_pix.item(), "ll": l_ll.item(), "fea": l_fea.item(), "gan_g": l_gan.item(), "d": loss_d.item()}

    def evaluate(self) -> dict[str, float]:
        self.g.eval()
        metrics = self.ctx.validate(self.g)
        self.g.train()
        return metrics

    def export(self) -> dict[str, Any]:
        """A state_dict in the original ESRGAN layout under 'state_dict' (loads in ``srx run dasr``)."""
        return {
            "state_dict": cpu_state(self.g.state_dict()),
            "d_target": cpu_state(self.d.state_dict()),
            "iteration": self.done,
        }


def plan(ctx: StageContext, start: StartWeights, run_root: Path) -> Plan:
    """DSN, then LR generation into RUN/generated (an action), then the SRN (from --source-weights if given)."""
    folder = run_root / "generated"
    start_state = start[1] if start else None

    def generate_step(exports: Exports) -> Action:
        return Action(lambda: {"items": len(generate(ctx, exports["1-dsn"], folder)), "folder": str(folder)})

    steps = [
        Step("1-dsn", lambda exports: DSNStage(ctx)),
        Step("2-generate", generate_step),
        Step("3-srn", lambda exports: SRNStage(ctx, generate(ctx, exports["1-dsn"], folder), folder, start_state)),
    ]

    def compare(exports: Exports) -> dict[str, Upscaler]:
        adapted = rrdb_upscaler(ctx, exports["3-srn"]["state_dict"])
        if start_state is None:
            return {"bicubic": bicubic_upscaler(ctx.data.scale), "adapted": adapted}
        return {"source-only": rrdb_upscaler(ctx, start_state), "adapted": adapted}

    return Plan(steps, compare)


RECIPE = Recipe(plan, source_weights=("rrdb",))
