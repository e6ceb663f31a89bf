"""Losses of the adaptation recipes (``docs/cdc-dada.md`` §6, ``docs/dasr.md`` §5, ``docs/ddnsr.md`` §3)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError

VGG19_FILE = "vgg19-dcbb9e9d.pth"
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def harris_masks(images: torch.Tensor) -> torch.Tensor:
    """CDC's flat / edge / corner masks, (N, 3, H, W) -> (3, N, 1, H, W) binary, computed with OpenCV on the CPU.

    Y' = 255·(0.257 R + 0.564 G + 0.098 B + 16/255) (CDC's G weight 0.564), cornerHarris(block 3, ksize 3,
    k 0.04); corner if R > 0.01·max, edge if R < -0.001·max, flat strictly between.
    """
    from ..image_io import import_opencv

    cv2 = import_opencv()
    rgb = images.detach().float().cpu().numpy()
    masks = np.zeros((3, rgb.shape[0], 1, rgb.shape[2], rgb.shape[3]), dtype=np.float32)
    for i, image in enumerate(rgb):
        luma = (255.0 * (0.257 * image[0] + 0.564 * image[1] + 0.098 * image[2] + 16.0 / 255.0)).astype(np.float32)
        response = cv2.cornerHarris(luma, 3, 3, 0.04)
        high, low = 0.01 * response.max(), -0.001 * response.max()
        masks[2, i, 0] = response > high
        masks[1, i, 0] = response < low
        masks[0, i, 0] = (response > low) & (response < high)
    return torch.from_numpy(masks).to(images.device)


def _sobel(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=image.dtype, device=image.device)
    n, c, h, w = image.shape
    flat = image.reshape(n * c, 1, h, w)
    gx = F.conv2d(flat, kx[None, None], padding=1).reshape(n, c, h, w)
    gy = F.conv2d(flat, kx.T[None, None], padding=1).reshape(n, c, h, w)
    return gx, gy


def gradient_weighted_loss(sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
    """CDC's GW loss: mean((1 + 4|ΔGx|)(1 + 4|ΔGy|)|SR − HR|), Sobel per channel, gradients through both."""
    sx, sy = _sobel(sr)
    hx, hy = _sobel(hr)
    return ((1 + 4 * (sx - hx).abs()) * (1 + 4 * (sy - hy).abs()) * (sr - hr).abs()).mean()


COMPONENT_WEIGHTS = (1.0, 2.0, 5.0)


def component_loss(result: list[torch.Tensor], target: torch.Tensor, *, gw: bool) -> torch.Tensor:
    """Σ_k w_k·L1(M_k⊙SR_k, M_k⊙HR) over flat/edge/corner (means over all elements) + final-output term.

    The masks come from ``target`` (the HR, or DADA's pseudo-label). The final term is GW or plain L1.
    """
    masks = harris_masks(target)
    loss = sum(
        w * (m * sr - m * target).abs().mean() for w, m, sr in zip(COMPONENT_WEIGHTS, masks, result[:3], strict=True)
    )
    final = gradient_weighted_loss(result[-1], target) if gw else (result[-1] - target).abs().mean()
    return loss + final


def bce_gan(logits: torch.Tensor, real: bool) -> torch.Tensor:
    """Vanilla GAN with logits (BCEWithLogits against 1 or 0, mean over the patch map)."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


def discriminator_y(rgb: torch.Tensor) -> torch.Tensor:
    """DADA's discriminator luma: (65.738 R + 129.057 G + 25.064 B) / 256, no offset."""
    weights = torch.tensor([65.738, 129.057, 25.064], dtype=rgb.dtype, device=rgb.device) / 256.0
    return (rgb * weights[None, :, None, None]).sum(dim=1, keepdim=True)


def require_vgg19(weights: Path | None = None) -> Path:
    """The VGG19 weights file the perceptual losses read; checked before a job starts, never downloaded."""
    path = weights or Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE
    if not path.is_file():
        raise ConfigError(
            f"the perceptual loss needs torchvision's VGG19 weights '{path.name}' in '{path.parent}' "
            "(srx never downloads; copy the file there or set TORCH_HOME), or use --perceptual none for smoke runs"
        )
    return path


class VGGFeatureLoss(nn.Module):
    """Distance between frozen VGG19 features (``features[: layer + 1]``) of ImageNet-normalised inputs.

    The weights are torchvision's ImageNet VGG19 from the local torch hub cache; srx never downloads.
    ``layer`` 34 is conv5_4 before its ReLU (ESRGAN's L1 perceptual loss: DADA, DASR, DDNSR eq. 2); 8 and 17
    are relu2_2 and relu3_4, SRGAN's phi_2,2 / phi_3,4 ("VGG-22" / "VGG-34", DDNSR eq. 4, squared L2).
    """

    def __init__(self, layer: int = 34, weights: Path | None = None, distance: str = "l1") -> None:
        super().__init__()
        if distance not in ("l1", "mse"):
            raise ValueError(f"distance must be l1 or mse, not {distance!r}")
        self.distance = distance
        import torchvision

        path = require_vgg19(weights)
        features = torchvision.models.vgg19(weights=None).features
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            # only the convolutional trunk is used; the classifier weights in the file are ignored
            features.load_state_dict({k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")})
        except Exception as exc:
            raise ConfigError(f"cannot load VGG19 weights from '{path}' ({str(exc).splitlines()[0][:100]})") from None
        self.features = features[: layer + 1].eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN)[None, :, None, None])
        self.register_buffer("std", torch.tensor(_IMAGENET_STD)[None, :, None, None])

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        fx = self.features((x - self.mean) / self.std)
        fy = self.features((y - self.mean) / self.std)
        return (fx - fy).abs().mean() if self.distance == "l1" else (fx - fy).square().mean()


def perceptual_loss(kind: str, device: torch.device, layer: int = 34) -> VGGFeatureLoss | None:
    """``vgg`` -> a VGGFeatureLoss on ``device``; ``none`` -> None (a logged deviation for smoke runs)."""
    if kind == "none":
        return None
    if kind != "vgg":
        raise ConfigError(f"unknown --perceptual '{kind}' (use vgg or none)")
    return VGGFeatureLoss(layer).to(device)
