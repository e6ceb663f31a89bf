"""CDC's HourGlass up-sampler (Wei et al., ECCV 2020), the network DADA adapts (``docs/cdc-dada.md`` §1–2).

Six hourglass blocks on LR features; three of them feed a flat, an edge and a corner branch, each with an
SR head and an attention head; the final SR is the per-channel softmax-weighted sum of the three branch
images. Key names and shapes are the official ones (x2, x3, x4). LR sides must be multiples of 16.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

SIZE_MULTIPLE = 16


def _lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2)


class ResidualBlock(nn.Module):
    """1x1 -> 3x3 -> 1x1 bottleneck without biases; 1x1 projection on the skip when channels change."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.res = nn.Sequential(
            nn.Conv2d(cin, cout, 1, bias=False),
            _lrelu(),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False),
            _lrelu(),
            nn.Conv2d(cout, cout, 1, bias=False),
        )
        self.identity = nn.Conv2d(cin, cout, 1, bias=False) if cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x if self.identity is None else self.identity(x)) + self.res(x)


class _Step(nn.Module):
    """Holds one ResidualBlock under the official ``<name>.res_block`` key."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.res_block = ResidualBlock(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res_block(x)


class ResidualInceptionBlock(nn.Module):
    def __init__(self, nf: int = 64) -> None:
        super().__init__()
        self.res1 = nn.Sequential(nn.Conv2d(nf, nf, 1, bias=False), _lrelu())
        self.res2 = nn.Sequential(
            nn.Conv2d(nf, nf, 1, bias=False), nn.Conv2d(nf, nf, 3, padding=1, bias=False), _lrelu()
        )
        self.res3 = nn.Sequential(
            nn.Conv2d(nf, nf, 1, bias=False),
            nn.Conv2d(nf, nf, 3, padding=1, bias=False),
            _lrelu(),
            nn.Conv2d(nf, nf, 3, padding=1, bias=False),
            _lrelu(),
        )
        self.filter_concat = nn.Conv2d(3 * nf, nf, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.filter_concat(torch.cat([self.res1(x), self.res2(x), self.res3(x)], dim=1))


class HourGlassBlock(nn.Module):
    """Encoder 64-128-128-256-256 with max-pools, two mid blocks at H/16, decoder with skip blocks."""

    def __init__(self, nf: int = 64, n_tail: int = 2) -> None:
        super().__init__()
        self.down1, self.down2 = _Step(nf, 128), _Step(128, 128)
        self.down3, self.down4 = _Step(128, 256), _Step(256, 256)
        self.mid_res = nn.Sequential(ResidualBlock(256, 256), ResidualBlock(256, 256))
        self.skip_conv0 = ResidualBlock(nf, nf)
        self.skip_conv1, self.skip_conv2 = ResidualBlock(128, 128), ResidualBlock(128, 128)
        self.skip_conv3, self.skip_conv4 = ResidualBlock(256, 256), ResidualBlock(256, 256)
        self.up1, self.up2 = _Step(256, 256), _Step(256, 128)
        self.up3, self.up4 = _Step(128, 128), _Step(128, nf)
        self.tail = nn.Sequential(*[ResidualInceptionBlock(nf) for _ in range(n_tail)]) if n_tail else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        res1 = self.down1(x)
        res2 = self.down2(F.max_pool2d(res1, 2))
        res3 = self.down3(F.max_pool2d(res2, 2))
        res4 = self.down4(F.max_pool2d(res3, 2))
        y = self.mid_res(F.max_pool2d(res4, 2))
        for up, skip, res in (
            (self.up1, self.skip_conv4, res4),
            (self.up2, self.skip_conv3, res3),
            (self.up3, self.skip_conv2, res2),
            (self.up4, self.skip_conv1, res1),
        ):
            y = up(F.interpolate(y, scale_factor=2, mode="nearest") + skip(res))
        out_inter = self.skip_conv0(x) + y
        return (self.tail(out_inter) if self.tail is not None else out_inter), out_inter


def _head(scale: int, nf: int, final_kernel: int) -> nn.Sequential:
    """Up-sampling head: LR conv, nearest-upsample+conv stages, HR_conv0, HR_conv1 (official nesting)."""

    def conv(cin: int, cout: int, k: int = 3) -> nn.Conv2d:
        return nn.Conv2d(cin, cout, k, padding=k // 2)

    def stage(factor: int) -> list[nn.Module]:
        return [nn.Upsample(scale_factor=factor, mode="nearest"), conv(nf, nf), _lrelu()]

    layers: list[nn.Module] = [nn.Sequential(conv(nf, nf))]
    if scale == 3:
        layers += stage(3)  # x3 splices the stage into the head (keys head.2.*)
    else:
        layers += [nn.Sequential(*stage(2)) for _ in range({2: 1, 4: 2}[scale])]
    layers += [nn.Sequential(conv(nf, nf), _lrelu()), nn.Sequential(conv(nf, 3, final_kernel))]
    return nn.Sequential(*layers)


BRANCHES = ("flat", "edge", "corner")


class CDCNet(nn.Module):
    """``HourGlassNetMultiScaleInt`` with DADA's settings (nf 64, 6 hourglasses, taps at blocks 1, 3, 5)."""

    def __init__(self, *, scale: int = 4, nf: int = 64, n_hourglass: int = 6) -> None:
        super().__init__()
        if scale not in (2, 3, 4):
            raise ValueError(f"CDC supports x2, x3 and x4, not x{scale}")
        self.scale = scale
        self.n_hourglass = n_hourglass
        self.conv_in = nn.Sequential(nn.Conv2d(3, nf, 3, padding=1))
        map_kernel = 3 if scale == 3 else 1
        self.flat_map, self.edge_map, self.corner_map = (_head(scale, nf, map_kernel) for _ in range(3))
        self.upsample_flat, self.upsample_edge, self.upsample_corner = (_head(scale, nf, 3) for _ in range(3))
        for i in range(n_hourglass):
            self.add_module(f"HG_{i}", HourGlassBlock(nf, n_tail=0 if i == n_hourglass - 1 else 2))
        self.taps = (1, n_hourglass // 2, n_hourglass - 1)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The flat, edge and corner tap features at LR resolution."""
        stem = self.conv_in(x)
        y, taps = stem, []
        for i in range(self.n_hourglass):
            y, inter = getattr(self, f"HG_{i}")(y)
            if i in self.taps[:2]:
                taps.append(inter)
        taps.append(0.2 * y + stem)
        return taps

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """([SR_flat, SR_edge, SR_corner, SR_final], [W_flat, W_edge, W_corner]) as the official forward."""
        feats = self.features(x)
        logits = [getattr(self, f"{b}_map")(f) for b, f in zip(BRANCHES, feats, strict=True)]
        maps = list(torch.softmax(torch.stack(logits), dim=0).unbind(0))
        return self._combine(feats, maps), maps

    def forward_with_map(self, x: torch.Tensor, maps: list[torch.Tensor]) -> list[torch.Tensor]:
        """Branch images of this network combined with another network's attention maps (DADA test)."""
        return self._combine(self.features(x), maps)

    def _combine(self, feats: list[torch.Tensor], maps: list[torch.Tensor]) -> list[torch.Tensor]:
        images = [getattr(self, f"upsample_{b}")(f) for b, f in zip(BRANCHES, feats, strict=True)]
        final = sum(w * im for w, im in zip(maps, images, strict=True))
        return [*images, final]

    def upscale(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)[0][-1]


class DADAUpscaler(nn.Module):
    """Official DADA inference: ``up_t``'s branch images combined with the source model ``up_0``'s maps."""

    def __init__(self, up_t: CDCNet, up_0: CDCNet) -> None:
        super().__init__()
        if up_t.scale != up_0.scale:
            raise ValueError(f"up_t is x{up_t.scale} but the source model is x{up_0.scale}")
        self.up_t, self.up_0 = up_t, up_0
        self.scale = up_t.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.up_0(x)[1]
        return self.up_t.forward_with_map(x, maps)[-1]


def cdc_scale_from_keys(state: dict[str, torch.Tensor]) -> int | None:
    """x4 has two upsampling stages (``.2.1``), x3 a spliced conv (``.2.weight``), x2 neither."""
    if "upsample_flat.2.1.weight" in state:
        return 4
    if "upsample_flat.2.weight" in state:
        return 3
    if "upsample_flat.1.1.weight" in state:
        return 2
    return None


def init_cdc(module: nn.Module) -> None:
    """Stage-1 training init: Kaiming-normal (fan_in) x 0.1, zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in")
            m.weight.data.mul_(0.1)
            if m.bias is not None:
                m.bias.data.zero_()
