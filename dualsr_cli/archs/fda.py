"""Feature distribution alignment SR (Wang et al., ICCV 2021): the networks srx builds for it.

The paper (a poster, in our sources) fixes no architecture; srx's choices, ``docs/fda.md`` §3:

- ``Encoder`` E: five 3x3 convs (3→64, then 64→64), LeakyReLU 0.2 between them, features at LR size.
- ``RRDBNet(in_nc=64)`` as G_SR (srx's RRDB, original ESRGAN key layout) on E's features.
- ``TargetDecoder`` G_t: the DeResnet body without its strided convs and sigmoid (conv+PReLU, 8 residual
  blocks, conv 64→3), which gives source content the target's degradation at LR size.

Inference is G_SR(E(x)). Checkpoints hold ``E.*`` and ``G_SR.*`` keys (``FDA_FORMAT``); files of the
public unofficial implementation (USR_DA: ``conv_featmap.{0,2,4,6,8}`` and a BasicSR RRDB) load after
renaming.
"""

from __future__ import annotations

import re

import torch
import torch.nn as nn

from .deresnet import ResBlock
from .rrdb import RRDBNet, to_original_layout

FDA_FORMAT = "srx-fda"  # {'format', 'version', 'scale', 'features', 'model': {'E.*', 'G_SR.*'}}


class Encoder(nn.Module):
    def __init__(self, *, features: int = 64, layers: int = 5) -> None:
        super().__init__()
        body: list[nn.Module] = []
        for i in range(layers):
            body.append(nn.Conv2d(3 if i == 0 else features, features, 3, padding=1))
            if i < layers - 1:
                body.append(nn.LeakyReLU(0.2, inplace=True))
        self.body = nn.Sequential(*body)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class TargetDecoder(nn.Module):
    """Features -> LR image with the target camera's degradation (linear output)."""

    def __init__(self, *, features: int = 64, blocks: int = 8) -> None:
        super().__init__()
        self.block_input = nn.Sequential(nn.Conv2d(features, features, 3, padding=1), nn.PReLU())
        self.res_blocks = nn.Sequential(*[ResBlock(features) for _ in range(blocks)])
        self.block_output = nn.Conv2d(features, 3, 3, padding=1)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.block_output(self.res_blocks(self.block_input(f)))


class FDAUpscaler(nn.Module):
    """E then G_SR: what ``srx run fda`` runs."""

    def __init__(self, *, features: int = 64, nb: int = 23, scale: int = 4) -> None:
        super().__init__()
        self.E = Encoder(features=features)
        self.G_SR = RRDBNet(in_nc=features, nb=nb, scale=scale)
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.G_SR(self.E(x))


def from_usr_da(encoder: dict[str, torch.Tensor], decoder: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename USR_DA's ``model_Enc`` (conv_featmap.N) and ``model_Dec_SR`` (BasicSR RRDB) to srx's keys."""
    state = {}
    for key, value in encoder.items():
        match = re.fullmatch(r"conv_featmap\.(\d+)\.(weight|bias)", key)
        state[f"E.body.{match.group(1)}.{match.group(2)}" if match else f"E.{key}"] = value
    for key, value in to_original_layout(decoder).items():
        state[f"G_SR.{key}"] = value
    return state


def split_state(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(E state, G_SR state in the original RRDB layout) of an FDA state_dict."""
    encoder = {k[2:]: v for k, v in state.items() if k.startswith("E.")}
    decoder = to_original_layout({k[5:]: v for k, v in state.items() if k.startswith("G_SR.")})
    return encoder, decoder
