"""One DualSR training run on one image: the official loop, step by step (``docs/dualsr.md`` §3, G_DN §11).

Per iteration: a G step (G_UP and G_DN against cycle, interpolation, GAN and kernel losses), a D step on
the patch discriminator, then the Learner update. The only departure from the official computation is
that G_DN runs as one 13x13 stride-2 correlation with its composed kernel (exact, several times cheaper);
``reference_layers=True`` runs its six layers instead, for the speed benchmark and the equivalence tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch

from ...archs.dualsr import UpsamplerG, build_dualsr_networks
from ...errors import ImageSizeError
from ...ops.crops import CropPlan, plan_crops, shave_for_training
from ...ops.resize import resize_matrix_tensor
from ...ops.tiling import auto_tile_size, upscale_tiled
from .config import MIN_HR_CROP, MIN_IMAGE_SIDE, TRAINING_BORDER, ZeroShotConfig
from .losses import KernelRegulariser, lsgan_loss, masked_interpolation_loss, shave_to
from .schedule import LambdaSchedule, learning_rates

# G_UP's receptive field: 1 LR pixel for the bilinear step + 8 HR pixels (4 LR) for the convolutions.
UPSAMPLER_TILE_PAD = 8
# Inference memory per LR pixel: ~2 live 64-channel fp32 maps at HR resolution (4 HR pixels) + headroom.
UPSAMPLER_BYTES_PER_LR_PIXEL = 3 * 1024


@dataclass(frozen=True)
class StepLosses:
    """Loss values of one iteration, weighted as they enter the total; ``bicubic`` is raw (what the Learner sees)."""

    gan: float
    cycle_forward: float
    cycle_backward: float
    interpolation: float
    regulariser: float
    bicubic: float
    discriminator: float
    kernel_sum: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def stack(cls, dim: int = 0, **values: torch.Tensor) -> torch.Tensor:
        """The named loss tensors stacked in field order, so one ``.tolist()`` (one device sync) reads them all."""
        return torch.stack([values[f.name].detach().float() for f in fields(cls)], dim=dim)

    @classmethod
    def from_row(cls, row: list[float]) -> StepLosses:
        """Values stacked by ``stack``, back under their names."""
        return cls(**{f.name: value for f, value in zip(fields(cls), row, strict=True)})


def training_crop_size(rows: int, cols: int, preferred: int) -> int:
    """The HR crop for a shaved image: ``preferred`` if it fits, else the largest multiple of 4 that does."""
    side = min(rows, cols)
    crop = min(preferred, side - side % 4)
    if crop < MIN_HR_CROP:
        raise ImageSizeError(
            f"image too small for DualSR training: each side must be at least {MIN_IMAGE_SIDE} px "
            f"({MIN_HR_CROP} px crops after a {TRAINING_BORDER} px border)"
        )
    return crop


class CropSampler:
    """Turns the crop plan into float32 batches (HR crop, LR crop, bicubic-upsampled LR crop) on the device."""

    def __init__(
        self,
        shaved: np.ndarray,
        plan: CropPlan,
        *,
        batch_size: int,
        device: torch.device,
        truncated_imresize: bool,
        scale: int = 2,
    ) -> None:
        self.plan = plan
        self.batch_size = batch_size
        self.image = torch.from_numpy(np.ascontiguousarray(shaved.transpose(2, 0, 1))).to(device)  # float64
        boundary = "dualsr" if truncated_imresize else "symmetric"
        self.upscale = resize_matrix_tensor(
            plan.lr_size, float(scale), boundary=boundary, device=device, dtype=torch.float64
        )

    def _gather(self, corners: np.ndarray, size: int) -> torch.Tensor:
        return torch.stack([self.image[:, top : top + size, left : left + size] for top, left in corners.tolist()])

    def batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        samples = slice(iteration * self.batch_size, (iteration + 1) * self.batch_size)
        hr = self._gather(self.plan.hr_corners[samples], self.plan.hr_size)
        lr = self._gather(self.plan.lr_corners[samples], self.plan.lr_size)
        lr_bicubic = self.upscale @ lr @ self.upscale.T  # per-crop MATLAB bicubic x2 (x4), in float64 as the official
        return hr.float(), lr.float(), lr_bicubic.float()


def upsampler_tile_size(config: ZeroShotConfig, device: torch.device, scale: int) -> int:
    """``--tile``, or the largest LR tile whose G_UP pass fits the device's memory."""
    if config.tile is not None:
        return config.tile
    # the output holds scale² HR pixels per LR pixel: 4 at x2, 16 at x4
    return auto_tile_size(device, UPSAMPLER_BYTES_PER_LR_PIXEL * (scale // 2) ** 2)


def upscale_with(
    g_up: torch.nn.Module,
    image: torch.Tensor,
    config: ZeroShotConfig,
    device: torch.device,
    scale: int,
    channels_last: bool,
    on_tile: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """A trained G_UP on a full (1, 3, H, W) image, tiled by ``upsampler_tile_size`` (unclamped, on the CPU)."""
    g_up.eval()
    with torch.inference_mode():
        return upscale_tiled(
            g_up,
            image,
            scale=scale,
            tile=upsampler_tile_size(config, device, scale),
            pad=UPSAMPLER_TILE_PAD,
            device=device,
            channels_last=channels_last,
            on_tile=on_tile,
        )


class DualSRTrainer:
    """Trains G_UP, G_DN and D_DN on one image; then ``upscale`` the image and read ``kernel``.

    The x2 loop of the official code. ``joint_x4.JointX4Trainer`` runs the same loop at x4 by changing
    what ``SCALE``, ``_shave``, ``_channel_sum_bicubic`` and ``_downscale_twice`` say.
    """

    SCALE = 2

    def __init__(
        self,
        image: np.ndarray,
        config: ZeroShotConfig,
        device: torch.device,
        *,
        reference_layers: bool = False,
    ) -> None:
        self.config = config
        self.device = device
        self.reference_layers = reference_layers
        quirks = config.quirks

        g_up, g_dn, d_dn = build_dualsr_networks(config.seed, upsampler_scale=self.SCALE)
        self.g_up: UpsamplerG = g_up.to(device)
        self.g_dn = g_dn.to(device)
        self.d_dn = d_dn.to(device)
        self.use_channels_last = config.channels_last and not reference_layers
        if self.use_channels_last:
            self.g_up = self.g_up.to(memory_format=torch.channels_last)

        betas = (config.beta1, 0.999)
        self.opt_g_up = torch.optim.Adam(self.g_up.parameters(), lr=config.lr_g_up, betas=betas)
        self.opt_g_dn = torch.optim.Adam(self.g_dn.parameters(), lr=config.lr_g_dn, betas=betas)
        self.opt_d_dn = torch.optim.Adam(self.d_dn.parameters(), lr=config.lr_d_dn, betas=betas)
        self.regulariser = KernelRegulariser(device=device, channel_sum_bicubic=self._channel_sum_bicubic())
        self.schedule = LambdaSchedule()

        shaved = self._shave(np.asarray(image, dtype=np.float64))
        self.hr_crop = training_crop_size(shaved.shape[0], shaved.shape[1], config.hr_crop)
        boundary = "dualsr" if quirks.truncated_imresize else "symmetric"
        plan = plan_crops(
            shaved,
            hr_size=self.hr_crop,
            samples=config.iters * config.batch_size,
            seed=config.seed,
            boundary=boundary,
            scale=self.SCALE,
        )
        self.sampler = CropSampler(
            shaved,
            plan,
            batch_size=config.batch_size,
            device=device,
            truncated_imresize=quirks.truncated_imresize,
            scale=self.SCALE,
        )
        self.iteration = 0
        self.last_kernel: torch.Tensor | None = None
        self.last_losses: StepLosses | None = None
        self.train_seconds = 0.0

    # -- one iteration -------------------------------------------------------------------------------
    def _set_learning_rates(self) -> None:
        cfg = self.config
        rates = learning_rates(
            self.iteration, cfg.lr_g_up, cfg.lr_g_dn, cfg.lr_d_dn, aligned=not cfg.quirks.offset_lr_schedule
        )
        for optimiser, rate in zip((self.opt_g_up, self.opt_g_dn, self.opt_d_dn), rates, strict=True):
            for group in optimiser.param_groups:
                group["lr"] = rate

    def _shave(self, image: np.ndarray) -> np.ndarray:
        return shave_for_training(image, TRAINING_BORDER)

    def _channel_sum_bicubic(self) -> bool:
        return self.config.quirks.channel_sum_bicubic

    def _downscale(self, x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        return self.g_dn.forward_layers(x) if self.reference_layers else self.g_dn(x, kernel)

    def _downscale_twice(self, x: torch.Tensor, kernel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(what the kernel priors see, G_DN's output at the run's scale): at x2 both are one x2 downscale."""
        low = self._downscale(x, kernel)
        return low, low

    def step(self) -> StepLosses:
        cfg = self.config
        self._set_learning_rates()
        hr, lr, lr_bicubic = self.sampler.batch(self.iteration)
        if self.use_channels_last:
            lr = lr.contiguous(memory_format=torch.channels_last)

        # G step: D frozen; fake_LR is kept for the D step (official: not recomputed after the update).
        self.d_dn.requires_grad_(False)
        self.opt_g_up.zero_grad(set_to_none=True)
        self.opt_g_dn.zero_grad(set_to_none=True)
        kernel = self.g_dn.kernel()
        fake_hr = self.g_up(lr)
        rec_lr = self._downscale_twice(fake_hr, kernel)[1]
        fake_half, fake_lr = self._downscale_twice(hr, kernel)
        rec_hr = self.g_up(fake_lr)

        loss_gan = lsgan_loss(self.d_dn(fake_lr), real=True)
        loss_cycle_fwd = (rec_lr - shave_to(lr, rec_lr)).abs().mean() * cfg.lambda_cycle
        loss_cycle_bwd = (rec_hr - shave_to(hr, rec_hr)).abs().mean() * cfg.lambda_cycle
        loss_interp = masked_interpolation_loss(fake_hr, lr_bicubic) * cfg.lambda_interp
        terms = self.regulariser.terms(kernel, hr, fake_half)  # KernelGAN's priors act on the x2 step
        loss_reg = terms.weighted(self.schedule.lambdas) * cfg.lambda_regularization
        total = loss_gan + loss_cycle_fwd + loss_cycle_bwd + loss_interp + loss_reg
        total.backward()
        self.opt_g_up.step()
        self.opt_g_dn.step()

        # D step: fake first, then real (the order matters for the spectral-norm state).
        self.d_dn.requires_grad_(True)
        self.opt_d_dn.zero_grad(set_to_none=True)
        if cfg.quirks.stale_fake_lr:
            fake_for_d = fake_lr.detach()
        else:
            with torch.no_grad():
                fake_for_d = self._downscale_twice(hr, self.g_dn.kernel())[1]
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
        losses = StepLosses.from_row(values.tolist())  # one device sync per iteration
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

    # -- results ---------------------------------------------------------------------------------------
    def kernel(self) -> np.ndarray:
        """The raw 13x13 correlation kernel of the last G step (before its update), as DualSR saves it."""
        kernel = self.last_kernel if self.last_kernel is not None else self.g_dn.kernel().detach()
        return kernel.float().cpu().numpy()

    def tile_size(self) -> int:
        return upsampler_tile_size(self.config, self.device, self.SCALE)

    def upscale(self, image: torch.Tensor, on_tile: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """G_UP on a full (1, 3, H, W) float32 image in [0, 1] (unclamped output, on the CPU), tiled."""
        return upscale_with(self.g_up, image, self.config, self.device, self.SCALE, self.use_channels_last, on_tile)

    @torch.inference_mode()
    def downscale(self, image: torch.Tensor) -> torch.Tensor:
        """G_DN on a full image (for the downsampler PSNR against a known kernel)."""
        return self.g_dn(image.to(self.device)).float().cpu()
