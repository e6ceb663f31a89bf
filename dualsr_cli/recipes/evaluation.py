"""Validation during adaptation: ``srx bench``'s metrics on held-out LR/HR pairs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..archs import ModelDescriptor
from ..datasets import Pair
from ..engine.infer import RunOptions, upscale_pixels
from ..image_io import read_image
from ..metrics.lpips import LpipsMetric
from ..metrics.protocols import evaluate


@torch.inference_mode()
def evaluate_pairs(
    forward: Callable[[torch.Tensor], torch.Tensor],
    pairs: list[Pair],
    *,
    scale: int,
    device: torch.device,
    protocol: str = "cdc",
    size_multiple: int = 1,
    lpips: LpipsMetric | None = None,
    reference: str = "hr",
) -> dict[str, float]:
    """Mean PSNR/SSIM (and LPIPS when available) of ``forward`` over ``pairs`` (whole images, untiled).

    ``reference="lr"`` scores a reconstruction of the LR itself (DADA's circle stage selects on that).
    """
    model = ModelDescriptor("eval", torch.nn.Identity(), scale, forward, size_multiple=size_multiple)
    psnrs, ssims, lpipss = [], [], []
    for pair in pairs:
        lr = read_image(pair.lr)
        target_image = lr if reference == "lr" else read_image(pair.hr)
        pixels = torch.from_numpy(lr.rgb_float64().transpose(2, 0, 1)[None].astype(np.float32))
        out = upscale_pixels(model, pixels, RunOptions(tile=0), device)[0].permute(1, 2, 0).numpy()
        target = target_image.rgb_float64()[: out.shape[0], : out.shape[1]]
        out = out[: target.shape[0], : target.shape[1]]
        scores = evaluate(out.astype(np.float64), target, protocol=protocol, scale=scale)
        psnrs.append(scores.psnr)
        ssims.append(scores.ssim)
        if lpips is not None and lpips.model is not None:
            lpipss.append(lpips(np.clip(out, 0, 1), target))
    metrics = {"psnr": float(np.mean(psnrs)), "ssim": float(np.mean(ssims)), "images": len(pairs)}
    if lpipss:
        metrics["lpips"] = float(np.mean(lpipss))
    return metrics
