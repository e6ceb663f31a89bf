"""``srx adapt``: cross-camera adaptation recipes run as resumable batch jobs.

``run_adapt`` loads the cameras, prepares the run directory and runs the recipe's stages in order, each
through ``job.run_stage``; a stage already finished in the run directory is not run again, and the one
that was interrupted continues from its last checkpoint. At the end the adapted model and the source-only
model it started from are both evaluated on the target camera's test pairs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ..checkpoint import extract_state_dict, read_checkpoint
from ..errors import CheckpointError
from ..metrics.lpips import load_lpips
from ..runtime.device import configure_determinism, resolve_device
from ..runtime.dist import init_from_env, shutdown
from .config import AdaptConfig
from .data import ImageCache, load_cross_camera
from .job import Cadence, JobHooks, RunDirectory, run_stage


@dataclass
class StageSpec:
    name: str
    build: Callable[[Any], Any]  # previous stage's export (or the given source weights) -> Stage


@dataclass
class AdaptResult:
    run_dir: str
    exports: dict[str, str]  # stage -> best checkpoint path
    test: dict[str, dict[str, float]]  # "source-only" / "adapted" -> metrics on the target test pairs
    deviations: list[str]


def _source_weights(path) -> dict[str, Any]:
    """A CDC (stage-1 / official release) or circle checkpoint to start from, in DADA's export format."""
    from ..archs import identify

    raw = read_checkpoint(path)
    model = raw.get("model") if isinstance(raw, dict) else None
    if isinstance(model, dict) and {"up", "down"} <= set(model):
        return {"stage": "2-circle", "export": {"model": {k: extract_state_dict(v) for k, v in model.items()}}}
    state = extract_state_dict(raw, prefer=("up",), source=f"'{path}'")
    kind = identify(state)
    if kind != "cdc":
        found = kind or "an unrecognised network"
        raise CheckpointError(
            f"--source-weights '{path}' holds {found} weights; DADA starts from a CDC or circle checkpoint"
        )
    return {"stage": "1-source-cdc", "export": {"model": state}}


def run_adapt(config: AdaptConfig, hooks: JobHooks | None = None) -> AdaptResult:
    from . import dada

    hooks = hooks or JobHooks()
    note = hooks.note or (lambda text: None)
    dist = init_from_env()
    try:
        device = resolve_device(config.device)
        configure_determinism(device)
        data = load_cross_camera(config.data, config.source, config.target, scale=config.scale, val=config.val)
        if config.select_on == "test" and not data.target_test:
            raise CheckpointError("--select-on test needs target test pairs (Test_x4) and none were found")
        if dist.is_main:
            note(data.summary())
        if config.perceptual == "none":
            config = config.with_deviation("perceptual loss disabled (--perceptual none): not the paper's recipe")
        if config.select_on == "test":
            config = config.with_deviation("model selection on the target test images (--select-on test), as the "
                                           "official code; test numbers are then optimistic")  # fmt: skip
        run_dir = RunDirectory(config.out, dist)
        run_dir.write_config({**config.to_dict(), "world_size": dist.world_size}, resume=config.resume)
        for text in config.deviations:
            run_dir.log({"deviation": text})
            note(f"deviation: {text}")
        lpips = load_lpips(device)
        if lpips.unavailable_reason and dist.is_main:
            note(lpips.unavailable_reason)
        ctx = dada.StageContext(data, config, device, dist, ImageCache(), lpips)
        start = _source_weights(config.source_weights) if config.source_weights else None
        specs = [
            StageSpec("1-source-cdc", lambda prev: dada.SourceCDC(ctx)),
            StageSpec("2-circle", lambda prev: dada.Circle(ctx, prev["model"])),
            StageSpec("3-dada", lambda prev: dada.DADAStage(ctx, prev)),
        ]
        names = [s.name for s in specs]
        if start is not None:
            specs = specs[names.index(start["stage"]) + 1 :]
        cadence = Cadence(eval_every=config.eval_every, save_every=config.save_every)
        previous = start["export"] if start else None
        payloads: dict[str, dict] = {start["stage"]: start["export"]} if start else {}
        exports = {}
        for spec in specs:
            if run_dir.done(spec.name):
                previous = run_dir.load(spec.name, "best") or run_dir.load(spec.name, "final")
                note(f"stage {spec.name} already finished in {config.out}; reusing its best checkpoint")
            else:
                previous = run_stage(spec.build(previous), run_dir, cadence, resume=config.resume, hooks=hooks)
            payloads[spec.name] = previous
            exports[spec.name] = str(run_dir.stage_dir(spec.name) / "best.pt")
        test = _compare(ctx, payloads) if data.target_test and dist.is_main else {}
        if test:
            run_dir.log({"test": test})
        return AdaptResult(str(config.out), exports, test, config.deviations)
    finally:
        shutdown(dist)


def _compare(ctx, payloads: dict[str, dict]) -> dict[str, dict[str, float]]:
    """Source-only CDC vs adapted DADA (up_t with the circle model's maps) on the target camera's test pairs."""
    from ..archs.cdc import CDCNet, DADAUpscaler
    from .evaluation import evaluate_pairs

    def cdc(state: dict) -> CDCNet:
        net = CDCNet(scale=ctx.data.scale)
        net.load_state_dict(state)
        return net.to(ctx.device).eval()

    first = payloads.get("1-source-cdc")
    circle_up = cdc(payloads["2-circle"]["model"]["up"])
    source_only = cdc(first["model"]) if first else circle_up
    adapted = DADAUpscaler(cdc(payloads["3-dada"]["model"]["up_t"]), circle_up)
    kwargs = {"scale": ctx.data.scale, "device": ctx.device, "protocol": ctx.config.protocol, "size_multiple": 16,
              "lpips": ctx.lpips}  # fmt: skip
    with torch.inference_mode():
        return {"source-only": evaluate_pairs(source_only.upscale, ctx.data.target_test, **kwargs),
                "adapted": evaluate_pairs(adapted, ctx.data.target_test, **kwargs)}  # fmt: skip
