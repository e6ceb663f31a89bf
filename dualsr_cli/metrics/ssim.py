"""SSIM of Zhou Wang's ``ssim_index.m`` (11x11 Gaussian σ=1.5, K=(0.01, 0.03), L=255, valid filtering)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .color import y_channel_matlab
from .psnr import shave

WINDOW = 11
SIGMA = 1.5


def gaussian_taps() -> torch.Tensor:
    z = torch.arange(WINDOW, dtype=torch.float64) - WINDOW // 2
    taps = torch.exp(-(z**2) / (2 * SIGMA**2))
    return taps / taps.sum()  # fspecial('gaussian', 11, 1.5) is the outer product of these


def _filter_valid(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    x = F.conv2d(x, taps.view(1, 1, WINDOW, 1))
    return F.conv2d(x, taps.view(1, 1, 1, WINDOW))


def ssim(a: np.ndarray, b: np.ndarray, *, data_range: float = 255.0) -> float:
    """Mean SSIM of two single-channel images (float64), 'valid' window positions only."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"SSIM needs equal shapes, got {a.shape} and {b.shape}")
    if min(a.shape) < WINDOW:
        raise ValueError(f"SSIM needs images of at least {WINDOW}x{WINDOW} pixels, got {a.shape}")
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    taps = gaussian_taps()
    x = torch.from_numpy(a)[None, None]
    y = torch.from_numpy(b)[None, None]
    mu_x, mu_y = _filter_valid(x, taps), _filter_valid(y, taps)
    var_x = _filter_valid(x * x, taps) - mu_x**2
    var_y = _filter_valid(y * y, taps) - mu_y**2
    cov = _filter_valid(x * y, taps) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    return float((num / den).mean())


def ssim_y(sr: np.ndarray, hr: np.ndarray, *, border: int) -> float:
    """SSIM on the shaved MATLAB Y channel of RGB images in [0, 1] (the DualSR table convention)."""
    return ssim(shave(y_channel_matlab(sr), border), shave(y_channel_matlab(hr), border))
