"""DualSR's three networks (``docs/dualsr.md`` §1; init order §2), with the official state-dict key names.

- ``UpsamplerG`` (G_UP): fixed bilinear x2, then 8 3x3 convs added as a residual. ``UpsamplerX4G`` is srx's
  x4 variant (joint x4): the same residual body behind a fixed bilinear x4.
- ``DownsamplerG`` (G_DN): KernelGAN-style deep *linear* net 7-5-3s2-1-1-1 on channels folded into the
  batch. Because it is linear it equals one 13x13 stride-2 correlation with its composed kernel; srx
  trains it through that kernel (``forward``), which is exact in outputs and weight gradients and skips
  the 64-channel layers. ``forward_layers`` runs the layers one by one, as the official code does.
- ``PatchDiscriminator`` (D_DN): spectral-norm PatchGAN with a 7x7 receptive field.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..ops.kernels import composed_kernel, downscale_with_kernel

KERNEL_SIZE = 13  # receptive field of G_DN: 7 + 5 + 3 - 2


def _bilinear_phase_kernels() -> torch.Tensor:
    return (
        torch.tensor(
            [
                [[[9.0, 3.0], [3.0, 1.0]]],
                [[[3.0, 9.0], [1.0, 3.0]]],
                [[[3.0, 1.0], [9.0, 3.0]]],
                [[[1.0, 3.0], [3.0, 9.0]]],
            ]
        )
        / 16.0
    )


class UpsamplerG(nn.Module):
    """G_UP(x) = U(x) + S(U(x)) with U the fixed bilinear x2 upsampler and S eight 3x3 convolutions."""

    def __init__(self, *, channels: int = 3, features: int = 64, layers: int = 8) -> None:
        super().__init__()
        body: list[nn.Module] = [nn.Conv2d(channels, features, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(layers - 2):
            body += [nn.Conv2d(features, features, 3, padding=1), nn.ReLU(inplace=True)]
        body.append(nn.Conv2d(features, channels, 3, padding=1))
        self.model = nn.Sequential(*body)
        # Not a parameter and not saved, as in the official code; a buffer so .to(device) moves it.
        self.register_buffer("bilinear_kernel", _bilinear_phase_kernels(), persistent=False)

    def bilinear_upsample(self, x: torch.Tensor) -> torch.Tensor:
        """Edge-replicate by one pixel, 4 phase kernels, pixel-shuffle, crop: bilinear x2 with clamped edges."""
        n, c, h, w = x.shape
        padded = F.pad(x, (1, 1, 1, 1), mode="replicate").reshape(n * c, 1, h + 2, w + 2)
        phases = F.conv2d(padded, self.bilinear_kernel.to(x.dtype))
        up = F.pixel_shuffle(phases, 2).reshape(n, c, 2 * h + 2, 2 * w + 2)
        return up[..., 1:-1, 1:-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = self.bilinear_upsample(x)
        if x.is_contiguous(memory_format=torch.channels_last):
            up = up.contiguous(memory_format=torch.channels_last)
        return up + self.model(up)


class UpsamplerX4G(UpsamplerG):
    """G_UP at x4 (srx's joint x4, not in the official code): bilinear x4 with clamped edges, then the same body.

    Same parameters as ``UpsamplerG``, so it is initialised from the same RNG draws.
    """

    def bilinear_upsample(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)


class DownsamplerG(nn.Module):
    """G_DN: 1-channel linear net (no bias, no padding) applied to each colour channel, stride 2 on the 3x3."""

    def __init__(self, *, features: int = 64) -> None:
        super().__init__()
        self.first_layer = nn.Conv2d(1, features, 7, bias=False)
        self.feature_block = nn.Sequential(
            nn.Conv2d(features, features, 5, bias=False),
            nn.Conv2d(features, features, 3, stride=2, bias=False),
            nn.Conv2d(features, features, 1, bias=False),
            nn.Conv2d(features, features, 1, bias=False),
        )
        self.final_layer = nn.Conv2d(features, 1, 1, bias=False)

    def kernel(self) -> torch.Tensor:
        """The 13x13 correlation kernel the network equals (keeps the graph for the regulariser)."""
        return composed_kernel(p for p in self.parameters())

    def forward(self, x: torch.Tensor, kernel: torch.Tensor | None = None) -> torch.Tensor:
        """Fast exact path: one stride-2 correlation with the composed kernel (pass it in to reuse it)."""
        return downscale_with_kernel(x, self.kernel() if kernel is None else kernel, stride=2)

    def forward_layers(self, x: torch.Tensor) -> torch.Tensor:
        """The official layer-by-layer forward (reference and tests)."""
        n, c, h, w = x.shape
        out = self.final_layer(self.feature_block(self.first_layer(x.reshape(n * c, 1, h, w))))
        return out.reshape(n, c, out.shape[-2], out.shape[-1])


def _spectral_norm(module: nn.Conv2d) -> nn.Conv2d:
    # The official code uses the original hook-based spectral norm; its state layout (weight_orig,
    # weight_u, weight_v) and per-forward power iteration are what srx reproduces.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nn.utils.spectral_norm(module)


class PatchDiscriminator(nn.Module):
    """D_DN: SN conv 7x7, five [SN conv 1x1, BatchNorm, ReLU], SN conv 1x1 + sigmoid. Output is (H-6)x(W-6)."""

    def __init__(self, *, channels: int = 3, features: int = 64, layers: int = 7, kernel_size: int = 7) -> None:
        super().__init__()
        self.first_layer = _spectral_norm(nn.Conv2d(channels, features, kernel_size, bias=True))
        block: list[nn.Module] = []
        for _ in range(layers - 2):
            block += [
                _spectral_norm(nn.Conv2d(features, features, 1, bias=True)),
                nn.BatchNorm2d(features),
                nn.ReLU(inplace=True),
            ]
        self.feature_block = nn.Sequential(*block)
        self.final_layer = nn.Sequential(_spectral_norm(nn.Conv2d(features, 1, 1, bias=True)), nn.Sigmoid())
        # The official constructor runs D once on ones(1,3,128,128) in train mode to measure its shave;
        # that forward also advances the spectral-norm power iteration, so it is kept for faithfulness.
        self.forward_shave = 128 - self.forward(torch.ones(1, channels, 128, 128)).shape[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_layer(self.feature_block(self.first_layer(x)))


def _init_downsampler(module: nn.Module) -> None:
    if isinstance(module, nn.Conv2d):
        fan_in = module.weight.shape[1] * module.weight.shape[2] * module.weight.shape[3]
        module.weight.data.normal_(1.0 / fan_in, 1.0 / fan_in)


def _init_discriminator(module: nn.Module) -> None:
    if isinstance(module, nn.Conv2d):
        # After the constructor's forward, ``module.weight`` is the derived tensor weight_orig/σ, so this
        # Xavier draw lands in a temporary and weight_orig keeps PyTorch's default init (official quirk);
        # the draw still consumes RNG, which keeps the sequence identical to the official code.
        nn.init.xavier_normal_(module.weight, 0.1)
        if module.bias is not None:
            module.bias.data.fill_(0)
    elif isinstance(module, nn.BatchNorm2d):
        module.weight.data.normal_(1.0, 0.02)
        module.bias.data.fill_(0)


def _init_upsampler(module: nn.Module) -> None:
    if isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight.data, a=0, mode="fan_in", nonlinearity="relu")
        if module.bias is not None:
            module.bias.data.fill_(0)


def build_dualsr_networks(
    seed: int, *, upsampler_scale: int = 2
) -> tuple[UpsamplerG, DownsamplerG, PatchDiscriminator]:
    """Build (G_UP, G_DN, D_DN) on the CPU with the official RNG order: G_DN, D_DN, G_UP, then inits.

    ``upsampler_scale=4`` builds ``UpsamplerX4G`` for the joint x4 run (same parameters, same draws).
    """
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        g_dn = DownsamplerG()
        d_dn = PatchDiscriminator()
        g_up = UpsamplerX4G() if upsampler_scale == 4 else UpsamplerG()
        g_dn.apply(_init_downsampler)
        d_dn.apply(_init_discriminator)
        g_up.apply(_init_upsampler)
    finally:
        torch.random.set_rng_state(generator_state)
    return g_up, g_dn, d_dn
