"""Tiled inference for fully convolutional upscalers.

Each LR tile is cut with ``pad`` extra pixels of real image context on every side (fewer at the image
border, where the untiled network sees the same border), run through the model, and only its centre is
kept. When ``pad`` covers the model's receptive-field radius the stitched result equals the untiled one
up to floating-point noise, and peak memory depends on the tile size, not the image size.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch

Model = Callable[[torch.Tensor], torch.Tensor]


def available_memory_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def auto_tile_size(
    device: torch.device, bytes_per_lr_pixel: int, *, candidates=(1024, 768, 512, 384, 256, 192, 128)
) -> int:
    """Largest square LR tile whose activations fit in a quarter of the free memory (at most 1024)."""
    budget = available_memory_bytes(device) // 4
    for side in candidates:
        if side * side * bytes_per_lr_pixel <= budget:
            return side
    return candidates[-1]


def tile_spans(length: int, tile: int) -> list[tuple[int, int]]:
    return [(start, min(start + tile, length)) for start in range(0, length, tile)]


def upscale_tiled(
    model: Model,
    image: torch.Tensor,
    *,
    scale: int,
    tile: int,
    pad: int,
    device: torch.device,
    channels_last: bool = False,
    on_tile: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Run ``model`` (x -> x upscaled by ``scale``) over (N, C, H, W) ``image`` in tiles; result on the CPU.

    ``tile <= 0`` or an image no larger than one tile runs untiled. ``on_tile(done, total)`` reports progress.
    """
    n, _, h, w = image.shape

    def run(block: torch.Tensor) -> torch.Tensor:
        block = block.to(device)
        if channels_last:
            block = block.contiguous(memory_format=torch.channels_last)
        return model(block).float().cpu()

    if tile <= 0 or (h <= tile and w <= tile):
        result = run(image)
        if on_tile:
            on_tile(1, 1)
        return result.contiguous()

    output: torch.Tensor | None = None
    rows, cols = tile_spans(h, tile), tile_spans(w, tile)
    total, done = len(rows) * len(cols), 0
    for top, bottom in rows:
        for left, right in cols:
            ctx_top, ctx_bottom = max(top - pad, 0), min(bottom + pad, h)
            ctx_left, ctx_right = max(left - pad, 0), min(right + pad, w)
            upscaled = run(image[..., ctx_top:ctx_bottom, ctx_left:ctx_right])
            if output is None:
                output = torch.empty(n, upscaled.shape[1], h * scale, w * scale, dtype=upscaled.dtype)
            r0, c0 = (top - ctx_top) * scale, (left - ctx_left) * scale
            output[..., top * scale : bottom * scale, left * scale : right * scale] = upscaled[
                ..., r0 : r0 + (bottom - top) * scale, c0 : c0 + (right - left) * scale
            ]
            done += 1
            if on_tile:
                on_tile(done, total)
    assert output is not None
    return output
