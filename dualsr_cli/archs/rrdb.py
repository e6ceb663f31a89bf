"""ESRGAN's RRDBNet (DASR's SRN, DDNSR's reconstruction net) in the original sequential key layout.

srx keeps the layout of the original ESRGAN / DASR checkpoints (``model.0``, ``model.1.sub.N.RDBk.convj.0``,
…) and renames the two later layouts into it on load (``docs/dasr.md`` §1, ``docs/checkpoints.md`` §3):

- mmsr-era ESRGAN: ``conv_first``, ``RRDB_trunk.N.RDBk.convj``, ``trunk_conv``, ``upconv1/2``, ``HRconv``,
  ``conv_last``
- BasicSR / Real-ESRGAN: ``conv_first``, ``body.N.rdbk.convj``, ``conv_body``, ``conv_up1/2``, ``conv_hr``,
  ``conv_last``

Hyper-parameters (blocks, features, growth, scale, pixel-unshuffle of BasicSR's x2/x1 models) are read
from tensor shapes. The net is written here rather than taken from spandrel because srx also trains it
(``srx adapt``) and needs one module for both.
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn as nn
import torch.nn.functional as F


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1)


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs; output = 0.2 * conv5 + input."""

    def __init__(self, nf: int = 64, gc: int = 32) -> None:
        super().__init__()
        for j in range(1, 6):
            cout = nf if j == 5 else gc
            # one-element Sequential: the official keys are convj.0.weight
            self.add_module(f"conv{j}", nn.Sequential(_conv(nf + (j - 1) * gc, cout)))
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for j in range(1, 5):
            features.append(self.lrelu(getattr(self, f"conv{j}")(torch.cat(features, dim=1))))
        return x + 0.2 * self.conv5(torch.cat(features, dim=1))


class RRDB(nn.Module):
    def __init__(self, nf: int = 64, gc: int = 32) -> None:
        super().__init__()
        self.RDB1, self.RDB2, self.RDB3 = (ResidualDenseBlock(nf, gc) for _ in range(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.2 * self.RDB3(self.RDB2(self.RDB1(x)))


class _Shortcut(nn.Module):
    def __init__(self, sub: nn.Sequential) -> None:
        super().__init__()
        self.sub = sub

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.sub(x)


class RRDBNet(nn.Module):
    """conv, nb RRDBs + conv (global skip), log2(s) x [nearest x2, conv, lrelu], HR conv, lrelu, conv."""

    def __init__(
        self,
        *,
        in_nc: int = 3,
        out_nc: int = 3,
        nf: int = 64,
        nb: int = 23,
        gc: int = 32,
        scale: int = 4,
        unshuffle: int = 1,
    ) -> None:
        super().__init__()
        upsamples = round(math.log2(scale * unshuffle)) if scale * unshuffle > 1 else 0
        if 2**upsamples != scale * unshuffle:
            raise ValueError(f"RRDBNet needs a power-of-two scale, got x{scale}")
        self.scale, self.unshuffle, self.upsamples = scale, unshuffle, upsamples
        layers: list[nn.Module] = [
            nn.Conv2d(in_nc * unshuffle * unshuffle, nf, 3, padding=1),
            _Shortcut(nn.Sequential(*[RRDB(nf, gc) for _ in range(nb)], _conv(nf, nf))),
        ]
        for _ in range(upsamples):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), _conv(nf, nf), nn.LeakyReLU(0.2, inplace=True)]
        layers += [_conv(nf, nf), nn.LeakyReLU(0.2, inplace=True), _conv(nf, out_nc)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unshuffle > 1:
            x = F.pixel_unshuffle(x, self.unshuffle)
        return self.model(x)


def _tail_indices(upsamples: int) -> tuple[list[int], int, int]:
    """Sequential indices of the upsampling convs, HR_conv0 and the last conv."""
    return [3 + 3 * s for s in range(upsamples)], 2 + 3 * upsamples, 4 + 3 * upsamples


_TRUNK = {
    "esrgan": (re.compile(r"^RRDB_trunk\.(\d+)\.RDB(\d)\.conv(\d)\.(weight|bias)$"), "trunk_conv", "upconv", "HRconv"),
    "basicsr": (re.compile(r"^body\.(\d+)\.rdb(\d)\.conv(\d)\.(weight|bias)$"), "conv_body", "conv_up", "conv_hr"),
}


def layout_of(state: dict[str, torch.Tensor]) -> str | None:
    if "model.1.sub.0.RDB1.conv1.0.weight" in state:
        return "original"
    if "RRDB_trunk.0.RDB1.conv1.weight" in state:
        return "esrgan"
    if "body.0.rdb1.conv1.weight" in state:
        return "basicsr"
    return None


def to_original_layout(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename an mmsr-era or BasicSR RRDBNet state_dict to the original sequential layout."""
    layout = layout_of(state)
    if layout in (None, "original"):
        return dict(state)
    pattern, trunk, up, hr = _TRUNK[layout]
    blocks = 1 + max(int(m.group(1)) for k in state if (m := pattern.match(k)))
    upsamples = sum(1 for k in state if re.fullmatch(rf"{up}\d\.weight", k))
    up_convs, hr0, last = _tail_indices(upsamples)
    renamed: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if m := pattern.match(key):
            i, k, j, kind = m.groups()
            renamed[f"model.1.sub.{i}.RDB{k}.conv{j}.0.{kind}"] = value
            continue
        name, _, kind = key.rpartition(".")
        if name == "conv_first":
            renamed[f"model.0.{kind}"] = value
        elif name == trunk:
            renamed[f"model.1.sub.{blocks}.{kind}"] = value
        elif m := re.fullmatch(rf"{up}(\d)", name):
            renamed[f"model.{up_convs[int(m.group(1)) - 1]}.{kind}"] = value
        elif name == hr:
            renamed[f"model.{hr0}.{kind}"] = value
        elif name == "conv_last":
            renamed[f"model.{last}.{kind}"] = value
        else:
            renamed[key] = value  # left for the strict load to report
    return renamed


def rrdb_arguments(state: dict[str, torch.Tensor]) -> dict[str, int]:
    """Constructor arguments of the RRDBNet that ``state`` (original layout) belongs to."""
    blocks = 1 + max(int(m.group(1)) for k in state if (m := re.match(r"model\.1\.sub\.(\d+)\.RDB1\.", k)))
    conv_indices = sorted(int(m.group(1)) for k in state if (m := re.fullmatch(r"model\.(\d+)\.weight", k)))
    upsamples = len([i for i in conv_indices if i >= 2]) - 2
    first = state["model.0.weight"]
    last = state[f"model.{conv_indices[-1]}.weight"]
    in_nc = 3 if first.shape[1] in (3, 12, 48) else first.shape[1]
    unshuffle = {3: 1, 12: 2, 48: 4}.get(first.shape[1], 1)
    return {
        "in_nc": in_nc,
        "out_nc": last.shape[0],
        "nf": first.shape[0],
        "nb": blocks,
        "gc": state["model.1.sub.0.RDB1.conv1.0.weight"].shape[0],
        "scale": 2 ** max(upsamples, 0) // unshuffle,
        "unshuffle": unshuffle,
    }


def init_rrdb(module: nn.Module, scale: float = 0.1) -> None:
    """ESRGAN's training init: Kaiming-normal (fan_in) x 0.1, zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
            m.weight.data.mul_(scale)
            if m.bias is not None:
                m.bias.data.zero_()
