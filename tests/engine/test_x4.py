"""Zero-shot x4 in the library: kernel composition, output sizes, twice = x2 on its own output, determinism."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import numpy as np
import pytest
import torch
from scipy.io import loadmat

from dualsr_cli.engine.zero_shot import x4 as x4_module
from dualsr_cli.engine.zero_shot import zssr_x4
from dualsr_cli.engine.zero_shot.config import BACK_PROJECTION_STEPS, KERNEL_KEEP_TAPS, X4_METHODS, ZeroShotConfig
from dualsr_cli.engine.zero_shot.joint_x4 import JointX4Trainer
from dualsr_cli.engine.zero_shot.pipeline import zero_shot_image
from dualsr_cli.engine.zero_shot.zssr_x4 import son_of
from dualsr_cli.image_io import read_image, write_image
from dualsr_cli.ops.back_projection import back_project, mirror_downscale
from dualsr_cli.ops.kernels import (
    anisotropic_gaussian_kernel,
    blur_and_subsample,
    blur_and_subsample_twice,
    compose_downscale_kernels,
    downscale_with_kernel,
    drop_negligible_taps,
    kernelgan_x4_kernel,
)
from tests.conftest import photo

CPU = torch.device("cpu")


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def lr_photo(tmp_path_factory):
    """A 100x92 crop of a real photo: above the 84 px x4 minimum, small enough for fast runs."""
    path = tmp_path_factory.mktemp("x4") / "coffee_small.png"
    write_image(path, photo("coffee")[100:192, 200:300] / 255.0)
    return path


@pytest.mark.parametrize("sizes", [(13, 13), (11, 11), (13, 7)])
def test_composed_kernel_equals_applying_the_x2_downsampler_twice(sizes):
    rng = np.random.default_rng(3)
    first, second = (rng.random((n, n)) for n in sizes)
    image = torch.rand(1, 3, 97, 90, dtype=torch.float64)
    twice = downscale_with_kernel(downscale_with_kernel(image, torch.as_tensor(first), 2), torch.as_tensor(second), 2)
    composite = compose_downscale_kernels(first, second)
    assert composite.shape == (sizes[0] + 2 * (sizes[1] - 1),) * 2
    once = downscale_with_kernel(image, torch.as_tensor(composite), 4)
    assert once.shape == twice.shape
    torch.testing.assert_close(once, twice, rtol=1e-12, atol=1e-12)


def test_joint_trainer_downsampler_is_its_x2_kernel_composed_with_itself():
    trainer = JointX4Trainer(photo("coffee")[:120, :130] / 255.0, ZeroShotConfig(scale=4, iters=2), CPU)
    trainer.train()
    image = torch.rand(1, 3, 80, 84)
    kernel = trainer.g_dn.kernel().detach().double().numpy()
    expected = downscale_with_kernel(image.double(), torch.as_tensor(compose_downscale_kernels(kernel, kernel)), 4)
    torch.testing.assert_close(trainer.downscale(image).double(), expected, rtol=1e-5, atol=1e-6)


def test_kernelgan_x4_form_is_the_cropped_renormalised_composite():
    rng = np.random.default_rng(0)
    k2, k1 = rng.random((13, 13)), rng.random((13, 13))
    x4 = kernelgan_x4_kernel(k2, k1)
    assert x4.shape == (25, 25) and x4.sum() == pytest.approx(1.0)
    full = compose_downscale_kernels(k2, k1)
    np.testing.assert_allclose(x4, full[6:-6, 6:-6] / full[6:-6, 6:-6].sum())
    # KernelGAN composes one kernel with itself; the two-argument form reduces to it
    np.testing.assert_array_equal(kernelgan_x4_kernel(k1), kernelgan_x4_kernel(k1, k1))


def test_div2krk_x4_degradation_is_one_31x31_kernel_at_stride_4():
    kernel = anisotropic_gaussian_kernel(np.random.default_rng(5))
    composite = compose_downscale_kernels(kernel, kernel)
    assert composite.shape == (31, 31) and composite.sum() == pytest.approx(1.0)
    hr = photo("astronaut")[:160, :160] / 255.0
    lr = blur_and_subsample_twice(hr, kernel)
    assert lr.shape == (40, 40, 3)
    np.testing.assert_allclose(lr, blur_and_subsample(blur_and_subsample(hr, kernel, 2), kernel, 2))
    # Away from the reflect borders the two steps are one correlation with the composite at stride 4:
    # lr[j] = sum_t K[t] hr[4j + t - 15] (each 11x11 step is centred on tap 5), i.e. direct[i] on hr[1:] is lr[i + 4].
    shifted = torch.as_tensor(np.ascontiguousarray(hr[1:, 1:].transpose(2, 0, 1))[None])
    direct = downscale_with_kernel(shifted, torch.as_tensor(composite), 4)[0].numpy().transpose(1, 2, 0)
    assert direct.shape == (33, 33, 3)
    np.testing.assert_allclose(direct, lr[4:37, 4:37], atol=1e-12)


@pytest.mark.parametrize("method", X4_METHODS)
def test_x4_output_sizes_kernel_shape_and_determinism(tmp_path, lr_photo, method):
    config = ZeroShotConfig(scale=4, x4_method=method, iters=2)
    a = zero_shot_image(lr_photo, tmp_path / "a" / "coffee_small_x4.png", config)
    b = zero_shot_image(lr_photo, tmp_path / "b" / "coffee_small_x4.png", config)
    sr = read_image(a.output)
    assert (sr.width, sr.height) == (400, 368) == a.output_size
    assert a.kernel_mat == str(tmp_path / "a" / "coffee_small_kernel_x4.mat")
    kernel = loadmat(a.kernel_mat)["Kernel"]
    assert kernel.shape == (25, 25) and kernel.dtype == np.float32 and kernel.sum() == pytest.approx(1.0, abs=1e-5)
    assert len(a.stages) == (1 if method == "joint" else 2) and a.scale == 4
    assert _digest(tmp_path / "a" / "coffee_small_x4.png") == _digest(tmp_path / "b" / "coffee_small_x4.png")
    np.testing.assert_array_equal(kernel, loadmat(b.kernel_mat)["Kernel"])
    zero_shot_image(lr_photo, tmp_path / "c" / "coffee_small_x4.png", replace(config, seed=1))
    assert _digest(tmp_path / "c" / "coffee_small_x4.png") != _digest(tmp_path / "a" / "coffee_small_x4.png")


def test_twice_is_srx_x2_run_on_its_own_x2_output(tmp_path, lr_photo):
    """The recipe DualSR's author gives: x2, then x2 again from scratch on the written result."""
    x2 = ZeroShotConfig(iters=2)
    first = zero_shot_image(lr_photo, tmp_path / "manual" / "step1_x2.png", x2)
    second = zero_shot_image(first.output, tmp_path / "manual" / "step2_x2.png", x2)
    twice = zero_shot_image(
        lr_photo, tmp_path / "x4" / "coffee_small_x4.png", ZeroShotConfig(scale=4, x4_method="twice", iters=2)
    )
    assert _digest(tmp_path / "manual" / "step2_x2.png") == _digest(tmp_path / "x4" / "coffee_small_x4.png")
    k1, k2 = loadmat(first.kernel_mat)["Kernel"], loadmat(second.kernel_mat)["Kernel"]
    np.testing.assert_allclose(loadmat(twice.kernel_mat)["Kernel"], kernelgan_x4_kernel(k2, k1), rtol=1e-5, atol=1e-7)
    assert [s["train_seconds"] > 0 for s in twice.stages] == [True, True]


