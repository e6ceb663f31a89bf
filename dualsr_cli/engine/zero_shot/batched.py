"""Many DualSR runs trained in lockstep in one process: several images, or one image with several seeds.

Each run is a complete single-image ``DualSRTrainer`` (its own G_UP, G_DN, D_DN, Adam states, crop plan,
seed and Learner schedule); only the arithmetic of one iteration is shared. Per iteration all runs' crops
are stacked to (N, B, C, H, W), losses are computed per run and summed before one backward (each run's
parameters only receive the gradient of its own loss), and one device sync reads every run's losses for
its own λ schedule. Results equal the single runs up to floating-point rounding.

Two ways to compute the networks, chosen by measurement (``benchmarks/zero_shot_throughput.py``):

- ``grouped``: stacked networks. Every conv of the N runs becomes one grouped convolution over
  (B, N·C, H, W) with the runs' weights concatenated (and their spectral norms computed per run); one
  kernel launch per layer instead of N. Meant for GPUs, where a single run uses a sliver of the device.
- ``per-network``: every run's own modules in turn inside the shared step (one backward for all runs).
- ``sequential``: every run's own single-run ``DualSRTrainer.step`` in turn, so results are bit-identical
  to single runs and memory holds one run's activations, not N. On the CPU a single run already keeps the
  cores busy and grouped convolutions are slower than N separate ones; ``per-network`` measured the same
  throughput as one run at a time within the machine's noise, at N times the memory. So this is the CPU
  default.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.spectral_norm import SpectralNorm

from ...errors import ConfigError
from ...image_io import ImageData, quantize
from ...metrics.psnr import psnr_y
from ...runtime.device import configure_determinism, resolve_device
from ..postprocess import from_network_output, to_network_input
from .config import HR_CROP, TRAINING_BORDER, BatchSettings, ZeroShotConfig
from .losses import interpolation_mask, shave_to
from .pipeline import (
    Hooks,
    PreparedImage,
    SuperResolved,
    ZeroShotResult,
    finish_image,
    prepare_image,
    skipped_result,
)
from .schedule import learning_rates
from .trainer import DualSRTrainer, StepLosses, training_crop_size

# Eager iterations before a CUDA graph is captured (lets cuDNN/cuBLAS and the allocator settle).
GRAPH_WARMUP_ITERS = 3


def apply_precision(precision: str, device: torch.device) -> None:
    """TF32 on for ``tf32`` (CUDA matmuls and convolutions); fp32 and bf16 keep it off (the srx default)."""
    if device.type != "cuda":
        return
    allow = precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = allow
    torch.backends.cudnn.allow_tf32 = allow


class _CastSampler:
    """A ``CropSampler`` whose batches come in another dtype (float64 for the equality tests)."""

    def __init__(self, sampler, dtype: torch.dtype) -> None:
        self.inner = sampler
        self.plan = sampler.plan
        self.dtype = dtype

    def batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return tuple(t.to(self.dtype) for t in self.inner.batch(iteration))


def use_dtype(trainer: DualSRTrainer, dtype: torch.dtype) -> DualSRTrainer:
    """Convert a fresh trainer's networks, regulariser and crops to ``dtype`` (float64 for exactness tests)."""
    if dtype == torch.float32:
        return trainer
    if trainer.iteration:
        raise ValueError("convert a trainer before it starts training")
    for network in (trainer.g_up, trainer.g_dn, trainer.d_dn):
        network.to(dtype)  # parameters keep their identity, so the optimisers still hold them
    reg = trainer.regulariser
    reg.bicubic_kernel, reg.mask, reg.indices = (t.to(dtype) for t in (reg.bicubic_kernel, reg.mask, reg.indices))
    trainer.sampler = _CastSampler(trainer.sampler, dtype)
    return trainer


def _spectral_norm_of(module: nn.Module) -> SpectralNorm:
    return next(hook for hook in module._forward_pre_hooks.values() if isinstance(hook, SpectralNorm))


def _to_channels(x: torch.Tensor) -> torch.Tensor:
    """(N, B, C, H, W) -> (B, N·C, H, W): the runs side by side as channel groups."""
    n, b, c, h, w = x.shape
    return x.permute(1, 0, 2, 3, 4).reshape(b, n * c, h, w)


