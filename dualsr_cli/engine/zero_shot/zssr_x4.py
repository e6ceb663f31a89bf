"""Stage 2 of ``--x4-method joint-zssr`` and ``x2-zssr``: a fresh x4 G_UP trained ZSSR-style with a learned kernel.

The joint run estimates the degradation well on large photos (kernel L2 0.012 on the bundled RealSR
photo) but its G_UP, trained through the GAN cycle on 32 px LR crops, stays below bicubic. ZSSR (Shocher
et al., CVPR 2018) fed with a KernelGAN kernel is the route behind KernelGAN's x4 result: downscale the
whole image with the estimated kernel (the "son") and train the upsampler to map son crops back to the
image. srx keeps DualSR's x4 G_UP architecture and changes only what it is trained on:

- son = the input (cropped to a multiple of 4) correlated with the learned 13x13 x2 kernel (the joint run's,
  or ``x2-zssr``'s x2 run's), every 2nd pixel kept, twice (reflect borders): the x4 degradation that kernel
  composed with itself describes, which is how KernelGAN builds its x4 kernel, on the whole image;
- pairs: a random son crop of ``HR_CROP / 4`` px (smaller for small images) and the input crop 4x its
  size at the aligned position, drawn from one of the 8 flips/rotations of the input, each degraded on its
  own (8 sons). Transforming the image *before* degrading keeps the kernel's orientation in every pair;
  flipping a finished son/image pair would flip the kernel with it and teach G_UP 8 kernels, which for
  an anisotropic kernel cost 0.24 dB on coffee with the true kernel (27.24 -> 27.48 dB, 1000 steps).
  KernelGAN's ZSSR settings turn rotations off for the same reason; srx keeps the 8x data, consistently;
- L1 loss, Adam at ``ZSSR_LR`` with the joint run's beta1, batch ``ZSSR_BATCH``, learning rate x0.1 at
  60 % and again at 80 % of ``config.zssr_iters`` (a fixed version of ZSSR's adaptive decay).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from ...archs.dualsr import UpsamplerG, build_dualsr_networks
from ...ops.kernels import blur_and_subsample_twice
from .config import HR_CROP, ZSSR_BATCH, ZSSR_LR, ZeroShotConfig
from .trainer import StepLosses, upscale_with

SCALE = 4
STAGE = "ZSSR-style x4 upsampler"  # its name in progress and in --json


def son_of(image: np.ndarray, kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(image cropped to a multiple of 4, its x4 downscale by ``kernel`` applied twice): (H, W, 3) float64."""
    rows, cols = image.shape[0] // SCALE * SCALE, image.shape[1] // SCALE * SCALE
    father = np.asarray(image[:rows, :cols], dtype=np.float64)
    return father, blur_and_subsample_twice(father, np.asarray(kernel, dtype=np.float64))


