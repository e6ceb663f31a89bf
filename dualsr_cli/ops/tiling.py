"""Tiled inference for fully convolutional upscalers, with bounded memory.

Each LR tile is cut with ``pad`` pixels of real image context per side (fewer at the image border, where
the untiled network sees the same border), padded at the bottom/right to the network's size multiple
exactly as the whole image would be, and run. Two ways to stitch:

- ``blend=False``: keep each tile's centre. Exact when ``pad`` covers the receptive field (DualSR G_UP).
- ``blend=True``: accumulate whole tiles with weights that are 1 on the tile's own block and fall off
  linearly across its context, then normalise. Networks with huge receptive fields (RRDB, CDC) stay within
  1e-4 of the untiled output without visible seams.

Only the output canvas (the size of the result image) grows with the image; features exist per tile.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
import torch.nn.functional as F

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
    device: torch.device, bytes_per_lr_pixel: int, *, multiple: int = 1, largest: int = 1024, smallest: int = 64
) -> int:
    """Largest square LR tile whose activations fit in a quarter of the free memory (rounded to ``multiple``)."""
    budget = available_memory_bytes(device) // 4
    side = int((budget / max(bytes_per_lr_pixel, 1)) ** 0.5)
    side = max(smallest, min(largest, side))
    return max(multiple, side // multiple * multiple)


def tile_spans(length: int, tile: int) -> list[tuple[int, int]]:
    return [(start, min(start + tile, length)) for start in range(0, length, tile)]


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def _pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    if multiple <= 1:
        return x
    h, w = x.shape[-2:]
    extra_h, extra_w = round_up(h, multiple) - h, round_up(w, multiple) - w
    if extra_h or extra_w:
        x = F.pad(x, (0, extra_w, 0, extra_h), mode="replicate")
    return x


def _out(position: int, scale: float) -> int:
    """Output coordinate of an input coordinate (ceil, as stride-2 convolutions and exact upscales give)."""
    return -(-round(position * scale * 1024) // 1024)


def _ramp(start: int, end: int, core_start: int, core_end: int, scale: float) -> torch.Tensor:
    """1 on the core's outputs, rising linearly from ~0 at ``start`` and falling to ~0 at ``end``."""
    positions = torch.arange(_out(start, scale), _out(end, scale), dtype=torch.float32) + 0.5
    weight = torch.ones_like(positions)
    if core_start > start:
        width = _out(core_start, scale) - _out(start, scale)
        weight = torch.minimum(weight, (positions - _out(start, scale)) / width)
    if end > core_end:
        width = _out(end, scale) - _out(core_end, scale)
        weight = torch.minimum(weight, (_out(end, scale) - positions) / width)
    return weight


def upscale_tiled(
    model: Model,
    image: torch.Tensor,
    *,
    scale: float,
    tile: int,
    pad: int,
    device: torch.device,
    channels_last: bool = False,
    size_multiple: int = 1,
    align: int | None = None,
    blend: bool = False,
    dtype: torch.dtype = torch.float32,
    on_tile: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Run ``model`` (x -> x resized by ``scale``) over (N, C, H, W) ``image`` tile by tile; float32 on the CPU.

    ``scale`` may be below 1 for down-samplers; tile and pad are rounded to ``align`` (default: the size
    multiple) so every tile sits on the same grid as the whole image. ``tile <= 0`` or an image no larger
    than one tile runs untiled. ``on_tile(done, total)`` reports progress.
    """
    n, _, h, w = image.shape

    def run(block: torch.Tensor) -> torch.Tensor:
        rows, cols = block.shape[-2:]
        block = _pad_to_multiple(block.to(device=device, dtype=dtype), size_multiple)
        if channels_last:
            block = block.contiguous(memory_format=torch.channels_last)
        return model(block)[..., : _out(rows, scale), : _out(cols, scale)].float().cpu()

    if tile <= 0 or (h <= tile and w <= tile):
        result = run(image)
        if on_tile:
            on_tile(1, 1)
        return result.contiguous()

    grid = align or size_multiple
    tile, pad = round_up(tile, grid), round_up(pad, grid)
    out_h, out_w = _out(h, scale), _out(w, scale)
    output: torch.Tensor | None = None
    # empty().zero_() touches every page now, so peak memory is visible from the first tile on
    weights = torch.empty(1, 1, out_h, out_w).zero_() if blend else None
    rows, cols = tile_spans(h, tile), tile_spans(w, tile)
    total, done = len(rows) * len(cols), 0
    for top, bottom in rows:
        for left, right in cols:
            ctx_top, ctx_bottom = max(top - pad, 0), min(bottom + pad, h)
            ctx_left, ctx_right = max(left - pad, 0), min(right + pad, w)
            upscaled = run(image[..., ctx_top:ctx_bottom, ctx_left:ctx_right])
            if output is None:
                output = torch.empty(n, upscaled.shape[1], out_h, out_w).zero_()
            if blend:
                assert weights is not None
                weight = (
                    _ramp(ctx_top, ctx_bottom, top, bottom, scale)[:, None]
                    * _ramp(ctx_left, ctx_right, left, right, scale)[None, :]
                )
                region = (
                    ...,
                    slice(_out(ctx_top, scale), _out(ctx_bottom, scale)),
                    slice(_out(ctx_left, scale), _out(ctx_right, scale)),
                )
                output[region] += upscaled * weight
                weights[region] += weight
            else:
                r0, c0 = _out(top, scale) - _out(ctx_top, scale), _out(left, scale) - _out(ctx_left, scale)
                rows_out, cols_out = _out(bottom, scale) - _out(top, scale), _out(right, scale) - _out(left, scale)
                output[..., _out(top, scale) : _out(bottom, scale), _out(left, scale) : _out(right, scale)] = upscaled[
                    ..., r0 : r0 + rows_out, c0 : c0 + cols_out
                ]
            done += 1
            if on_tile:
                on_tile(done, total)
    assert output is not None
    if blend:
        assert weights is not None
        output /= weights
    return output
