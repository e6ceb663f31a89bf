"""The batch-job machinery every adaptation recipe runs on: run directory, JSONL log, checkpoints, exact
resume, periodic validation with model selection, and data parallelism under torchrun.

A recipe is a list of ``Stage`` objects run in order. A stage owns its networks, optimisers, schedulers
and patch samplers and knows how to do one training step, evaluate, and export a checkpoint that
``srx run`` loads. ``run_stage`` drives it: every ``save_every`` iterations the complete state (weights,
optimiser and scheduler state, iteration, best score, every RNG of every rank) is written atomically as
``last.pt``; ``--resume`` restarts from it and reaches bit-for-bit the state an uninterrupted run reaches.

Under torchrun each rank draws its own patches (seed + rank) and gradients are averaged across ranks by
all-reduce after every backward pass — the arithmetic of DistributedDataParallel. The DDP wrapper itself
is not used because the recipes call their networks several times per step through different entry
points (DADA's ``forward_with_map``), which DDP's hooks do not support. Only rank 0 logs and saves.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from ..errors import ConfigError
from ..image_io import atomic_output
from ..runtime.dist import DistContext
from .config import FDA_LAMBDA_ALIGN


class Stage(Protocol):
    name: str
    iterations: int
    networks: dict[str, torch.nn.Module]  # everything whose state is saved
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, Any]
    samplers: list[Any]  # objects with state() / set_state()

    def step(self, iteration: int) -> dict[str, float]: ...

    def evaluate(self) -> dict[str, float]: ...  # must contain the selection metric "psnr"

    def export(self) -> dict[str, Any]: ...  # a checkpoint srx run / the next stage loads

    # optional: ``start_report() -> dict`` is logged as the iteration-0 validation (FDA's alignment baseline)


@dataclass
class JobHooks:
    on_stage: Callable[[str, int, int], None] | None = None  # name, total, start
    on_step: Callable[[int, dict[str, float]], None] | None = None
    on_eval: Callable[[int, dict[str, float]], None] | None = None
    note: Callable[[str], None] | None = None


KEYS_ADDED_LATER = {"fda_losses": "full", "fda_lambda_align": FDA_LAMBDA_ALIGN}


@dataclass
class RunDirectory:
    root: Path
    dist: DistContext = field(default_factory=DistContext)

    @property
    def log_path(self) -> Path:
        return self.root / "log.jsonl"

    def stage_dir(self, stage: str) -> Path:
        return self.root / "checkpoints" / stage

    def write_config(self, config: dict[str, Any], *, resume: bool) -> None:
        """Write config.json; on --resume the recorded run must be the same job (method, data, cameras)."""
        path = self.root / "config.json"
        if path.exists():
            old = json.loads(path.read_text())
            if not resume:
                raise ConfigError(
                    f"'{self.root}' already holds a run; pass --resume to continue it or choose another --out"
                )
            for key in ("method", "data", "source", "target", "scale", "world_size", "fda_losses", "fda_lambda_align"):
                recorded = old.get(key, KEYS_ADDED_LATER.get(key))  # runs started before a key existed used its default
                if recorded != config.get(key):
                    raise ConfigError(
                        f"cannot resume '{self.root}': its {key} is {recorded!r}, not {config.get(key)!r}"
                    )
        elif resume:
            raise ConfigError(f"nothing to resume in '{self.root}' (no config.json)")
        # Every rank must have looked before rank 0 writes, or a slower rank finds rank 0's
        # fresh config.json and refuses the run as "already holds a run".
        self.dist.barrier()
        if self.dist.is_main:
            self.root.mkdir(parents=True, exist_ok=True)
            with atomic_output(path) as tmp:
                tmp.write_text(json.dumps(config, indent=2, default=str) + "\n")
        self.dist.barrier()

    def log(self, record: dict[str, Any]) -> None:
        if not self.dist.is_main:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a") as handle:
            handle.write(json.dumps(record, default=float) + "\n")

    def save(self, stage: str, name: str, payload: dict[str, Any]) -> Path:
        path = self.stage_dir(stage) / f"{name}.pt"
        if self.dist.is_main:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(path) as tmp:
                torch.save(payload, tmp)
        return path

    def load(self, stage: str, name: str) -> dict[str, Any] | None:
        path = self.stage_dir(stage) / f"{name}.pt"
        return torch.load(path, map_location="cpu", weights_only=True) if path.is_file() else None

    def done(self, stage: str) -> bool:
        return (self.stage_dir(stage) / "done.json").is_file()

    def mark_done(self, stage: str, summary: dict[str, Any]) -> None:
        if self.dist.is_main:
            with atomic_output(self.stage_dir(stage) / "done.json") as tmp:
                tmp.write_text(json.dumps(summary, indent=2, default=float) + "\n")


def sync_gradients(modules: Iterable[torch.nn.Module], dist: DistContext) -> None:
    """Average gradients over ranks (what DistributedDataParallel does after backward)."""
    if not dist.distributed:
        return
    grads = [p.grad for m in modules for p in m.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    torch.distributed.all_reduce(flat)
    flat /= dist.world_size
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def _rng_state(stage: Stage) -> dict[str, Any]:
    state = {
        "torch": torch.get_rng_state(),
        "python": list(random.getstate()[1]),
        "samplers": [s.state() for s in stage.samplers],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(stage: Stage, state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate((3, tuple(state["python"]), None))
    for sampler, s in zip(stage.samplers, state["samplers"], strict=True):
        sampler.set_state(s)
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _gather(value: Any, dist: DistContext) -> list[Any]:
    if not dist.distributed:
        return [value]
    parts: list[Any] = [None] * dist.world_size
    torch.distributed.all_gather_object(parts, value)
    return parts


def full_state(stage: Stage, iteration: int, best: float, dist: DistContext) -> dict[str, Any]:
    return {
        "iteration": iteration,
        "best": best,
        "world_size": dist.world_size,
        "networks": {k: v.state_dict() for k, v in stage.networks.items()},
        "optimizers": {k: v.state_dict() for k, v in stage.optimizers.items()},
        "schedulers": {k: v.state_dict() for k, v in stage.schedulers.items()},
        "rng": _gather(_rng_state(stage), dist),
    }


def restore(stage: Stage, state: dict[str, Any], dist: DistContext) -> tuple[int, float]:
    if state["world_size"] != dist.world_size:
        raise ConfigError(f"the checkpoint was written by {state['world_size']} process(es); resume with as many")
    for name, module in stage.networks.items():
        module.load_state_dict(state["networks"][name])
    for name, optimizer in stage.optimizers.items():
        optimizer.load_state_dict(state["optimizers"][name])
    for name, scheduler in stage.schedulers.items():
        scheduler.load_state_dict(state["schedulers"][name])
    _set_rng_state(stage, state["rng"][dist.rank])
    return int(state["iteration"]), float(state["best"])


@dataclass
class Cadence:
    eval_every: int
    save_every: int
    log_every: int = 10


def run_stage(stage: Stage, run_dir: RunDirectory, cadence: Cadence, *, resume: bool,
              hooks: JobHooks | None = None) -> dict[str, Any]:  # fmt: skip
    """Train ``stage`` to the end (or continue it), keeping best/last/final checkpoints; returns the best export."""
    hooks = hooks or JobHooks()
    dist = run_dir.dist
    start, best = 0, -math.inf
    if resume:
        state = run_dir.load(stage.name, "last")
        if state is not None:
            start, best = restore(stage, state, dist)
    if hooks.on_stage:
        hooks.on_stage(stage.name, stage.iterations, start)
    if start == 0 and dist.is_main and hasattr(stage, "start_report"):
        run_dir.log({"stage": stage.name, "iteration": 0, "validation": stage.start_report()})
    window: dict[str, list[float]] = {}
    tick = time.perf_counter()
    for iteration in range(start, stage.iterations):
        losses = stage.step(iteration)
        for key, value in losses.items():
            window.setdefault(key, []).append(value)
        done = iteration + 1
        if hooks.on_step:
            hooks.on_step(done, losses)
        if done % cadence.log_every == 0 or done == stage.iterations:
            elapsed = time.perf_counter() - tick
            lrs = {k: opt.param_groups[0]["lr"] for k, opt in stage.optimizers.items()}
            means = {k: float(np.mean(v)) for k, v in window.items()}
            steps = len(next(iter(window.values()), []))
            run_dir.log({"stage": stage.name, "iteration": done, "losses": means, "lr": lrs,
                         "it_per_s": steps / max(elapsed, 1e-9)})  # fmt: skip
            window, tick = {}, time.perf_counter()
        if done % cadence.eval_every == 0 or done == stage.iterations:
            metrics = stage.evaluate() if dist.is_main else {"psnr": -math.inf}
            run_dir.log({"stage": stage.name, "iteration": done, "validation": metrics})
            if hooks.on_eval:
                hooks.on_eval(done, metrics)
            if metrics["psnr"] > best:
                best = metrics["psnr"]
                run_dir.save(stage.name, "best", {**stage.export(), "selected_at": done, "validation": metrics})
        if done % cadence.save_every == 0 or done == stage.iterations:
            run_dir.save(stage.name, "last", full_state(stage, done, best, dist))
    final = stage.export()
    run_dir.save(stage.name, "final", final)
    run_dir.mark_done(stage.name, {"iterations": stage.iterations, "best_psnr": best})
    dist.barrier()
    return run_dir.load(stage.name, "best") or final