def dihedral(x: torch.Tensor, which: int) -> torch.Tensor:
    """One of the 8 flips/rotations of (N, C, H, W): ``which // 2`` quarter turns, then a flip if odd."""
    turned = torch.rot90(x, which // 2, (2, 3))
    return turned.flip(3) if which % 2 else turned


def dihedral_crop(x: torch.Tensor, which: int, row: int, col: int, size: int) -> torch.Tensor:
    """``dihedral(x, which)[:, :, row:row+size, col:col+size]`` without transforming all of ``x``.

    (N, C, H, W) -> (N, C, size, size): the square is found in ``x`` and only it is turned, so a big photo
    is never copied 8 times.
    """
    height, width = x.shape[2], x.shape[3]
    turns = which // 2
    if which % 2:  # the flip comes last, so it mirrors the column within the turned image's width
        col = (width if turns % 2 == 0 else height) - col - size
    top, left = {
        0: (row, col),
        1: (col, width - row - size),
        2: (height - row - size, width - col - size),
        3: (height - col - size, row),
    }[turns]
    return dihedral(x[:, :, top : top + size, left : left + size], which)


class ZSSRUpsamplerTrainer:
    """Trains a fresh x4 G_UP on (son, image) crop pairs made with a fixed learned kernel."""

    def __init__(self, image: np.ndarray, kernel: np.ndarray, config: ZeroShotConfig, device: torch.device) -> None:
        self.config = config
        self.device = device
        father, son = son_of(image, kernel)
        self.father = self._tensor(father, device)
        self.sons = [self._tensor(son, device)]  # sons[which]: dihedral(father, which), then degraded
        for which in range(1, 8):
            turned = dihedral(torch.from_numpy(father.transpose(2, 0, 1)[None]), which)[0].numpy()
            self.sons.append(self._tensor(son_of(turned.transpose(1, 2, 0), kernel)[1], device))
        self.son = self.sons[0]
        self.son_crop = min(HR_CROP, father.shape[0], father.shape[1]) // SCALE
        self.g_up: UpsamplerG = build_dualsr_networks(config.seed, upsampler_scale=SCALE)[0].to(device)
        if config.channels_last:
            self.g_up = self.g_up.to(memory_format=torch.channels_last)
        self.optimiser = torch.optim.Adam(self.g_up.parameters(), lr=ZSSR_LR, betas=(config.beta1, 0.999))
        self.rng = np.random.default_rng(config.seed)
        self.iteration = 0
        self.train_seconds = 0.0
        self.last_loss = float("nan")

    @staticmethod
    def _tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
        return torch.as_tensor(array.transpose(2, 0, 1)[None], dtype=torch.float32, device=device)

    def pair(self, row: int, col: int, which: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The crop at (row, col) of son ``which`` and the crop of ``dihedral(image, which)`` it came from."""
        size = self.son_crop
        son = self.sons[which][:, :, row : row + size, col : col + size]
        return son, dihedral_crop(self.father, which, SCALE * row, SCALE * col, SCALE * size)

    def _batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        turns = self.rng.integers(0, 8, ZSSR_BATCH)
        son_rows, son_cols = self.son.shape[2], self.son.shape[3]
        quarter = turns // 2 % 2 == 1  # a quarter turn swaps the son's height and width
        rows = self.rng.integers(0, np.where(quarter, son_cols, son_rows) - self.son_crop + 1)
        cols = self.rng.integers(0, np.where(quarter, son_rows, son_cols) - self.son_crop + 1)
        sons, fathers = zip(*map(self.pair, rows.tolist(), cols.tolist(), turns.tolist()), strict=True)
        son = torch.cat(sons)
        if self.config.channels_last:
            son = son.contiguous(memory_format=torch.channels_last)
        return son, torch.cat(fathers)

    def step(self) -> float:
        total = self.config.zssr_iters
        rate = (
            ZSSR_LR * (0.1 if self.iteration >= 0.6 * total else 1.0) * (0.1 if self.iteration >= 0.8 * total else 1.0)
        )
        for group in self.optimiser.param_groups:
            group["lr"] = rate
        son, father = self._batch()
        self.optimiser.zero_grad(set_to_none=True)
        loss = (self.g_up(son) - father).abs().mean()
        loss.backward()
        self.optimiser.step()
        self.iteration += 1
        self.last_loss = float(loss.detach())
        return self.last_loss

    def train(self, on_step: Callable[[int, StepLosses], None] | None = None, kernel_sum: float = 1.0) -> None:
        """All ``config.zssr_iters`` steps; ``on_step`` sees the L1 loss as the backward-cycle term.

        It *is* DualSR's backward cycle (image -> fixed learned downscale -> G_UP -> image), unweighted.
        """
        self.g_up.train()
        start = time.perf_counter()
        try:
            while self.iteration < self.config.zssr_iters:
                loss = self.step()
                if on_step is not None:
                    on_step(self.iteration, self._as_step_losses(loss, kernel_sum))
        finally:
            self.train_seconds += time.perf_counter() - start

    def upscale(self, image: torch.Tensor, on_tile: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """The trained G_UP on a full (1, 3, H, W) float32 image in [0, 1] (unclamped, on the CPU), tiled."""
        return upscale_with(self.g_up, image, self.config, self.device, SCALE, self.config.channels_last, on_tile)

    @staticmethod
    def _as_step_losses(loss: float, kernel_sum: float) -> StepLosses:
        none = dict.fromkeys(("gan", "cycle_forward", "interpolation", "regulariser", "bicubic", "discriminator"), 0.0)
        return StepLosses(**none, cycle_backward=loss, kernel_sum=kernel_sum)

    def stage_record(self, inference_seconds: float) -> dict:
        """This stage's entry in ``--json``'s ``stages``."""
        return {
            "stage": STAGE,
            "iterations": self.iteration,
            "son_crop": self.son_crop,
            "train_seconds": self.train_seconds,
            "inference_seconds": inference_seconds,
            "final_l1": self.last_loss,
        }
