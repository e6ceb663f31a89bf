"""``srx zero-shot``: options -> ZeroShotConfig -> engine.zero_shot.pipeline, one image at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._version import __version__
from ..engine.zero_shot.config import DEFAULT_X4_METHOD, BatchSettings, ZeroShotConfig, check_back_projection_applies
from ..errors import ConfigError
from ._common import (
    DeviceOption,
    Ext,
    InputOption,
    InputsArgument,
    OutOption,
    QuietOption,
    SkipExistingOption,
    TileOption,
    ext_option,
    gather_inputs,
    json_option,
    json_to_stdout,
    report_console,
    suffix_option,
    user_errors,
    warn,
    write_json,
)

HELP = "\n\n".join(
    [
        "Super-resolve photos x2 or x4 with DualSR (Emad et al., WACV 2021), trained from scratch on each image.",
        "For every image srx trains an upsampler, a KernelGAN-style linear downsampler and a patch discriminator "
        "on crops of that image alone (no pretrained weights), then upscales it and exports the estimated blur "
        "kernel. Defaults reproduce the official code, including its quirks (see --corrected). A 3000-iteration "
        "run takes about 20 minutes per image on 2 CPU cores; --iters trades quality for time.",
        "Writes OUT/<stem>_x2.png (same bit depth, alpha and grayscale as the input; see --suffix, --ext) and "
        "OUT/<stem>_kernel_x2.mat (variable 'Kernel': the raw 13x13 correlation kernel, as DualSR saves it). "
        "With --scale 4: OUT/<stem>_x4.png and OUT/<stem>_kernel_x4.mat (the 25x25 kernel mapping the x4 result "
        "to the input, in KernelGAN's x4 form). Images need at least 84x84 pixels at either scale.",
    ]
)


DEFAULTS, BATCH_DEFAULTS = ZeroShotConfig(), BatchSettings()  # the configs hold every default
SuffixOption = suffix_option("x<scale>")
ZeroShotExtOption = ext_option(Ext.png)
ZeroShotJsonOption = json_option("per image: outputs, sizes, timings, final losses, metrics; the config")


def zero_shot(
    inputs: InputsArgument = None,
    input_flag: InputOption = None,
    out: OutOption = Path("results"),
    suffix: SuffixOption = None,
    ext: ZeroShotExtOption = None,
    scale: Annotated[int, typer.Option("--scale", help="The upscaling factor: 2 or 4.")] = DEFAULTS.scale,
    x4_method: Annotated[
        str | None,
        typer.Option(
            "--x4-method",
            help="How --scale 4 trains: 'joint' (one run with an x4 upsampler and the x2 kernel applied twice; "
            "about the x2 time), 'joint-zssr' (that run, then a fresh x4 upsampler trained ZSSR-style on the "
            "image downscaled with its kernel), 'x2-zssr' (a DualSR x2 run for the kernel only, cleaned and composed "
            "for x4 as KernelGAN does, then that ZSSR-style upsampler and ZSSR's back-projection) or 'twice' "
            "(DualSR x2, then a fresh DualSR x2 on its result; 2x or more). "
            f"[default: {DEFAULT_X4_METHOD}]",
            rich_help_panel="Training",
            show_default=False,
        ),
    ] = None,
    back_projection: Annotated[
        int | None,
        typer.Option(
            "--back-projection",
            metavar="STEPS",
            help="Back-projection steps that finish --x4-method x2-zssr, with its x4 kernel (ZSSR's last step). "
            "0 for noisy photos: it would sharpen the noise. "
            f"[default: {DEFAULTS.back_projection_steps}]",
            rich_help_panel="Training",
            show_default=False,
        ),
    ] = None,
    iters: Annotated[
        int,
        typer.Option(
            "--iters",
            help="Training iterations per image (paper: 3000); x4 'twice' trains two runs of this many.",
            rich_help_panel="Training",
        ),
    ] = DEFAULTS.iters,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed for weights and crop sampling.", rich_help_panel="Training")
    ] = DEFAULTS.seed,
    lambda_cycle: Annotated[
        float,
        typer.Option("--lambda-cycle", help="Weight of both cycle-consistency losses.", rich_help_panel="Training"),
    ] = DEFAULTS.lambda_cycle,
    lambda_interp: Annotated[
        float,
        typer.Option("--lambda-interp", help="Weight of the masked interpolation loss.", rich_help_panel="Training"),
    ] = DEFAULTS.lambda_interp,
    corrected: Annotated[
        bool,
        typer.Option(
            "--corrected",
            help="Fix the official code's quirks: per-channel bicubic target, fresh fake LR for D, aligned "
            "lr steps, mirrored imresize borders. Results then differ from the paper's code.",
            rich_help_panel="Training",
        ),
    ] = False,
    gt: Annotated[
        Path | None,
        typer.Option(
            "--gt",
            help="Ground-truth HR image (or folder, matched by name) -> Y-PSNR/SSIM.",
            rich_help_panel="Evaluation",
            show_default=False,
        ),
    ] = None,
    gt_kernel: Annotated[
        Path | None,
        typer.Option(
            "--gt-kernel",
            help="True blur kernel .mat (or folder of <stem>.mat) -> kernel error.",
            rich_help_panel="Evaluation",
            show_default=False,
        ),
    ] = None,
    save_kernel: Annotated[
        bool,
        typer.Option(
            "--save-kernel",
            help="Also write OUT/<stem>_kernel_x2.png: the estimated kernel as a colour map with its sum and centre "
            "of mass; with --gt-kernel the true kernel beside it on the same scale and their difference.",
            rich_help_panel="Output",
        ),
    ] = False,
    save_comparison: Annotated[
        bool,
        typer.Option(
            "--save-comparison",
            help="Also write OUT/<stem>_comparison_x2.png: bicubic vs srx (and --gt) side by side, the crop where "
            "they differ most at native resolution.",
            rich_help_panel="Output",
        ),
    ] = False,
    batch_images: Annotated[
        int,
        typer.Option(
            "--batch-images",
            help="Train this many images at once in one process (independent runs in lockstep; each result "
            "equals its single run up to float rounding). Images with different crop sizes train apart.",
            rich_help_panel="Batching and GPU",
        ),
    ] = BATCH_DEFAULTS.images,
    ensemble: Annotated[
        int,
        typer.Option(
            "--ensemble",
            help="Train K runs per image with seeds seed..seed+K-1 and write their average image and average "
            "kernel (the JSON gives the kernels' spread). K=3 at paper settings: +0.40 dB over the mean "
            "single run, +0.23 over the best, on the four-photo benchmark (README); K times the training time.",
            rich_help_panel="Batching and GPU",
        ),
    ] = BATCH_DEFAULTS.ensemble,
    precision: Annotated[
        str,
        typer.Option(
            "--precision",
            help="CUDA training arithmetic: fp32 (default, exact), tf32 or bf16 (autocast). CPU: fp32 only.",
            rich_help_panel="Batching and GPU",
        ),
    ] = BATCH_DEFAULTS.precision,
    cuda_graphs: Annotated[
        bool,
        typer.Option(
            "--cuda-graphs",
            help="Replay the fixed-shape training step as a CUDA graph (CUDA only; unmeasured, see README).",
            rich_help_panel="Batching and GPU",
        ),
    ] = BATCH_DEFAULTS.cuda_graphs,
    skip_existing: SkipExistingOption = False,
    device: DeviceOption = DEFAULTS.device,
    tile: TileOption = DEFAULTS.tile,
    quiet: QuietOption = False,
    json_path: ZeroShotJsonOption = None,
) -> None:
    with user_errors():
        from ..engine.zero_shot.config import OfficialQuirks
        from ..engine.zero_shot.folder import FolderOptions, plan_folder, zero_shot_folder
        from ..engine.zero_shot.pipeline import Hooks
        from ..files import list_inputs, shard
        from ..runtime.device import resolve_device
        from ..runtime.dist import init_from_env, shutdown
        from ..validation import check_name_part, check_output_file
        from ._progress import CommandProgress, format_losses

        if x4_method is not None and scale != 4:
            raise ConfigError("--x4-method applies to --scale 4 only")
        method = {} if x4_method is None else {"x4_method": x4_method.strip().lower()}
        if back_projection is not None:
            check_back_projection_applies(scale, method.get("x4_method", DEFAULTS.x4_method))
            method["back_projection_steps"] = back_projection
        config = ZeroShotConfig(
            scale=scale,
            **method,
            iters=iters,
            seed=seed,
            lambda_cycle=lambda_cycle,
            lambda_interp=lambda_interp,
            quirks=OfficialQuirks.corrected() if corrected else OfficialQuirks(),
            device=device,
            tile=tile,
        )
        settings = BatchSettings(images=batch_images, ensemble=ensemble, precision=precision, cuda_graphs=cuda_graphs)
        target_device = resolve_device(config.device)  # an unknown or absent device: refused before any image is read
        if settings.needs_batched_engine:
            settings.check(config, target_device)
        if json_path is not None:
            check_output_file(json_path, "--json")  # found now, not after hours of training
        if suffix:
            check_name_part("--suffix", suffix)
        listing = list_inputs(gather_inputs(inputs, input_flag))
        for message in listing.skipped:
            warn(message)
        options = FolderOptions(
            out=out,
            suffix=suffix,
            ext=(ext or Ext.png).value,
            gt=gt,
            gt_kernel=gt_kernel,
            kernel_png=save_kernel,
            comparison_png=save_comparison,
            skip_existing=skip_existing,
        )
        jobs = plan_folder(listing.images, config, options)

        # Under torchrun every rank takes images r, r+N, ... and rank 0 writes the merged summary.
        dist = init_from_env()
        summary = {"srx_version": __version__, "command": "zero-shot", "config": config.to_dict(), "images": []}
        to_file = json_path is not None and not json_to_stdout(json_path) and not dist.distributed
        report = report_console(json_path)
        try:
            items = len(shard(jobs, dist.rank, dist.world_size))
            with CommandProgress(quiet=quiet or not dist.is_main, items=items) as progress:
                stage_of_next_run: list[tuple[int, int, str]] = []

                def on_stage(stage: int, stages: int, what: str) -> None:
                    stage_of_next_run.append((stage, stages, what))

                def on_start(name: str, total: int) -> None:
                    """A training run starts; the second run of x4 'twice' continues the same image's row."""
                    stage = stage_of_next_run.pop() if stage_of_next_run else None
                    if stage is None:
                        progress.start_item(name, total, action="training", unit="it")
                        return
                    label = f"{name} · stage {stage[0]}/{stage[1]} ({stage[2]})"
                    if stage[0] == 1:
                        progress.start_item(label, total, action="training", unit="it")
                    else:
                        progress.next_stage(label, total, action="training", unit="it")

                def on_result(result) -> None:
                    """One image at a time: its summary line and JSON as soon as it is done."""
                    if not progress.open:  # skipped, or a later image of a batch that trained together
                        progress.start_item(Path(result.input).name)
                    progress.finish_item(skipped=result.skipped)
                    _report(result, quiet, lambda text: progress.print(text, report))
                    summary["images"].append(result.__dict__)
                    if to_file:
                        write_json(json_path, summary)

                hooks = Hooks(
                    on_start=on_start,
                    on_stage=on_stage,
                    on_step=lambda iteration, losses: progress.step(iteration, detail=format_losses(losses)),
                    on_inference=lambda done, total: progress.detail(f"tile {done}/{total}", action="upscaling"),
                    warn=warn,
                )
                results = zero_shot_folder(jobs, config, settings, options, dist=dist, hooks=hooks, on_result=on_result)
            if not dist.distributed and (closing := progress.summary()):
                report.print(closing)
            summary["images"] = [result.__dict__ for result in results]
            if json_path is not None and dist.is_main and not to_file:
                write_json(json_path, summary)
        finally:
            shutdown(dist)


