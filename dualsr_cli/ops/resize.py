"""MATLAB-compatible bicubic ``imresize`` — the one resize srx uses.

Resizing is separable, so each axis becomes a dense (out_len, in_len) matrix of MATLAB's weights and an
image is resized as ``R @ image @ C.T``. That is exact to float64 rounding, runs on any torch device and
is fast for the crop sizes of zero-shot training (the weight matrices are cached per size).

Two boundary rules exist (``docs/dualsr.md`` §9):

- ``"symmetric"``: MATLAB's half-sample mirror with the edge repeated. Use it to match MATLAB.
- ``"dualsr"``: the Python clone used by DualSR/KernelGAN casts negative tap indices to unsigned ints,
  so taps before the top/left edge get weight 0 and the rest are renormalised (the bottom/right mirror
  as in MATLAB). Zero-shot training reproduces this by default to stay faithful to the official code.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal

import numpy as np
import torch

Boundary = Literal["symmetric", "dualsr"]


def cubic(t: np.ndarray) -> np.ndarray:
    """Keys cubic kernel with a = -0.5 (MATLAB's 'bicubic')."""
    a = np.abs(t)
    a2, a3 = a * a, a * a * a
    inner = (1.5 * a3 - 2.5 * a2 + 1.0) * (a <= 1)
    outer = (-0.5 * a3 + 2.5 * a2 - 4.0 * a + 2.0) * ((a > 1) & (a <= 2))
    return inner + outer


def output_length(in_len: int, scale: float) -> int:
    """MATLAB: ceil(in_len * scale)."""
    return math.ceil(in_len * scale)


@lru_cache(maxsize=64)
def resize_matrix(
    in_len: int, scale: float, out_len: int | None = None, boundary: Boundary = "symmetric"
) -> np.ndarray:
    """The (out_len, in_len) float64 matrix that resizes one axis like MATLAB ``imresize(..., 'bicubic')``.

    Antialiasing (a kernel stretched by 1/scale) applies only when scale < 1, as in MATLAB.
    """
    if in_len < 1 or scale <= 0:
        raise ValueError(f"invalid resize: length {in_len}, scale {scale}")
    if out_len is None:
        out_len = output_length(in_len, scale)
    antialias = scale < 1
    width = 4.0 / scale if antialias else 4.0

    def kernel(t: np.ndarray) -> np.ndarray:
        return scale * cubic(scale * t) if antialias else cubic(t)

    out_coords = np.arange(1, out_len + 1, dtype=np.float64)
    centres = out_coords / scale + 0.5 * (1.0 - 1.0 / scale)  # 1-based source positions
    left = np.floor(centres - width / 2.0)
    taps = math.ceil(width) + 2
    one_based = left[:, None] + np.arange(taps)[None, :]
    weights = kernel(centres[:, None] - one_based)
    zero_based = one_based.astype(np.int64) - 1
    if boundary == "dualsr":
        weights = np.where(zero_based < 0, 0.0, weights)
    elif boundary != "symmetric":
        raise ValueError(f"unknown boundary {boundary!r}")
    sums = weights.sum(axis=1, keepdims=True)
    sums[sums == 0] = 1.0
    weights = weights / sums
    period = 2 * in_len
    folded = np.mod(zero_based, period)
    source = np.where(folded < in_len, folded, period - 1 - folded)
    matrix = np.zeros((out_len, in_len), dtype=np.float64)
    rows = np.repeat(np.arange(out_len), taps)
    np.add.at(matrix, (rows, source.ravel()), weights.ravel())
    matrix.setflags(write=False)
    return matrix


def resize_matrix_tensor(
    in_len: int,
    scale: float,
    *,
    boundary: Boundary,
    device: torch.device,
    dtype: torch.dtype,
    out_len: int | None = None,
) -> torch.Tensor:
    return torch.tensor(resize_matrix(in_len, float(scale), out_len, boundary), dtype=dtype, device=device)


def imresize(
    image: torch.Tensor | np.ndarray,
    scale: float,
    *,
    boundary: Boundary = "symmetric",
    size: tuple[int, int] | None = None,
) -> torch.Tensor | np.ndarray:
    """Bicubic resize by ``scale`` of the last two axes of a tensor (…, H, W) or of an HWC/HW ndarray.

    ``size`` = (height, width) fixes the output size (MATLAB's ``imresize(im, [h w])``); otherwise it is
    ceil(side * scale). Tensors are computed in their own dtype on their own device (use float64 to match
    MATLAB exactly); arrays are computed in float64 and returned as float64.
    """
    if isinstance(image, np.ndarray):
        channels_last = image.ndim == 3
        tensor = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float64))
        if channels_last:
            tensor = tensor.permute(2, 0, 1)
        out = imresize(tensor, scale, boundary=boundary, size=size)
        out = out.permute(1, 2, 0) if channels_last else out
        return out.numpy()
    height, width = image.shape[-2:]
    out_h, out_w = size if size is not None else (None, None)
    scale_h = out_h / height if out_h else scale
    scale_w = out_w / width if out_w else scale
    rows = resize_matrix_tensor(
        height, scale_h, boundary=boundary, device=image.device, dtype=image.dtype, out_len=out_h
    )
    cols = resize_matrix_tensor(
        width, scale_w, boundary=boundary, device=image.device, dtype=image.dtype, out_len=out_w
    )
    return rows @ image @ cols.T
