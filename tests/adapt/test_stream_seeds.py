"""Random streams of adaptation runs: one per (seed, kind, stream, rank), never shared."""

from __future__ import annotations

import itertools

from dualsr_cli.recipes.context import NETWORK_INIT, PATCH_SAMPLER, stream_seed


def test_no_two_streams_share_a_seed():
    keys = list(itertools.product(range(4), (NETWORK_INIT, PATCH_SAMPLER), range(25), range(4)))
    seeds = {stream_seed(*key) for key in keys}
    assert len(seeds) == len(keys)


def test_the_collisions_of_digit_arithmetic_are_gone():
    # seed * 1000 + stream * 100 + rank made seed 0's stream 11 equal seed 1's stream 1, and
    # SeedSequence alone pads short keys with zeros ([0, 1] == [0, 1, 0]): the key has a fixed length.
    assert stream_seed(0, PATCH_SAMPLER, 11) != stream_seed(1, PATCH_SAMPLER, 1)
    assert stream_seed(0, NETWORK_INIT, 1) != stream_seed(0, PATCH_SAMPLER, 1)
    assert stream_seed(0, NETWORK_INIT, 1, 0) == stream_seed(0, NETWORK_INIT, 1)
    assert 0 <= stream_seed(2**32 - 1, PATCH_SAMPLER, 22, 7) < 2**64
