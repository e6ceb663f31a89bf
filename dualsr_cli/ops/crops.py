"""Gradient-weighted crop sampling of KernelGAN/DualSR (``docs/dualsr.md`` §6).

Crops favour textured regions: a gradient map (np.gradient magnitude plus clipped top-3 % indicators) is
box-blurred into a probability map over crop centres, and all crop centres are drawn up front from a
seeded legacy ``RandomState`` exactly as the official code draws them from ``np.random``.

Box sums are separable direct sums (``ndimage.correlate1d``) rather than ``signal.convolve2d`` with a
64x64 window: the same values to float64 rounding, two orders of magnitude faster, and never negative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .resize import Boundary, imresize


def _box_sum(values: np.ndarray, size: int) -> np.ndarray:
    """``convolve2d(values, ones((size, size)), 'same')`` with zero fill, for even and odd sizes."""
    ones = np.ones(size, dtype=np.float64)
    out = ndimage.correlate1d(values, ones, axis=0, mode="constant", cval=0.0)
    return ndimage.correlate1d(out, ones, axis=1, mode="constant", cval=0.0)


def _zero_frame(values: np.ndarray, edge: int) -> np.ndarray:
    framed = np.zeros_like(values)
    framed[edge:-edge, edge:-edge] = values[edge:-edge, edge:-edge]
    return framed


def _clip_extreme(values: np.ndarray, percent: float) -> np.ndarray:
    """Soft indicator of the top (1 - percent) values: clip to [v_min, v_max] and subtract v_min."""
    flat = values.ravel()
    pivot = int(percent * flat.size)
    smallest = np.partition(flat, (pivot, pivot + 1))
    v_min = smallest[pivot]
    v_max = smallest[pivot + 1] if smallest[pivot + 1] > v_min else v_min + 10e-6
    return np.clip(values, v_min, v_max) - v_min


def grey(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (H, W) luma as KernelGAN's ``rgb2gray``: ``np.dot`` with a list, to the last bit.

    ``image @ np.array(weights)`` differs by ~1e-16 on some pixels, which flips ties in the 97th-percentile
    clipping on some images and so moves the training crops away from the official run's.
    """
    return np.dot(image, [0.299, 0.587, 0.114])


def _share(values: np.ndarray) -> np.ndarray:
    """``values / values.sum()``; all zeros for a flat image (where the official code divides 0 by 0)."""
    total = values.sum()
    return values / total if total > 0 else np.zeros_like(values)


def gradient_map(image: np.ndarray, window: int = 5, percent: float = 0.97) -> np.ndarray:
    """KernelGAN's ``create_gradient_map`` of an (H, W, 3) float64 image in [0, 1]; mean of the map is 1.

    Faithful quirk: the magnitude term uses the framed but *unclipped* magnitude.
    """
    gray = grey(image)
    grad_rows, grad_cols = np.gradient(gray)
    magnitude = np.sqrt(grad_rows**2 + grad_cols**2)
    abs_rows = _zero_frame(np.abs(grad_rows), window)
    abs_cols = _zero_frame(np.abs(grad_cols), window)
    magnitude = _zero_frame(magnitude, window)
    clipped_rows = _clip_extreme(abs_rows, percent)
    clipped_cols = _clip_extreme(abs_cols, percent)
    combined = _share(clipped_rows) + _share(clipped_cols) + _share(magnitude)
    blurred = _box_sum(combined, window) / window**2
    mean = blurred.mean()
    return blurred / mean if mean > 0 else np.ones_like(blurred)  # flat image: every crop equally likely


def probability_map(loss_map: np.ndarray, crop: int) -> np.ndarray:
    """Flat probabilities of each pixel being a crop centre: box-averaged map with a crop/2 zero frame."""
    half = crop // 2
    blurred = _box_sum(loss_map, half) / half**2
    framed = _zero_frame(blurred, half).ravel()
    total = framed.sum()
    return framed / total if total != 0 else np.full(framed.size, 1.0 / framed.size)


def _nearest_x2(values: np.ndarray) -> np.ndarray:
    """PIL NEAREST x2 through a mode-'F' image, as the official code does: float32 rounding, 2x2 blocks."""
    rounded = values.astype(np.float32).astype(np.float64)
    return np.repeat(np.repeat(rounded, 2, axis=0), 2, axis=1)


def _nearest(values: np.ndarray, factor: int, rows: int, cols: int) -> np.ndarray:
    """``_nearest_x2`` for any integer factor, cut to (rows, cols)."""
    if factor == 2:
        return _nearest_x2(values)[:rows, :cols]
    rounded = values.astype(np.float32).astype(np.float64)
    return np.repeat(np.repeat(rounded, factor, axis=0), factor, axis=1)[:rows, :cols]


def shave_for_training(image: np.ndarray, border: int = 10) -> np.ndarray:
    """Drop ``border`` pixels per side, then a last odd row/column (DataGenerator.shave_edges)."""
    shaved = image[border:-border, border:-border] if border else image
    rows, cols = shaved.shape[:2]
    return shaved[: rows - rows % 2, : cols - cols % 2]


@dataclass(frozen=True)
class CropPlan:
    """Top-left corners of every training crop, sample s of iteration t being s = batch*t + b."""

    hr_size: int
    lr_size: int
    hr_corners: np.ndarray  # (n, 2) int64 rows, cols
    lr_corners: np.ndarray


def _corners(centres: np.ndarray, size: int, rows: int, cols: int) -> np.ndarray:
    row, col = centres // cols, centres % cols
    top = np.minimum(np.maximum(0, row - size // 2), rows - size)
    left = np.minimum(np.maximum(0, col - size // 2), cols - size)
    top -= top % 2
    left -= left % 2
    return np.stack([top, left], axis=1).astype(np.int64)


def plan_crops(
    shaved: np.ndarray,
    *,
    hr_size: int,
    samples: int,
    seed: int,
    boundary: Boundary = "dualsr",
    scale: int = 2,
) -> CropPlan:
    """Draw every HR (``hr_size``) and LR (``hr_size // scale``) crop corner for a training run.

    As in the official code the HR draws come first from the same stream, so changing the number of
    iterations leaves the HR sequence a prefix but changes every LR crop. At ``scale=4`` (srx's joint
    x4) the HR crops favour what is textured after a x0.25 downscale, as x2 does after x0.5.
    """
    lr_size = hr_size // scale
    rows, cols = shaved.shape[:2]
    if rows < hr_size or cols < hr_size:
        raise ValueError(f"image {cols}x{rows} is smaller than the {hr_size}px crop")
    map_lr = gradient_map(shaved)
    if scale == 2:
        map_hr = _nearest_x2(gradient_map(imresize(shaved, 0.5, boundary=boundary)))
    else:
        map_hr = _nearest(gradient_map(imresize(shaved, 1.0 / scale, boundary=boundary)), scale, rows, cols)
    prob_hr = probability_map(map_hr, hr_size)
    prob_lr = probability_map(map_lr, lr_size)
    rng = np.random.RandomState(seed)
    centres_hr = rng.choice(prob_hr.size, size=samples, p=prob_hr)
    centres_lr = rng.choice(prob_lr.size, size=samples, p=prob_lr)
    return CropPlan(
        hr_size=hr_size,
        lr_size=lr_size,
        hr_corners=_corners(centres_hr, hr_size, rows, cols),
        lr_corners=_corners(centres_lr, lr_size, rows, cols),
    )
