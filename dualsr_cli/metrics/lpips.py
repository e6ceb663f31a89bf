"""LPIPS (AlexNet, v0.1) through the ``lpips`` package, strictly offline.

The package ships its small linear layers, but builds the AlexNet backbone through torchvision, which
downloads ``alexnet-owt-7be5be79.pth`` into ``$TORCH_HOME/hub/checkpoints`` when it is missing. srx never
downloads: if the file is absent LPIPS is reported as n/a with one warning naming the file and folder.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ALEXNET_FILE = "alexnet-owt-7be5be79.pth"


def backbone_path() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / ALEXNET_FILE


@dataclass
class LpipsMetric:
    """Callable LPIPS distance of two (H, W, 3) [0, 1] images; ``None`` result means unavailable."""

    model: torch.nn.Module | None
    device: torch.device
    unavailable_reason: str | None = None

    def __call__(self, sr: np.ndarray, hr: np.ndarray) -> float | None:
        if self.model is None:
            return None
        with torch.inference_mode():
            sr_t = _to_tensor(_as_rgb(sr)).to(self.device) * 2 - 1  # lpips expects [-1, 1]
            hr_t = _to_tensor(_as_rgb(hr)).to(self.device) * 2 - 1
            return float(self.model(sr_t, hr_t).item())


def _to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) -> (1, 3, H, W) float32."""
    return torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image


def load_lpips(device: torch.device) -> LpipsMetric:
    """Build LPIPS-Alex v0.1 from the local torch hub cache, or an unavailable metric saying why."""
    weights = backbone_path()
    if not weights.is_file():
        return LpipsMetric(
            None,
            device,
            f"LPIPS reported as n/a: AlexNet backbone '{weights.name}' not found in '{weights.parent}' "
            "(srx never downloads; copy the torchvision file there or set TORCH_HOME)",
        )
    import lpips

    try:
        # lpips prints set-up chatter and uses torchvision's deprecated `pretrained=` argument
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = lpips.LPIPS(net="alex", version="0.1", verbose=False)
    except Exception as exc:  # a corrupt or mismatched backbone file
        return LpipsMetric(None, device, f"LPIPS reported as n/a: cannot load '{weights}' ({exc})")
    return LpipsMetric(model.eval().to(device), device)
