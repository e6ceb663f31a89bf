"""``srx adapt``: options -> AdaptConfig -> recipes.run_adapt, with a progress bar per stage."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Annotated

import typer

from ..recipes.config import AdaptConfig
from ._common import DeviceOption, QuietOption, stdout, user_errors
from ._progress import CommandProgress

HELP = "\n\n".join(
    [
        "Train a super-resolution model for a camera that has only low-resolution photos, from paired "
        "photos of another camera (DRealSR x4 layout: Train_x4/train_HR|train_LR, Test_x4/test_HR|test_LR).",
        "--method dada (default): DADA (Xu et al., CVPR 2022) in its three official stages — source-only CDC, "
        "the circle stage (CDC + down-sampler), and dual adversarial adaptation — with the official "
        "hyper-parameters. --source-weights starts from an existing CDC or circle checkpoint and skips stages. "
        "--method dasr: DASR (ShuhangGu/DASR, CVPR 2021): DSN, generated LR and domain-distance maps, SRN. "
        "--method ddnsr: DDNSR (Li et al., 2023): RRDB pre-training, then joint dual-input degradation and "
        "reconstruction. --method fda: feature distribution alignment (Wang et al., ICCV 2021; not Fourier "
        "Domain Adaptation) — srx's choices where the paper is silent: encoder + RRDB decoder, DeResnet-body "
        "target decoder, PatchGAN discriminators, USR_DA's loss weights (see the README); --layout aim2019 or "
        "ntire2020 runs it on the paper's datasets instead of two cameras.",
        "Jobs live in --out: config.json, log.jsonl (losses, lr, speed, validation), and per stage "
        "checkpoints/<stage>/{last,best,final}.pt. --resume continues exactly where a killed run stopped. "
        "Model selection uses --val target LR/HR training pairs held out from training; the official code "
        "selects on the test images, which --select-on test reproduces. Under torchrun --nproc_per_node=N "
        "the ranks train data-parallel (--batch-size is per process). --preset smoke runs a few iterations "
        "on tiny patches for CPU checks.",
    ]
)


# AdaptConfig holds every default (``--val``, ``--eval-every`` ... are None here: the preset decides them).
DEFAULTS = {f.name: f.default for f in fields(AdaptConfig)}


def adapt(
    data: Annotated[
        Path,
        typer.Option(
            "--data",
            help="DRealSR folder (x4/Train_x4, x4/Test_x4), or the AIM 2019 / NTIRE 2020 folders with --layout.",
            show_default=False,
        ),
    ],
    source: Annotated[
        str | None,
        typer.Option(
            "--source", help="Camera with LR/HR pairs: sony, panasonic, canon, olympus, nikon.", show_default=False
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", help="Camera to adapt to (its LR photos are used).", show_default=False),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory.")] = Path("runs/adapt"),
    method: Annotated[str, typer.Option("--method", help="dada, dasr, ddnsr or fda.")] = "dada",
    layout: Annotated[
        str,
        typer.Option(
            "--layout", help="drealsr (cross-camera), or for fda the paper's aim2019 / ntire2020 folder layouts."
        ),
    ] = DEFAULTS["layout"],
    fda_losses: Annotated[
        str, typer.Option("--fda-losses", help="fda: full (default) or rec (L_rec alone, a comparison run).")
    ] = DEFAULTS["fda_losses"],
    fda_lambda_align: Annotated[
        float | None,
        typer.Option(
            "--fda-lambda-align",
            help="fda: weight of the encoder's feature-alignment loss (default 0.01, srx's choice; the poster "
            "gives none).",
            show_default=False,
        ),
    ] = None,
    preset: Annotated[
        str, typer.Option("--preset", help="paper (default schedules) or smoke (tiny CPU run).")
    ] = DEFAULTS["preset"],
    iters: Annotated[
        int | None, typer.Option("--iters", help="Iterations per stage (default: the paper's).", show_default=False)
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="Patches per step per process.", show_default=False)
    ] = None,
    patch_size: Annotated[
        int | None,
        typer.Option(
            "--patch-size", help="LR patch side (default: the recipe's paper value, 32-64).", show_default=False
        ),
    ] = None,
    val: Annotated[
        int | None,
        typer.Option(
            "--val",
            help="Target training pairs held out for model selection (default 10; smoke 2).",
            show_default=False,
        ),
    ] = None,
    select_on: Annotated[
        str,
        typer.Option(
            "--select-on", help="val (default) or test (the official code's choice, for reproducing paper numbers)."
        ),
    ] = DEFAULTS["select_on"],
    perceptual: Annotated[
        str,
        typer.Option(
            "--perceptual",
            help="vgg (paper; VGG19 from the torch hub cache) or none (smoke runs; logged as a deviation).",
        ),
    ] = DEFAULTS["perceptual"],
    source_weights: Annotated[
        Path | None,
        typer.Option(
            "--source-weights",
            help="Checkpoint to start from, skipping stages: CDC or circle (dada), RRDB (dasr, ddnsr).",
            show_default=False,
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --out from its last checkpoint.")
    ] = DEFAULTS["resume"],
    eval_every: Annotated[
        int | None, typer.Option("--eval-every", help="Validate every N iterations.", show_default=False)
    ] = None,
    save_every: Annotated[
        int | None, typer.Option("--save-every", help="Checkpoint every N iterations.", show_default=False)
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = DEFAULTS["seed"],
    device: DeviceOption = DEFAULTS["device"],
    quiet: QuietOption = False,
) -> None:
    with user_errors():
        from ..recipes import run_adapt
        from ..recipes.job import JobHooks

        settings = {
            "method": method,
            "data": data,
            "source": source,
            "target": target,
            "out": out,
            "iters": iters,
            "batch_size": batch_size,
            "patch_size": patch_size,
            "val": val,
            "select_on": select_on,
            "perceptual": perceptual,
            "seed": seed,
            "device": device,
            "source_weights": source_weights,
            "resume": resume,
            "eval_every": eval_every,
            "save_every": save_every,
            "layout": layout,
            "fda_losses": fda_losses,
            "fda_lambda_align": fda_lambda_align,
        }
        if preset == "smoke":
            config = AdaptConfig.smoke(**settings)
        else:
            config = AdaptConfig(preset=preset, **{k: v for k, v in settings.items() if v is not None})
        progress = CommandProgress(quiet=quiet, noun="stage")
        hooks = JobHooks(
            on_stage=lambda name, total, start: progress.start_item(
                name, total, action="stage", unit="it", start=start
            ),
            on_step=lambda done, losses: progress.step(done, detail=_losses(losses)),
            on_eval=lambda done, metrics: progress.note(_validation(done, metrics)),
            note=progress.note,
        )
        with progress:
            result = run_adapt(config, hooks)
        if not quiet and result.test:
            for name, metrics in result.test.items():
                lpips = f", LPIPS {metrics['lpips']:.4f}" if "lpips" in metrics else ""
                stdout.print(f"target test, {name}: PSNR {metrics['psnr']:.2f} dB, SSIM {metrics['ssim']:.4f}{lpips}")
        if not quiet:
            stdout.print(f"run directory: {result.run_dir}; best checkpoints: {', '.join(result.exports.values())}")


def _losses(losses: dict[str, float]) -> str:
    return " ".join(f"{name} {value:.3f}" for name, value in list(losses.items())[:3])


def _validation(done: int, metrics: dict[str, float]) -> str:
    psnr, ssim = metrics.get("psnr", float("nan")), metrics.get("ssim", float("nan"))
    return f"  validation at {done}: PSNR {psnr:.2f} dB, SSIM {ssim:.4f}"
