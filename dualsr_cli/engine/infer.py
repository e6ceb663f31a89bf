"""``srx run``: pretrained upscalers over images, tiled, on CPU or GPU.

A ``ModelDescriptor`` (``archs.load_model``) says how to run a network; this module turns files into
network inputs, runs them tile by tile with blended overlaps, and writes results with the IO rules of
every srx command (bit depth, alpha, grayscale, atomic writes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ..archs import ModelDescriptor
from ..atomic import ensure_writable_dir
from ..errors import ConfigError, ImageSizeError
from ..image_io import ImageData, output_bit_depth, read_image, write_image
from ..ops.tiling import auto_tile_size, upscale_tiled
from ..validation import MAX_SIDE, check_int, check_positive_float
from .postprocess import FileResult, from_network_output, to_network_input

MAX_INPUT_MEGAPIXELS = 50.0


MAX_OUTSCALE = 16.0
MAX_TILE_PAD = 1024


@dataclass(frozen=True)
class RunOptions:
    tile: int | None = None  # LR tile side; None = from free memory, 0 = whole image
    tile_pad: int | None = None  # None = the architecture's safe default
    half: bool = False
    outscale: float | None = None  # final scale; None = the network's own

    def __post_init__(self) -> None:
        if self.tile is not None:
            check_int("--tile", self.tile, low=0, high=MAX_SIDE, hint="0 turns tiling off")
        if self.tile_pad is not None:
            check_int("--tile-pad", self.tile_pad, low=0, high=MAX_TILE_PAD)
        if self.outscale is not None:
            check_positive_float("--outscale", self.outscale, high=MAX_OUTSCALE)


RunResult = FileResult


def prepare(model: ModelDescriptor, device: torch.device, *, half: bool) -> ModelDescriptor:
    """Move the network to ``device``; fp16 only on CUDA, where it is fast and supported."""
    if half and device.type != "cuda":
        raise ConfigError("--half needs a CUDA device (fp16 convolutions are not supported on the CPU); drop --half")
    if half and not model.supports_half:
        raise ConfigError(f"{model.name} does not support --half")
    return model.to(device, torch.float16 if half else torch.float32)


def check_run_input(image: ImageData, path: Path) -> None:
    megapixels = image.width * image.height / 1e6
    if megapixels > MAX_INPUT_MEGAPIXELS:
        raise ImageSizeError(
            f"'{path}' is {image.width}x{image.height} ({megapixels:.1f} MP): srx run accepts at most "
            f"{MAX_INPUT_MEGAPIXELS:.0f} MP per image; split it first"
        )


def tile_size(model: ModelDescriptor, options: RunOptions, device: torch.device) -> int:
    if options.tile is not None:
        if options.tile < 0:
            raise ConfigError(f"--tile must be 0 (off) or positive, got {options.tile}")
        return options.tile
    if model.whole_image:
        return 0
    return auto_tile_size(device, model.bytes_per_lr_pixel, multiple=max(model.size_multiple, 16))


@torch.inference_mode()
def upscale_pixels(
    model: ModelDescriptor,
    pixels: torch.Tensor,
    options: RunOptions,
    device: torch.device,
    on_tile: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """(1, 3, H, W) float32 [0, 1] -> (1, 3, sH, sW) float32 on the CPU, tiled with blended overlaps."""
    pad = model.tile_pad if options.tile_pad is None else options.tile_pad
    if pad < 0:
        raise ConfigError(f"--tile-pad must be non-negative, got {pad}")
    dtype = torch.float16 if options.half else torch.float32
    return upscale_tiled(
        model.forward,
        pixels,
        scale=model.scale,
        tile=tile_size(model, options, device),
        pad=pad,
        device=device,
        size_multiple=model.size_multiple,
        blend=True,
        dtype=dtype,
        on_tile=on_tile,
    )


def final_size(model: ModelDescriptor, image: ImageData, options: RunOptions) -> tuple[int, int]:
    scale = options.outscale or model.scale
    return round(image.height * scale), round(image.width * scale)


def upscale_file(
    model: ModelDescriptor,
    input_path: Path,
    output_path: Path,
    options: RunOptions,
    device: torch.device,
    *,
    skip_existing: bool = False,
    on_tile: Callable[[int, int], None] | None = None,
) -> RunResult:
    if skip_existing and output_path.exists():
        return RunResult(str(input_path), str(output_path), (0, 0), (0, 0), 0.0, skipped=True)
    image = read_image(input_path, max_megapixels=MAX_INPUT_MEGAPIXELS, what="srx run")
    check_run_input(image, input_path)
    ensure_writable_dir(output_path.parent)
    start = time.perf_counter()
    upscaled = upscale_pixels(model, to_network_input(image), options, device, on_tile)
    height, width = final_size(model, image, options)
    color, alpha = from_network_output(upscaled, image, size=(height, width))
    write_image(
        output_path,
        color,
        bit_depth=output_bit_depth(output_path, image.bit_depth),
        alpha=alpha,
        metadata=image.metadata,
        scale=options.outscale or model.scale,
    )
    return RunResult(
        str(input_path), str(output_path), (image.width, image.height), (width, height), time.perf_counter() - start
    )
