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

from ...errors import ImageReadError, ImageSizeError, ImageWriteError
from ...image_io import (
    ImageData,
    atomic_output,
    check_output_format,
    ensure_writable_dir,
    output_bit_depth,
    quantize,
    read_header,
    read_image,
    write_image,
)
from ...metrics.kernel import kernel_error
from ...metrics.psnr import psnr_y
from ...metrics.ssim import ssim_y
from ...ops.kernels import downscale_with_kernel, shift_kernel
from ...runtime.device import configure_determinism, describe, resolve_device
from ..postprocess import from_network_output, to_network_input
from .config import HR_CROP, MAX_INPUT_MEGAPIXELS, MIN_IMAGE_SIDE, TRAINING_BORDER, ZeroShotConfig
from .trainer import DualSRTrainer, StepLosses


@dataclass
class Hooks:
    """Optional callbacks through which a front end shows progress; the library itself prints nothing."""

    on_start: Callable[[str, int], None] | None = None
    on_step: Callable[[int, StepLosses], None] | None = None
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
    batch: dict[str, object] = field(default_factory=dict)  # batched/ensemble runs: who trained together


def kernel_path_for(output: Path, input_path: Path, scale: int) -> Path:
    return output.parent / f"{input_path.stem}_kernel_x{scale}.mat"


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
    check_input_size(*read_header(path), path)
    image = read_image(path)
    check_input_size(image.width, image.height, path)
    return image


def load_kernel_mat(path: Path) -> np.ndarray:
    """A 2-D kernel from a .mat file: variable ``Kernel`` (DualSR/KernelGAN), ``ker`` (BlindSR) or the only one."""
    from scipy.io import loadmat

    if not path.is_file():
        raise ImageReadError(f"kernel file not found: '{path}'")
    try:
        contents = loadmat(path)
    except Exception as exc:
        raise ImageReadError(f"cannot read kernel '{path}': not a MATLAB .mat file ({exc})") from None
    arrays = {k: v for k, v in contents.items() if not k.startswith("__")}
    kernel = arrays.get("Kernel", arrays.get("ker"))
    if kernel is None and len(arrays) == 1:
        kernel = next(iter(arrays.values()))
    if kernel is None:
        raise ImageReadError(
            f"cannot read kernel '{path}': no variable 'Kernel' (found: {', '.join(arrays) or 'none'})"
        )
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1] or kernel.sum() <= 0:
        raise ImageReadError(f"cannot read kernel '{path}': expected a square 2-D kernel with positive sum")
    return kernel


def load_ground_truth(path: Path, sr_height: int, sr_width: int) -> np.ndarray:
    """GT as (H, W, 3|1) floats in [0, 1], cropped at the bottom/right when it is at most one pixel larger."""
    gt = read_image(path)
    if not (sr_height <= gt.height <= sr_height + 1 and sr_width <= gt.width <= sr_width + 1):
        raise ImageSizeError(
            f"ground truth '{path}' is {gt.width}x{gt.height} but the x2 result is {sr_width}x{sr_height}"
        )
    return gt.color.astype(np.float64)[:sr_height, :sr_width] / gt.max_value


def _kernel_picture(kernel: np.ndarray, zoom: int = 16) -> np.ndarray:
    """Gray picture of a kernel: values scaled to [0, 1] by the largest tap, each tap a zoom x zoom block."""
    scaled = np.clip(kernel / max(float(np.abs(kernel).max()), 1e-12), 0.0, 1.0)
    return np.kron(scaled, np.ones((zoom, zoom)))


def write_kernel_mat(path: Path, kernel: np.ndarray) -> None:
    from scipy.io import savemat

    try:
        with atomic_output(path) as tmp:
            savemat(tmp, {"Kernel": kernel.astype(np.float32)})
    except OSError as exc:
        raise ImageWriteError(f"cannot write '{path}': {exc.strerror or exc}") from None


