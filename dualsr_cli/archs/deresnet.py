"""DASR's down-sampling network DSN (``De_resnet``; also DADA's down-sampler), ``docs/dasr.md`` §2.

HR in, realistic LR out: conv+PReLU, 8 residual blocks, log2(scale) stride-2 conv+PReLU, conv, sigmoid.
No global skip and no resize layer. Output side = ceil(side / 2) per stride-2 conv.
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn as nn


class ResBlock(nn.Module):
    def __init__(self, nf: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(nf, nf, 3, padding=1)
        self.prelu = nn.PReLU()
        self.conv2 = nn.Conv2d(nf, nf, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.prelu(self.conv1(x)))


class DeResNet(nn.Module):
    def __init__(self, *, scale: int = 4, nf: int = 64, n_res_blocks: int = 8) -> None:
        super().__init__()
        steps = round(math.log2(scale))
        if scale not in (2, 4):
            raise ValueError(f"DeResnet supports x2 and x4, not x{scale}")
        self.scale = scale
        self.block_input = nn.Sequential(nn.Conv2d(3, nf, 3, padding=1), nn.PReLU())
        self.res_blocks = nn.Sequential(*[ResBlock(nf) for _ in range(n_res_blocks)])
        down: list[nn.Module] = []
        for _ in range(steps):
            down += [nn.Conv2d(nf, nf, 3, stride=2, padding=1), nn.PReLU()]
        self.down_sample = nn.Sequential(*down)
        self.block_output = nn.Conv2d(nf, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.block_output(self.down_sample(self.res_blocks(self.block_input(x)))))


def deresnet_arguments(state: dict[str, torch.Tensor]) -> dict[str, int]:
    blocks = 1 + max(int(m.group(1)) for k in state if (m := re.match(r"res_blocks\.(\d+)\.", k)))
    steps = sum(1 for k in state if re.fullmatch(r"down_sample\.\d+\.bias", k))
    return {"scale": 2**steps, "nf": state["block_input.0.weight"].shape[0], "n_res_blocks": blocks}
