"""Tiny datasets in every supported layout, built from real photos (scikit-image data) degraded by
known kernels, so pairing and metrics are checked on real image content."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from dualsr_cli.image_io import write_image as _write_image
from dualsr_cli.ops.kernels import anisotropic_gaussian_kernel, blur_and_subsample
from tests.conftest import photo

PHOTOS = ("chelsea", "coffee", "astronaut")


def write_image(path: Path, pixels: np.ndarray) -> None:
    _write_image(path, pixels, mkdir=True)


def hr_lr(name: str, scale: int, size: int = 192, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(HR, LR, kernel) from a real photo: HR crop (size x size), LR = blur with a DIV2KRK-style kernel + subsample."""
    hr = photo(name)[:size, :size] / 255.0
    kernel = anisotropic_gaussian_kernel(np.random.default_rng(seed), size=11 if scale == 2 else 21, scale=scale)
    return hr, np.clip(blur_and_subsample(hr, kernel, scale), 0, 1), kernel


def build(layout: str, root: Path) -> Path:
    """Write a 3-pair dataset in ``layout`` under ``root`` and return the folder to pass to srx bench."""
    if layout == "realsr":
        base = root / "RealSR(V3)"
        for camera in ("Canon", "Nikon"):
            for s in (2, 4):
                folder = base / camera / "Test" / str(s)
                for i, name in enumerate(PHOTOS[:2] if camera == "Canon" else PHOTOS[2:]):
                    hr, lr, _ = hr_lr(name, s, seed=i)
                    write_image(folder / f"{camera}_{i + 1:03d}_HR.png", hr)
                    write_image(folder / f"{camera}_{i + 1:03d}_LR{s}.png", lr)
        (base / "Canon" / "Train" / "2").mkdir(parents=True)
        return base
    if layout == "drealsr":
        base = root / "DRealSR" / "x4" / "Test_x4" / "Test_x4"  # the doubled level of some unzips
        for i, stem in enumerate(["sony_3", "P1130017", "DSC_1454"]):
            hr, lr, _ = hr_lr(PHOTOS[i], 4, seed=i)
            write_image(base / "test_HR" / f"{stem}_x4.png", hr)
            write_image(base / "test_LR" / f"{stem}_x1.png", lr)
        return root / "DRealSR"
    if layout == "div2krk":
        base = root / "DIV2KRK"
        for n, name in enumerate(PHOTOS, start=1):
            hr, lr, kernel = hr_lr(name, 2, seed=n)
            write_image(base / "gt" / f"img_{n}_gt.png", hr)
            write_image(base / "lr_x2" / f"im_{n}.png", lr)
            (base / "gt_k_x2").mkdir(exist_ok=True)
            savemat(base / "gt_k_x2" / f"kernel_{n}.mat", {"Kernel": kernel})
            write_image(base / "lr_x4" / f"im_{n}.png", hr_lr(name, 4, seed=n)[1])
        return base
    if layout == "ntire17":
        base = root / "NTIRE17"
        for i, name in enumerate(PHOTOS):
            hr, lr, _ = hr_lr(name, 2, seed=i)
            write_image(base / "DIV2K_valid_HR" / f"{801 + i:04d}.png", hr)
            write_image(base / "DIV2K_valid_LR_unknown" / "X2" / f"{801 + i:04d}x2.png", lr)
        return base
    if layout == "edsr":
        base = root / "Set3"
        for name in PHOTOS:
            hr, lr, _ = hr_lr(name, 2)
            write_image(base / "HR" / f"{name}.png", hr)
            write_image(base / "LR_bicubic" / "X2" / f"{name}x2.png", lr)
        return base
    if layout == "plain":
        base = root / "plain"
        for name in PHOTOS:
            hr, lr, _ = hr_lr(name, 2)
            write_image(base / "HR" / f"{name}.png", hr)
            write_image(base / "LR" / f"{name}.png", lr)
        return base
    raise ValueError(layout)


@pytest.fixture
def dataset_factory(tmp_path):
    return lambda layout: build(layout, tmp_path)