def test_x2_zssr_kernel_is_the_x2_runs_kernel_cleaned_and_composed_and_the_output_is_back_projected(
    tmp_path, lr_photo, monkeypatch
):
    """Stage 1 is exactly ``srx zero-shot --scale 2``'s training; the son and the back-projection use its kernel
    after KernelGAN's clean-up (sum 1), and back-projection makes the output more consistent with the input."""
    x2 = zero_shot_image(lr_photo, tmp_path / "x2" / "coffee_small_x2.png", ZeroShotConfig(iters=2))
    k2 = loadmat(x2.kernel_mat)["Kernel"]
    cleaned = drop_negligible_taps(k2, KERNEL_KEEP_TAPS)
    seen, projected = [], []
    monkeypatch.setattr(zssr_x4, "son_of", lambda image, kernel: seen.append(kernel) or son_of(image, kernel))

    def recording_back_project(sr, lr, kernel, scale, steps):
        projected.append((sr, lr, kernel, steps, back_project(sr, lr, kernel, scale, steps)))
        return projected[-1][-1]

    monkeypatch.setattr(x4_module, "back_project", recording_back_project)
    x4 = zero_shot_image(
        lr_photo, tmp_path / "x4" / "coffee_small_x4.png", ZeroShotConfig(scale=4, x4_method="x2-zssr", iters=2)
    )
    np.testing.assert_allclose(loadmat(x4.kernel_mat)["Kernel"], kernelgan_x4_kernel(cleaned), rtol=1e-5, atol=1e-7)
    assert len(seen) == 8 and all(kernel.sum() == pytest.approx(1.0) for kernel in seen)
    np.testing.assert_allclose(seen[0], cleaned, rtol=1e-5, atol=1e-7)
    assert np.count_nonzero(seen[0]) < seen[0].size  # the clean-up really dropped taps
    assert x4.stages[0]["kernel_x2_sum"] == pytest.approx(float(k2.sum()), rel=1e-5)

    ((sr, lr, kernel, steps, refined),) = projected
    assert steps == BACK_PROJECTION_STEPS > 0
    np.testing.assert_allclose(kernel, kernelgan_x4_kernel(cleaned), rtol=1e-5, atol=1e-7)
    k4 = torch.as_tensor(kernel, dtype=torch.float32)
    inconsistency = lambda image: float((lr - mirror_downscale(image, k4, 4)).abs().mean())  # noqa: E731
    assert inconsistency(refined) < inconsistency(sr.clamp(0, 1))
    written = read_image(x4.output).rgb_float64()
    np.testing.assert_allclose(written, refined[0].permute(1, 2, 0).numpy(), atol=0.5 / 255 + 1e-6)