def _downsampler_psnr(
    downscale: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, gt_kernel: np.ndarray
) -> float:
    """DualSR's debug DN-PSNR: G_DN(image) vs the image downscaled with the centred true kernel (Y, border 2)."""
    cropped = image[..., image.shape[-2] % 2 :, image.shape[-1] % 2 :]  # official crops from the top/left
    padded = np.pad(gt_kernel, 1) if gt_kernel.shape[0] % 2 else gt_kernel
    reference_kernel = torch.as_tensor(shift_kernel(padded, 2), dtype=torch.float32)
    reference = downscale_with_kernel(cropped, reference_kernel)
    estimate = downscale(cropped)
    if reference.shape != estimate.shape:
        size = (min(reference.shape[-2], estimate.shape[-2]), min(reference.shape[-1], estimate.shape[-1]))
        reference, estimate = reference[..., : size[0], : size[1]], estimate[..., : size[0], : size[1]]
    to_uint8 = lambda t: quantize(t[0].permute(1, 2, 0).numpy(), 8).astype(np.float64) / 255.0  # noqa: E731
    return psnr_y(to_uint8(estimate), to_uint8(reference), border=2)


@dataclass
class SuperResolved:
    """Training and inference results for one image, before anything is written."""

    trainer: DualSRTrainer
    pixels: torch.Tensor  # the (1, 3, H, W) float32 input G_UP ran on
    color: np.ndarray  # (2H, 2W, 3|1) float32, unclamped; quantise to store
    alpha: np.ndarray | None  # (2H, 2W) float64 in [0, 1], bicubic x2 of the input's alpha
    kernel: np.ndarray  # raw 13x13 estimated kernel
    final_losses: StepLosses
    inference_seconds: float


def super_resolve(
    image: ImageData, config: ZeroShotConfig, device: torch.device, *, hooks: Hooks | None = None, name: str = ""
) -> SuperResolved:
    """Train DualSR on ``image`` and upscale it x2. Shared by ``srx zero-shot`` and ``srx bench``."""
    hooks = hooks or Hooks()
    check_input_size(image.width, image.height, image.path or Path(name))
    if min(image.width, image.height) < HR_CROP + 2 * TRAINING_BORDER:
        hooks.warning(
            f"{name or 'image'} is {image.width}x{image.height}: smaller than the {HR_CROP + 2 * TRAINING_BORDER} "
            "px that DualSR's 128 px crops need, training on smaller crops (quality may suffer)"
        )
    pixels = to_network_input(image)
    trainer = DualSRTrainer(image.rgb_float64(), config, device)
    if hooks.on_start is not None:
        hooks.on_start(name, config.iters)
    final_losses = trainer.train(hooks.on_step)

    start = time.perf_counter()
    upscaled = trainer.upscale(pixels, on_tile=hooks.on_inference)
    inference_seconds = time.perf_counter() - start
    color, alpha_up = from_network_output(upscaled, image)  # float32, quantised in float32 as the official
    return SuperResolved(trainer, pixels, color, alpha_up, trainer.kernel(), final_losses, inference_seconds)


@dataclass
class PreparedImage:
    """One image checked and read, with its companions and output paths, ready to train."""

    input_path: Path
    output_path: Path
    kernel_mat: Path
    kernel_image: Path | None
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
    )


def prepare_image(
    input_path: Path,
    output_path: Path,
    config: ZeroShotConfig,
    *,
    gt_path: str | Path | None,
    gt_kernel_path: str | Path | None,
    kernel_png: bool,
    hooks: Hooks,
) -> PreparedImage:
    """Everything that can fail fast, before minutes of training."""
    kernel_mat = kernel_path_for(output_path, input_path, config.scale)
    image = validate_input(input_path)
    sr_height, sr_width = image.height * config.scale, image.width * config.scale
    gt = load_ground_truth(Path(gt_path), sr_height, sr_width) if gt_path else None
    gt_kernel = load_kernel_mat(Path(gt_kernel_path)) if gt_kernel_path else None
    check_output_format(output_path, has_alpha=image.alpha is not None)
    ensure_writable_dir(output_path.parent)
    if output_bit_depth(output_path, image.bit_depth) < image.bit_depth:
        hooks.warning(f"{output_path.suffix} stores 8 bits per sample; the 16-bit input is written as 8-bit")
    kernel_image = kernel_mat.with_suffix(".png") if kernel_png else None
    return PreparedImage(input_path, output_path, kernel_mat, kernel_image, image, gt, gt_kernel)


