"""Iterative back-projection (Irani & Peleg 1991) as ZSSR applies it to its output (ZSSR ``back_projection``).

Each step pushes the SR image towards consistency with the input under the estimated degradation:
``sr += bicubic_up(lr - downscale(sr, kernel))``, clipped to [0, 1]. The downscale is the benchmark's
degradation model (``ops.kernels.blur_and_subsample``): correlate with the kernel, mirror borders, keep every
``scale``-th sample from index 0.
"""

from __future__ import annotations

import numpy as np
import torch

from .kernels import downscale_with_kernel
from .resize import imresize


def mirror_pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    """(…, H, W) -> (…, H + 2·pad, W + 2·pad), half-sample mirror (``d c b a | a b c d``).

    scipy's ``mode="reflect"`` and MATLAB's ``"symmetric"``; torch's ``"reflect"`` skips the edge sample.
    """
    if pad == 0:
        return x
    if pad > min(x.shape[-2:]):
        raise ValueError(f"a {pad}-pixel mirror needs an image of at least {pad} pixels (got {tuple(x.shape[-2:])})")
    rows = torch.cat([x[..., :pad, :].flip(-2), x, x[..., -pad:, :].flip(-2)], dim=-2)
    return torch.cat([rows[..., :pad].flip(-1), rows, rows[..., -pad:].flip(-1)], dim=-1)


def mirror_downscale(image: torch.Tensor, kernel: torch.Tensor, scale: int) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, ceil(H / scale), ceil(W / scale)): ``blur_and_subsample`` in torch.

    Correlates every channel with an odd square (k, k) kernel centred at k // 2, mirror borders, and keeps
    every ``scale``-th sample from index 0; only the kept samples are computed.
    """
    size = kernel.shape[-1]
    if size % 2 == 0 or kernel.shape[-2] != size:
        raise ValueError(f"mirror_downscale needs an odd square kernel (got {tuple(kernel.shape)})")
    return downscale_with_kernel(mirror_pad(image, size // 2), kernel.to(image.device), stride=scale)


def back_project(
    sr: torch.Tensor, lr: torch.Tensor, kernel: np.ndarray | torch.Tensor, scale: int, steps: int
) -> torch.Tensor:
    """``steps`` back-projection steps: (N, C, scale·H, scale·W) SR and (N, C, H, W) input -> refined SR.

    The correction is upscaled with MATLAB bicubic (ZSSR's ``upscale_method="cubic"``). Computed in ``sr``'s
    dtype on its device; the result is clipped to [0, 1] after every step, as ZSSR does. Channels are done
    one at a time, in place on one copy of ``sr``, so a large photo needs one extra SR image, not three.
    """
    if sr.shape[-2:] != (lr.shape[-2] * scale, lr.shape[-1] * scale):
        raise ValueError(f"SR {tuple(sr.shape[-2:])} is not {scale}x the input {tuple(lr.shape[-2:])}")
    kernel = torch.as_tensor(kernel).to(sr)
    lr, refined = lr.to(sr), sr.clone()
    for _ in range(steps):
        for channel in range(refined.shape[1]):
            plane = refined[:, channel : channel + 1]
            residual = lr[:, channel : channel + 1] - mirror_downscale(plane, kernel, scale)
            plane.add_(imresize(residual, float(scale), size=tuple(plane.shape[-2:]))).clamp_(0.0, 1.0)
    return refined
