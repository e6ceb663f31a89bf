"""PSNR / SSIM against independent computations (MATLAB conventions of docs/metrics.md §1)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from dualsr_cli.metrics.color import y_channel_matlab
from dualsr_cli.metrics.kernel import kernel_error
from dualsr_cli.metrics.psnr import psnr, psnr_y
from dualsr_cli.metrics.ssim import ssim, ssim_y
from dualsr_cli.ops.kernels import anisotropic_gaussian_kernel
from tests.conftest import photo


def test_psnr_of_a_known_mse():
    a = np.zeros((10, 10))
    b = np.full((10, 10), 5.0)  # MSE 25
    assert psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 25))
    assert psnr(a, a) == math.inf


def test_y_channel_is_bt601_studio_range_unrounded():
    rgb = np.array([[[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [0.5, 0.2, 0.9]]])
    y = y_channel_matlab(rgb)
    assert y[0, 0] == pytest.approx(235.0, abs=1e-4) and y[0, 1] == pytest.approx(16.0, abs=1e-5)
    assert y[0, 2] == pytest.approx(16 + 65.481 * 0.5 + 128.553 * 0.2 + 24.966 * 0.9, abs=1e-4)
    assert y[0, 2] != round(y[0, 2])


def test_psnr_y_shaves_the_border():
    hr = photo("astronaut")[:64, :64] / 255.0
    sr = hr.copy()
    sr[:2] = 0  # errors only inside the 2-pixel border
    assert psnr_y(sr, hr, border=2) == math.inf
    sr[10, 10] = 0
    assert psnr_y(sr, hr, border=2) < 80


def test_ssim_matches_scikit_image_with_matlab_settings():
    hr = photo("chelsea")[:100, :120] / 255.0
    noisy = np.clip(hr + np.random.default_rng(0).normal(0, 0.05, hr.shape), 0, 1)
    ours = ssim_y(noisy, hr, border=2)
    y_sr, y_hr = y_channel_matlab(noisy)[2:-2, 2:-2], y_channel_matlab(hr)[2:-2, 2:-2]
    reference = structural_similarity(
        y_sr, y_hr, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    assert ours == pytest.approx(reference, abs=1e-4)
    assert ssim(y_hr, y_hr) == pytest.approx(1.0)


def test_kernel_error_is_zero_for_the_same_kernel_and_grows_with_difference():
    rng = np.random.default_rng(0)
    truth = anisotropic_gaussian_kernel(rng)
    estimate = np.pad(truth, 1) * 2.0  # same kernel, 13x13, unnormalised
    assert kernel_error(estimate, truth).l2 == pytest.approx(0.0, abs=1e-6)
    other = anisotropic_gaussian_kernel(rng)
    assert kernel_error(np.pad(other, 1), truth).l2 > 0.01
