"""DADA (Xu et al., CVPR 2022): three stages, as ``docs/cdc-dada.md`` §5 describes the official code.

1. ``1-source-cdc``: CDC on source pairs, component loss with L1 on the final output, Adam 2e-4,
   halved at 200k/400k/600k/800k iterations, batch 16.
2. ``2-circle``: CDC + DeResnet down-sampler on source pairs, component loss with GW on the final output
   + L1(down(SR), LR), one Adam at a constant 1e-4, batch 8; selected on LR reconstruction.
3. ``3-dada``: up_0 (frozen circle CDC, attention maps), up_s, up_t, down_s, down_t and four PatchGANs
   (Y: d_s, d_t; RGB: d_sm, d_tm); losses and weights of ``docs/cdc-dada.md`` §5; constant lr 1e-4, batch 2.

Paper schedules: stage 1 1000 epochs, stage 2 600, stage 3 500, an epoch being one pass over the source
(stages 1, 2) or target (stage 3) training patches. Selection uses the held-out target validation pairs
(the official code selects on the target's test images: ``--select-on test`` reproduces that).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..archs.cdc import SIZE_MULTIPLE, CDCNet, DADAUpscaler, init_cdc
from ..archs.deresnet import DeResNet
from ..archs.discriminators import NLayerDiscriminator, init_normal
from .context import StageContext
from .evaluation import evaluate_pairs
from .job import sync_gradients
from .losses import bce_gan, component_loss, discriminator_y, perceptual_loss
from .plan import Exports, Plan, Recipe, StartWeights, Step, Upscaler, cpu_state

STAGE_EPOCHS = {"1-source-cdc": 1000, "2-circle": 600, "3-dada": 500}
STAGE_BATCH = {"1-source-cdc": 16, "2-circle": 8, "3-dada": 2}
STAGE_LR = {"1-source-cdc": 2e-4, "2-circle": 1e-4, "3-dada": 1e-4}
WEIGHTS = {"s_ins": 1.0, "s_int": 0.05, "t_int": 1.0, "gan": 0.005, "down": 0.1, "vgg": 0.01}


def _break_info(iteration: int, metrics: dict | None = None) -> dict:
    return {"iter_n": iteration, "best_psnr": float((metrics or {}).get("psnr", 0.0))}


class SourceCDC:
    name = "1-source-cdc"

    def __init__(self, ctx: StageContext) -> None:
        self.ctx = ctx
        ctx.seed_networks(0)
        self.net = CDCNet(scale=ctx.data.scale)
        init_cdc(self.net)
        self.net.to(ctx.device)
        self.networks = {"up": self.net}
        self.optimizers = {"up": torch.optim.Adam(self.net.parameters(), lr=STAGE_LR[self.name], betas=(0.9, 0.999))}
        self.schedulers = {
            "up": torch.optim.lr_scheduler.MultiStepLR(
                self.optimizers["up"], milestones=[200_000, 400_000, 600_000, 800_000], gamma=0.5
            )
        }
        self.source = ctx.sampler(ctx.data.source_train, 1)
        self.samplers = [self.source]
        self.iterations = ctx.iterations(STAGE_EPOCHS[self.name], len(ctx.data.source_train), STAGE_BATCH[self.name])
        self.done = 0

    def step(self, iteration: int) -> dict[str, float]:
        lr, hr, _ = self.source.draw(self.ctx.batch(STAGE_BATCH[self.name]))
        lr, hr = self.ctx.to_device(lr, hr)
        self.net.train()
        self.optimizers["up"].zero_grad(set_to_none=True)
        result, _ = self.net(lr)
        loss = component_loss(result, hr, gw=False)
        loss.backward()
        sync_gradients([self.net], self.ctx.dist)
        self.optimizers["up"].step()
        self.schedulers["up"].step()
        self.done = iteration + 1
        return {"component": loss.item()}

    def evaluate(self) -> dict[str, float]:
        self.net.eval()
        return self.ctx.validate(self.net.upscale, size_multiple=SIZE_MULTIPLE)

    def export(self) -> dict[str, Any]:
        return {"break_info": _break_info(self.done), "model": cpu_state(self.net.state_dict())}


class Circle:
    name = "2-circle"

    def __init__(self, ctx: StageContext, up_state: dict) -> None:
        self.ctx = ctx
        ctx.seed_networks(1)
        self.up = CDCNet(scale=ctx.data.scale)
        self.up.load_state_dict(up_state)
        self.down = DeResNet(scale=ctx.data.scale)
        self.up.to(ctx.device)
        self.down.to(ctx.device)
        self.networks = {"up": self.up, "down": self.down}
        params = [*self.down.parameters(), *self.up.parameters()]
        self.optimizers = {"g": torch.optim.Adam(params, lr=STAGE_LR[self.name], betas=(0.9, 0.999))}
        self.schedulers: dict = {}  # the official scheduler steps an orphaned optimiser: the lr is constant
        self.source = ctx.sampler(ctx.data.source_train, 2)
        self.samplers = [self.source]
        self.iterations = ctx.iterations(STAGE_EPOCHS[self.name], len(ctx.data.source_train), STAGE_BATCH[self.name])
        self.done = 0

    def step(self, iteration: int) -> dict[str, float]:
        lr, hr, _ = self.source.draw(self.ctx.batch(STAGE_BATCH[self.name]))
        lr, hr = self.ctx.to_device(lr, hr)
        self.up.train()
        self.down.train()
        self.optimizers["g"].zero_grad(set_to_none=True)
        result, _ = self.up(lr)
        sr_loss = component_loss(result, hr, gw=True)
        down_loss = (self.down(result[-1]) - lr).abs().mean()  # SR not detached: also trains the up-sampler
        (sr_loss + down_loss).backward()
        sync_gradients([self.up, self.down], self.ctx.dist)
        self.optimizers["g"].step()
        self.done = iteration + 1
        return {"component_gw": sr_loss.item(), "down_l1": down_loss.item()}

    def evaluate(self) -> dict[str, float]:
        """Official selection of this stage: LR reconstruction down(up(LR)) against the LR (1 px shave)."""
        self.up.eval()
        self.down.eval()
        return evaluate_pairs(
            lambda x: self.down(self.up.upscale(x)).clamp(0, 1),
            self.ctx.selection_pairs(),
            scale=1,
            device=self.ctx.device,
            protocol=self.ctx.config.protocol,
            size_multiple=SIZE_MULTIPLE,
            reference="lr",
        )

    def export(self) -> dict[str, Any]:
        return {
            "break_info": _break_info(self.done),
            "model": {"up": cpu_state(self.up.state_dict()), "down": cpu_state(self.down.state_dict())},
        }


class DADAStage:
    name = "3-dada"

    def __init__(self, ctx: StageContext, circle: dict) -> None:
        self.ctx = ctx
        scale = ctx.data.scale
        ctx.seed_networks(2)
        up_state, down_state = circle["model"]["up"], circle["model"]["down"]
        self.up_0 = CDCNet(scale=scale)
        self.up_0.load_state_dict(up_state)
        self.up_0.requires_grad_(False).eval()
        self.up_s, self.up_t = CDCNet(scale=scale), CDCNet(scale=scale)
        self.down_s, self.down_t = DeResNet(scale=scale), DeResNet(scale=scale)
        for net, state in (
            (self.up_s, up_state),
            (self.up_t, up_state),
            (self.down_s, down_state),
            (self.down_t, down_state),
        ):
            net.load_state_dict(state)
        self.d = {
            "d_s": NLayerDiscriminator(1),
            "d_t": NLayerDiscriminator(1),
            "d_sm": NLayerDiscriminator(3),
            "d_tm": NLayerDiscriminator(3),
        }
        for disc in self.d.values():
            init_normal(disc)
        self.generators = {"up_s": self.up_s, "up_t": self.up_t, "down_t": self.down_t, "down_s": self.down_s}
        for module in (self.up_0, *self.generators.values(), *self.d.values()):
            module.to(ctx.device)
        self.networks = {**self.generators, **self.d}
        lr = STAGE_LR[self.name]
        g_params = [p for net in self.generators.values() for p in net.parameters()]
        self.optimizers = {"g": torch.optim.Adam(g_params, lr=lr, betas=(0.9, 0.999))}
        for name, disc in self.d.items():
            self.optimizers[name] = torch.optim.Adam(disc.parameters(), lr=lr, betas=(0.9, 0.999))
        self.schedulers: dict = {}  # constant learning rate, as the official code
        self.vgg = perceptual_loss(ctx.config.perceptual, ctx.device)
        self.target = ctx.sampler(ctx.data.target_train, 3)
        self.source = ctx.sampler(ctx.data.source_train, 4)
        self.samplers = [self.target, self.source]
        self.iterations = ctx.iterations(STAGE_EPOCHS[self.name], len(ctx.data.target_train), STAGE_BATCH[self.name])
        self.done = 0

    def step(self, iteration: int) -> dict[str, float]:
        batch = self.ctx.batch(STAGE_BATCH[self.name])
        t_lr, _, geometry = self.target.draw(batch, with_hr=False)
        s_lr, s_hr, _ = self.source.draw(batch, geometry=geometry)  # the source patch reuses crop and flips
        t_lr, s_lr, s_hr = self.ctx.to_device(t_lr, s_lr, s_hr)
        for net in self.networks.values():
            net.train()
        for disc in self.d.values():
            disc.requires_grad_(False)
        opt = self.optimizers["g"]
        opt.zero_grad(set_to_none=True)
        with torch.no_grad():
            t_res0, t_maps = self.up_0(t_lr)
            _, s_maps = self.up_0(s_lr)
        s_ins = self.up_s.forward_with_map(s_lr, s_maps)
        l_s_ins = component_loss(s_ins, s_hr, gw=True)
        s_int = self.up_t.forward_with_map(s_lr, s_maps)
        l_s_int = component_loss(s_int, s_hr, gw=True)
        sr_t_ins = self.up_s.forward_with_map(t_lr, t_maps)[-1]  # pseudo-label, deliberately not detached
        t_int = self.up_t.forward_with_map(t_lr, t_maps)
        sr_t_int, sr_s_int, sr_s_ins = t_int[-1], s_int[-1], s_ins[-1]
        l_t_int = component_loss(t_int, sr_t_ins, gw=True)
        l_vgg = self.vgg(sr_t_int, t_res0[-1]) if self.vgg is not None else torch.zeros((), device=t_lr.device)
        gan = (
            bce_gan(self.d["d_s"](discriminator_y(sr_t_ins)), True)
            + bce_gan(self.d["d_t"](discriminator_y(sr_t_int)), True)
            + bce_gan(self.d["d_tm"](sr_t_int), True)
            + bce_gan(self.d["d_sm"](sr_s_int), True)
        )
        l_down_t = (self.down_t(sr_t_int) - t_lr).abs().mean()
        l_down_s = (self.down_s(sr_t_ins) - t_lr).abs().mean()
        w = WEIGHTS
        total = (
            w["s_ins"] * l_s_ins
            + w["s_int"] * l_s_int
            + w["t_int"] * l_t_int
            + w["gan"] * gan
            + w["down"] * (l_down_t + l_down_s)
            + w["vgg"] * l_vgg
        )
        total.backward()
        sync_gradients(self.generators.values(), self.ctx.dist)
        opt.step()

        for disc in self.d.values():
            disc.requires_grad_(True)
        d_losses = {}
        real_fake = {  # (real, fake) as docs/cdc-dada.md §4; tensors of this step, detached
            "d_s": (discriminator_y(sr_s_ins.detach()), discriminator_y(sr_t_ins.detach())),
            "d_t": (discriminator_y(sr_s_int.detach()), discriminator_y(sr_t_int.detach())),
            "d_sm": (sr_s_ins.detach(), sr_s_int.detach()),
            "d_tm": (sr_t_ins.detach(), sr_t_int.detach()),
        }
        for name, (real, fake) in real_fake.items():
            disc, d_opt = self.d[name], self.optimizers[name]
            d_opt.zero_grad(set_to_none=True)
            loss = 0.5 * (bce_gan(disc(real), True) + bce_gan(disc(fake), False))
            loss.backward()
            sync_gradients([disc], self.ctx.dist)
            d_opt.step()
            d_losses[name] = loss.item()
        self.done = iteration + 1
        return {
            "s_ins": l_s_ins.item(),
            "s_int": l_s_int.item(),
            "t_int": l_t_int.item(),
            "gan_g": gan.item(),
            "down_t": l_down_t.item(),
            "down_s": l_down_s.item(),
            "vgg": l_vgg.item(),
            **d_losses,
        }

    def evaluate(self) -> dict[str, float]:
        model = DADAUpscaler(self.up_t, self.up_0).eval()
        return self.ctx.validate(model, size_multiple=SIZE_MULTIPLE)

    def export(self) -> dict[str, Any]:
        return {
            "break_info": _break_info(self.done),
            "model": {name: cpu_state(net.state_dict()) for name, net in self.networks.items()},
        }


def plan(ctx: StageContext, start: StartWeights, run_root: Path) -> Plan:
    """The three stages; a CDC in --source-weights skips stage 1, a circle export stages 1 and 2."""
    steps = [
        Step("1-source-cdc", lambda exports: SourceCDC(ctx)),
        Step("2-circle", lambda exports: Circle(ctx, exports["1-source-cdc"]["model"])),
        Step("3-dada", lambda exports: DADAStage(ctx, exports["2-circle"])),
    ]
    given: Exports = {}
    if start is not None:
        kind, payload = start
        if kind == "circle":
            given["2-circle"] = payload
            steps = steps[2:]
        else:
            given["1-source-cdc"] = {"model": payload}
            steps = steps[1:]

    def cdc(state: dict) -> CDCNet:
        net = CDCNet(scale=ctx.data.scale)
        net.load_state_dict(state)
        return net.to(ctx.device).eval()

    def compare(exports: Exports) -> dict[str, Upscaler]:
        circle_up = cdc(exports["2-circle"]["model"]["up"])
        first = exports.get("1-source-cdc")
        source_only = cdc(first["model"]) if first else circle_up
        adapted = DADAUpscaler(cdc(exports["3-dada"]["model"]["up_t"]), circle_up)
        return {"source-only": source_only.upscale, "adapted": adapted}

    return Plan(steps, compare, size_multiple=SIZE_MULTIPLE, start=given)


RECIPE = Recipe(plan, source_weights=("cdc", "circle"))
