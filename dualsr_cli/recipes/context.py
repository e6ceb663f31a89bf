"""What every stage of a recipe shares: data, settings, device, ranks, image cache and metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..metrics.lpips import LpipsMetric
from .data import CrossCameraData, ImageCache, PatchSampler

NETWORK_INIT, PATCH_SAMPLER = 0, 1  # the two kinds of random stream a recipe stage draws from


def stream_seed(seed: int, kind: int, stream: int, rank: int = 0) -> int:
    """The 64-bit seed of one random stream (a stage's network init, a patch sampler) of one rank of a run.

    ``SeedSequence`` hashes the fixed-length key, so no two (seed, kind, stream, rank) share a stream; with
    arithmetic such as ``seed * 1000 + stream * 100 + rank``, seed 0's stream 11 would be seed 1's stream 1.
    """
    return int(np.random.SeedSequence([seed, kind, stream, rank]).generate_state(1, np.uint64)[0])


@dataclass
class StageContext:
    data: CrossCameraData
    config: Any  # AdaptConfig
    device: torch.device
    dist: Any  # DistContext
    cache: ImageCache
    lpips: LpipsMetric | None

    def batch(self, paper: int) -> int:
        return self.config.stage_value("batch_size", paper)

    def patch(self, paper: int = 48) -> int:
        return self.config.stage_value("patch_size", paper)

    def iterations(self, paper_epochs: int, patches: int, paper_batch: int) -> int:
        """``--iters`` or the paper's epochs, an epoch being one pass over ``patches`` by all ranks."""
        per_epoch = math.ceil(patches / (self.batch(paper_batch) * self.dist.world_size))
        return self.config.stage_value("iters", paper_epochs * per_epoch)

    def sampler(self, pairs, stream: int, *, paper_patch: int = 48) -> PatchSampler:
        """A patch sampler on its own stream of (seed, sampler, rank): ranks draw different patches."""
        seed = stream_seed(self.config.seed, PATCH_SAMPLER, stream, self.dist.rank)
        return PatchSampler(pairs, scale=self.data.scale, lr_patch=self.patch(paper_patch), seed=seed, cache=self.cache)

    def seed_networks(self, stream: int) -> None:
        """Seed torch for one stage's network initialisation (the same on every rank)."""
        torch.manual_seed(stream_seed(self.config.seed, NETWORK_INIT, stream))

    def validate(self, forward, *, size_multiple: int = 1, pairs=None) -> dict[str, float]:
        """``forward`` (LR -> SR) scored on the model-selection pairs (or ``pairs``) with the run's protocol."""
        from .evaluation import evaluate_pairs

        return evaluate_pairs(
            forward,
            self.selection_pairs() if pairs is None else pairs,
            scale=self.data.scale,
            device=self.device,
            protocol=self.config.protocol,
            size_multiple=size_multiple,
            lpips=self.lpips,
        )

    def selection_pairs(self):
        return self.data.target_test if self.config.select_on == "test" else self.data.validation

    def to_device(self, *tensors):
        return [t.to(self.device) if t is not None else None for t in tensors]
