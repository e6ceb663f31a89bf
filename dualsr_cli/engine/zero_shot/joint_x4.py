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

import numpy as np
import torch

from ...ops.crops import shave_for_training
from .config import TRAINING_BORDER
from .trainer import DualSRTrainer

SCALE = 4


def shave_for_x4(image: np.ndarray) -> np.ndarray:
    """The training border of x2, then the last rows/columns that a factor of 4 does not divide."""
    shaved = shave_for_training(image, TRAINING_BORDER)
    rows, cols = shaved.shape[:2]
    return shaved[: rows - rows % SCALE, : cols - cols % SCALE]


class JointX4Trainer(DualSRTrainer):
    """Trains G_UP (x4), G_DN (x2 kernel, applied twice) and D_DN on one image; then ``upscale`` it x4.

    The x2 loop itself (``DualSRTrainer.step``); only the scale, the shave, the bicubic target and what
    G_DN's output is differ.
    """

    SCALE = SCALE

    def _shave(self, image: np.ndarray) -> np.ndarray:
        return shave_for_x4(image)

    def _channel_sum_bicubic(self) -> bool:
        # Per channel even with the official quirks on: the R+G+B-sum target pulls Σk to ~2, which x2
        # recovers from, but applied twice it is Σk² ≈ 4 and G_UP learns a 4x darker image (measured).
        return False

    def _downscale_twice(self, x: torch.Tensor, kernel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x2 result, x4 result) of G_DN's kernel applied twice."""
        half = self.g_dn(x, kernel)
        return half, self.g_dn(half, kernel)

    @torch.inference_mode()
    def downscale(self, image: torch.Tensor) -> torch.Tensor:
        """G_DN twice on a full image: the x4 downsampler (for the downsampler PSNR against a known kernel)."""
        return self._downscale_twice(image.to(self.device), self.g_dn.kernel())[1].float().cpu()
