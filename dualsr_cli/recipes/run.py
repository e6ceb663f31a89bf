"""``run_adapt``: one adaptation job from its config to the scores of the adapted model."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from ..checkpoint import extract_state_dict, read_checkpoint
from ..errors import CheckpointError, ConfigError
from ..metrics.lpips import LpipsMetric, load_lpips
from ..runtime.device import configure_determinism, resolve_device
from ..runtime.dist import DistContext, init_from_env, shutdown
from ..validation import check_output_dir
from .config import AdaptConfig
from .context import StageContext
from .data import CrossCameraData, ImageCache, check_patch_fits, load_cross_camera, load_paper_mode
from .job import Cadence, JobHooks, RunDirectory, run_stage
from .losses import require_vgg19
from .plan import Action, Exports, Plan, StartWeights
from .registry import RECIPES, resume_identity


@dataclass
class AdaptResult:
    run_dir: str
    exports: dict[str, str]  # step -> best (or final) checkpoint path
    test: dict[str, dict[str, float]]  # "source-only" / "adapted" -> metrics on the target test pairs
    deviations: list[str]


def _checkpoint_state(path: Path, wanted: tuple[str, ...], method: str) -> StartWeights:
    """(kind, payload) of --source-weights: a circle export, or a state_dict of a wanted architecture."""
    from ..archs import identify
    from ..archs.rrdb import to_original_layout

    raw = read_checkpoint(path)
    model = raw.get("model") if isinstance(raw, dict) else None
    if "circle" in wanted and isinstance(model, dict) and {"up", "down"} <= set(model):
        return "circle", {"model": {k: extract_state_dict(v) for k, v in model.items()}}
    state = extract_state_dict(raw, prefer=("up", "reconstruction"), source=f"'{path}'")
    kind = identify(state)
    if kind not in wanted:
        what = " or ".join(w.upper() if w != "circle" else "circle" for w in wanted)
        raise CheckpointError(
            f"--source-weights '{path}' holds {kind or 'unrecognised'} weights; {method} starts from {what} weights"
        )
    return kind, (to_original_layout(state) if kind == "rrdb" else state)


def _with_deviations(config: AdaptConfig) -> AdaptConfig:
    """The config with every departure from the papers' recipes named (logged and reported)."""
    if config.method == "fda" and config.layout == "drealsr":
        config = config.with_deviation(
            "fda cross-camera mode: the source domain is a real camera's LR/HR pairs, "
            "while the paper's is presumably synthetic bicubic pairs"
        )
    if config.fda_losses == "rec":
        config = config.with_deviation("fda trained with L_rec alone (--fda-losses rec): a comparison run")
    if config.perceptual == "none":
        config = config.with_deviation("perceptual losses disabled (--perceptual none): not the paper's recipe")
    if config.select_on == "test":
        config = config.with_deviation(
            "model selection on the target test images (--select-on test), as the official code; test numbers "
            "are then optimistic"
        )
    return config


def _load_data(config: AdaptConfig, dist: DistContext) -> CrossCameraData:
    if config.layout == "drealsr":
        data = load_cross_camera(config.data, config.source, config.target, scale=config.scale, val=config.val)
    else:
        cache = Path(config.out) / "cache" / "x_s"
        data = load_paper_mode(config.data, config.layout, cache, scale=config.scale, is_main=dist.is_main)
        dist.barrier()
    if config.patch_size is not None:
        check_patch_fits([*data.source_train, *data.target_train], config.patch_size)
    if config.select_on == "test" and not data.target_test:
        raise ConfigError("--select-on test needs target test pairs (Test_x4) and none were found")
    return data


def _run_steps(plan: Plan, run_dir: RunDirectory, config: AdaptConfig, hooks: JobHooks) -> tuple[Exports, dict]:
    """Every step of the plan in order, reusing those already finished; (exports, step -> checkpoint path)."""
    note = hooks.note or (lambda text: None)
    exports: Exports = dict(plan.start)
    cadence = Cadence(eval_every=config.eval_every, save_every=config.save_every)
    paths = {}
    for step in plan.steps:
        if run_dir.done(step.name):
            exports[step.name] = run_dir.load(step.name, "best") or run_dir.load(step.name, "final")
            note(f"{step.name} already finished in {config.out}; reusing its checkpoint")
        else:
            built = step.build(exports)
            if isinstance(built, Action):
                exports[step.name] = built.run()
                run_dir.save(step.name, "final", exports[step.name])
                run_dir.mark_done(step.name, {"action": step.name})
            else:
                exports[step.name] = run_stage(built, run_dir, cadence, resume=config.resume, hooks=hooks)
        best = run_dir.stage_dir(step.name) / "best.pt"
        paths[step.name] = str(best if best.exists() else run_dir.stage_dir(step.name) / "final.pt")
    return exports, paths


def _evaluate(plan: Plan, exports: Exports, ctx: StageContext) -> dict[str, dict[str, float]]:
    """The compared models (source-only or bicubic, adapted) on the target camera's test pairs."""
    with torch.inference_mode():
        return {
            name: ctx.validate(model, size_multiple=plan.size_multiple, pairs=ctx.data.target_test)
            for name, model in plan.compare(exports).items()
        }


def run_adapt(config: AdaptConfig, hooks: JobHooks | None = None) -> AdaptResult:
    """Run (or ``--resume``) one adaptation job; everything a user can get wrong is refused before it starts."""
    hooks = hooks or JobHooks()
    note = hooks.note or (lambda text: None)
    recipe = RECIPES[config.method]
    dist = init_from_env()
    out = Path(config.out)
    created_out = not os.path.lexists(out)
    run_dir = RunDirectory(out, dist)
    try:
        device = resolve_device(config.device)
        configure_determinism(device)
        config = _with_deviations(config)
        check_output_dir(out, "--out")
        recorded = {**config.to_dict(), "world_size": dist.world_size}
        run_dir.begin(recorded, resume=config.resume, identity=resume_identity(config.method))
        if config.source_weights and not recipe.source_weights:
            raise ConfigError(f"--source-weights is not used by --method {config.method}")
        if config.perceptual == "vgg":
            require_vgg19()
        data = _load_data(config, dist)
        if dist.is_main:
            note(data.summary())
        start = None
        if config.source_weights:
            start = _checkpoint_state(config.source_weights, recipe.source_weights, config.method)
        for text in config.deviations:
            run_dir.log({"deviation": text})
            note(f"deviation: {text}")
        lpips: LpipsMetric = load_lpips(device)
        if lpips.unavailable_reason and dist.is_main:
            note(lpips.unavailable_reason)
        ctx = StageContext(data, config, device, dist, ImageCache(), lpips)
        plan = recipe.plan(ctx, start, out)
        exports, paths = _run_steps(plan, run_dir, config, hooks)
        test = {}
        if data.target_test and dist.is_main:
            test = _evaluate(plan, exports, ctx)
            run_dir.log({"test": test})
        return AdaptResult(str(config.out), paths, test, config.deviations)
    except BaseException:
        if not run_dir.committed and created_out and dist.is_main and out.is_dir():
            shutil.rmtree(out, ignore_errors=True)  # made by this run for its cache alone; nothing started
        raise
    finally:
        shutdown(dist)
