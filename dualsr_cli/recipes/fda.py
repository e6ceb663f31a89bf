"""Feature distribution alignment SR (Wang et al., ICCV 2021) — srx's recipe.

The paper survives only as a poster: it fixes the data flow and the loss formulas (``docs/fda.md`` §1–2)
but no architecture, weight or schedule. Everything else is srx's choice (``docs/fda.md`` §3–6):

- networks: encoder E (5 convs, 64 features at LR size), G_SR = RRDB-23 on E's features, G_t = DeResnet
  body (linear output), PatchGANs D_f (64 ch), D_t (LR images), D_SR (HR images);
- f_t = E(x_t), f_s = E(x_s), x_tt = G_t(f_t), x_st = G_t(f_s), f̃_s = E(x_st), y_ss = G_SR(f_s),
  y_sts = G_SR(f̃_s); losses with LSGAN targets 0 / 0.5 / 1:
  0.01·L_align(E) (``--fda-lambda-align``) + 1·L_rec + 1·L_res + 0.01·L_sty + 0.01·L_idt + 1·L_cyc,
  with L_rec = L1 + 0.01·VGG19 + 0.01·adversarial (D_SR) and L_cyc the same on y_sts; D_f: target → 0, source → 1;
- Adam 1e-4, betas (0.9, 0.99) — one for {E, G_t, G_SR}, one per discriminator; ×0.5 at 200k and 300k of
  400k iterations; LR patch 64, batch 8 per domain.

``--fda-losses rec`` trains the same networks with L_rec alone (the comparison the evidence needs). Every
validation (and iteration 0, before any training) also logs D_f's mean output on target and source features
and the accuracy of a linear probe on the features' per-channel mean, standard deviation and high-pass energy
of 256 fixed patches per camera, scored on images it was not fitted on (it should fall towards 50 % as the
features align).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..archs.discriminators import NLayerDiscriminator, init_normal
from ..archs.fda import FDA_FORMAT, Encoder, FDAUpscaler, TargetDecoder, split_state
from ..archs.rrdb import RRDBNet, init_rrdb
from .config import FDA_LAMBDA_ALIGN
from .context import NETWORK_INIT, StageContext, stream_seed
from .data import CrossCameraData, ImageCache, PatchSampler
from .job import sync_gradients
from .losses import perceptual_loss
from .plan import Exports, Plan, Recipe, StartWeights, Step, Upscaler, bicubic_upscaler, cpu_state

PAPER = {"iters": 400_000, "batch": 8, "lr_patch": 64, "lr": 1e-4, "milestones": [200_000, 300_000]}
LAMBDAS = {"rec": 1.0, "res": 1.0, "sty": 0.01, "idt": 0.01, "cyc": 1.0, "alpha": 0.01, "beta": 0.01}
SMOKE_SIZES = {"nb": 2, "gt_blocks": 2}  # --preset smoke shrinks G_SR and G_t (docs/fda.md §4)
# L_align's weight is AdaptConfig.fda_lambda_align (--fda-lambda-align)


def build_generators(seed: int, *, smoke: bool, scale: int) -> tuple[Encoder, RRDBNet, TargetDecoder]:
    """E, G_SR and G_t as a run with this seed starts them (benchmarks/fda_probe rebuilds the untrained E)."""
    torch.manual_seed(stream_seed(seed, NETWORK_INIT, 20))
    e = Encoder()
    g_sr = RRDBNet(in_nc=64, nb=SMOKE_SIZES["nb"] if smoke else 23, scale=scale)
    g_t = TargetDecoder(blocks=SMOKE_SIZES["gt_blocks"] if smoke else 8)
    for net in (e, g_sr, g_t):
        init_rrdb(net)
    return e, g_sr, g_t


def _lsgan(prediction: torch.Tensor, target: float) -> torch.Tensor:
    return ((prediction - target) ** 2).mean()


def feature_statistics(features: torch.Tensor) -> torch.Tensor:
    """Per patch and channel: mean, standard deviation and high-pass energy |f − 3×3 mean of f|.

    Blur and noise, which tell the cameras apart, live in the second moments and the high frequencies,
    which mean pooling alone averages away.
    """
    local_mean = torch.nn.functional.avg_pool2d(features, 3, 1, 1, count_include_pad=False)
    high_pass = (features - local_mean).abs().mean(dim=(2, 3))
    return torch.cat([features.mean(dim=(2, 3)), features.std(dim=(2, 3)), high_pass], dim=1)


def linear_probe_accuracy(
    target: torch.Tensor, source: torch.Tensor, steps: int = 300, held_out: torch.Tensor | None = None
) -> float:
    """Held-out accuracy of a logistic regression telling pooled target features (0) from source (1).

    ``held_out`` (bool, target rows then source rows) names the test rows; by default a random half.
    Patches of one image must sit on one side, or the probe recognises images rather than cameras.
    """
    with torch.inference_mode(False), torch.enable_grad():
        return _probe(target.clone(), source.clone(), steps, held_out)


def probe_patches(data: CrossCameraData, lr_patch: int, cache: ImageCache, patches: int = 256):
    """Fixed target and source LR patches, and which of them the probe is scored on (half the images)."""
    drawn, held_out = [], []
    for pairs, seed in ((data.target_train, 4321), (data.source_train, 1234)):
        sampler = PatchSampler(pairs, scale=data.scale, lr_patch=lr_patch, seed=seed, cache=cache)
        x, _, _ = sampler.draw(patches, with_hr=False)  # its own seeded sampler: training draws are untouched
        scored = set(sorted({pair.item for pair in pairs})[1::2])
        held_out += [pair.item in scored for pair in sampler.last_pairs]
        drawn.append(x)
    mask = torch.tensor(held_out)
    one_sided = any(part.all() or not part.any() for part in (mask[:patches], mask[patches:]))
    return drawn[0], drawn[1], None if one_sided else mask  # one image per camera: a random split instead


def encoder_probe(f_target: torch.Tensor, f_source: torch.Tensor, held_out: torch.Tensor | None) -> float:
    """Accuracy of the linear probe on the features' statistics: 0.5 when E hides the camera."""
    return linear_probe_accuracy(
        feature_statistics(f_target).cpu(), feature_statistics(f_source).cpu(), held_out=held_out
    )


