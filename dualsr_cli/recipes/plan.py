"""What a recipe is: its steps, how its result is compared, which weights it starts from, what identifies a run.

Each recipe module (``dada``, ``dasr``, ``ddnsr``, ``fda``) declares one ``Recipe``; ``recipes.RECIPES`` lists
them. ``run_adapt`` asks the recipe for a ``Plan`` and runs its steps in order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .context import StageContext

Exports = dict[str, dict[str, Any]]  # step name -> the checkpoint it exported (the next steps' input)
Upscaler = Callable[[torch.Tensor], torch.Tensor]  # LR batch -> SR batch
StartWeights = tuple[str, dict[str, Any]] | None  # (architecture, payload) of --source-weights


@dataclass(frozen=True)
class Action:
    """A step computed at once, without training or checkpoints of its own (DASR's LR generation)."""

    run: Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class Step:
    name: str
    build: Callable[[Exports], Any]  # earlier exports -> a training Stage (``job.Stage``) or an Action


@dataclass
class Plan:
    steps: list[Step]
    compare: Callable[[Exports], dict[str, Upscaler]]  # e.g. {"source-only": ..., "adapted": ...}
    size_multiple: int = 1  # inputs are padded to a multiple of this for evaluation
    start: Exports = field(default_factory=dict)  # exports given by --source-weights (their steps are skipped)


@dataclass(frozen=True)
class Recipe:
    plan: Callable[[StageContext, StartWeights, Path], Plan]  # context, --source-weights, run directory
    source_weights: tuple[str, ...] = ()  # architectures --source-weights may hold; () = not used
    # Settings beyond the common ones that decide what this recipe computes (--resume compares them), each
    # with the value a run recorded before the setting existed used.
    resume_keys: Mapping[str, Any] = field(default_factory=dict)


def rrdb_upscaler(ctx: StageContext, state: dict) -> torch.nn.Module:
    from ..archs.rrdb import RRDBNet

    net = RRDBNet(scale=ctx.data.scale)
    net.load_state_dict(state)
    return net.to(ctx.device).eval()


def bicubic_upscaler(scale: int) -> Upscaler:
    from ..ops.resize import imresize

    return lambda x: imresize(x.double(), float(scale)).float()


def cpu_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict detached and on the CPU, as exports and checkpoints keep it."""
    return {k: v.detach().cpu() for k, v in state.items()}