def _from_channels(x: torch.Tensor, runs: int) -> torch.Tensor:
    """(B, N·C, H, W) -> (N, B, C, H, W)."""
    b, nc, h, w = x.shape
    return x.reshape(b, runs, nc // runs, h, w).permute(1, 0, 2, 3, 4)


def _unhalved(x: torch.Tensor) -> torch.Tensor:
    """bf16 activations (autocast) back to float32 for the losses; other dtypes as they are."""
    return x.float() if x.dtype == torch.bfloat16 else x


def _per_run_mean(x: torch.Tensor) -> torch.Tensor:
    """(N, ...) -> (N,): each run's mean over all its elements, as ``nn.L1Loss``/``nn.MSELoss`` reduce."""
    return x.flatten(1).mean(1)


class BatchedDualSRTrainer:
    """N ``DualSRTrainer`` runs trained in lockstep; ``runs[i]`` then upscales and gives the kernel of run i."""

    def __init__(
        self,
        images: Sequence[np.ndarray],
        configs: Sequence[ZeroShotConfig],
        device: torch.device,
        *,
        settings: BatchSettings | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if not images or len(images) != len(configs):
            raise ValueError("give one config per image")
        self.settings = settings or BatchSettings()
        self.settings.check(configs[0], device)
        first = configs[0]
        for config in configs[1:]:
            if replace(config, seed=first.seed) != first:
                raise ConfigError("runs trained together must share every setting but the seed")
        self.config = first
        self.device = device
        self.stacking = self.settings.resolved_stacking(device)
        self.runs = [
            use_dtype(DualSRTrainer(image, cfg, device), dtype) for image, cfg in zip(images, configs, strict=True)
        ]
        crops = {run.hr_crop for run in self.runs}
        if len(crops) > 1:
            raise ConfigError(f"runs trained together need one crop size (got {sorted(crops)}); batch them apart")
        self.hr_crop = self.runs[0].hr_crop
        self.use_channels_last = self.runs[0].use_channels_last
        self.dtype = dtype
        self.autocast = (
            torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False)
            if self.settings.precision == "bf16"
            else nullcontext()
        )

        # One Adam per network kind over all runs: Adam is elementwise, so every parameter's update and
        # state are exactly those of its run's own optimiser; on CUDA the foreach kernels then cover all runs.
        capturable = self.settings.cuda_graphs
        betas = (first.beta1, 0.999)

        def adam(networks: list[nn.Module], rate: float) -> torch.optim.Adam:
            params = [p for network in networks for p in network.parameters()]
            lr = torch.tensor(rate, device=device) if capturable else rate
            return torch.optim.Adam(params, lr=lr, betas=betas, capturable=capturable)

        self.opt_g_up = adam([r.g_up for r in self.runs], first.lr_g_up)
        self.opt_g_dn = adam([r.g_dn for r in self.runs], first.lr_g_dn)
        self.opt_d_dn = adam([r.d_dn for r in self.runs], first.lr_d_dn)
        if self.stacking != "sequential":  # the runs' own optimisers are never stepped; drop them
            for run in self.runs:
                run.opt_g_up = run.opt_g_dn = run.opt_d_dn = None

        self.regulariser = self.runs[0].regulariser  # its fixed tensors are the same for every run
        self.iteration = 0
        self.train_seconds = 0.0
        self.static: dict[str, torch.Tensor] = {}
        self.graph: torch.cuda.CUDAGraph | None = None
        self.graph_values: torch.Tensor | None = None

    # -- stacked networks --------------------------------------------------------------------------------
    def _g_up(self, x: torch.Tensor, channels_last: bool) -> torch.Tensor:
        """G_UP of every run on its own (B, C, h, w) slice of (N, B, C, h, w)."""
        if self.stacking == "per-network":
            outs = []
            for run, xi in zip(self.runs, x.unbind(0), strict=True):
                outs.append(run.g_up(xi.contiguous(memory_format=torch.channels_last) if channels_last else xi))
            return torch.stack(outs)
        runs = len(self.runs)
        up = self.runs[0].g_up.bilinear_upsample(_to_channels(x))  # fixed per-channel filter
        if channels_last:
            up = up.contiguous(memory_format=torch.channels_last)
        out = up
        for modules in zip(*(run.g_up.model for run in self.runs), strict=True):
            if isinstance(modules[0], nn.Conv2d):
                weight = torch.cat([m.weight for m in modules])
                bias = torch.cat([m.bias for m in modules])
                out = F.conv2d(out, weight, bias, padding=1, groups=runs)
            else:
                out = F.relu(out)
        return _from_channels(up + out, runs)

    def _kernels(self) -> torch.Tensor:
        """(N, 13, 13): every run's composed G_DN kernel (with graph, for the regulariser)."""
        if self.stacking == "per-network":
            return torch.stack([run.g_dn.kernel() for run in self.runs])
        runs = len(self.runs)
        layers = zip(*(list(run.g_dn.parameters()) for run in self.runs), strict=True)
        first = self.runs[0].g_dn.first_layer.weight
        current = torch.ones(1, runs, 1, 1, dtype=first.dtype, device=first.device)
        for weights in layers:  # composed_kernel, all runs at once: a delta through every layer, full padding
            current = F.conv2d(current, torch.cat(weights), padding=weights[0].shape[-1] - 1, groups=runs)
        return current[0].flip([1, 2])

    def _downscale(self, x: torch.Tensor, kernels: torch.Tensor) -> torch.Tensor:
        """Each run's G_DN (one stride-2 correlation with its kernel) on its slice of (N, B, C, H, W)."""
        if self.stacking == "per-network":
            return torch.stack([run.g_dn(xi, k) for run, xi, k in zip(self.runs, x.unbind(0), kernels, strict=True)])
        runs, channels = x.shape[0], x.shape[2]
        weight = kernels.to(x.dtype).repeat_interleave(channels, dim=0)[:, None]
        return _from_channels(F.conv2d(_to_channels(x), weight, stride=2, groups=runs * channels), runs)

    def _discriminate(self, x: torch.Tensor) -> torch.Tensor:
        """Each run's D_DN on its slice; one spectral-norm power iteration per run, as its own forward does."""
        if self.stacking == "per-network":
            return torch.stack([run.d_dn(xi) for run, xi in zip(self.runs, x.unbind(0), strict=True)])
        runs = len(self.runs)
        out = _to_channels(x)
        networks = [run.d_dn for run in self.runs]
        sequences = [[d.first_layer, *d.feature_block, *d.final_layer] for d in networks]
        for modules in zip(*sequences, strict=True):
            head = modules[0]
            if isinstance(head, nn.Conv2d):
                weights = []
                for module in modules:
                    weight = _spectral_norm_of(module).compute_weight(module, do_power_iteration=module.training)
                    module.weight = weight  # what the spectral-norm hook would leave behind
                    weights.append(weight)
                bias = torch.cat([m.bias for m in modules])
                out = F.conv2d(out, torch.cat(weights), bias, groups=runs)
            elif isinstance(head, nn.BatchNorm2d):
                out = self._batch_norm(out, modules)
            elif isinstance(head, nn.ReLU):
                out = F.relu(out)
            else:
                out = torch.sigmoid(out)
        return _from_channels(out, runs)

    @staticmethod
    def _batch_norm(x: torch.Tensor, modules: Sequence[nn.BatchNorm2d]) -> torch.Tensor:
        """Training-mode BatchNorm per run (statistics over that run's samples), running stats kept per run."""
        mean = torch.cat([m.running_mean for m in modules])
        var = torch.cat([m.running_var for m in modules])
        weight = torch.cat([m.weight for m in modules])
        bias = torch.cat([m.bias for m in modules])
        head = modules[0]
        out = F.batch_norm(x, mean, var, weight, bias, training=True, momentum=head.momentum, eps=head.eps)
        with torch.no_grad():
            for module, m, v in zip(modules, mean.chunk(len(modules)), var.chunk(len(modules)), strict=True):
                module.running_mean.copy_(m)
                module.running_var.copy_(v)
                module.num_batches_tracked.add_(1)
        return out

    # -- one iteration -----------------------------------------------------------------------------------
    def _lambdas(self) -> torch.Tensor:
        """(N, 5) regulariser weights, each row from its own run's Learner schedule."""
        rows = [
            [lam.bicubic, lam.sum_to_one, lam.boundaries, lam.centralized, lam.sparse]
            for lam in (run.schedule.lambdas for run in self.runs)
        ]
        return torch.tensor(rows, dtype=self.dtype).to(self.device)

    def _inputs(self) -> dict[str, torch.Tensor]:
        """This iteration's stacked crops, and what depends on them alone (interpolation mask, bicubic target)."""
        batches = [run.sampler.batch(self.iteration) for run in self.runs]
        hr, lr, lr_bicubic = (torch.stack(parts) for parts in zip(*batches, strict=True))
        n, b = hr.shape[:2]
        mask = interpolation_mask(lr_bicubic.flatten(0, 1)).unflatten(0, (n, b))
        bicubic_target = self.regulariser.bicubic_target(hr.flatten(0, 1)).unflatten(0, (n, b))
        return {
            "hr": hr,
            "lr": lr,
            "lr_bicubic": lr_bicubic,
            "mask": mask,
            "bicubic_target": bicubic_target,
            "lambdas": self._lambdas(),
        }

    def _set_learning_rates(self) -> None:
        cfg = self.config
        rates = learning_rates(
            self.iteration, cfg.lr_g_up, cfg.lr_g_dn, cfg.lr_d_dn, aligned=not cfg.quirks.offset_lr_schedule
        )
        for optimiser, rate in zip((self.opt_g_up, self.opt_g_dn, self.opt_d_dn), rates, strict=True):
            for group in optimiser.param_groups:
                if isinstance(group["lr"], torch.Tensor):
                    group["lr"].fill_(rate)
                else:
                    group["lr"] = rate

    def _regulariser_terms(self, kernels: torch.Tensor, target: torch.Tensor, fake_lr: torch.Tensor) -> torch.Tensor:
        """(N, 5) KernelGAN regulariser terms per run: bicubic, sum-to-one, boundaries, centralized, sparse."""
        reg = self.regulariser
        target = shave_to(target, fake_lr)
        total = kernels.sum(dim=(1, 2))
        com_rows = (kernels.sum(dim=2) * reg.indices).sum(dim=1) / total
        com_cols = (kernels.sum(dim=1) * reg.indices).sum(dim=1) / total
        return torch.stack(
            [
                _per_run_mean((fake_lr - target) ** 2),
                (1.0 - total).abs(),
                _per_run_mean((kernels * reg.mask).abs()),
                ((com_rows - reg.centre) ** 2 + (com_cols - reg.centre) ** 2) / 2.0,
                _per_run_mean(kernels.abs() ** 0.2),
            ],
            dim=1,
        )

    def _train_step(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Forward, backward and optimiser steps of every run; (N, 8) loss values on the device, no sync.

        Only device work on ``inputs``: this is what a CUDA graph captures.
        """
        cfg = self.config
        hr, lr, lr_bicubic, mask = inputs["hr"], inputs["lr"], inputs["lr_bicubic"], inputs["mask"]
        d_networks = [run.d_dn for run in self.runs]

        # G step: D frozen; fake_LR is kept for the D step (official: not recomputed after the update).
        for d in d_networks:
            d.requires_grad_(False)
        self.opt_g_up.zero_grad(set_to_none=True)
        self.opt_g_dn.zero_grad(set_to_none=True)
        with self.autocast:
            kernels = self._kernels()
            fake_hr = self._g_up(lr, self.use_channels_last)
            rec_lr = self._downscale(fake_hr, kernels)
            fake_lr = self._downscale(hr, kernels)
            rec_hr = self._g_up(fake_lr, False)  # the single run feeds G_DN's NCHW output to G_UP as it is
            loss_gan = _per_run_mean((_unhalved(self._discriminate(fake_lr)) - 1.0) ** 2)
        fake_hr, rec_lr, fake_lr, rec_hr = (_unhalved(t) for t in (fake_hr, rec_lr, fake_lr, rec_hr))
        loss_cycle_fwd = _per_run_mean((rec_lr - shave_to(lr, rec_lr)).abs()) * cfg.lambda_cycle
        loss_cycle_bwd = _per_run_mean((rec_hr - shave_to(hr, rec_hr)).abs()) * cfg.lambda_cycle
        loss_interp = _per_run_mean((fake_hr * mask - lr_bicubic * mask).abs()) * cfg.lambda_interp
        terms = self._regulariser_terms(kernels, inputs["bicubic_target"], fake_lr)
        loss_reg = (terms * inputs["lambdas"]).sum(dim=1) * cfg.lambda_regularization
        total = loss_gan + loss_cycle_fwd + loss_cycle_bwd + loss_interp + loss_reg
        total.sum().backward()  # run i's parameters get the gradient of run i's loss only
        self.opt_g_up.step()
        self.opt_g_dn.step()

        # D step: fake first, then real (the order matters for the spectral-norm state).
        for d in d_networks:
            d.requires_grad_(True)
        self.opt_d_dn.zero_grad(set_to_none=True)
        with self.autocast:
            if cfg.quirks.stale_fake_lr:
                fake_for_d = fake_lr.detach()
            else:
                with torch.no_grad():
                    fake_for_d = self._downscale(hr, self._kernels())
            loss_d_fake = _per_run_mean(_unhalved(self._discriminate(fake_for_d)) ** 2)
            loss_d_real = _per_run_mean((_unhalved(self._discriminate(shave_to(lr, fake_for_d))) - 1.0) ** 2)
        loss_d = (loss_d_real + loss_d_fake) * 0.5
        loss_d.sum().backward()
        self.opt_d_dn.step()

        values = StepLosses.stack(
            dim=1,
            gan=loss_gan,
            cycle_forward=loss_cycle_fwd,
            cycle_backward=loss_cycle_bwd,
            interpolation=loss_interp,
            regulariser=loss_reg,
            bicubic=terms[:, 0],
            discriminator=loss_d,
            kernel_sum=kernels.sum(dim=(1, 2)),
        )
        self._last_kernels = kernels.detach()
        return values

    def _graph_step(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """The step through a CUDA graph: inputs copied into fixed buffers, captured once, then replayed."""
        if not self.static:
            self.static = {name: t.clone() for name, t in inputs.items()}
        else:
            for name, t in inputs.items():
                self.static[name].copy_(t, non_blocking=True)
        if self.iteration < GRAPH_WARMUP_ITERS:
            side = torch.cuda.Stream(self.device)
            side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(side):
                values = self._train_step(self.static)
            torch.cuda.current_stream(self.device).wait_stream(side)
            return values
        if self.graph is None:
            for optimiser in (self.opt_g_up, self.opt_g_dn, self.opt_d_dn):
                optimiser.zero_grad(set_to_none=True)  # grads then live in the graph's private pool
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.graph_values = self._train_step(self.static)
            self._graph_kernels = self._last_kernels
        self.graph.replay()  # capturing does not run the step, so the capture iteration replays too
        self._last_kernels = self._graph_kernels
        assert self.graph_values is not None
        return self.graph_values

    def step(self) -> list[StepLosses]:
        """One iteration of every run; returns each run's losses and advances each run's schedule."""
        if self.stacking == "sequential":  # each run's own single-run step, in turn
            self.iteration += 1
            return [run.step() for run in self.runs]
        self._set_learning_rates()
        inputs = self._inputs()
        values = self._graph_step(inputs) if self.settings.cuda_graphs else self._train_step(inputs)
        rows = values.tolist()  # the one device sync per iteration, for all runs
        losses = [StepLosses.from_row(row) for row in rows]
        for index, (run, run_losses) in enumerate(zip(self.runs, losses, strict=True)):
            run.schedule.update(self.iteration, run_losses.bicubic)
            run.last_kernel = self._last_kernels[index].clone()
            run.last_losses = run_losses
            run.iteration += 1
        self.iteration += 1
        return losses

    def train(self, on_step: Callable[[int, list[StepLosses]], None] | None = None) -> list[StepLosses]:
        """Run the remaining iterations; ``on_step(iteration, losses of every run)`` after each one."""
        for run in self.runs:
            run.g_up.train()
            run.d_dn.train()
        start = time.perf_counter()
        losses: list[StepLosses] = []
        try:
            while self.iteration < self.config.iters:
                losses = self.step()
                if on_step is not None:
                    on_step(self.iteration, losses)
        finally:
            self.train_seconds += time.perf_counter() - start
            for run in self.runs:
                run.train_seconds = self.train_seconds
        return losses


# -- files in, files out ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchJob:
    """One input of ``zero_shot_batch``: image, output and optional ground truth (image and kernel)."""

    input_path: Path
    output_path: Path
    gt_path: Path | None = None
    gt_kernel_path: Path | None = None


def training_crop_side(image: ImageData, config: ZeroShotConfig) -> int:
    """The training crop this image gets (runs train together only with equal crops)."""
    rows = image.height - 2 * TRAINING_BORDER
    cols = image.width - 2 * TRAINING_BORDER
    return training_crop_size(rows - rows % 2, cols - cols % 2, config.hr_crop)


def plan_batches(crops: Sequence[int], per_batch: int) -> list[list[int]]:
    """Indices of the images, grouped by crop size in input order, in chunks of ``per_batch``."""
    groups: dict[int, list[int]] = {}
    for index, crop in enumerate(crops):
        groups.setdefault(crop, []).append(index)
    return [members[i : i + per_batch] for members in groups.values() for i in range(0, len(members), per_batch)]


def ensemble_kernel(kernels: Sequence[np.ndarray]) -> tuple[np.ndarray, dict[str, float]]:
    """Mean of K kernels and their spread: RMS and max over taps of the per-tap standard deviation."""
    stack = np.stack(kernels).astype(np.float64)
    spread = stack.std(axis=0)
    return stack.mean(axis=0), {"rms_tap_std": float(np.sqrt((spread**2).mean())), "max_tap_std": float(spread.max())}


def zero_shot_batch(
    jobs: Sequence[BatchJob],
    config: ZeroShotConfig,
    settings: BatchSettings,
    *,
    kernel_png: bool = False,
    comparison_png: bool = False,
    skip_existing: bool = False,
    hooks: Hooks | None = None,
) -> list[ZeroShotResult]:
    """``srx zero-shot`` for many images, ``settings.images`` at a time and ``settings.ensemble`` seeds each.

    Images are checked before any training; results come back in input order.
    """
    hooks = hooks or Hooks()
    device = resolve_device(config.device)
    settings.check(config, device)
    results: dict[int, ZeroShotResult] = {}
    prepared: dict[int, PreparedImage] = {}
    for index, job in enumerate(jobs):
        if skip_existing and job.output_path.exists():
            results[index] = skipped_result(job.input_path, job.output_path, config)
            continue
        prepared[index] = prepare_image(
            job.input_path,
            job.output_path,
            config,
            gt_path=job.gt_path,
            gt_kernel_path=job.gt_kernel_path,
            kernel_png=kernel_png,
            comparison_png=comparison_png,
            hooks=hooks,
        )
    configure_determinism(device)
    apply_precision(settings.precision, device)

    order = list(prepared)
    crops = [training_crop_side(prepared[i].image, config) for i in order]
    for batch in plan_batches(crops, settings.images):
        members = [prepared[order[i]] for i in batch]
        names = [job.input_path.name for job in members]
        outcomes = super_resolve_batch(
            [job.image for job in members], config, settings, device, hooks=hooks, names=names
        )
        for position, (job, outcome) in enumerate(zip(members, outcomes, strict=True)):
            trainer = outcome.trainer
            result = finish_image(job, outcome.resolved, config, device)
            result.batch = {
                "images_together": names,
                "runs_together": len(trainer.runs),
                "stacking": trainer.stacking,
                "precision": settings.precision,
                "cuda_graphs": settings.cuda_graphs,
                "seeds": [run.config.seed for run in outcome.runs],
            }
            if settings.ensemble > 1:
                result.batch["kernel_spread"] = outcome.kernel_spread
                if job.gt is not None:
                    pixels = outcome.resolved.pixels
                    result.batch["member_psnr_y"] = [_member_psnr(run, pixels, job, config) for run in outcome.runs]
            results[order[batch[position]]] = result
    return [results[i] for i in range(len(jobs))]


@dataclass
class BatchOutcome:
    """One image of a trained batch: its (ensemble-averaged) result and the runs that made it."""

    resolved: SuperResolved
    runs: list[DualSRTrainer]
    trainer: BatchedDualSRTrainer
    kernel_spread: dict[str, float]


def _mean_downscale(runs: Sequence[DualSRTrainer], image: torch.Tensor) -> torch.Tensor:
    """G_DN of the runs averaged (G_DN is linear: the same as downscaling with their mean kernel)."""
    return torch.stack([run.downscale(image) for run in runs]).mean(dim=0)


def super_resolve_batch(
    images: Sequence[ImageData],
    config: ZeroShotConfig,
    settings: BatchSettings,
    device: torch.device,
    *,
    hooks: Hooks | None = None,
    names: Sequence[str] | None = None,
) -> list[BatchOutcome]:
    """Train ``settings.ensemble`` runs (seeds seed, seed+1, ...) per image, all in one lockstep batch, then
    upscale each image with its runs (the average of their outputs when there are several)."""
    hooks = hooks or Hooks()
    names = list(names or [f"image {i + 1}" for i in range(len(images))])
    for name, image in zip(names, images, strict=True):
        if min(image.width, image.height) < HR_CROP + 2 * TRAINING_BORDER:
            hooks.warning(
                f"{name} is {image.width}x{image.height}: smaller than the {HR_CROP + 2 * TRAINING_BORDER} px "
                "that DualSR's 128 px crops need, training on smaller crops (quality may suffer)"
            )
    seeds = [config.seed + k for k in range(settings.ensemble)]
    pixels_per_run = [image.rgb_float64() for image in images for _ in seeds]
    configs = [replace(config, seed=seed) for _ in images for seed in seeds]
    trainer = BatchedDualSRTrainer(pixels_per_run, configs, device, settings=settings)
    if hooks.on_start is not None:
        label = ", ".join(names) + ("" if settings.ensemble == 1 else f" (x{settings.ensemble} seeds)")
        hooks.on_start(label, config.iters)
    on_step = hooks.on_step
    trainer.train(None if on_step is None else lambda iteration, losses: on_step(iteration, losses[0]))

    outcomes = []
    for position, image in enumerate(images):
        runs = trainer.runs[position * len(seeds) : (position + 1) * len(seeds)]
        pixels = to_network_input(image)
        start = time.perf_counter()
        upscaled = torch.stack([run.upscale(pixels, on_tile=hooks.on_inference) for run in runs]).mean(dim=0)
        inference_seconds = time.perf_counter() - start
        color, alpha = from_network_output(upscaled, image)
        kernel, spread = ensemble_kernel([run.kernel() for run in runs])
        assert runs[0].last_losses is not None
        resolved = SuperResolved(
            pixels,
            color,
            alpha,
            kernel,
            runs[0].last_losses,
            inference_seconds,
            downscale=partial(_mean_downscale, runs),
            iterations=trainer.iteration,
            hr_crop=trainer.hr_crop,
            train_seconds=trainer.train_seconds,
        )
        outcomes.append(BatchOutcome(resolved, runs, trainer, spread))
    return outcomes


def _member_psnr(run: DualSRTrainer, pixels: torch.Tensor, job: PreparedImage, config: ZeroShotConfig) -> float:
    """Y-PSNR of one ensemble member alone (8-bit quantised), to compare the average with its members."""
    color, _ = from_network_output(run.upscale(pixels), job.image)
    written = quantize(color, 8).astype(np.float64) / 255.0
    gt = job.gt
    assert gt is not None
    if written.shape[2] != gt.shape[2]:
        written, gt = np.broadcast_to(written, (*written.shape[:2], 3)), np.broadcast_to(gt, (*gt.shape[:2], 3))
    return psnr_y(written, gt, border=config.scale)
