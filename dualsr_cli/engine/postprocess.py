"""From a decoded image to network input and from network output back to what gets written.

Shared by every command that upscales files, so grayscale, alpha and resizing rules are the same
everywhere: networks see RGB in [0, 1]; gray inputs are replicated and the output averaged back to one
channel; alpha is upscaled with MATLAB bicubic and re-attached.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..image_io import ImageData
from ..ops.resize import imresize


def to_network_input(image: ImageData) -> torch.Tensor:
    """(1, 3, H, W) float32 in [0, 1] (integer samples / max, computed in float64 as the official code)."""
    return torch.from_numpy(image.rgb_float64().transpose(2, 0, 1)[None].astype(np.float32))


def from_network_output(
    output: torch.Tensor, image: ImageData, *, size: tuple[int, int] | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """(color (H', W', 3|1) float32 unclamped, alpha (H', W') in [0, 1] or None) for ``write_image``.

    ``size`` = (height, width) resizes the network output (bicubic) to a requested final size.
    """
    color = output[0].permute(1, 2, 0).numpy()
    height, width = color.shape[:2]
    if size is not None and size != (height, width):
        color = imresize(color, size[0] / height, size=size).astype(np.float32)
        height, width = size
    if image.is_gray:
        color = color.mean(axis=2, keepdims=True, dtype=np.float32)
    alpha = image.alpha_float64()
    if alpha is not None:
        alpha = np.clip(imresize(alpha, height / image.height, size=(height, width)), 0.0, 1.0)
    return color, alpha


@dataclass
class FileResult:
    """What one input file became (``srx run`` and ``srx degrade``); sizes are (width, height)."""

    input: str
    output: str
    input_size: tuple[int, int]
    output_size: tuple[int, int]
    seconds: float
    skipped: bool = False
