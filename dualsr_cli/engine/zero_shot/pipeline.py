"""``srx zero-shot`` for one image: read, check, train, upscale, write, evaluate.

Everything a user can get wrong is checked before training starts (it takes minutes), and every file is
written atomically, so an interrupted run leaves either complete outputs or none.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ...archs.dualsr import KERNEL_SIZE
from ...atomic import ensure_writable_dir
from ...errors import ImageSizeError
from ...image_io import (
    FLOAT_BIT_DEPTH,
    ImageData,
    check_output_format,
    output_bit_depth,
    quantize,
    read_header,
    read_image,
    sample_max,
    write_image,
)
from ...kernel_io import load_kernel_mat, write_kernel_mat
from ...metrics.kernel import kernel_error
from ...metrics.psnr import psnr_y
from ...metrics.ssim import ssim_y
from ...ops.kernels import downscale_with_kernel, fit_kernel_size, shift_kernel
from ...runtime.device import configure_determinism, describe, resolve_device
from ..postprocess import from_network_output, to_network_input
from .config import HR_CROP, MAX_INPUT_MEGAPIXELS, MIN_IMAGE_SIDE, TRAINING_BORDER, ZeroShotConfig
from .trainer import DualSRTrainer, StepLosses

# Taps of the x4 downsampler: a 13x13 x2 kernel composed with a 13x13 x2 kernel (13 + 2·12 = 37).
X4_KERNEL_SUPPORT = 3 * KERNEL_SIZE - 2


@dataclass
class Hooks:
    """Optional callbacks through which a front end shows progress; the library itself prints nothing."""

    on_start: Callable[[str, int], None] | None = None
    on_step: Callable[[int, StepLosses], None] | None = None
    on_stage: Callable[[int, int, str], None] | None = None  # (stage, stages, what) before its on_start (x4 twice)
    on_inference: Callable[[int, int], None] | None = None
    warn: Callable[[str], None] | None = None

    def warning(self, message: str) -> None:
        if self.warn is not None:
            self.warn(message)


@dataclass
class ZeroShotResult:
    """What one run produced, in a form that serialises to JSON."""

    input: str
    output: str
    kernel_mat: str | None
    kernel_png: str | None
    input_size: tuple[int, int]
    output_size: tuple[int, int]
    image_kind: str
    device: str
    iterations: int
    hr_crop: int
    train_seconds: float
    inference_seconds: float
    seconds_per_iteration: float
    final_losses: dict[str, float]
    metrics: dict[str, object] = field(default_factory=dict)
    skipped: bool = False
    quirks: list[str] = field(default_factory=list)
    comparison_png: str | None = None
    scale: int = 2
    stages: list[dict] = field(default_factory=list)  # x4: one entry per training run
    batch: dict[str, object] = field(default_factory=dict)  # batched/ensemble runs: who trained together


def kernel_path_for(output: Path, input_path: Path, scale: int) -> Path:
    return output.parent / f"{input_path.stem}_kernel_x{scale}.mat"


def comparison_path_for(output: Path, input_path: Path, scale: int) -> Path:
    return output.parent / f"{input_path.stem}_comparison_x{scale}.png"


COMPARISON_CROP = 256  # side of the before/after crop, in output pixels


def write_comparison(
    path: Path, image: ImageData, sr: np.ndarray, scale: int, gt: np.ndarray | None = None, name: str = ""
) -> Path:
    """Bicubic vs srx (and the GT when known): the crop where they differ most, at native resolution."""
    from ...ops.resize import imresize
    from ...report import comparison_figure, most_different_crop

    bicubic = imresize(image.color.astype(np.float64) / image.max_value, float(scale), boundary="symmetric")
    crop = most_different_crop([bicubic, sr], None, COMPARISON_CROP)
    panels = [(f"bicubic x{scale}", bicubic), (f"srx zero-shot x{scale}", sr)]
    if gt is not None:
        panels.append(("ground truth", gt))
    note = (
        f"{name}: crop x={crop.x}, y={crop.y}, {crop.w}x{crop.h} of the {sr.shape[1]}x{sr.shape[0]} output, "
        "where bicubic and srx differ most; one image pixel per screen pixel"
    )
    return comparison_figure(path, panels, crop, note=note)


def check_input_size(width: int, height: int, path: Path) -> None:
    if min(width, height) < MIN_IMAGE_SIDE:
        raise ImageSizeError(
            f"'{path}' is {width}x{height}: DualSR needs at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} pixels "
            f"(training crops of 64 px inside a {TRAINING_BORDER} px border)"
        )
    megapixels = width * height / 1e6
    if megapixels > MAX_INPUT_MEGAPIXELS:
        raise ImageSizeError(
            f"'{path}' is {width}x{height} ({megapixels:.1f} MP): srx zero-shot accepts at most "
            f"{MAX_INPUT_MEGAPIXELS:.0f} MP per image; crop or downscale it first"
        )


def validate_input(path: Path) -> ImageData:
    """Decode ``path`` fully and check its size; a folder run calls this for every image before training."""
    check_input_size(*read_header(path, max_megapixels=MAX_INPUT_MEGAPIXELS, what="srx zero-shot"), path)
    image = read_image(path, max_megapixels=MAX_INPUT_MEGAPIXELS, what="srx zero-shot")
    check_input_size(image.width, image.height, path)
    return image


def load_ground_truth(path: Path, sr_height: int, sr_width: int, scale: int = 2) -> np.ndarray:
    """GT as (H, W, 3|1) floats in [0, 1], cropped at the bottom/right when it is less than one LR pixel larger."""
    gt = read_image(path)
    slack = scale - 1
    if not (sr_height <= gt.height <= sr_height + slack and sr_width <= gt.width <= sr_width + slack):
        raise ImageSizeError(
            f"ground truth '{path}' is {gt.width}x{gt.height} but the x{scale} result is {sr_width}x{sr_height}"
        )
    return gt.color.astype(np.float64)[:sr_height, :sr_width] / gt.max_value


def _downsampler_psnr(
    downscale: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, gt_kernel: np.ndarray, scale: int = 2
) -> float:
    """DualSR's debug DN-PSNR: G_DN(image) vs the image downscaled with the centred true kernel (Y, border 2).

    At x4 the true kernel is padded to G_DN's x4 support (37 taps: 13 composed with 13) so that both sides
    sample the same HR positions.
    """
    cropped = image[..., image.shape[-2] % scale :, image.shape[-1] % scale :]  # official crops from the top/left
    if scale == 2:
        padded = np.pad(gt_kernel, 1) if gt_kernel.shape[0] % 2 else gt_kernel
    else:
        padded = fit_kernel_size(gt_kernel, X4_KERNEL_SUPPORT)
    reference_kernel = torch.as_tensor(shift_kernel(padded, scale), dtype=torch.float32)
    reference = downscale_with_kernel(cropped, reference_kernel, stride=scale)
    estimate = downscale(cropped)
    if reference.shape != estimate.shape:
        size = (min(reference.shape[-2], estimate.shape[-2]), min(reference.shape[-1], estimate.shape[-1]))
        reference, estimate = reference[..., : size[0], : size[1]], estimate[..., : size[0], : size[1]]
    to_uint8 = lambda t: quantize(t[0].permute(1, 2, 0).numpy(), 8).astype(np.float64) / 255.0  # noqa: E731
    return psnr_y(to_uint8(estimate), to_uint8(reference), border=2)


@dataclass
class SuperResolved:
    """Training and inference results for one image, before anything is written."""

    pixels: torch.Tensor  # the (1, 3, H, W) float32 input G_UP ran on
    color: np.ndarray  # (sH, sW, 3|1) float32, unclamped; quantise to store
    alpha: np.ndarray | None  # (sH, sW) float64 in [0, 1], bicubic of the input's alpha
    kernel: np.ndarray  # x2: raw 13x13 estimated kernel; x4: 25x25 composed kernel (KernelGAN's x4 form)
    final_losses: StepLosses
    inference_seconds: float
    downscale: Callable[[torch.Tensor], torch.Tensor]  # the learned x{scale} downsampler on a full image
    iterations: int
    hr_crop: int
    train_seconds: float
    stages: list[dict] = field(default_factory=list)


def super_resolve(
    image: ImageData, config: ZeroShotConfig, device: torch.device, *, hooks: Hooks | None = None, name: str = ""
) -> SuperResolved:
    """Train DualSR on ``image`` and upscale it x2 or x4 (``x4.py``). Shared by ``srx zero-shot`` and ``srx bench``."""
    hooks = hooks or Hooks()
    check_input_size(image.width, image.height, image.path or Path(name))
    if min(image.width, image.height) < HR_CROP + 2 * TRAINING_BORDER:
        hooks.warning(
            f"{name or 'image'} is {image.width}x{image.height}: smaller than the {HR_CROP + 2 * TRAINING_BORDER} "
            "px that DualSR's 128 px crops need, training on smaller crops (quality may suffer)"
        )
    if config.scale == 4:
        from .x4 import super_resolve_x4

        return super_resolve_x4(image, config, device, hooks=hooks, name=name)
    pixels = to_network_input(image)
    trainer = DualSRTrainer(image.rgb_float64(), config, device)
    if hooks.on_start is not None:
        hooks.on_start(name, config.iters)
    final_losses = trainer.train(hooks.on_step)

    start = time.perf_counter()
    upscaled = trainer.upscale(pixels, on_tile=hooks.on_inference)
    inference_seconds = time.perf_counter() - start
    color, alpha_up = from_network_output(upscaled, image)  # float32, quantised in float32 as the official
    return SuperResolved(
        pixels,
        color,
        alpha_up,
        trainer.kernel(),
        final_losses,
        inference_seconds,
        downscale=trainer.downscale,
        iterations=trainer.iteration,
        hr_crop=trainer.hr_crop,
        train_seconds=trainer.train_seconds,
    )


@dataclass
class PreparedImage:
    """One image checked and read, with its companions and output paths, ready to train."""

    input_path: Path
    output_path: Path
    kernel_mat: Path
    kernel_image: Path | None
    comparison: Path | None
    image: ImageData
    gt: np.ndarray | None
    gt_kernel: np.ndarray | None


def skipped_result(input_path: Path, output_path: Path, config: ZeroShotConfig) -> ZeroShotResult:
    kernel_mat = kernel_path_for(output_path, input_path, config.scale)
    return ZeroShotResult(
        input=str(input_path),
        output=str(output_path),
        kernel_mat=str(kernel_mat) if kernel_mat.exists() else None,
        kernel_png=None,
        input_size=(0, 0),
        output_size=(0, 0),
        image_kind="",
        device="",
        iterations=0,
        hr_crop=0,
        train_seconds=0.0,
        inference_seconds=0.0,
        seconds_per_iteration=0.0,
        final_losses={},
        skipped=True,
        scale=config.scale,
    )


def prepare_image(
    input_path: Path,
    output_path: Path,
    config: ZeroShotConfig,
    *,
    gt_path: str | Path | None,
    gt_kernel_path: str | Path | None,
    kernel_png: bool,
    comparison_png: bool = False,
    hooks: Hooks,
) -> PreparedImage:
    """Everything that can fail fast, before minutes of training."""
    kernel_mat = kernel_path_for(output_path, input_path, config.scale)
    image = validate_input(input_path)
    sr_height, sr_width = image.height * config.scale, image.width * config.scale
    gt = load_ground_truth(Path(gt_path), sr_height, sr_width, config.scale) if gt_path else None
    gt_kernel = load_kernel_mat(Path(gt_kernel_path)) if gt_kernel_path else None
    check_output_format(output_path, has_alpha=image.alpha is not None)
    ensure_writable_dir(output_path.parent)
    stored_depth = output_bit_depth(output_path, image.bit_depth)
    if stored_depth < image.bit_depth:
        source = "float32" if image.bit_depth == FLOAT_BIT_DEPTH else f"{image.bit_depth}-bit"
        hooks.warning(
            f"{output_path.suffix} stores {stored_depth} bits per sample; the {source} input is written "
            f"as {stored_depth}-bit"
        )
    kernel_image = kernel_mat.with_suffix(".png") if kernel_png else None
    comparison = comparison_path_for(output_path, input_path, config.scale) if comparison_png else None
    return PreparedImage(input_path, output_path, kernel_mat, kernel_image, comparison, image, gt, gt_kernel)


def finish_image(
    job: PreparedImage, result: SuperResolved, config: ZeroShotConfig, device: torch.device
) -> ZeroShotResult:
    """Write the image, kernel and figures of a finished run, and score them against the ground truth if given."""
    image, color, kernel, output_path = job.image, result.color, result.kernel, job.output_path
    write_image(
        output_path, color, bit_depth=image.bit_depth, alpha=result.alpha, metadata=image.metadata, scale=config.scale
    )
    write_kernel_mat(job.kernel_mat, kernel)
    if job.kernel_image is not None:
        from ...report import kernel_figure

        title = f"{job.input_path.name}: estimated kernel"
        kernel_figure(job.kernel_image, kernel, job.gt_kernel, scale=config.scale, title=title)
    if job.comparison is not None:
        write_comparison(job.comparison, image, color, config.scale, job.gt, name=job.input_path.name)

    metrics: dict[str, object] = {}
    gt = job.gt
    if gt is not None:
        depth = output_bit_depth(output_path, image.bit_depth)
        written = quantize(color, depth).astype(np.float64) / sample_max(depth)
        if written.shape[2] != gt.shape[2]:  # gray vs colour: compare both as RGB
            written, gt = (
                np.broadcast_to(written, (*written.shape[:2], 3)),
                np.broadcast_to(gt, (*gt.shape[:2], 3)),
            )
        metrics["psnr_y"] = psnr_y(written, gt, border=config.scale)
        metrics["ssim_y"] = ssim_y(written, gt, border=config.scale)
    if job.gt_kernel is not None:
        metrics["kernel"] = kernel_error(kernel, job.gt_kernel, scale=config.scale).as_dict()
        metrics["downsampler_psnr_y"] = _downsampler_psnr(result.downscale, result.pixels, job.gt_kernel, config.scale)

    return ZeroShotResult(
        input=str(job.input_path),
        output=str(output_path),
        kernel_mat=str(job.kernel_mat),
        kernel_png=str(job.kernel_image) if job.kernel_image else None,
        input_size=(image.width, image.height),
        output_size=(image.width * config.scale, image.height * config.scale),
        image_kind=image.describe(),
        device=describe(device),
        iterations=result.iterations,
        hr_crop=result.hr_crop,
        train_seconds=result.train_seconds,
        inference_seconds=result.inference_seconds,
        seconds_per_iteration=result.train_seconds / max(result.iterations, 1),
        final_losses=result.final_losses.as_dict(),
        metrics=metrics,
        quirks=config.quirks.names_on(),
        comparison_png=str(job.comparison) if job.comparison else None,
        scale=config.scale,
        stages=result.stages,
    )


def zero_shot_image(
    input_path: str | Path,
    output_path: str | Path,
    config: ZeroShotConfig | None = None,
    *,
    gt_path: str | Path | None = None,
    gt_kernel_path: str | Path | None = None,
    kernel_png: bool = False,
    comparison_png: bool = False,
    skip_existing: bool = False,
    hooks: Hooks | None = None,
) -> ZeroShotResult:
    """Train DualSR on one image and write ``output_path`` (x2 or x4) plus ``<stem>_kernel_x<s>.mat`` beside it.

    ``kernel_png`` adds ``<stem>_kernel_x<s>.png`` (a figure, with the true kernel beside it when
    ``gt_kernel_path`` is given); ``comparison_png`` adds ``<stem>_comparison_x<s>.png`` (bicubic vs srx).
    """
    config = config or ZeroShotConfig()
    hooks = hooks or Hooks()
    input_path, output_path = Path(input_path), Path(output_path)
    if skip_existing and output_path.exists():
        return skipped_result(input_path, output_path, config)
    device = resolve_device(config.device)  # an absent device is refused before the output folder is made
    job = prepare_image(
        input_path,
        output_path,
        config,
        gt_path=gt_path,
        gt_kernel_path=gt_kernel_path,
        kernel_png=kernel_png,
        comparison_png=comparison_png,
        hooks=hooks,
    )
    configure_determinism(device)
    result = super_resolve(job.image, config, device, hooks=hooks, name=input_path.name)
    return finish_image(job, result, config, device)
