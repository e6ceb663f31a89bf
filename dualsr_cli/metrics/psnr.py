"""PSNR as the MATLAB evaluation of DualSR/KernelGAN computes it."""

from __future__ import annotations

import math

import numpy as np

from .color import y_channel_matlab


def shave(image: np.ndarray, border: int) -> np.ndarray:
    return image[border:-border, border:-border] if border > 0 else image


def psnr(a: np.ndarray, b: np.ndarray, *, peak: float = 255.0) -> float:
    """10·log10(peak² / MSE) in float64; identical inputs give +inf."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"PSNR needs equal shapes, got {a.shape} and {b.shape}")
    mse = float(np.mean((a - b) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def psnr_y(sr: np.ndarray, hr: np.ndarray, *, border: int) -> float:
    """Y-PSNR of RGB images in [0, 1]: BT.601 studio Y (not rounded), ``border`` pixels shaved per side."""
    return psnr(shave(y_channel_matlab(sr), border), shave(y_channel_matlab(hr), border))
