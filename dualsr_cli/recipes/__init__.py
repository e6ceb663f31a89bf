"""``srx adapt``: cross-camera adaptation recipes run as resumable batch jobs.

``run_adapt`` loads the cameras, prepares the run directory and runs the chosen recipe's steps in order.
A step is either a training ``Stage`` (driven by ``job.run_stage``: checkpoints, validation, exact
resume) or a plain action such as DASR's LR generation. A step already finished in the run directory is
not run again; the interrupted one continues from its last checkpoint. At the end the adapted model and
the model it started from (source-only) are both evaluated on the target camera's test pairs.

Recipes are one module each (``dada``, ``dasr``, ``ddnsr``); ``PLANS`` maps a method to its steps.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..checkpoint import extract_state_dict, read_checkpoint
from ..errors import CheckpointError, ConfigError
from ..metrics.lpips import load_lpips
from ..runtime.device import configure_determinism, resolve_device
from ..runtime.dist import init_from_env, shutdown
from ..validation import check_output_dir
from .config import AdaptConfig
from .context import StageContext
from .data import ImageCache, check_patch_fits, load_cross_camera, load_paper_mode
from .job import Cadence, JobHooks, RunDirectory, run_stage
from .losses import require_vgg19

Payloads = dict[str, dict[str, Any]]


@dataclass
class Step:
    name: str
    build: Callable[[Payloads], Any]  # earlier payloads -> a Stage to train, or directly a payload (action)


@dataclass
class Plan:
    steps: list[Step]
    compare: Callable[[Payloads], dict[str, Callable]]  # -> {"source-only": fn, "adapted": fn} (LR -> SR)
    size_multiple: int = 1
    start: Payloads = field(default_factory=dict)  # payloads given by --source-weights


@dataclass
class AdaptResult:
    run_dir: str
    exports: dict[str, str]  # step -> best (or final) checkpoint path
    test: dict[str, dict[str, float]]  # "source-only" / "adapted" -> metrics on the target test pairs
    deviations: list[str]


def _checkpoint_state(path: Path, wanted: tuple[str, ...], method: str) -> tuple[str, dict[str, Any]]:
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
        raise CheckpointError(f"--source-weights '{path}' holds {kind or 'unrecognised'} weights; {method} starts "
                              f"from {what} weights")  # fmt: skip
    return kind, (to_original_layout(state) if kind == "rrdb" else state)


def _plan_dada(ctx: StageContext, start: tuple[str, Any] | None) -> Plan:
    from ..archs.cdc import CDCNet, DADAUpscaler
    from . import dada

    payloads_start: Payloads = {}
    steps = [
        Step("1-source-cdc", lambda p: dada.SourceCDC(ctx)),
        Step("2-circle", lambda p: dada.Circle(ctx, p["1-source-cdc"]["model"])),
        Step("3-dada", lambda p: dada.DADAStage(ctx, p["2-circle"])),
    ]
    if start is not None:
        kind, payload = start
        if kind == "circle":
            payloads_start["2-circle"] = payload
            steps = steps[2:]
        else:
            payloads_start["1-source-cdc"] = {"model": payload}
            steps = steps[1:]

    def cdc(state: dict) -> CDCNet:
        net = CDCNet(scale=ctx.data.scale)
        net.load_state_dict(state)
        return net.to(ctx.device).eval()

    def compare(payloads: Payloads) -> dict[str, Callable]:
        circle_up = cdc(payloads["2-circle"]["model"]["up"])
        first = payloads.get("1-source-cdc")
        source_only = cdc(first["model"]) if first else circle_up
        return {"source-only": source_only.upscale,
                "adapted": DADAUpscaler(cdc(payloads["3-dada"]["model"]["up_t"]), circle_up)}  # fmt: skip

    return Plan(steps, compare, size_multiple=16, start=payloads_start)


def _rrdb(ctx: StageContext, state: dict) -> torch.nn.Module:
    from ..archs.rrdb import RRDBNet

    net = RRDBNet(scale=ctx.data.scale)
    net.load_state_dict(state)
    return net.to(ctx.device).eval()


def _bicubic(scale: int) -> Callable:
    from ..ops.resize import imresize

    return lambda x: imresize(x.double(), float(scale)).float()


def _plan_dasr(ctx: StageContext, start: tuple[str, Any] | None, run_root: Path) -> Plan:
    from . import dasr

    folder = run_root / "generated"
    start_state = start[1] if start else None
    steps = [
        Step("1-dsn", lambda p: dasr.DSNStage(ctx)),
        Step("2-generate", lambda p: {"items": len(dasr.generate(ctx, p["1-dsn"], folder)), "folder": str(folder)}),
        Step("3-srn", lambda p: dasr.SRNStage(ctx, dasr.generate(ctx, p["1-dsn"], folder), folder, start_state)),
    ]

    def compare(payloads: Payloads) -> dict[str, Callable]:
        baseline = _rrdb(ctx, start_state) if start_state is not None else _bicubic(ctx.data.scale)
        return {"source-only" if start_state is not None else "bicubic": baseline,
                "adapted": _rrdb(ctx, payloads["3-srn"]["state_dict"])}  # fmt: skip

    return Plan(steps, compare)


def _plan_ddnsr(ctx: StageContext, start: tuple[str, Any] | None) -> Plan:
    from . import ddnsr

    steps = [
        Step("1-source-rrdb", lambda p: ddnsr.SourceRRDB(ctx)),
        Step("2-ddnsr", lambda p: ddnsr.DDNSRStage(ctx, p["1-source-rrdb"]["reconstruction"])),
    ]
    start_payloads: Payloads = {}
    if start is not None:
        start_payloads["1-source-rrdb"] = {"reconstruction": start[1]}
        steps = steps[1:]

    def compare(payloads: Payloads) -> dict[str, Callable]:
        return {"source-only": _rrdb(ctx, payloads["1-source-rrdb"]["reconstruction"]),
                "adapted": _rrdb(ctx, payloads["2-ddnsr"]["reconstruction"])}  # fmt: skip

    return Plan(steps, compare, start=start_payloads)


def _plan_fda(ctx: StageContext) -> Plan:
    from ..archs.fda import FDAUpscaler, split_state
    from . import fda

    paper_mode = ctx.config.layout != "drealsr"
    steps = [Step("fda", lambda p: fda.FDAStage(ctx, losses=ctx.config.fda_losses, paper_mode=paper_mode))]

    def compare(payloads: Payloads) -> dict[str, Callable]:
        encoder, decoder = split_state(payloads["fda"]["model"])
        net = FDAUpscaler(nb=len({k.split(".")[3] for k in decoder if k.startswith("model.1.sub.")}) - 1,
                          scale=ctx.data.scale)  # fmt: skip
        net.E.load_state_dict(encoder)
        net.G_SR.load_state_dict(decoder)
        return {"bicubic": _bicubic(ctx.data.scale), "adapted": net.to(ctx.device).eval()}

    return Plan(steps, compare)


SOURCE_WEIGHTS = {"dada": ("cdc", "circle"), "dasr": ("rrdb",), "ddnsr": ("rrdb",), "fda": ()}


def run_adapt(config: AdaptConfig, hooks: JobHooks | None = None) -> AdaptResult:
    """Run (or ``--resume``) one adaptation job; everything a user can get wrong is refused before it starts."""
    hooks = hooks or JobHooks()
    note = hooks.note or (lambda text: None)
    dist = init_from_env()
    out = Path(config.out)
    created_out = not os.path.lexists(out)
    run_dir = RunDirectory(out, dist)
    try:
        device = resolve_device(config.device)
        configure_determinism(device)
        if config.method == "fda" and config.layout == "drealsr":
            config = config.with_deviation("fda cross-camera mode: the source domain is a real camera's LR/HR pairs, "
                                           "while the paper's is presumably synthetic bicubic pairs")  # fmt: skip
        if config.fda_losses == "rec":
            config = config.with_deviation("fda trained with L_rec alone (--fda-losses rec): a comparison run")
        if config.perceptual == "none":
            config = config.with_deviation("perceptual losses disabled (--perceptual none): not the paper's recipe")
        if config.select_on == "test":
            config = config.with_deviation("model selection on the target test images (--select-on test), as the "
                                           "official code; test numbers are then optimistic")  # fmt: skip
        check_output_dir(out, "--out")
        run_dir.begin({**config.to_dict(), "world_size": dist.world_size}, resume=config.resume)
        if config.source_weights and not SOURCE_WEIGHTS[config.method]:
            raise ConfigError(f"--source-weights is not used by --method {config.method}")
        if config.perceptual == "vgg":
            require_vgg19()
        if config.layout == "drealsr":
            data = load_cross_camera(config.data, config.source, config.target, scale=config.scale, val=config.val)
        else:
            data = load_paper_mode(config.data, config.layout, out / "cache" / "x_s", scale=config.scale,
                                   is_main=dist.is_main)  # fmt: skip
            dist.barrier()
        if config.patch_size is not None:
            check_patch_fits([*data.source_train, *data.target_train], config.patch_size)
        if config.select_on == "test" and not data.target_test:
            raise ConfigError("--select-on test needs target test pairs (Test_x4) and none were found")
        if dist.is_main:
            note(data.summary())
        start = (_checkpoint_state(config.source_weights, SOURCE_WEIGHTS[config.method], config.method)
                 if config.source_weights else None)  # fmt: skip
        for text in config.deviations:
            run_dir.log({"deviation": text})
            note(f"deviation: {text}")
        lpips = load_lpips(device)
        if lpips.unavailable_reason and dist.is_main:
            note(lpips.unavailable_reason)
        ctx = StageContext(data, config, device, dist, ImageCache(), lpips)
        if config.method == "dada":
            plan = _plan_dada(ctx, start)
        elif config.method == "dasr":
            plan = _plan_dasr(ctx, start, Path(config.out))
        elif config.method == "ddnsr":
            plan = _plan_ddnsr(ctx, start)
        else:
            plan = _plan_fda(ctx)
        payloads: Payloads = dict(plan.start)
        cadence = Cadence(eval_every=config.eval_every, save_every=config.save_every)
        exports = {}
        for step in plan.steps:
            if run_dir.done(step.name):
                payloads[step.name] = run_dir.load(step.name, "best") or run_dir.load(step.name, "final")
                note(f"{step.name} already finished in {config.out}; reusing its checkpoint")
            else:
                built = step.build(payloads)
                if hasattr(built, "step"):
                    payloads[step.name] = run_stage(built, run_dir, cadence, resume=config.resume, hooks=hooks)
                else:
                    payloads[step.name] = built
                    run_dir.save(step.name, "final", built)
                    run_dir.mark_done(step.name, {"action": step.name})
            best = run_dir.stage_dir(step.name) / "best.pt"
            exports[step.name] = str(best if best.exists() else run_dir.stage_dir(step.name) / "final.pt")
        test = {}
        if data.target_test and dist.is_main:
            from .evaluation import evaluate_pairs

            with torch.inference_mode():
                for name, model in plan.compare(payloads).items():
                    test[name] = evaluate_pairs(model, data.target_test, scale=data.scale, device=device,
                                                protocol=config.protocol, size_multiple=plan.size_multiple,
                                                lpips=lpips)  # fmt: skip
            run_dir.log({"test": test})
        return AdaptResult(str(config.out), exports, test, config.deviations)
    except BaseException:
        if not run_dir.committed and created_out and dist.is_main and out.is_dir():
            shutil.rmtree(out, ignore_errors=True)  # made by this run for its cache alone; nothing started
        raise
    finally:
        shutdown(dist)
