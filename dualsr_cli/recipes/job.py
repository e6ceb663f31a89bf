"""The batch-job machinery every adaptation recipe runs on: run directory, JSONL log, checkpoints, exact
resume, periodic validation with model selection, and data parallelism under torchrun.

A recipe is a list of ``Stage`` objects run in order. A stage owns its networks, optimisers, schedulers
and patch samplers and knows how to do one training step, evaluate, and export a checkpoint that
``srx run`` loads. ``run_stage`` drives it: every ``save_every`` iterations the complete state (weights,
optimiser and scheduler state, iteration, best score, every RNG of every rank) is written atomically as
``last.pt``; ``--resume`` restarts from it and reaches bit-for-bit the state an uninterrupted run reaches.

Under torchrun each rank draws its own patches (a random stream of its own, ``context.stream_seed``) and
gradients are averaged across ranks by all-reduce after every backward pass — the arithmetic of
DistributedDataParallel. The DDP wrapper itself
is not used because the recipes call their networks several times per step through different entry
points (DADA's ``forward_with_map``), which DDP's hooks do not support. Only rank 0 logs and saves.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from ..atomic import atomic_output
from ..errors import CheckpointError, ConfigError
from ..runtime.dist import DistContext


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


# Settings that decide what any adaptation run computes: --resume refuses to continue a run with one of them
# changed. Each maps to the value a run recorded before the setting existed used (None: it always existed).
# A recipe adds its own (``plan.Recipe.resume_keys``, e.g. FDA's loss settings).
COMMON_RESUME_KEYS: dict[str, Any] = {
    "method": None,
    "data": None,
    "source": None,
    "target": None,
    "scale": None,
    "world_size": None,
    "layout": "drealsr",
    "preset": None,
    "seed": None,
    "batch_size": None,
    "patch_size": None,
    "val": None,
    "select_on": None,
    "protocol": None,
    "perceptual": None,
    "source_weights": None,
}
# What --resume may change: the schedule's length (to extend a run), the cadence of validation and
# checkpoints, and where it computes. Anything else in config.json is recorded, not compared.
RESUME_MAY_CHANGE = ("iters", "eval_every", "save_every", "device")


def read_recorded_config(path: Path) -> dict[str, Any]:
    """config.json of an earlier run; a file that is not a JSON object is one clear error."""
    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = str(exc).splitlines()[0][:100] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"cannot read '{path}': not a valid srx adapt config.json ({reason}); move the run "
            "directory aside or choose another --out"
        ) from None
    if not isinstance(recorded, dict):
        raise ConfigError(
            f"cannot read '{path}': not a valid srx adapt config.json (not a JSON object); move the "
            "run directory aside or choose another --out"
        )
    return recorded


@dataclass
class RunDirectory:
    """``config.json``, ``log.jsonl`` and ``checkpoints/<stage>/`` of one job.

    Nothing is written until the job has really started (``commit``: its first training step or
    checkpoint). Until then config.json and the log records wait in memory, so a run that fails while
    starting (a patch size too large, missing weights) leaves the directory as it was, and a failed
    ``--resume`` leaves the recorded settings untouched. A directory whose run never wrote a checkpoint
    counts as empty: the same command, corrected, starts afresh in it without ``--resume``.
    """

    root: Path
    dist: DistContext = field(default_factory=DistContext)
    _pending_config: dict[str, Any] | None = field(default=None, init=False, repr=False)
    _pending_log: list[dict[str, Any]] = field(default_factory=list, init=False, repr=False)
    _fresh_log: bool = field(default=False, init=False, repr=False)
    committed: bool = field(default=True, init=False)

    @property
    def log_path(self) -> Path:
        return self.root / "log.jsonl"

    def stage_dir(self, stage: str) -> Path:
        return self.root / "checkpoints" / stage

    def has_checkpoints(self) -> bool:
        folder = self.root / "checkpoints"
        return folder.is_dir() and any(p.suffix in (".pt", ".json") for p in folder.rglob("*") if p.is_file())

    def begin(self, config: dict[str, Any], *, resume: bool, identity: Mapping[str, Any] = COMMON_RESUME_KEYS) -> None:
        """Check that ``config`` may run in this directory; write nothing yet (see ``commit``).

        A fresh run needs a directory without checkpoints. ``--resume`` needs a recorded run whose
        settings in ``identity`` (setting -> value assumed when it was not recorded) equal the new ones.
        """
        path = self.root / "config.json"
        if self.root.exists() and not self.root.is_dir():
            raise ConfigError(f"--out '{self.root}' is a file; give a folder for the run directory")
        started = self.has_checkpoints()
        if path.exists():
            old = read_recorded_config(path)
            if resume:
                for key, default in identity.items():  # runs from before a key existed used its default
                    recorded, wanted = old.get(key, default), config.get(key, default)
                    if recorded != wanted:
                        allowed = ", ".join("--" + k.replace("_", "-") for k in RESUME_MAY_CHANGE)
                        raise ConfigError(
                            f"cannot resume '{self.root}': its {key} is {recorded!r}, not {wanted!r}; "
                            f"--resume may change only {allowed} (rerun with the recorded value, or start a new "
                            "run in another --out)"
                        )
            elif started:
                raise ConfigError(
                    f"'{self.root}' already holds a run; pass --resume to continue it or choose another --out"
                )
        elif resume and started:
            raise ConfigError(f"cannot resume '{self.root}': it has checkpoints but no config.json")
        elif resume:
            raise ConfigError(f"nothing to resume in '{self.root}' (no config.json); run without --resume")
        elif started:
            raise ConfigError(f"'{self.root}' holds checkpoints of another run; choose another --out")
        self._pending_config = config
        self._pending_log = []
        self._fresh_log = not (resume and started)
        self.committed = False
        # Every rank must have looked before rank 0 writes, or a slower rank finds rank 0's
        # fresh config.json and refuses the run as "already holds a run".
        self.dist.barrier()

    def commit(self) -> None:
        """The job has started: write config.json and the log records kept so far."""
        if self.committed:
            return
        self.committed = True
        if not self.dist.is_main:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with atomic_output(self.root / "config.json") as tmp:
            tmp.write_text(json.dumps(self._pending_config, indent=2, default=str) + "\n")
        if self._fresh_log and self.log_path.exists():
            self.log_path.unlink()  # the log of an attempt that never reached a checkpoint
        for record in self._pending_log:
            self._append_log(record)
        self._pending_log = []

    def write_config(
        self, config: dict[str, Any], *, resume: bool, identity: Mapping[str, Any] = COMMON_RESUME_KEYS
    ) -> None:
        """Check and write config.json at once (``begin`` then ``commit``)."""
        self.begin(config, resume=resume, identity=identity)
        self.commit()
        self.dist.barrier()

    def log(self, record: dict[str, Any]) -> None:
        if not self.dist.is_main:
            return
        if not self.committed:
            self._pending_log.append(record)
            return
        self._append_log(record)

    def _append_log(self, record: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a") as handle:
            handle.write(json.dumps(record, default=float) + "\n")

    def save(self, stage: str, name: str, payload: dict[str, Any]) -> Path:
        path = self.stage_dir(stage) / f"{name}.pt"
        self.commit()
        if self.dist.is_main:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_output(path) as tmp:
                torch.save(payload, tmp)
        return path

    def load(self, stage: str, name: str) -> dict[str, Any] | None:
        path = self.stage_dir(stage) / f"{name}.pt"
        if not path.is_file():
            return None
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # truncated, corrupt or foreign file: torch raises several types
            reason = str(exc).strip().splitlines()[0][:100] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(
                f"cannot read checkpoint '{path}' ({reason}); delete it to redo that part of the "
                "stage, or start a new run in another --out"
            ) from None

    def done(self, stage: str) -> bool:
        return (self.stage_dir(stage) / "done.json").is_file()

    def mark_done(self, stage: str, summary: dict[str, Any]) -> None:
        self.commit()
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


def full_state(stage: Stage, iteration: int, best: float, dist: DistContext) -> dict[str, Any]:
    return {
        "iteration": iteration,
        "best": best,
        "world_size": dist.world_size,
        "networks": {k: v.state_dict() for k, v in stage.networks.items()},
        "optimizers": {k: v.state_dict() for k, v in stage.optimizers.items()},
        "schedulers": {k: v.state_dict() for k, v in stage.schedulers.items()},
        "rng": dist.all_gather(_rng_state(stage)),
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


def run_stage(
    stage: Stage, run_dir: RunDirectory, cadence: Cadence, *, resume: bool, hooks: JobHooks | None = None
) -> dict[str, Any]:
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
        run_dir.commit()  # the job has started: from now on its directory records it
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
            run_dir.log(
                {
                    "stage": stage.name,
                    "iteration": done,
                    "losses": means,
                    "lr": lrs,
                    "it_per_s": steps / max(elapsed, 1e-9),
                }
            )
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
