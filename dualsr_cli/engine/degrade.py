"""``srx degrade``: clean HR images -> realistic LR with a learned degradation network.

A DSN (DeResnet) runs tile by tile on the HR image (its stride-2 convolutions map tiles aligned to 4
pixels exactly onto the LR grid). The DDNSR network also needs a real LR image of the target camera: the
reference is mirrored or cropped to the LR size and the network runs on the whole image (at most
``MAX_DDNSR_MEGAPIXELS`` of HR).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..archs.ddnsr import DualInputDegradation
from ..atomic import ensure_writable_dir
from ..errors import ConfigError, ImageSizeError
from ..image_io import ImageData, output_bit_depth, read_image, write_image
from ..ops.tiling import auto_tile_size, upscale_tiled
from .postprocess import FileResult, from_network_output, to_network_input

MAX_DDNSR_MEGAPIXELS = 8.0
DSN_TILE_PAD = 32  # HR pixels: 8 residual blocks + 2 strided convs see about 21 px
DEFAULT_SUFFIX = "lr"  # outputs are <stem>_lr.<ext>


@dataclass(frozen=True)
class DegradeOptions:
    tile: int | None = None  # HR tile side; None = from free memory, 0 = whole image (a DDNSR network: always)
    tile_pad: int = DSN_TILE_PAD  # HR context pixels around each DSN tile


DegradeResult = FileResult


def reference_canvas(reference: ImageData, height: int, width: int) -> torch.Tensor:
    """The reference LR mirrored (or cropped) to exactly height x width, as (1, 3, H, W) float32."""
    pixels = reference.rgb_float64()
    reps_h, reps_w = -(-height // pixels.shape[0]), -(-width // pixels.shape[1])
    if reps_h > 1 or reps_w > 1:
        pixels = np.pad(
            pixels, ((0, (reps_h - 1) * pixels.shape[0]), (0, (reps_w - 1) * pixels.shape[1]), (0, 0)), mode="symmetric"
        )
    return torch.from_numpy(pixels[:height, :width].transpose(2, 0, 1)[None].astype(np.float32))


@torch.inference_mode()
def degrade_pixels(
    net: torch.nn.Module,
    pixels: torch.Tensor,
    device: torch.device,
    reference: ImageData | None = None,
    options: DegradeOptions | None = None,
    on_tile: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """(1, 3, H, W) float32 HR -> (1, 3, H/s, W/s) float32 LR on the CPU; ``on_tile(done, total)`` reports progress."""
    options = options or DegradeOptions()
    if isinstance(net, DualInputDegradation):
        h, w = pixels.shape[-2:]
        if h * w / 1e6 > MAX_DDNSR_MEGAPIXELS:
            raise ImageSizeError(f"DDNSR degradation runs whole images of at most {MAX_DDNSR_MEGAPIXELS:.0f} MP")
        assert reference is not None
        lr_h, lr_w = net.down(torch.zeros(1, 3, h, w, device=device)).shape[-2:]
        lr = net(pixels.to(device), reference_canvas(reference, lr_h, lr_w).to(device)).float().cpu()
        if on_tile:
            on_tile(1, 1)
        return lr
    if options.tile is not None and options.tile < 0:
        raise ConfigError(f"--tile must be 0 (off) or positive, got {options.tile}")
    if options.tile_pad < 0:
        raise ConfigError(f"--tile-pad must be non-negative, got {options.tile_pad}")
    scale = 1.0 / net.scale
    tile = options.tile if options.tile is not None else auto_tile_size(device, 3 * 64 * 4, multiple=net.scale * 4)
    return upscale_tiled(
        net,
        pixels,
        scale=scale,
        tile=tile,
        pad=options.tile_pad,
        device=device,
        align=net.scale * 4,
        blend=True,
        on_tile=on_tile,
    )


def degrade_file(
    net: torch.nn.Module,
    input_path: Path,
    output_path: Path,
    device: torch.device,
    options: DegradeOptions | None = None,
    *,
    reference: ImageData | None = None,
    skip_existing: bool = False,
    on_tile: Callable[[int, int], None] | None = None,
) -> DegradeResult:
    """Write the realistic LR of one HR file (nothing is read or written when ``skip_existing`` finds it)."""
    if skip_existing and output_path.exists():
        return DegradeResult(str(input_path), str(output_path), (0, 0), (0, 0), 0.0, skipped=True)
    image = read_image(input_path)
    ensure_writable_dir(output_path.parent)
    start = time.perf_counter()
    lr = degrade_pixels(net, to_network_input(image), device, reference, options, on_tile)
    color, alpha = from_network_output(lr, image)
    write_image(
        output_path,
        color,
        bit_depth=output_bit_depth(output_path, image.bit_depth),
        alpha=alpha,
        metadata=image.metadata,
        scale=color.shape[1] / image.width,
    )
    return DegradeResult(
        str(input_path),
        str(output_path),
        (image.width, image.height),
        (color.shape[1], color.shape[0]),
        time.perf_counter() - start,
    )
