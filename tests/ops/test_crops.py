"""Gradient-weighted crop sampling (docs/dualsr.md §6)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import convolve2d

from dualsr_cli.ops.crops import _box_sum, gradient_map, plan_crops, probability_map, shave_for_training
from tests.conftest import photo


def official_gradient_map(im: np.ndarray, window: int = 5, percent: float = 0.97) -> np.ndarray:
    """The official create_gradient_map, written out literally with convolve2d and a full sort."""

    def frame(a, e):
        z = np.zeros_like(a)
        z[e:-e, e:-e] = a[e:-e, e:-e]
        return z

    def clip(a):
        s = np.sort(a.flatten())
        pivot = int(percent * len(s))
        v_min = s[pivot]
        v_max = s[pivot + 1] if s[pivot + 1] > v_min else v_min + 10e-6
        return np.clip(a, v_min, v_max) - v_min

    gx, gy = np.gradient(np.dot(im, [0.299, 0.587, 0.114]))
    gmag, gx, gy = np.sqrt(gx**2 + gy**2), np.abs(gx), np.abs(gy)
    gx, gy, gmag = frame(gx, window), frame(gy, window), frame(gmag, window)
    lx, ly = clip(gx), clip(gy)
    comb = lx / lx.sum() + ly / ly.sum() + gmag / gmag.sum()
    loss_map = convolve2d(comb, np.ones((window, window)), "same") / window**2
    return loss_map / np.mean(loss_map)


@pytest.mark.parametrize("size", [4, 5, 32])
def test_box_sum_equals_convolve2d_same(size):
    values = np.random.default_rng(size).random((70, 53))
    np.testing.assert_allclose(_box_sum(values, size), convolve2d(values, np.ones((size, size)), "same"), rtol=1e-12)


def test_gradient_and_probability_maps_match_the_official_formulas():
    image = photo("chelsea")[:120, :160] / 255.0
    ours = gradient_map(image)
    np.testing.assert_allclose(ours, official_gradient_map(image), rtol=1e-10, atol=1e-12)
    crop = 64
    expected = convolve2d(ours, np.ones((crop // 2, crop // 2)), "same") / (crop // 2) ** 2
    framed = np.zeros_like(expected)
    framed[32:-32, 32:-32] = expected[32:-32, 32:-32]
    np.testing.assert_allclose(probability_map(ours, crop), framed.ravel() / framed.sum(), rtol=1e-9, atol=1e-15)


def test_crops_stay_inside_the_image_at_even_corners():
    shaved = shave_for_training(photo("coffee")[:220, :300] / 255.0)
    plan = plan_crops(shaved, hr_size=128, samples=400, seed=0)
    rows, cols = shaved.shape[:2]
    for corners, size in ((plan.hr_corners, 128), (plan.lr_corners, 64)):
        assert (corners >= 0).all()
        assert (corners[:, 0] + size <= rows).all() and (corners[:, 1] + size <= cols).all()
        assert (corners % 2 == 0).all()


def test_crops_favour_high_gradient_regions():
    rng = np.random.default_rng(0)
    texture = photo("astronaut")[:200, :200] / 255.0
    image = np.full((400, 400, 3), 0.5)
    image[200:, 200:] = texture  # textured bottom-right quadrant, flat elsewhere
    plan = plan_crops(image, hr_size=128, samples=1000, seed=int(rng.integers(100)))
    for corners, size in ((plan.hr_corners, 128), (plan.lr_corners, 64)):
        centres = corners + size // 2
        in_texture = (centres[:, 0] >= 200 - size // 2) & (centres[:, 1] >= 200 - size // 2)
        assert in_texture.mean() > 0.9


def test_crop_plan_is_seeded_and_hr_draws_come_first():
    shaved = shave_for_training(photo("chelsea") / 255.0)
    a = plan_crops(shaved, hr_size=128, samples=50, seed=3)
    b = plan_crops(shaved, hr_size=128, samples=50, seed=3)
    longer = plan_crops(shaved, hr_size=128, samples=80, seed=3)
    np.testing.assert_array_equal(a.hr_corners, b.hr_corners)
    np.testing.assert_array_equal(a.lr_corners, b.lr_corners)
    np.testing.assert_array_equal(longer.hr_corners[:50], a.hr_corners)  # official: HR sequence is a prefix
    assert not np.array_equal(longer.lr_corners[:50], a.lr_corners)  # ... but every LR crop changes


def test_shave_for_training_removes_border_and_odd_row_col():
    assert shave_for_training(np.zeros((101, 88, 3))).shape == (80, 68, 3)


def test_grey_is_kernelgans_np_dot_to_the_last_bit():
    """KernelGAN's rgb2gray is np.dot(im, [0.299, 0.587, 0.114]); matmul differs in the last bit on some pixels."""
    from dualsr_cli.ops.crops import grey

    image = np.random.default_rng(0).random((64, 64, 3))
    official = np.dot(image, [0.299, 0.587, 0.114])
    matmul = image @ np.array([0.299, 0.587, 0.114])
    assert not np.array_equal(official, matmul)  # the two really differ, so this test can tell them apart
    assert np.array_equal(grey(image), official)


def test_flat_image_gives_a_uniform_map_instead_of_nan():
    """A flat image (e.g. a saturated first x2 result that x4 'twice' trains on) must not divide 0 by 0."""
    flat = np.full((100, 96, 3), 0.25)
    assert np.array_equal(gradient_map(flat), np.ones((100, 96)))
    plan = plan_crops(flat, hr_size=64, samples=4, seed=0)
    assert plan.hr_corners.shape == (4, 2)
