"""Tiled inference equals untiled inference."""

from __future__ import annotations

import itertools

import torch
from hypothesis import given
from hypothesis import strategies as st

from dualsr_cli.archs.dualsr import build_dualsr_networks
from dualsr_cli.engine.zero_shot.trainer import UPSAMPLER_TILE_PAD
from dualsr_cli.ops.tiling import tile_spans, upscale_tiled


def test_tile_spans_cover_the_length_exactly():
    assert tile_spans(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert tile_spans(8, 8) == [(0, 8)]


@torch.inference_mode()
def test_tiled_g_up_equals_untiled():
    g_up, _, _ = build_dualsr_networks(0)
    g_up.eval()
    image = torch.rand(1, 3, 77, 90)
    full = g_up(image)
    calls = []
    for tile in (32, 40, 64):
        tiled = upscale_tiled(
            g_up,
            image,
            scale=2,
            tile=tile,
            pad=UPSAMPLER_TILE_PAD,
            device=torch.device("cpu"),
            on_tile=lambda done, total: calls.append((done, total)),
        )
        assert tiled.shape == full.shape
        assert (tiled - full).abs().max().item() <= 1e-5
    assert calls[-1][0] == calls[-1][1]


@torch.inference_mode()
def test_channels_last_tiles_equal_untiled():
    g_up, _, _ = build_dualsr_networks(1)
    g_up = g_up.eval().to(memory_format=torch.channels_last)
    image = torch.rand(1, 3, 50, 61)
    full = g_up(image)
    tiled = upscale_tiled(
        g_up, image, scale=2, tile=24, pad=UPSAMPLER_TILE_PAD, device=torch.device("cpu"), channels_last=True
    )
    assert (tiled - full).abs().max().item() <= 1e-5


@given(length=st.integers(1, 5000), tile=st.integers(1, 600))
def test_tile_spans_partition_any_length(length, tile):
    spans = tile_spans(length, tile)
    assert spans[0][0] == 0 and spans[-1][1] == length
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert all(0 < end - start <= tile for start, end in spans)
