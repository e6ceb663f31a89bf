"""``srx zero-shot`` on many images: plan every output before any training, then train one image (or one
batch) at a time, sharded across torchrun ranks.

The command line builds a ``ZeroShotConfig``, ``BatchSettings`` and ``FolderOptions`` and calls
``plan_folder`` and ``zero_shot_folder``; a script can do the same without Typer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...errors import ImageReadError
from ...files import output_extension, plan_outputs, shard
from ...image_io import check_output_format
from ...runtime.dist import DistContext
from .batched import BatchJob, zero_shot_batch
from .config import BatchSettings, ZeroShotConfig
from .pipeline import Hooks, ZeroShotResult, validate_input, zero_shot_image

GT_SUFFIXES = (".png", ".jpg", ".tif", ".webp")


@dataclass(frozen=True)
class FolderOptions:
    """Where results go and what comes with them (``-o``, ``--suffix``, ``--ext``, ``--gt``, ``--save-*``)."""

    out: Path = Path("results")
    suffix: str | None = None  # None: "x<scale>"; "" writes <stem>.<ext>
    ext: str = "png"
    gt: Path | None = None  # an image, or a folder matched by name or stem
    gt_kernel: Path | None = None  # a .mat file, or a folder of <stem>.mat
    kernel_png: bool = False
    comparison_png: bool = False
    skip_existing: bool = False


def match_companion(image: Path, source: Path | None, suffixes: tuple[str, ...], what: str) -> Path | None:
    """The GT image / kernel for ``image``: ``source`` itself, or in a folder by name or stem."""
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


def plan_folder(images: Sequence[Path], config: ZeroShotConfig, options: FolderOptions) -> list[BatchJob]:
    """One job per image with its output, GT and kernel; every image is decoded and every output checked
    now, so a bad file is refused before hours of training, not after."""
    label = f"x{config.scale}" if options.suffix is None else options.suffix
    # A JPEG input has no alpha, so only an explicit --ext jpg can meet one: refused below, before training.
    extensions = [output_extension(image, options.ext, has_alpha=False, explicit=False) for image in images]
    outputs = plan_outputs(list(images), options.out, f"_{label}" if label else "", extensions)
    jobs = [
        BatchJob(
            image,
            target,
            match_companion(image, options.gt, GT_SUFFIXES, "ground truth"),
            match_companion(image, options.gt_kernel, (".mat",), "ground-truth kernel"),
        )
        for image, target in zip(images, outputs, strict=True)
    ]
    for job in jobs:
        if not (options.skip_existing and job.output_path.exists()):
            check_output_format(job.output_path, has_alpha=validate_input(job.input_path).alpha is not None)
    return jobs


def zero_shot_folder(
    jobs: Sequence[BatchJob],
    config: ZeroShotConfig,
    settings: BatchSettings | None = None,
    options: FolderOptions | None = None,
    *,
    dist: DistContext | None = None,
    hooks: Hooks | None = None,
    on_result: Callable[[ZeroShotResult], None] | None = None,
) -> list[ZeroShotResult]:
    """Train and upscale every job; under torchrun (``dist``) this rank takes jobs r, r+N, ...

    ``on_result`` sees each of this rank's results as soon as it is written. Returns every rank's results
    (on every rank), in job order.
    """
    settings = settings or BatchSettings()
    options = options or FolderOptions()
    dist = dist or DistContext()
    mine = shard(list(jobs), dist.rank, dist.world_size)
    outputs = {"kernel_png": options.kernel_png, "comparison_png": options.comparison_png}
    if settings.needs_batched_engine:
        results = zero_shot_batch(mine, config, settings, **outputs, skip_existing=options.skip_existing, hooks=hooks)
    else:
        results = (
            zero_shot_image(
                job.input_path,
                job.output_path,
                config,
                gt_path=job.gt_path,
                gt_kernel_path=job.gt_kernel_path,
                **outputs,
                skip_existing=options.skip_existing,
                hooks=hooks,
            )
            for job in mine
        )
    done = []
    for result in results:
        if on_result is not None:
            on_result(result)
        done.append(result)
    position = {str(job.input_path): i for i, job in enumerate(jobs)}
    gathered = [result for part in dist.all_gather(done) for result in part]
    return sorted(gathered, key=lambda result: position.get(str(result.input), len(position)))
