"""DualSR's loss terms and KernelGAN's kernel regulariser (``docs/dualsr.md`` §4).

Every "mean" is over all elements, as ``nn.L1Loss``/``nn.MSELoss`` with reduction='mean'.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ...archs.dualsr import KERNEL_SIZE
from ...ops.kernels import bicubic_downscale_kernel, boundary_penalty_mask, wanted_centre


def shave_to(a: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Crop ``a`` symmetrically to ``like``'s H, W (floor of half the difference at the start)."""
    dr = a.shape[-2] - like.shape[-2]
    dc = a.shape[-1] - like.shape[-1]
    return a[..., dr // 2 : a.shape[-2] - (dr - dr // 2), dc // 2 : a.shape[-1] - (dc - dc // 2)]


def lsgan_loss(prediction: torch.Tensor, real: bool) -> torch.Tensor:
    """MSE of D's patch map against 1 (real) or 0 (fake)."""
    target = 1.0 if real else 0.0
    return ((prediction - target) ** 2).mean()


def sobel_magnitude(image: torch.Tensor) -> torch.Tensor:
    """Per-channel Sobel magnitude, zero padding 1, no 1/8 normalisation (DualSR's vendored kornia copy)."""
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=image.dtype, device=image.device)
    kernels = torch.stack([kx, kx.T])[:, None]  # (2, 1, 3, 3)
    n, c, h, w = image.shape
    grads = F.conv2d(image.reshape(n * c, 1, h, w), kernels, padding=1)
    return torch.sqrt(grads[:, 0] ** 2 + grads[:, 1] ** 2).reshape(n, c, h, w)


def interpolation_mask(lr_bicubic: torch.Tensor) -> torch.Tensor:
    """M = 1 - clamp(|Sobel(x_bic)|, 0, 1): 1 on flat regions, 0 on edges (detached)."""
    return 1.0 - torch.clamp(sobel_magnitude(lr_bicubic.detach()), 0.0, 1.0)


def masked_interpolation_loss(fake_hr: torch.Tensor, lr_bicubic: torch.Tensor) -> torch.Tensor:
    """Mean |M·G_UP(x) − M·bicubic(x)|: keep G_UP close to bicubic away from edges."""
    mask = interpolation_mask(lr_bicubic)
    return (fake_hr * mask - lr_bicubic * mask).abs().mean()


@dataclass
class KernelLambdas:
    """Weights of the regulariser terms; the Learner schedule changes them during training."""

    bicubic: float = 5.0
    sum_to_one: float = 0.5
    boundaries: float = 0.5
    centralized: float = 0.0
    sparse: float = 0.0


@dataclass(frozen=True)
class RegulariserTerms:
    bicubic: torch.Tensor
    sum_to_one: torch.Tensor
    boundaries: torch.Tensor
    centralized: torch.Tensor
    sparse: torch.Tensor

    def weighted(self, lambdas: KernelLambdas) -> torch.Tensor:
        return (
            self.bicubic * lambdas.bicubic
            + self.sum_to_one * lambdas.sum_to_one
            + self.boundaries * lambdas.boundaries
            + self.centralized * lambdas.centralized
            + self.sparse * lambdas.sparse
        )


class KernelRegulariser:
    """KernelGAN's DownsamplerRegularization, holding its fixed tensors on one device.

    ``channel_sum_bicubic=True`` keeps the official quirk: the 8x8 bicubic kernel is expanded to
    (3, 3, 8, 8), so every channel of the bicubic target is the sum of R, G and B.
    """

    def __init__(
        self, *, device: torch.device, kernel_size: int = KERNEL_SIZE, channel_sum_bicubic: bool = True
    ) -> None:
        self.bicubic_kernel = bicubic_downscale_kernel().to(device)
        self.mask = boundary_penalty_mask(kernel_size).to(device)
        self.indices = torch.arange(kernel_size, dtype=torch.float32, device=device)
        self.centre = wanted_centre(kernel_size, 2)
        self.channel_sum_bicubic = channel_sum_bicubic

    def bicubic_target(self, hr: torch.Tensor) -> torch.Tensor:
        channels = hr.shape[1]
        if self.channel_sum_bicubic:
            weight = self.bicubic_kernel.expand(channels, channels, 8, 8)
            return F.conv2d(hr, weight, stride=2, padding=3)
        weight = self.bicubic_kernel.expand(channels, 1, 8, 8)
        return F.conv2d(hr, weight, stride=2, padding=3, groups=channels)

    def terms(self, kernel: torch.Tensor, hr: torch.Tensor, fake_lr: torch.Tensor) -> RegulariserTerms:
        target = shave_to(self.bicubic_target(hr), fake_lr)
        total = kernel.sum()
        com_rows = (kernel.sum(dim=1) * self.indices).sum() / total
        com_cols = (kernel.sum(dim=0) * self.indices).sum() / total
        return RegulariserTerms(
            bicubic=((fake_lr - target) ** 2).mean(),
            sum_to_one=(1.0 - total).abs(),
            boundaries=(kernel * self.mask).abs().mean(),
            centralized=((com_rows - self.centre) ** 2 + (com_cols - self.centre) ** 2) / 2.0,
            sparse=(kernel.abs() ** 0.2).mean(),
        )