def _probe(target: torch.Tensor, source: torch.Tensor, steps: int, held_out: torch.Tensor | None) -> float:
    x = torch.cat([target, source]).double()
    y = torch.cat([torch.zeros(len(target)), torch.ones(len(source))]).double()
    x = (x - x.mean(0)) / (x.std(0) + 1e-8)
    if held_out is None:
        order = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
        held_out = torch.zeros(len(x), dtype=torch.bool)
        held_out[order[len(x) // 2 :]] = True
    train, test = ~held_out, held_out
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([w, b], max_iter=steps)

    def closure():
        optimiser.zero_grad()
        logits = x[train] @ w + b
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y[train]) + 1e-3 * (w**2).sum()
        loss.backward()
        return loss

    optimiser.step(closure)
    with torch.no_grad():
        predicted = ((x[test] @ w + b) > 0).double()
    return float((predicted == y[test]).double().mean())


class FDAStage:
    name = "fda"

    def __init__(self, ctx: StageContext, *, losses: str = "full", paper_mode: bool = False) -> None:
        self.ctx = ctx
        self.full = losses == "full"
        self.weights = {**LAMBDAS, "align": ctx.config.fda_lambda_align}
        self.e, self.g_sr, self.g_t = build_generators(
            ctx.config.seed, smoke=ctx.config.preset == "smoke", scale=ctx.data.scale
        )
        self.d_f, self.d_t, self.d_sr = NLayerDiscriminator(64), NLayerDiscriminator(3), NLayerDiscriminator(3)
        for disc in (self.d_f, self.d_t, self.d_sr):
            init_normal(disc)
        self.networks = {
            "E": self.e,
            "G_SR": self.g_sr,
            "G_t": self.g_t,
            "D_f": self.d_f,
            "D_t": self.d_t,
            "D_SR": self.d_sr,
        }
        for net in self.networks.values():
            net.to(ctx.device)
        self.generators = [self.e, self.g_t, self.g_sr]
        params = [p for net in self.generators for p in net.parameters()]
        self.optimizers = {"G": torch.optim.Adam(params, lr=PAPER["lr"], betas=(0.9, 0.99))}
        for name in ("D_f", "D_t", "D_SR") if self.full else ("D_SR",):  # L_rec alone trains only D_SR
            self.optimizers[name] = torch.optim.Adam(
                self.networks[name].parameters(), lr=PAPER["lr"], betas=(0.9, 0.99)
            )
        self.schedulers = {
            n: torch.optim.lr_scheduler.MultiStepLR(o, PAPER["milestones"], 0.5) for n, o in self.optimizers.items()
        }
        self.vgg = perceptual_loss(ctx.config.perceptual, ctx.device)
        self.source = ctx.sampler(ctx.data.source_train, 21, paper_patch=PAPER["lr_patch"])
        self.target = ctx.sampler(ctx.data.target_train, 22, paper_patch=PAPER["lr_patch"])
        self.samplers = [self.source, self.target]
        self.iterations = ctx.config.stage_value("iters", PAPER["iters"])
        self.paper_mode = paper_mode
        self.done = 0

    def _sr_terms(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        """L1 + α·VGG + β·LSGAN(D_SR → 1): the form of L_rec (and of L_cyc)."""
        loss = (sr - hr).abs().mean() + LAMBDAS["beta"] * _lsgan(self.d_sr(sr), 1.0)
        if self.vgg is not None:
            loss = loss + LAMBDAS["alpha"] * self.vgg(sr, hr)
        return loss

    def step(self, iteration: int) -> dict[str, float]:
        batch = self.ctx.batch(PAPER["batch"])
        x_s, y_s, _ = self.source.draw(batch)
        x_t, _, _ = self.target.draw(batch, with_hr=False)
        x_s, y_s, x_t = self.ctx.to_device(x_s, y_s, x_t)
        discs = (self.d_f, self.d_t, self.d_sr)
        for disc in discs:
            disc.requires_grad_(False)
        opt = self.optimizers["G"]
        opt.zero_grad(set_to_none=True)
        f_s = self.e(x_s)
        y_ss = self.g_sr(f_s)
        l_rec = self._sr_terms(y_ss, y_s)
        terms = {"rec": l_rec}
        if self.full:
            f_t = self.e(x_t)
            x_tt, x_st = self.g_t(f_t), self.g_t(f_s)
            f_s2 = self.e(x_st)
            y_sts = self.g_sr(f_s2)
            terms.update(
                align=_lsgan(self.d_f(f_t), 0.5) + _lsgan(self.d_f(f_s), 0.5),
                res=(x_t - x_tt).abs().mean(),
                sty=_lsgan(self.d_t(x_st), 1.0),
                idt=(f_s2 - f_s).abs().mean(),
                cyc=self._sr_terms(y_sts, y_s),
            )
        total = sum(self.weights[k] * v for k, v in terms.items())
        total.backward()
        sync_gradients(self.generators, self.ctx.dist)
        opt.step()

        for disc in discs:
            disc.requires_grad_(True)
        d_terms = {"D_SR": 0.5 * (_lsgan(self.d_sr(y_s), 1.0) + _lsgan(self.d_sr(y_ss.detach()), 0.0))}
        if self.full:
            fake_sr = 0.5 * (_lsgan(self.d_sr(y_ss.detach()), 0.0) + _lsgan(self.d_sr(y_sts.detach()), 0.0))
            d_terms = {
                "D_f": 0.5 * (_lsgan(self.d_f(f_t.detach()), 0.0) + _lsgan(self.d_f(f_s.detach()), 1.0)),
                "D_t": 0.5 * (_lsgan(self.d_t(x_st.detach()), 0.0) + _lsgan(self.d_t(x_t), 1.0)),
                "D_SR": 0.5 * (_lsgan(self.d_sr(y_s), 1.0) + fake_sr),
            }
        out = {k: v.item() for k, v in terms.items()}
        for name, loss in d_terms.items():
            d_opt = self.optimizers[name]
            d_opt.zero_grad(set_to_none=True)
            loss.backward()
            sync_gradients([self.networks[name]], self.ctx.dist)
            d_opt.step()
            out[f"d_{name}"] = loss.item()
        if self.full:
            out["D_f_on_target"] = self.d_f(f_t.detach()).mean().item()
            out["D_f_on_source"] = self.d_f(f_s.detach()).mean().item()
        for scheduler in self.schedulers.values():
            scheduler.step()
        self.done = iteration + 1
        return out

    @torch.inference_mode()
    def feature_report(self, patches: int = 256) -> dict[str, float]:
        """D_f's mean output and the ``encoder_probe`` accuracy on fixed target/source patches."""
        x_t, x_s, held_out = probe_patches(self.ctx.data, self.ctx.patch(PAPER["lr_patch"]), self.ctx.cache, patches)
        f_t, f_s = self.e(x_t.to(self.ctx.device)), self.e(x_s.to(self.ctx.device))
        return {
            "D_f_on_target": self.d_f(f_t).mean().item(),
            "D_f_on_source": self.d_f(f_s).mean().item(),
            "probe_accuracy": encoder_probe(f_t, f_s, held_out),
        }

    def start_report(self) -> dict[str, float]:
        """Where alignment starts (logged at iteration 0): the reference for D_f and the probe."""
        for net in self.generators:
            net.eval()
        report = self.feature_report()
        for net in self.generators:
            net.train()
        return report

    def evaluate(self) -> dict[str, float]:
        for net in self.generators:
            net.eval()
        report = self.feature_report()
        pairs = self.ctx.selection_pairs()
        metrics = (
            {"psnr": float("-inf")} if not pairs else self.ctx.validate(lambda x: self.g_sr(self.e(x)), pairs=pairs)
        )
        for net in self.generators:
            net.train()
        return {**metrics, **report}

    def upscaler(self) -> FDAUpscaler:
        net = FDAUpscaler(nb=len(self.g_sr.model[1].sub) - 1, scale=self.ctx.data.scale)
        net.E.load_state_dict(self.e.state_dict())
        net.G_SR.load_state_dict(self.g_sr.state_dict())
        return net

    def export(self) -> dict[str, Any]:
        """E and G_SR only (``srx run fda``); G_t and the discriminators live in the training state."""
        model = {
            **{f"E.{k}": v for k, v in cpu_state(self.e.state_dict()).items()},
            **{f"G_SR.{k}": v for k, v in cpu_state(self.g_sr.state_dict()).items()},
        }
        return {
            "format": FDA_FORMAT,
            "version": 1,
            "scale": self.ctx.data.scale,
            "features": 64,
            "iteration": self.done,
            "losses": "full" if self.full else "rec",
            "model": model,
        }


def plan(ctx: StageContext, start: StartWeights, run_root: Path) -> Plan:
    """One stage training E, G_SR, G_t and the discriminators together; compared with bicubic."""
    paper_mode = ctx.config.layout != "drealsr"
    steps = [Step("fda", lambda exports: FDAStage(ctx, losses=ctx.config.fda_losses, paper_mode=paper_mode))]

    def compare(exports: Exports) -> dict[str, Upscaler]:
        encoder, decoder = split_state(exports["fda"]["model"])
        blocks = len({k.split(".")[3] for k in decoder if k.startswith("model.1.sub.")}) - 1
        net = FDAUpscaler(nb=blocks, scale=ctx.data.scale)
        net.E.load_state_dict(encoder)
        net.G_SR.load_state_dict(decoder)
        return {"bicubic": bicubic_upscaler(ctx.data.scale), "adapted": net.to(ctx.device).eval()}

    return Plan(steps, compare)


# Runs recorded before these settings existed trained with L_rec + everything, at the default weight.
RECIPE = Recipe(plan, resume_keys={"fda_losses": "full", "fda_lambda_align": FDA_LAMBDA_ALIGN})
