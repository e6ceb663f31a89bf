"""``srx zero-shot``: options -> ZeroShotConfig -> engine.zero_shot.pipeline, one image at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._version import __version__
from ..errors import ImageReadError
from ._common import (
    DeviceOption,
    JsonOption,
    QuietOption,
    SkipExistingOption,
    TileOption,
    stdout,
    user_errors,
    warn,
    write_json,
)

HELP = "\n\n".join(
    [
        "Super-resolve photos x2 with DualSR (Emad et al., WACV 2021), trained from scratch on each image.",
        "For every image srx trains an upsampler, a KernelGAN-style linear downsampler and a patch discriminator "
        "on crops of that image alone (no pretrained weights), then upscales it and exports the estimated blur "
        "kernel. Defaults reproduce the official code, including its quirks (see --corrected). A 3000-iteration "
        "run takes about 20 minutes per image on 2 CPU cores; --iters trades quality for time.",
        "Writes OUT/<stem>_x2.png (same bit depth, alpha and grayscale as the input) and "
        "OUT/<stem>_kernel_x2.mat (variable 'Kernel': the raw 13x13 correlation kernel, as DualSR saves it).",
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


def zero_shot(
    inputs: Annotated[
        list[Path],
        typer.Argument(help="Image files and/or folders of images (sorted, not recursive).", show_default=False),
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="Output folder, or an output file name when there is one input.",
            rich_help_panel="Output",
        ),
    ] = Path("results"),
    scale: Annotated[int, typer.Option("--scale", "-s", help="Upscaling factor (only 2 for now).")] = 2,
    iters: Annotated[
        int,
        typer.Option("--iters", help="Training iterations per image (paper: 3000).", rich_help_panel="Training"),
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
            help="Also write a PNG picture of the estimated kernel.",
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
    json_path: JsonOption = None,
) -> None:
    with user_errors():
        from ..engine.zero_shot.batched import BatchJob, BatchSettings, zero_shot_batch
        from ..engine.zero_shot.config import OfficialQuirks, ZeroShotConfig
        from ..engine.zero_shot.pipeline import Hooks, validate_input, zero_shot_image
        from ..files import list_inputs, plan_outputs, shard
        from ..runtime.device import resolve_device
        from ..runtime.dist import init_from_env, shutdown
        from ._progress import TrainingProgress

        config = ZeroShotConfig(
            scale=scale,
            iters=iters,
            seed=seed,
            lambda_cycle=lambda_cycle,
            lambda_interp=lambda_interp,
            quirks=OfficialQuirks.corrected() if corrected else OfficialQuirks(),
            device=device,
            tile=tile,
        )
        settings = BatchSettings(images=batch_images, ensemble=ensemble, precision=precision, cuda_graphs=cuda_graphs)
        if settings.needs_batched_engine:
            settings.check(config, resolve_device(config.device))
        listing = list_inputs(inputs)
        for message in listing.skipped:
            warn(message)
        outputs = plan_outputs(listing.images, out, suffix=f"_x{scale}")
        gts = [
            _match_companion(image, gt, (".png", ".jpg", ".tif", ".webp"), "ground truth") for image in listing.images
        ]
        kernels = [_match_companion(image, gt_kernel, (".mat",), "ground-truth kernel") for image in listing.images]
        for image, target in zip(listing.images, outputs, strict=True):  # fail before any training starts
            if not (skip_existing and target.exists()):
                validate_input(image)

        # Under torchrun every rank takes images r, r+N, ... and rank 0 writes the merged summary.
        dist = init_from_env()
        jobs = shard(list(zip(listing.images, outputs, gts, kernels, strict=True)), dist.rank, dist.world_size)
        summary = {"srx_version": __version__, "command": "zero-shot", "config": config.to_dict(), "images": []}
        to_file = json_path is not None and str(json_path) != "-" and not dist.distributed
        try:
            with TrainingProgress(quiet=quiet or not dist.is_main, total_images=len(jobs)) as progress:
                hooks = Hooks(on_start=progress.on_start, on_step=progress.on_step,
                              on_inference=progress.on_inference, warn=warn)  # fmt: skip
                if settings.needs_batched_engine:
                    results = zero_shot_batch(
                        [BatchJob(*job) for job in jobs],
                        config,
                        settings,
                        kernel_png=save_kernel,
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
                            skip_existing=skip_existing,
                            hooks=hooks,
                        )
                        for image, target, gt_file, kernel_file in jobs
                    )
                for result in results:  # one image at a time: its summary line and JSON as soon as it is done
                    _report(result, quiet)
                    summary["images"].append(result.__dict__)
                    if to_file:
                        write_json(json_path, summary)
            summary["images"] = _gather_in_input_order(summary["images"], listing.images, dist)
            if json_path is not None and dist.is_main and not to_file:
                write_json(json_path, summary)
        finally:
            shutdown(dist)


def _gather_in_input_order(entries: list[dict], images: list[Path], dist) -> list[dict]:
    """All ranks' per-image summaries, in the order the inputs were given."""
    if dist.distributed:
        import torch.distributed

        parts: list[list[dict] | None] = [None] * dist.world_size
        torch.distributed.all_gather_object(parts, entries)
        entries = [entry for part in parts if part for entry in part]
    position = {str(path): i for i, path in enumerate(images)}
    return sorted(entries, key=lambda entry: position.get(entry["input"], len(position)))


def _report(result, quiet: bool) -> None:
    if quiet:
        return
    if result.skipped:
        stdout.print(f"skipped {result.input}: {result.output} exists")
        return
    w, h = result.input_size
    line = (
        f"{result.input} ({w}x{h}) -> {result.output} ({result.output_size[0]}x{result.output_size[1]}), "
        f"kernel -> {result.kernel_mat}; {result.iterations} iterations in {result.train_seconds / 60:.1f} min "
        f"({result.seconds_per_iteration:.3f} s/it) on {result.device}"
    )
    stdout.print(line)
    spread = result.batch.get("kernel_spread")
    if spread:
        stdout.print(
            f"  ensemble of {len(result.batch['seeds'])} seeds: kernel spread (per-tap std) RMS "
            f"{spread['rms_tap_std']:.2e}, max {spread['max_tap_std']:.2e}"
        )
    metrics = result.metrics
    if "psnr_y" in metrics:
        stdout.print(
            f"  Y-PSNR {metrics['psnr_y']:.2f} dB   SSIM {metrics['ssim_y']:.4f}   (MATLAB convention, border 2)"
        )
    if "kernel" in metrics:
        k = metrics["kernel"]
        stdout.print(
            f"  kernel error L2 {k['l2']:.4f}  MSE {k['mse']:.2e}   downsampler Y-PSNR "
            f"{metrics['downsampler_psnr_y']:.2f} dB   (estimated kernel sum {k['estimated_sum']:.3f})"
        )