def test_x4_gray_16bit_and_alpha_keep_their_form(tmp_path):
    base = photo("chelsea")[:90, :88] / 255.0
    write_image(tmp_path / "gray16.png", base[:, :, :1] * 0.9 + 0.01, bit_depth=16)
    alpha = np.tile(np.linspace(0, 1, 88), (90, 1))
    write_image(tmp_path / "rgba.png", base, alpha=alpha)
    for name, method in (("gray16", "twice"), ("rgba", "joint")):
        zero_shot_image(
            tmp_path / f"{name}.png", tmp_path / f"{name}_x4.png", ZeroShotConfig(scale=4, x4_method=method, iters=2)
        )
    gray = read_image(tmp_path / "gray16_x4.png")
    assert gray.is_gray and gray.bit_depth == 16 and (gray.width, gray.height) == (352, 360)
    rgba = read_image(tmp_path / "rgba_x4.png")
    assert rgba.alpha is not None and (rgba.width, rgba.height) == (352, 360)
    assert rgba.alpha[:, 10].std() == 0 and rgba.alpha[0, 300] > rgba.alpha[0, 50]


def test_joint_keeps_the_x4_kernel_sum_near_one_and_the_image_bright():
    """With the official R+G+B-sum bicubic target Σk climbs to ~2.3 in 30 iterations; squared at x4 that
    made G_UP learn a 4x darker image. The joint run uses the per-channel target, so both stay near 1."""
    image = photo("coffee")[100:192, 200:300] / 255.0
    trainer = JointX4Trainer(image, ZeroShotConfig(scale=4, x4_method="joint", iters=30), CPU)
    trainer.train()
    assert 0.7 < trainer.kernel().sum() < 1.4
    pixels = torch.as_tensor(image.transpose(2, 0, 1)[None], dtype=torch.float32)
    assert trainer.upscale(pixels).mean() / pixels.mean() == pytest.approx(1.0, abs=0.15)