def finish_image(
    job: PreparedImage,
    result: SuperResolved,
    config: ZeroShotConfig,
    device: torch.device,
    *,
    downscale: Callable[[torch.Tensor], torch.Tensor],
    iterations: int,
    hr_crop: int,
    train_seconds: float,
    seconds_per_iteration: float,
) -> ZeroShotResult:
    """Write the x2 image and kernel of a finished run, and score them against the ground truth if given."""
    image, color, kernel, output_path = job.image, result.color, result.kernel, job.output_path
    write_image(output_path, color, bit_depth=image.bit_depth, alpha=result.alpha)
    write_kernel_mat(job.kernel_mat, kernel)
    if job.kernel_image is not None:
        write_image(job.kernel_image, _kernel_picture(kernel), bit_depth=8)

    metrics: dict[str, object] = {}
    gt = job.gt
    if gt is not None:
        depth = output_bit_depth(output_path, image.bit_depth)
        written = quantize(color, depth).astype(np.float64) / ((1 << depth) - 1)
        if written.shape[2] != gt.shape[2]:  # gray vs colour: compare both as RGB
            written, gt = (
                np.broadcast_to(written, (*written.shape[:2], 3)),
                np.broadcast_to(gt, (*gt.shape[:2], 3)),
            )
        metrics["psnr_y"] = psnr_y(written, gt, border=config.scale)
        metrics["ssim_y"] = ssim_y(written, gt, border=config.scale)
    if job.gt_kernel is not None:
        metrics["kernel"] = kernel_error(kernel, job.gt_kernel).as_dict()
        metrics["downsampler_psnr_y"] = _downsampler_psnr(downscale, result.pixels, job.gt_kernel)

    return ZeroShotResult(
        input=str(job.input_path),
        output=str(output_path),
        kernel_mat=str(job.kernel_mat),
        kernel_png=str(job.kernel_image) if job.kernel_image else None,
        input_size=(image.width, image.height),
        output_size=(image.width * config.scale, image.height * config.scale),
        image_kind=image.describe(),
        device=describe(device),
        iterations=iterations,
        hr_crop=hr_crop,
        train_seconds=train_seconds,
        inference_seconds=result.inference_seconds,
        seconds_per_iteration=seconds_per_iteration,
        final_losses=result.final_losses.as_dict(),
        metrics=metrics,
        quirks=config.quirks.names_on(),
    )


def zero_shot_image(
    input_path: str | Path,
    output_path: str | Path,
    config: ZeroShotConfig | None = None,
    *,
    gt_path: str | Path | None = None,
    gt_kernel_path: str | Path | None = None,
    kernel_png: bool = False,
    skip_existing: bool = False,
    hooks: Hooks | None = None,
) -> ZeroShotResult:
    """Train DualSR on one image and write ``output_path`` (x2) plus ``<stem>_kernel_x2.mat`` beside it."""
    config = config or ZeroShotConfig()
    hooks = hooks or Hooks()
    input_path, output_path = Path(input_path), Path(output_path)
    if skip_existing and output_path.exists():
        return skipped_result(input_path, output_path, config)
    job = prepare_image(
        input_path,
        output_path,
        config,
        gt_path=gt_path,
        gt_kernel_path=gt_kernel_path,
        kernel_png=kernel_png,
        hooks=hooks,
    )
    device = resolve_device(config.device)
    configure_determinism(device)

    result = super_resolve(job.image, config, device, hooks=hooks, name=input_path.name)
    trainer = result.trainer
    return finish_image(
        job,
        result,
        config,
        device,
        downscale=trainer.downscale,
        iterations=trainer.iteration,
        hr_crop=trainer.hr_crop,
        train_seconds=trainer.train_seconds,
        seconds_per_iteration=trainer.train_seconds / max(trainer.iteration, 1),
    )
