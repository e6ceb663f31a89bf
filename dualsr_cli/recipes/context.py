"""What every stage of a recipe shares: data, settings, device, ranks, image cache and metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ..metrics.lpips import LpipsMetric
from .data import CrossCameraData, ImageCache, PatchSampler


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

    def sampler(self, pairs, offset: int, *, paper_patch: int = 48) -> PatchSampler:
        """A patch sampler seeded by (seed, which sampler, rank): ranks draw different patches."""
        seed = self.config.seed * 1000 + offset * 100 + self.dist.rank
        return PatchSampler(pairs, scale=self.data.scale, lr_patch=self.patch(paper_patch), seed=seed,
                            cache=self.cache)  # fmt: skip

    def selection_pairs(self):
        return self.data.target_test if self.config.select_on == "test" else self.data.validation

    def to_device(self, *tensors):
        return [t.to(self.device) if t is not None else None for t in tensors]
