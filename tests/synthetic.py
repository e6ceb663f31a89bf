"""Small DRealSR-layout datasets built from real photos, where each "camera" has a known degradation.

Used by the adaptation tests and evidence benchmarks: the photos are scikit-image's real images, each
camera blurs with its own anisotropic Gaussian kernel, subsamples by ``scale`` and adds its own Gaussian
noise, and files are named with the camera prefixes of DRealSR (``sony_``, ``panasonic_``, ``P114``
for Olympus, ``DSC_`` for Nikon, ``Canon_``). ``make_div2krk`` writes a DIV2KRK-layout set the same way
(one known kernel per image), for the report screenshot benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.io import savemat

from dualsr_cli.image_io import quantize, write_image
from dualsr_cli.ops.kernels import anisotropic_gaussian_kernel, blur_and_subsample

PREFIXES = {
    "sony": "sony_{n}",
    "panasonic": "panasonic_{n}",
    "olympus": "P114{n:04d}",
    "nikon": "DSC_{n:04d}",
    "canon": "Canon_{n}",
}
PHOTOS = (
    "astronaut",
    "chelsea",
    "coffee",
    "motorcycle_left",
    "rocket",
    "hubble_deep_field",
    "retina",
    "brick",
    "gravel",
    "grass",
    "immunohistochemistry",
)


@dataclass(frozen=True)
class CameraModel:
    kernel: np.ndarray
    noise_sigma: float  # in [0, 1] units, added to the LR


def load_photos() -> list[np.ndarray]:
    """Real photos shipped with scikit-image (RGB float in [0, 1]); grayscale ones are replicated."""
    import imageio.v3 as iio
    import skimage

    folder = Path(skimage.__file__).parent / "data"
    photos = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in (".png", ".jpg") or path.stat().st_size < 50_000:
            continue
        image = np.asarray(iio.imread(path))
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if image.ndim != 3 or min(image.shape[:2]) < 256 or image.dtype != np.uint8:
            continue
        photos.append(image[:, :, :3] / 255.0)
    return photos


def camera_models(names: list[str], scale: int = 4, seed: int = 0) -> dict[str, CameraModel]:
    """A distinct blur kernel (DIV2KRK-style, wider or narrower per camera) and noise level per camera."""
    rng = np.random.default_rng(seed)
    size = 11 if scale == 2 else 21
    models = {}
    for i, name in enumerate(names):
        low, high = (0.6 + 1.5 * i, 2.0 + 2.5 * i)
        kernel = anisotropic_gaussian_kernel(
            rng, size=size, scale=scale, variance_range=(low * scale / 2, high * scale / 2)
        )
        models[name] = CameraModel(kernel=kernel, noise_sigma=0.005 + 0.015 * i)
    return models


def degrade(hr: np.ndarray, model: CameraModel, scale: int, rng: np.random.Generator) -> np.ndarray:
    lr = blur_and_subsample(hr, model.kernel, scale)
    return np.clip(lr + rng.normal(0.0, model.noise_sigma, lr.shape), 0.0, 1.0)


def make_drealsr(
    root: str | Path,
    cameras: dict[str, CameraModel],
    *,
    scale: int = 4,
    train_patches: int = 24,
    test_images: int = 2,
    patch_hr: int = 96,
    test_hr: int = 128,
    seed: int = 0,
) -> Path:
    """Write ``root/x<s>/Train_x<s>/train_HR|train_LR`` and ``Test_x<s>/test_HR|test_LR``; returns ``root``.

    Each camera takes its training patches from one half of every photo and its test images from the other
    half, so no test content is seen in training.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    photos = load_photos()
    base = root / f"x{scale}"
    for c, (camera, model) in enumerate(cameras.items()):
        prefix = PREFIXES[camera]
        for k in range(train_patches):
            photo = photos[(k + c) % len(photos)]
            h, w = photo.shape[:2]
            top = int(rng.integers(0, h // 2 - patch_hr))
            left = int(rng.integers(0, w - patch_hr))
            hr = photo[top : top + patch_hr, left : left + patch_hr]
            hr = quantize(hr, 8) / 255.0
            stem = prefix.format(n=k // 4 + 1)
            write_image(base / f"Train_x{scale}" / "train_HR" / f"{stem}_x{scale}_{k % 4}.png", hr, mkdir=True)
            lr = degrade(hr, model, scale, rng)
            write_image(base / f"Train_x{scale}" / "train_LR" / f"{stem}_x1_{k % 4}.png", lr, mkdir=True)
        for t in range(test_images):
            photo = photos[(t * 3 + c + 1) % len(photos)]
            h, w = photo.shape[:2]
            top = int(rng.integers(h // 2, h - test_hr))
            left = int(rng.integers(0, w - test_hr))
            hr = quantize(photo[top : top + test_hr, left : left + test_hr], 8) / 255.0
            stem = prefix.format(n=100 + t)
            write_image(base / f"Test_x{scale}" / "test_HR" / f"{stem}_x{scale}.png", hr, mkdir=True)
            write_image(
                base / f"Test_x{scale}" / "test_LR" / f"{stem}_x1.png", degrade(hr, model, scale, rng), mkdir=True
            )
    return root


def make_div2krk(root: str | Path, *, images: int = 3, hr_size: int = 192, scale: int = 2, seed: int = 0) -> Path:
    """A small DIV2KRK-layout set from real photos: ``gt/img_<n>_gt.png``, ``lr_x<s>/im_<n>.png`` and the
    true kernels ``gt_k_x<s>/kernel_<n>.mat`` (random anisotropic Gaussians, as in the DIV2KRK protocol)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    photos = load_photos()
    for n in range(1, images + 1):
        photo = photos[(n - 1) % len(photos)]
        top, left = (photo.shape[0] - hr_size) // 2, (photo.shape[1] - hr_size) // 2
        hr = quantize(photo[top : top + hr_size, left : left + hr_size], 8) / 255.0
        kernel = anisotropic_gaussian_kernel(rng, size=11 if scale == 2 else 21, scale=scale)
        write_image(root / "gt" / f"img_{n}_gt.png", hr, mkdir=True)
        lr = np.clip(blur_and_subsample(hr, kernel, scale), 0, 1)
        write_image(root / f"lr_x{scale}" / f"im_{n}.png", lr, mkdir=True)
        (root / f"gt_k_x{scale}").mkdir(exist_ok=True)
        savemat(root / f"gt_k_x{scale}" / f"kernel_{n}.mat", {"Kernel": kernel})
    return root
