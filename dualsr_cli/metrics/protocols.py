"""Evaluation protocols: the same PSNR/SSIM names mean different things in different papers.

- ``matlab`` (default): RCAN's ``Evaluate_PSNR_SSIM.m`` as used by DualSR/KernelGAN — SR saved as
  integers, BT.601 studio Y not rounded, ``scale`` pixels shaved, SSIM (Gaussian 11x11) on that Y.
- ``cdc``: EDSR/CDC/DADA code (``docs/metrics.md`` §2) — float SR clamped to [0, 1], Y-PSNR of the
  difference with weights (65.738, 129.057, 25.064)/256, ``scale`` shaved, peak 1; SSIM on RGB with zero
  padding, no shave. Use it to compare DRealSR numbers with DADA's Table 1.
- ``realsr``: RealSR's ``Test.m`` — uint8 images cropped to a multiple of 4, rounded integer Y, no shave.

Identical images give PSNR = inf under every protocol.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..image_io import quantize, sample_max
from .color import y_channel_matlab
from .psnr import psnr, shave
from .ssim import WINDOW, gaussian_taps, ssim

PROTOCOLS = ("matlab", "cdc", "realsr")


def _as_rgb(image: np.ndarray) -> np.ndarray:
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image


def _cdc_psnr(sr: np.ndarray, hr: np.ndarray, scale: int) -> float:
    weights = np.array([65.738, 129.057, 25.064]) / 256.0
    diff = (_as_rgb(sr) - _as_rgb(hr)) @ weights
    return psnr(shave(diff, scale), np.zeros_like(shave(diff, scale)), peak=1.0)


def _cdc_ssim(sr: np.ndarray, hr: np.ndarray) -> float:
    """pytorch_ssim as CDC/DADA use it: per-channel Gaussian window with zero padding 5, data range 1."""
    taps = gaussian_taps()
    window = (taps[:, None] * taps[None, :]).expand(3, 1, WINDOW, WINDOW).contiguous()
    x = torch.from_numpy(np.ascontiguousarray(_as_rgb(sr).transpose(2, 0, 1)))[None]
    y = torch.from_numpy(np.ascontiguousarray(_as_rgb(hr).transpose(2, 0, 1)))[None]

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, window, padding=WINDOW // 2, groups=3)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(ssim_map.mean())


def _realsr_y(image_uint8: np.ndarray) -> np.ndarray:
    """MATLAB rgb2ycbcr on uint8 input: Y rounded to integers."""
    if image_uint8.shape[2] == 1:
        return image_uint8[:, :, 0].astype(np.float64)
    rgb = image_uint8.astype(np.float64)
    return np.round(16.0 + rgb @ np.array([65.481, 128.553, 24.966]) / 255.0)


@dataclass(frozen=True)
class Scores:
    psnr: float
    ssim: float


def evaluate(sr: np.ndarray, hr: np.ndarray, *, protocol: str, scale: int, bit_depth: int = 8) -> Scores:
    """PSNR/SSIM of an SR result (H, W, C) floats in [0, 1] (unquantised) against HR (H, W, C) in [0, 1]."""
    if sr.shape != hr.shape:
        raise ValueError(f"SR {sr.shape} and HR {hr.shape} differ in size")
    if protocol == "matlab":
        stored = quantize(sr, bit_depth).astype(np.float64) / sample_max(bit_depth)
        y_sr, y_hr = shave(y_channel_matlab(stored), scale), shave(y_channel_matlab(hr), scale)
        return Scores(psnr(y_sr, y_hr), ssim(y_sr, y_hr))
    if protocol == "cdc":
        clamped = np.clip(sr, 0.0, 1.0)
        return Scores(_cdc_psnr(clamped, hr, scale), _cdc_ssim(clamped, hr))
    if protocol == "realsr":
        h, w = sr.shape[0] // 4 * 4, sr.shape[1] // 4 * 4
        y_sr = _realsr_y(quantize(sr[:h, :w], 8))
        y_hr = _realsr_y(quantize(hr[:h, :w], 8))
        return Scores(psnr(y_sr, y_hr), ssim(y_sr, y_hr))
    raise ValueError(f"unknown protocol {protocol!r} (known: {', '.join(PROTOCOLS)})")
