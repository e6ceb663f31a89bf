"""``srx zero-shot``: options -> ZeroShotConfig -> engine.zero_shot.pipeline, one image at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._version import __version__
from ..engine.zero_shot.config import DEFAULT_X4_METHOD
from ..errors import ConfigError, ImageReadError
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


def _match_companion(image: Path, source: Path | None, suffixes: tuple[str, ...], what: str) -> Path | None:
    """Find the GT image / kernel for ``image``: ``source`` itself, or in a folder by name or stem."""
    if source is None:
        return None
    if not source.is_dir():
        if not source.exists():
            raise ImageReadError(f"{what} not found: '{source}'")
        return source
    candidates = [source / image.name, *(source / f"{image.stem}{suffix}" for suffix in suffixes)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ImageReadError(f"no {what} for '{image.name}' in '{source}' (looked for {image.name} or {image.stem}.*)")


SuffixOption = suffix_option("x<scale>")
ZeroShotExtOption = ext_option(Ext.png)
ZeroShotJsonOption = json_option("per image: outputs, sizes, timings, final losses, metrics; the config")


def zero_shot(
    inputs: InputsArgument = None,
    input_flag: InputOption = None,
    out: OutOption = Path("results"),
    suffix: SuffixOption = None,
    ext: ZeroShotExtOption = None,
    scale: Annotated[int, typer.Option("--scale", help="The upscaling factor: 2 or 4.")] = 2,
    x4_method: Annotated[
        str | None,
        typer.Option(
            "--x4-method",
            help="How --scale 4 trains: 'joint' (one run with an x4 upsampler and the x2 kernel applied twice; "
            "about the x2 time) or 'twice' (DualSR x2, then a fresh DualSR x2 on its result; 2x or more). "
            f"[default: {DEFAULT_X4_METHOD}]",
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
    ] = 3000,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed for weights and crop sampling.", rich_help_panel="Training")
    ] = 0,
    lambda_cycle: Annotated[
        float,
        typer.Option("--lambda-cycle", help="Weight of both cycle-consistency losses.", rich_help_panel="Training"),
    ] = 5.0,
    lambda_interp: Annotated[
        float,
        typer.Option("--lambda-interp", help="Weight of the masked interpolation loss.", rich_help_panel="Training"),
    ] = 2.0,
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
    ] = 1,
    ensemble: Annotated[
        int,
        typer.Option(
            "--ensemble",
            help="Train K runs per image with seeds seed..seed+K-1 and write their average image and average "
            "kernel (the JSON gives the kernels' spread). Quality gain unmeasured at paper settings (README).",
            rich_help_panel="Batching and GPU",
        ),
    ] = 1,
    precision: Annotated[
        str,
        typer.Option(
            "--precision",
            help="CUDA training arithmetic: fp32 (default, exact), tf32 or bf16 (autocast). CPU: fp32 only.",
            rich_help_panel="Batching and GPU",
        ),
    ] = "fp32",
    cuda_graphs: Annotated[
        bool,
        typer.Option(
            "--cuda-graphs",
            help="Replay the fixed-shape training step as a CUDA graph (CUDA only; unmeasured, see README).",
            rich_help_panel="Batching and GPU",
        ),
    ] = False,
    skip_existing: SkipExistingOption = False,
    device: DeviceOption = "auto",
    tile: TileOption = None,
    quiet: QuietOption = False,
    json_path: ZeroShotJsonOption = None,
) -> None:
    with user_errors():
        from ..engine.zero_shot.batched import BatchJob, BatchSettings, zero_shot_batch
        from ..engine.zero_shot.config import OfficialQuirks, ZeroShotConfig
        from ..engine.zero_shot.pipeline import Hooks, validate_input, zero_shot_image
        from ..files import list_inputs, output_extension, plan_outputs, shard
        from ..image_io import check_output_format
        from ..runtime.device import resolve_device
        from ..runtime.dist import init_from_env, shutdown
        from ..validation import check_name_part, check_output_file
        from ._progress import CommandProgress, format_losses

        if x4_method is not None and scale != 4:
            raise ConfigError("--x4-method applies to --scale 4 only")
        method = {} if x4_method is None else {"x4_method": x4_method.strip().lower()}
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
        label = f"x{scale}" if suffix is None else suffix
        # A JPEG input has no alpha, so only an explicit --ext jpg can meet one: refused below, before training.
        extensions = [
            output_extension(image, (ext or Ext.png).value, has_alpha=False, explicit=False) for image in listing.images
        ]
        outputs = plan_outputs(listing.images, out, f"_{label}" if label else "", extensions)
        gts = [
            _match_companion(image, gt, (".png", ".jpg", ".tif", ".webp"), "ground truth") for image in listing.images
        ]
        kernels = [_match_companion(image, gt_kernel, (".mat",), "ground-truth kernel") for image in listing.images]
        for image, target in zip(listing.images, outputs, strict=True):  # fail before any training starts
            if not (skip_existing and target.exists()):
                check_output_format(target, has_alpha=validate_input(image).alpha is not None)

        # Under torchrun every rank takes images r, r+N, ... and rank 0 writes the merged summary.
        dist = init_from_env()
        jobs = shard(list(zip(listing.images, outputs, gts, kernels, strict=True)), dist.rank, dist.world_size)
        summary = {"srx_version": __version__, "command": "zero-shot", "config": config.to_dict(), "images": []}
        to_file = json_path is not None and not json_to_stdout(json_path) and not dist.distributed
        report = report_console(json_path)
        try:
            with CommandProgress(quiet=quiet or not dist.is_main, items=len(jobs)) as progress:
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

                hooks = Hooks(
                    on_start=on_start,
                    on_stage=on_stage,
                    on_step=lambda iteration, losses: progress.step(iteration, detail=format_losses(losses)),
                    on_inference=lambda done, total: progress.detail(f"tile {done}/{total}", action="upscaling"),
                    warn=warn,
                )
                if settings.needs_batched_engine:
                    results = zero_shot_batch(
                        [BatchJob(*job) for job in jobs],
                        config,
                        settings,
                        kernel_png=save_kernel,
                        comparison_png=save_comparison,
                        skip_existing=skip_existing,
                        hooks=hooks,
                    )
                else:
                    results = (
                        zero_shot_image(
                            image,
                            target,
                            config,
                            gt_path=gt_file,
                            gt_kernel_path=kernel_file,
                            kernel_png=save_kernel,
                            comparison_png=save_comparison,
                            skip_existing=skip_existing,
                            hooks=hooks,
                        )
                        for image, target, gt_file, kernel_file in jobs
                    )
                for result in results:  # one image at a time: its summary line and JSON as soon as it is done
                    if not progress.open:  # skipped, or a later image of a batch that trained together
                        progress.start_item(Path(result.input).name)
                    progress.finish_item(skipped=result.skipped)
                    _report(result, quiet, lambda text: progress.print(text, report))
                    summary["images"].append(result.__dict__)
                    if to_file:
                        write_json(json_path, summary)
            if not dist.distributed and (closing := progress.summary()):
                report.print(closing)
            summary["images"] = _gather_in_input_order(summary["images"], listing.images, dist)
            if json_path is not None and dist.is_main and not to_file:
                write_json(json_path, summary)
        finally:
            shutdown(dist)


def _gather_in_input_order(entries: list[dict], images: list[Path], dist) -> list[dict]:
    """All ranks' per-image summaries, in the order the inputs were given."""
    entries = [entry for part in dist.all_gather(entries) for entry in part]
    position = {str(path): i for i, path in enumerate(images)}
    return sorted(entries, key=lambda entry: position.get(entry["input"], len(position)))


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
