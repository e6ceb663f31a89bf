"""Luma conversions used by SR evaluation scripts."""

from __future__ import annotations

import numpy as np

_BT601_STUDIO = np.array([65.481, 128.553, 24.966])


def y_channel_matlab(rgb: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2ycbcr`` luma of RGB in [0, 1] (H, W, 3), returned in [16, 235] units, not rounded.

    As RCAN's ``Evaluate_PSNR_SSIM.m`` (used for the DualSR/KernelGAN tables), Y is computed in double,
    stored as single, then multiplied by 255 in single precision. Gray (H, W[, 1]) input is just scaled.
    """
    rgb = np.asarray(rgb, dtype=np.float64)
    gray = rgb.ndim == 2 or rgb.shape[-1] == 1
    y = rgb.reshape(rgb.shape[:2]) if gray else (16.0 + rgb @ _BT601_STUDIO) / 255.0
    return (y.astype(np.float32) * np.float32(255.0)).astype(np.float64)
