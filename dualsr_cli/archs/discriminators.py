"""Discriminators of the adaptation recipes, with the official key names.

- ``NLayerDiscriminator``: pix2pix PatchGAN. DADA uses n_layers 3 (InstanceNorm without affine, biases on
  every conv; keys ``model.0/2/5/8/11``, ``docs/cdc-dada.md`` §4); DASR's SRN uses n_layers 2 with
  bias-free middle convs (``docs/dasr.md`` §3).
- ``FrequencyDiscriminator``: DASR's DSN discriminator (FSSR ``DiscriminatorBasic``) behind a high-pass
  filter (Gaussian, average-pool or Haar wavelet), sigmoid output (``docs/dasr.md`` §3).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class NLayerDiscriminator(nn.Module):
    def __init__(self, in_nc: int = 3, *, ndf: int = 64, n_layers: int = 3, middle_bias: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        channels = ndf
        for i in range(1, n_layers + 1):
            out = ndf * min(2**i, 8)
            stride = 2 if i < n_layers else 1
            layers += [
                nn.Conv2d(channels, out, 4, stride=stride, padding=1, bias=middle_bias),
                nn.InstanceNorm2d(out),
                nn.LeakyReLU(0.2, True),
            ]
            channels = out
        layers.append(nn.Conv2d(channels, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def init_normal(module: nn.Module, std: float = 0.02) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def gaussian_kernel(size: int) -> torch.Tensor:
    """Normalised size x size Gaussian with σ = size / 6 (FSSR's FilterLow)."""
    sigma = size / 6.0
    z = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(z**2) / (2 * sigma**2))
    kernel = g[:, None] * g[None, :]
    return kernel / kernel.sum()


class LowPass(nn.Module):
    """The low frequencies used for the DSN colour loss and for high-pass filtering: gau, avg_pool or wavelet."""

    def __init__(self, kind: str = "avg_pool", size: int = 5, *, padding: bool = True) -> None:
        super().__init__()
        if kind not in ("gau", "avg_pool", "wavelet"):
            raise ValueError(f"unknown filter {kind!r}")
        self.kind, self.size, self.padding = kind, size, padding
        self.register_buffer("kernel", gaussian_kernel(size)[None, None].repeat(3, 1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = self.size // 2 if self.padding else 0
        if self.kind == "gau":
            return F.conv2d(x, self.kernel.to(x.dtype), padding=pad, groups=x.shape[1])
        if self.kind == "avg_pool":
            return F.avg_pool2d(x, self.size, stride=1, padding=pad, count_include_pad=False)
        return F.avg_pool2d(x, 2, ceil_mode=True)  # Haar LL / 2 is the 2x2 mean


def haar_details(x: torch.Tensor) -> torch.Tensor:
    """One-level orthonormal Haar DWT detail bands [LH, HL, HH] (LL dropped), half resolution, 3C channels."""
    if x.shape[-2] % 2 or x.shape[-1] % 2:
        x = F.pad(x, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2), mode="reflect")
    a, b = x[..., 0::2, 0::2], x[..., 0::2, 1::2]
    c, d = x[..., 1::2, 0::2], x[..., 1::2, 1::2]
    lh = (a + b - c - d) / 2
    hl = (a - b + c - d) / 2
    hh = (a - b - c + d) / 2
    return torch.cat([lh, hl, hh], dim=1)


class HighPass(nn.Module):
    """x − low(x) mapped by ·0.5 + 0.5 (gau, avg_pool), or the Haar detail bands ·0.5 + 0.5 (wavelet)."""

    def __init__(self, kind: str = "avg_pool", size: int = 5) -> None:
        super().__init__()
        self.kind = kind
        self.low = LowPass(kind, size)

    @property
    def out_channels_per_input(self) -> int:
        return 3 if self.kind == "wavelet" else 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "wavelet":
            return haar_details(x) * 0.5 + 0.5
        return (x - self.low(x)) * 0.5 + 0.5


class FrequencyDiscriminator(nn.Module):
    """DASR DSN discriminator: high-pass filter, FSD (three 5x5 convs + 1x1, InstanceNorm), sigmoid map."""

    def __init__(self, *, filter_kind: str = "avg_pool", kernel_size: int = 5, nf: int = 64) -> None:
        super().__init__()
        self.filter = HighPass(filter_kind, kernel_size)
        cin = 3 * self.filter.out_channels_per_input
        self.net = nn.Sequential(
            nn.Conv2d(cin, nf, 5, padding=2),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(nf, 2 * nf, 5, padding=2),
            nn.InstanceNorm2d(2 * nf),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(2 * nf, 4 * nf, 5, padding=2),
            nn.InstanceNorm2d(4 * nf),
            nn.LeakyReLU(0.2, True),
            nn.Conv2d(4 * nf, 1, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(self.filter(x)))


def domain_distance_map(d_out: torch.Tensor, *, box: int = 17) -> torch.Tensor:
    """DASR's DDM for the FSD: each pixel the mean of the D outputs whose receptive field covers it.

    For the FSD this is exactly a ``box`` x ``box`` mean with border renormalisation (``docs/dasr.md`` §4).
    """
    return F.avg_pool2d(d_out, box, stride=1, padding=box // 2, count_include_pad=False)


def kaiming_init(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
