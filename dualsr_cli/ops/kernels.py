"""Blur kernels: building, composing, centring and applying them.

Conventions (``docs/dualsr.md`` §7): a kernel is a *correlation* kernel (what ``F.conv2d`` applies),
and an x2 downscale keeps every second sample starting at index 0. With these, a 13x13 kernel whose
centre of mass is at 6.5 (0-based) maps LR pixel i to HR coordinate 2i + 0.5, MATLAB's alignment.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
import torch.nn.functional as F

from .resize import cubic


def composed_kernel(weights: Iterable[torch.Tensor]) -> torch.Tensor:
    """The single kernel of a deep *linear* conv net (KernelGAN's ``calc_curr_k``), differentiable.

    A delta is correlated with every layer's weights using full padding (strides ignored); the result,
    flipped, is the kernel k with net(I) == correlate(I, k, valid)[::stride, ::stride] per channel.
    """
    weights = list(weights)
    current = torch.ones(1, 1, 1, 1, dtype=weights[0].dtype, device=weights[0].device)
    for weight in weights:
        current = F.conv2d(current, weight, padding=weight.shape[-1] - 1)
    return current.squeeze(0).squeeze(0).flip([0, 1])


def downscale_with_kernel(image: torch.Tensor, kernel: torch.Tensor, stride: int = 2) -> torch.Tensor:
    """Correlate every channel of (N, C, H, W) with one kernel (valid) and keep every ``stride``-th sample."""
    n, c, h, w = image.shape
    folded = image.reshape(n * c, 1, h, w)
    out = F.conv2d(folded, kernel[None, None].to(image.dtype), stride=stride)
    return out.reshape(n, c, out.shape[-2], out.shape[-1])


def bicubic_downscale_kernel(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """KernelGAN's 8x8 x0.5 bicubic kernel: outer product of MATLAB's antialiased weights [-3,-9,29,111,...]/256."""
    taps = 0.5 * cubic(0.5 * (np.arange(8) - 3.5))
    taps = taps / taps.sum()
    return torch.as_tensor(np.outer(taps, taps), dtype=dtype)


def boundary_penalty_mask(size: int = 13, scale: float = 30.0) -> torch.Tensor:
    """KernelGAN's mask that penalises kernel mass in the outer ring (zero in the centre block)."""
    z = np.arange(size) - size // 2
    gaussian = np.exp(-(z[:, None] ** 2 + z[None, :] ** 2) / (2.0 * size**2))
    mask = 1.0 - gaussian / gaussian.max()
    centre_size = size // 2 + size % 2
    margin = (size - centre_size) // 2 - 1
    mask[margin:-margin, margin:-margin] = 0.0
    return torch.as_tensor(scale * mask, dtype=torch.float32)


def wanted_centre(size: int, scale: int = 2) -> float:
    """Centre of mass (0-based) that gives MATLAB alignment for a ``size`` kernel at integer ``scale``."""
    return size // 2 + 0.5 * (scale - size % 2)


def centre_of_mass(kernel: np.ndarray) -> tuple[float, float]:
    total = kernel.sum()
    rows = np.arange(kernel.shape[0])
    cols = np.arange(kernel.shape[1])
    return float((kernel.sum(axis=1) * rows).sum() / total), float((kernel.sum(axis=0) * cols).sum() / total)


def shift_kernel(kernel: np.ndarray, scale: int = 2) -> np.ndarray:
    """Move a kernel's centre of mass to ``wanted_centre`` with a cubic-spline shift (DualSR ``kernel_shift``).

    Like DualSR (and unlike KernelGAN) the kernel is not padded first, so mass shifted off the edge is lost.
    """
    from scipy import ndimage

    kernel = np.asarray(kernel, dtype=np.float64)
    current = np.array(ndimage.center_of_mass(kernel))
    wanted = np.array(kernel.shape) // 2 + 0.5 * (scale - np.array(kernel.shape) % 2)
    return ndimage.shift(kernel, wanted - current)


def fit_kernel_size(kernel: np.ndarray, size: int) -> np.ndarray:
    """Zero-pad (or centre-crop) a square kernel to ``size`` x ``size`` symmetrically."""
    kernel = np.asarray(kernel, dtype=np.float64)
    diff = size - kernel.shape[0]
    if diff > 0:
        return np.pad(kernel, ((diff // 2, diff - diff // 2), (diff // 2, diff - diff // 2)))
    if diff < 0:
        start = (-diff) // 2
        return kernel[start : start + size, start : start + size]
    return kernel


def anisotropic_gaussian_kernel(
    rng: np.random.Generator,
    *,
    size: int = 11,
    scale: int = 2,
    variance_range: tuple[float, float] = (0.6, 5.0),
    noise_level: float = 0.25,
) -> np.ndarray:
    """A random blur kernel following the DIV2KRK protocol (``docs/dualsr.md`` §13).

    Covariance Q(θ) diag(λ1, λ2) Q(θ)ᵀ with λ ~ U(variance_range), θ ~ U(-π, π), mean at
    ``wanted_centre(size, scale)`` (5.5 for 11x11 at x2), multiplicative tap noise U(±noise_level),
    normalised to sum 1.
    """
    lambdas = rng.uniform(*variance_range, size=2)
    theta = rng.uniform(-np.pi, np.pi)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    covariance = rotation @ np.diag(lambdas) @ rotation.T
    inverse = np.linalg.inv(covariance)
    mean = wanted_centre(size, scale)
    coords = np.arange(size) - mean
    zr, zc = np.meshgrid(coords, coords, indexing="ij")
    z = np.stack([zr, zc], axis=-1)
    raw = np.exp(-0.5 * np.einsum("...i,ij,...j->...", z, inverse, z))
    noisy = raw * (1.0 + rng.uniform(-noise_level, noise_level, size=raw.shape))
    return noisy / noisy.sum()


def blur_and_subsample(image: np.ndarray, kernel: np.ndarray, scale: int = 2) -> np.ndarray:
    """HR (H, W, C) float -> LR: per-channel ``scipy.ndimage.correlate`` (reflect) then every ``scale``-th pixel.

    This is the BlindSR/DIV2KRK generator's degradation, done in float (the generator truncated to uint8).
    """
    from scipy import ndimage

    image = np.asarray(image, dtype=np.float64)
    blurred = np.stack(
        [ndimage.correlate(image[:, :, c], kernel, mode="reflect") for c in range(image.shape[2])], axis=2
    )
    return blurred[::scale, ::scale]


def compose_downscale_kernels(first: np.ndarray, second: np.ndarray, stride: int = 2) -> np.ndarray:
    """The one kernel of "correlate with ``first``, keep every ``stride``-th; then the same with ``second``".

    (a, a) and (b, b) correlation kernels -> (a + stride·(b − 1)) square kernel K, exactly:
    ``downscale(downscale(I, first), second) == downscale_with_kernel(I, K, stride**2)`` away from the borders.
    K = Σ_{r,c} second[r, c] · (first placed at offset (stride·r, stride·c)), KernelGAN's ``analytic_kernel``
    construction before its crop.
    """
    first, second = np.asarray(first, dtype=np.float64), np.asarray(second, dtype=np.float64)
    a, b = first.shape[0], second.shape[0]
    big = np.zeros((a + stride * (b - 1),) * 2)
    for r in range(b):
        for c in range(b):
            big[stride * r : stride * r + a, stride * c : stride * c + a] += second[r, c] * first
    return big


def kernelgan_x4_kernel(first: np.ndarray, second: np.ndarray | None = None) -> np.ndarray:
    """The x4 kernel in the form KernelGAN writes ``<img>_kernel_x4.mat`` (``util.analytic_kernel``).

    The exact composite of two x2 kernels (``first`` applied to the x4 image, ``second`` to its x2 result;
    KernelGAN composes one kernel with itself) has 3·13 − 2 = 37 taps; KernelGAN crops 13 // 2 = 6 from
    every edge (negligible tails) and renormalises to sum 1, giving 25x25.
    """
    second = first if second is None else second
    big = compose_downscale_kernels(first, second, stride=2)
    crop = np.asarray(first).shape[0] // 2
    cropped = big[crop:-crop, crop:-crop] if crop else big
    return cropped / cropped.sum()


def drop_negligible_taps(kernel: np.ndarray, keep: int) -> np.ndarray:
    """KernelGAN's kernel clean-up before ZSSR (``util.zeroize_negligible_val``; KernelGAN keeps 40), for (k, k).

    Subtracts 0.75 x the (``keep`` + 1)-th largest tap from every tap, clips at 0 and renormalises to sum 1:
    the faint tails a learned kernel spreads around its core are removed, which narrows a too-wide estimate.
    Every tap above that value survives: the ``keep`` + 1 largest, and any smaller ones within 0.75x of them.
    """
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.size <= keep:
        raise ValueError(f"a kernel of {kernel.size} taps has no taps beyond the {keep} to keep")
    ordered = np.sort(kernel.ravel())
    threshold = 0.75 * ordered[-keep - 1]
    cleaned = np.clip(kernel - threshold, 0.0, None)
    return cleaned / cleaned.sum()


def blur_and_subsample_twice(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """DIV2KRK's x4 degradation: an x2 kernel applied twice (blur, keep every 2nd pixel, blur, keep every 2nd).

    As the dataset's authors describe it (sefibk/KernelGAN issues #52, #59); the pair of steps equals one
    correlation with ``compose_downscale_kernels(kernel, kernel)`` and stride 4 away from the borders.
    """
    return blur_and_subsample(blur_and_subsample(image, kernel, 2), kernel, 2)
