"""Back-projection: the mirror downscale equals the benchmark's degradation, and each step moves towards the input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from dualsr_cli.ops.back_projection import back_project, mirror_downscale, mirror_pad
from dualsr_cli.ops.kernels import anisotropic_gaussian_kernel, blur_and_subsample, kernelgan_x4_kernel
from dualsr_cli.ops.resize import imresize


def _as_tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(image.transpose(2, 0, 1)[None].copy())


@pytest.mark.parametrize("pad", [0, 1, 5])
def test_mirror_pad_is_numpy_symmetric_padding(pad):
    x = torch.arange(2 * 3 * 7 * 9, dtype=torch.float64).reshape(2, 3, 7, 9)
    expected = np.pad(x.numpy(), ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="symmetric")
    np.testing.assert_array_equal(mirror_pad(x, pad).numpy(), expected)


def test_mirror_pad_refuses_a_pad_wider_than_the_image():
    with pytest.raises(ValueError, match="mirror"):
        mirror_pad(torch.zeros(1, 1, 4, 40), 5)


@pytest.mark.parametrize(("height", "width", "scale"), [(48, 40, 4), (45, 51, 4), (30, 34, 2)])
def test_mirror_downscale_equals_blur_and_subsample(height, width, scale):
    rng = np.random.default_rng(height)
    image = rng.random((height, width, 3))
    kernel = kernelgan_x4_kernel(anisotropic_gaussian_kernel(rng)) if scale == 4 else anisotropic_gaussian_kernel(rng)
    expected = blur_and_subsample(image, kernel, scale)
    got = mirror_downscale(_as_tensor(image), torch.from_numpy(kernel), scale)[0].numpy().transpose(1, 2, 0)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_mirror_downscale_refuses_an_even_kernel():
    with pytest.raises(ValueError, match="odd square"):
        mirror_downscale(torch.zeros(1, 3, 16, 16), torch.ones(4, 4) / 16, 2)


def _degraded_pair(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = np.linspace(0, 1, 96)
    hr = np.clip(0.5 + 0.3 * np.sin(12 * z[:, None]) * np.cos(9 * z[None, :]) + 0.05 * rng.random((96, 96)), 0, 1)
    hr = np.repeat(hr[:, :, None], 3, axis=2)
    kernel = kernelgan_x4_kernel(anisotropic_gaussian_kernel(rng))
    return hr, blur_and_subsample(hr, kernel, 4), kernel


def test_back_project_matches_a_numpy_step_in_float64():
    _, lr, kernel = _degraded_pair()
    sr = np.clip(imresize(lr, 4.0), 0, 1)
    expected = np.clip(sr + imresize(lr - blur_and_subsample(sr, kernel, 4), 4.0), 0, 1)
    got = back_project(_as_tensor(sr), _as_tensor(lr), kernel, 4, steps=1)[0].numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_back_project_shrinks_the_inconsistency_with_the_input_every_step_and_stays_in_range():
    _, lr, kernel = _degraded_pair(1)
    lr_t, k_t = _as_tensor(lr), torch.from_numpy(kernel)
    sr = _as_tensor(np.clip(imresize(lr, 4.0), 0, 1))
    errors = []
    for _ in range(4):
        errors.append(float((lr_t - mirror_downscale(sr, k_t, 4)).abs().mean()))
        sr = back_project(sr, lr_t, kernel, 4, steps=1)
        assert float(sr.min()) >= 0.0 and float(sr.max()) <= 1.0
    assert all(later < earlier for earlier, later in itertools.pairwise(errors))


def test_back_project_with_the_true_kernel_moves_a_bicubic_guess_towards_the_truth():
    hr, lr, kernel = _degraded_pair(2)
    guess = np.clip(imresize(lr, 4.0), 0, 1)
    refined = back_project(_as_tensor(guess), _as_tensor(lr), kernel, 4, steps=4)[0].numpy().transpose(1, 2, 0)
    inner = (slice(8, -8), slice(8, -8))
    assert np.abs(refined - hr)[inner].mean() < np.abs(guess - hr)[inner].mean()


def test_back_project_zero_steps_returns_the_input_and_keeps_dtype():
    _, lr, kernel = _degraded_pair()
    sr = _as_tensor(np.clip(imresize(lr, 4.0), 0, 1)).float()
    out = back_project(sr, _as_tensor(lr), kernel, 4, steps=0)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, sr)
    before = sr.clone()
    assert back_project(sr, _as_tensor(lr), kernel, 4, steps=1).dtype == torch.float32
    torch.testing.assert_close(sr, before, rtol=0, atol=0)  # the caller's SR is not modified


def test_back_project_refuses_an_sr_that_is_not_scale_times_the_input():
    with pytest.raises(ValueError, match="is not 4x"):
        back_project(torch.zeros(1, 3, 40, 40), torch.zeros(1, 3, 12, 10), np.ones((5, 5)) / 25, 4, steps=1)
