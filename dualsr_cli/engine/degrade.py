"""``srx degrade``: clean HR images -> realistic LR with a learned degradation network.

A DSN (DeResnet) runs tile by tile on the HR image (its stride-2 convolutions map tiles aligned to 4
pixels exactly onto the LR grid). The DDNSR network also needs a real LR image of the target camera: the
reference is mirrored or cropped to the LR size and the network runs on the whole image (at most
``MAX_DDNSR_MEGAPIXELS`` of HR).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..archs.ddnsr import DualInputDegradation
from ..errors import ImageSizeError
from ..image_io import ImageData, ensure_writable_dir, read_image, write_image
from ..ops.tiling import auto_tile_size, upscale_tiled
from .postprocess import from_network_output, to_network_input

MAX_DDNSR_MEGAPIXELS = 8.0
DSN_TILE_PAD = 32  # HR pixels: 8 residual blocks + 2 strided convs see about 21 px


def reference_canvas(reference: ImageData, height: int, width: int) -> torch.Tensor:
    """The reference LR mirrored (or cropped) to exactly height x width, as (1, 3, H, W) float32."""
    pixels = reference.rgb_float64()
    reps_h, reps_w = -(-height // pixels.shape[0]), -(-width // pixels.shape[1])
    if reps_h > 1 or reps_w > 1:
        pixels = np.pad(pixels, ((0, (reps_h - 1) * pixels.shape[0]), (0, (reps_w - 1) * pixels.shape[1]), (0, 0)),
                        mode="symmetric")  # fmt: skip
    return torch.from_numpy(pixels[:height, :width].transpose(2, 0, 1)[None].astype(np.float32))


@torch.inference_mode()
def degrade_pixels(
    net: torch.nn.Module, pixels: torch.Tensor, device: torch.device, reference: ImageData | None = None
) -> torch.Tensor:
    if isinstance(net, DualInputDegradation):
        h, w = pixels.shape[-2:]
        if h * w / 1e6 > MAX_DDNSR_MEGAPIXELS:
            raise ImageSizeError(f"DDNSR degradation runs whole images of at most {MAX_DDNSR_MEGAPIXELS:.0f} MP")
        assert reference is not None
        lr_h, lr_w = net.down(torch.zeros(1, 3, h, w, device=device)).shape[-2:]
        return net(pixels.to(device), reference_canvas(reference, lr_h, lr_w).to(device)).float().cpu()
    scale = 1.0 / net.scale
    tile = auto_tile_size(device, 3 * 64 * 4, multiple=net.scale * 4)
    return upscale_tiled(net, pixels, scale=scale, tile=tile, pad=DSN_TILE_PAD, device=device, align=net.scale * 4,
                         blend=True)  # fmt: skip


def degrade_file(
    net: torch.nn.Module,
    input_path: Path,
    output_path: Path,
    device: torch.device,
    *,
    reference: ImageData | None = None,
    skip_existing: bool = False,
) -> tuple[int, int] | None:
    """Write the realistic LR of one HR file; returns its (width, height), or None when skipped."""
    if skip_existing and output_path.exists():
        return None
    image = read_image(input_path)
    ensure_writable_dir(output_path.parent)
    lr = degrade_pixels(net, to_network_input(image), device, reference)
    color, alpha = from_network_output(lr, image)
    write_image(output_path, color, bit_depth=image.bit_depth, alpha=alpha, metadata=image.metadata,
                scale=color.shape[1] / image.width)  # fmt: skip
    return color.shape[1], color.shape[0]