def _report(result, quiet: bool, say) -> None:
    if quiet:
        return
    if result.skipped:
        say(f"skipped {result.input}: {result.output} exists")
        return
    w, h = result.input_size
    line = (
        f"{result.input} ({w}x{h}) -> {result.output} ({result.output_size[0]}x{result.output_size[1]}), "
        f"kernel -> {result.kernel_mat}; {result.iterations} iterations in {result.train_seconds / 60:.1f} min "
        f"({result.seconds_per_iteration:.3f} s/it) on {result.device}"
    )
    say(line)
    pictures = [path for path in (result.kernel_png, result.comparison_png) if path]
    if pictures:
        say(f"  figures: {', '.join(pictures)}")
    spread = result.batch.get("kernel_spread")
    if spread:
        say(
            f"  ensemble of {len(result.batch['seeds'])} seeds: kernel spread (per-tap std) RMS "
            f"{spread['rms_tap_std']:.2e}, max {spread['max_tap_std']:.2e}"
        )
    metrics = result.metrics
    for stage in result.stages if len(result.stages) > 1 else []:
        say(f"  stage {stage['stage']}: {stage['iterations']} iterations in {stage['train_seconds'] / 60:.1f} min")
    if "psnr_y" in metrics:
        say(
            f"  Y-PSNR {metrics['psnr_y']:.2f} dB   SSIM {metrics['ssim_y']:.4f}   "
            f"(MATLAB convention, border {result.scale})"
        )
    if "kernel" in metrics:
        k = metrics["kernel"]
        say(
            f"  kernel error L2 {k['l2']:.4f}  MSE {k['mse']:.2e}   downsampler Y-PSNR "
            f"{metrics['downsampler_psnr_y']:.2f} dB   (estimated kernel sum {k['estimated_sum']:.3f})"
        )
