"""DDNSR's dual-input degradation network (Li et al., 2023, §3.2 and Fig. 2), as srx builds it.

The paper gives the structure in words and a figure, not code; no official PyTorch code exists. srx's
reading, documented in the README: (a) a down-sampling branch of four plain 3x3 convolutions with strides
alternating 1 and 2 (x4: 1, 2, 1, 2; x2: 1, 2, 1, 1) on the HR image, the last producing the RGB
down-sampled image; (b) a source-feature branch (two conv + LeakyReLU) on a real LR image of the target
camera; (c) a noise-extraction block on their concatenation (conv, 8 residual blocks, conv) whose RGB
output is added to the down-sampled image.

Checkpoints are the ones ``srx adapt --method ddnsr`` writes (see ``DDNSR_FORMAT``).
"""

from __future__ import annotations

import torch
import torch.nn as nn

DDNSR_FORMAT = "srx-ddnsr"  # {'format', 'version', 'scale', 'reconstruction': RRDB sd, 'degradation': sd}


class _LeakyResBlock(nn.Module):
    def __init__(self, nf: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(nf, nf, 3, padding=1)
        self.act = nn.LeakyReLU(0.2, inplace=True)
        self.conv2 = nn.Conv2d(nf, nf, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(self.act(self.conv1(x)))


class _NoiseBlock(nn.Module):
    def __init__(self, cin: int, nf: int, blocks: int) -> None:
        super().__init__()
        self.head = nn.Conv2d(cin, nf, 3, padding=1)
        self.blocks = nn.Sequential(*[_LeakyResBlock(nf) for _ in range(blocks)])
        self.tail = nn.Conv2d(nf, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.blocks(nn.functional.leaky_relu(self.head(x), 0.2)))


class DualInputDegradation(nn.Module):
    """(HR target, real LR source) -> realistic LR of the source's camera: down(HR) + noise(down, feat(LR))."""

    def __init__(self, *, scale: int = 4, nf: int = 64, noise_blocks: int = 8) -> None:
        super().__init__()
        if scale not in (2, 4):
            raise ValueError(f"the DDNSR degradation network supports x2 and x4, not x{scale}")
        self.scale = scale
        strides = (1, 2, 1, 2) if scale == 4 else (1, 2, 1, 1)
        layers: list[nn.Module] = []
        for i, stride in enumerate(strides):
            cin, cout = (3 if i == 0 else nf), (3 if i == len(strides) - 1 else nf)
            layers.append(nn.Conv2d(cin, cout, 3, stride=stride, padding=1))
            if i < len(strides) - 1:
                layers.append(nn.LeakyReLU(0.2, inplace=True))
        self.down = nn.Sequential(*layers)
        self.source = nn.Sequential(
            nn.Conv2d(3, nf, 3, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(nf, nf, 3, padding=1),
            nn.LeakyReLU(0.2, inplace=True),
        )
        self.noise = _NoiseBlock(3 + nf, nf, noise_blocks)

    def forward(self, hr: torch.Tensor, real_lr: torch.Tensor) -> torch.Tensor:
        down = self.down(hr)
        if real_lr.shape[-2:] != down.shape[-2:]:
            got, want = tuple(real_lr.shape[-2:]), tuple(down.shape[-2:])
            raise ValueError(f"real LR {got} must match the down-sampled HR {want}")
        return down + self.noise(torch.cat([down, self.source(real_lr)], dim=1))
