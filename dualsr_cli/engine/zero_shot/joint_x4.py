"""srx's joint x4 DualSR: one training run whose upsampler, downsampler and discriminator all work at x4.

The official code is x2 only; its author sketched this variant (memad73/DualSR issue #1: x4 bilinear
pre-upsampler, G_DN at stride 4). srx's choices, each kept as close to the x2 loop as x4 allows:

- G_UP: ``UpsamplerX4G``, bilinear x4 plus the same eight-conv residual body (same parameters and init).
- G_DN: the x2 linear network, applied twice. Its x4 kernel is the 13x13 x2 kernel composed with itself
  (37x37, stride 4), which is how KernelGAN builds its x4 kernel and how DIV2KRK made its x4 images, so
  every KernelGAN prior (bicubic, sum-to-one, boundaries, centre, sparsity) keeps acting on the 13x13
  kernel unchanged; the bicubic prior compares the *first* application with bicubic x0.5, per channel
  (the official R+G+B-sum target would hold Σk near 2, i.e. Σ = 4 for the x4 kernel).
- D_DN: the same PatchGAN, on real crops of the input (a quarter of the HR crop) against G_DN's x4 output.
- Losses: both cycles and the masked interpolation loss at x4 (bicubic x4 of the LR crop, Sobel mask).
- Crops: the x2 HR crop (128 px, 64 at least), so G_UP's cost per iteration equals x2's; LR crops are
  32 px (16 at least), HR crops drawn from the gradient map of the x0.25 image.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from ...archs.dualsr import UpsamplerG, build_dualsr_networks
from ...ops.crops import plan_crops, shave_for_training
from ...ops.tiling import auto_tile_size, upscale_tiled
from .config import TRAINING_BORDER, ZeroShotConfig
from .losses import KernelRegulariser, lsgan_loss, masked_interpolation_loss, shave_to
from .schedule import LambdaSchedule, learning_rates
from .trainer import UPSAMPLER_BYTES_PER_LR_PIXEL, UPSAMPLER_TILE_PAD, CropSampler, StepLosses, training_crop_size

SCALE = 4


def shave_for_x4(image: np.ndarray) -> np.ndarray:
    """The training border of x2, then the last rows/columns that a factor of 4 does not divide."""
    shaved = shave_for_training(image, TRAINING_BORDER)
    rows, cols = shaved.shape[:2]
    return shaved[: rows - rows % SCALE, : cols - cols % SCALE]


class JointX4Trainer:
    """Trains G_UP (x4), G_DN (x2 kernel, applied twice) and D_DN on one image; then ``upscale`` it x4."""

    def __init__(self, image: np.ndarray, config: ZeroShotConfig, device: torch.device) -> None:
        self.config = config
        self.device = device
        quirks = config.quirks
        g_up, g_dn, d_dn = build_dualsr_networks(config.seed, upsampler_scale=SCALE)
        self.g_up: UpsamplerG = g_up.to(device)
        self.g_dn = g_dn.to(device)
        self.d_dn = d_dn.to(device)
        self.use_channels_last = config.channels_last
        if self.use_channels_last:
            self.g_up = self.g_up.to(memory_format=torch.channels_last)

        betas = (config.beta1, 0.999)
        self.opt_g_up = torch.optim.Adam(self.g_up.parameters(), lr=config.lr_g_up, betas=betas)
        self.opt_g_dn = torch.optim.Adam(self.g_dn.parameters(), lr=config.lr_g_dn, betas=betas)
        self.opt_d_dn = torch.optim.Adam(self.d_dn.parameters(), lr=config.lr_d_dn, betas=betas)
        # Per-channel bicubic target even with the official quirks on: the R+G+B-sum target pulls Σk to ~2,
        # which x2 recovers from, but applied twice it is Σk² ≈ 4 and G_UP learns a 4x darker image (measured).
        self.regulariser = KernelRegulariser(device=device, channel_sum_bicubic=False)
        self.schedule = LambdaSchedule()

        shaved = shave_for_x4(np.asarray(image, dtype=np.float64))
        self.hr_crop = training_crop_size(shaved.shape[0], shaved.shape[1], config.hr_crop)
        boundary = "dualsr" if quirks.truncated_imresize else "symmetric"
        plan = plan_crops(
            shaved,
            hr_size=self.hr_crop,
            samples=config.iters * config.batch_size,
            seed=config.seed,
            boundary=boundary,
            scale=SCALE,
        )
        self.sampler = CropSampler(
            shaved,
            plan,
            batch_size=config.batch_size,
            device=device,
            truncated_imresize=quirks.truncated_imresize,
            scale=SCALE,
        )
        self.iteration = 0
        self.last_kernel: torch.Tensor | None = None
        self.last_losses: StepLosses | None = None
        self.train_seconds = 0.0

    def _set_learning_rates(self) -> None:
        cfg = self.config
        rates = learning_rates(
            self.iteration, cfg.lr_g_up, cfg.lr_g_dn, cfg.lr_d_dn, aligned=not cfg.quirks.offset_lr_schedule
        )
        for optimiser, rate in zip((self.opt_g_up, self.opt_g_dn, self.opt_d_dn), rates, strict=True):
            for group in optimiser.param_groups:
                group["lr"] = rate

    def _downscale_x4(self, x: torch.Tensor, kernel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x2 result, x4 result) of G_DN's kernel applied twice."""
        half = self.g_dn(x, kernel)
        return half, self.g_dn(half, kernel)

    def step(self) -> StepLosses:
        cfg = self.config
        self._set_learning_rates()
        hr, lr, lr_bicubic = self.sampler.batch(self.iteration)
        if self.use_channels_last:
            lr = lr.contiguous(memory_format=torch.channels_last)

        # G step: D frozen; fake_LR is kept for the D step unless the stale-fake quirk is off.
        self.d_dn.requires_grad_(False)
        self.opt_g_up.zero_grad(set_to_none=True)
        self.opt_g_dn.zero_grad(set_to_none=True)
        kernel = self.g_dn.kernel()
        fake_hr = self.g_up(lr)
        _, rec_lr = self._downscale_x4(fake_hr, kernel)
        fake_half, fake_lr = self._downscale_x4(hr, kernel)
        rec_hr = self.g_up(fake_lr)

        loss_gan = lsgan_loss(self.d_dn(fake_lr), real=True)
        loss_cycle_fwd = (rec_lr - shave_to(lr, rec_lr)).abs().mean() * cfg.lambda_cycle
        loss_cycle_bwd = (rec_hr - shave_to(hr, rec_hr)).abs().mean() * cfg.lambda_cycle
        loss_interp = masked_interpolation_loss(fake_hr, lr_bicubic) * cfg.lambda_interp
        terms = self.regulariser.terms(kernel, hr, fake_half)  # KernelGAN's priors on the x2 step
        loss_reg = terms.weighted(self.schedule.lambdas) * cfg.lambda_regularization
        total = loss_gan + loss_cycle_fwd + loss_cycle_bwd + loss_interp + loss_reg
        total.backward()
        self.opt_g_up.step()
        self.opt_g_dn.step()

        # D step: fake first, then real, as at x2.
        self.d_dn.requires_grad_(True)
        self.opt_d_dn.zero_grad(set_to_none=True)
        if cfg.quirks.stale_fake_lr:
            fake_for_d = fake_lr.detach()
        else:
            with torch.no_grad():
                fake_for_d = self._downscale_x4(hr, self.g_dn.kernel())[1]
        loss_d_fake = lsgan_loss(self.d_dn(fake_for_d), real=False)
        loss_d_real = lsgan_loss(self.d_dn(shave_to(lr, fake_for_d)), real=True)
        loss_d = (loss_d_real + loss_d_fake) * 0.5
        loss_d.backward()
        self.opt_d_dn.step()

        values = StepLosses.stack(
            gan=loss_gan,
            cycle_forward=loss_cycle_fwd,
            cycle_backward=loss_cycle_bwd,
            interpolation=loss_interp,
            regulariser=loss_reg,
            bicubic=terms.bicubic,
            discriminator=loss_d,
            kernel_sum=kernel.sum(),
        )
        losses = StepLosses.from_row(values.tolist())
        self.schedule.update(self.iteration, losses.bicubic)
        self.last_kernel = kernel.detach()
        self.last_losses = losses
        self.iteration += 1
        return losses

    def train(self, on_step: Callable[[int, StepLosses], None] | None = None) -> StepLosses:
        """Run the remaining iterations; ``on_step(iteration, losses)`` is called after each one."""
        self.g_up.train()
        self.d_dn.train()
        start = time.perf_counter()
        try:
            while self.iteration < self.config.iters:
                losses = self.step()
                if on_step is not None:
                    on_step(self.iteration, losses)
        finally:
            self.train_seconds += time.perf_counter() - start
        assert self.last_losses is not None
        return self.last_losses

    def kernel(self) -> np.ndarray:
        """The raw 13x13 x2 kernel of the last G step; the x4 kernel is it composed with itself."""
        kernel = self.last_kernel if self.last_kernel is not None else self.g_dn.kernel().detach()
        return kernel.float().cpu().numpy()

    def tile_size(self) -> int:
        if self.config.tile is not None:
            return self.config.tile
        # x4 output holds 16 HR pixels per LR pixel where x2 holds 4
        return auto_tile_size(self.device, UPSAMPLER_BYTES_PER_LR_PIXEL * 4)

    @torch.inference_mode()
    def upscale(self, image: torch.Tensor, on_tile: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """G_UP x4 on a full (1, 3, H, W) float32 image in [0, 1] (unclamped output, on the CPU), tiled."""
        self.g_up.eval()
        return upscale_tiled(
            self.g_up,
            image,
            scale=SCALE,
            tile=self.tile_size(),
            pad=UPSAMPLER_TILE_PAD,
            device=self.device,
            channels_last=self.use_channels_last,
            on_tile=on_tile,
        )

    @torch.inference_mode()
    def downscale(self, image: torch.Tensor) -> torch.Tensor:
        """G_DN twice on a full image: the x4 downsampler (for the downsampler PSNR against a known kernel)."""
        return self._downscale_x4(image.to(self.device), self.g_dn.kernel())[1].float().cpu()
