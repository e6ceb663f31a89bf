"""MATLAB-compatible bicubic imresize against the fixed filters of docs/dualsr.md §9."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from dualsr_cli.ops.resize import cubic, imresize, output_length, resize_matrix


def matlab_resize_1d(signal: np.ndarray, scale: float) -> np.ndarray:
    """Direct per-output-pixel MATLAB formula with symmetric padding (independent of the matrix code)."""
    n = len(signal)
    out_len = math.ceil(n * scale)
    antialias = scale < 1
    width = 4 / scale if antialias else 4
    padded = np.pad(signal, 40, mode="symmetric")
    out = np.empty(out_len)
    for x in range(1, out_len + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        taps = np.arange(left, left + math.ceil(width) + 2)
        w = scale * cubic(scale * (u - taps)) if antialias else cubic(u - taps)
        w = w / w.sum()
        out[x - 1] = np.sum(w * padded[taps - 1 + 40])
    return out


def test_x2_interior_filters_are_the_fixed_matlab_weights():
    m = resize_matrix(20, 2.0)
    i = 8
    np.testing.assert_allclose(m[2 * i, i - 2 : i + 2] * 128, [-3, 29, 111, -9], atol=1e-12)
    np.testing.assert_allclose(m[2 * i + 1, i - 1 : i + 3] * 128, [-9, 111, 29, -3], atol=1e-12)


def test_x05_antialiased_filter_is_the_fixed_matlab_weights():
    m = resize_matrix(32, 0.5)
    o = 6
    np.testing.assert_allclose(m[o, 2 * o - 3 : 2 * o + 5] * 256, [-3, -9, 29, 111, 111, 29, -9, -3], atol=1e-12)


@pytest.mark.parametrize("scale", [2.0, 0.5, 4.0, 0.25])
@pytest.mark.parametrize("length", [7, 16, 33])
def test_symmetric_boundary_matches_direct_matlab_formula(scale, length):
    rng = np.random.default_rng(length)
    signal = rng.random(length)
    expected = matlab_resize_1d(signal, scale)
    np.testing.assert_allclose(resize_matrix(length, scale) @ signal, expected, atol=1e-12)


def test_dualsr_clone_truncates_at_top_left_and_mirrors_at_bottom_right():
    m = resize_matrix(10, 2.0, None, "dualsr")
    np.testing.assert_allclose(m[0, :2], [0.8671875 / 0.796875, -0.0703125 / 0.796875], atol=1e-12)
    symmetric = resize_matrix(10, 2.0)
    np.testing.assert_allclose(m[3:], symmetric[3:], atol=1e-12)  # only the first 3 outputs differ at x2
    assert not np.allclose(m[2], symmetric[2])
    half = resize_matrix(16, 0.5, None, "dualsr")
    np.testing.assert_allclose(half[0, :5] * 239, [111, 111, 29, -9, -3], atol=1e-9)
    np.testing.assert_allclose(half[2:], resize_matrix(16, 0.5)[2:], atol=1e-12)


def test_rows_sum_to_one_and_constant_images_stay_constant():
    for scale in (2.0, 0.5):
        assert np.allclose(resize_matrix(23, scale).sum(axis=1), 1.0)
    image = np.full((9, 12, 3), 0.3)
    np.testing.assert_allclose(imresize(image, 2.0), 0.3, atol=1e-12)
    assert imresize(image, 2.0).shape == (18, 24, 3)
    assert imresize(np.zeros((9, 12)), 0.5).shape == (5, 6)


def test_numpy_and_torch_paths_agree():
    rng = np.random.default_rng(0)
    image = rng.random((3, 17, 21))
    from_numpy = imresize(image.transpose(1, 2, 0), 2.0)
    from_torch = imresize(torch.from_numpy(image), 2.0).numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(from_numpy, from_torch, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    length=st.integers(1, 200),
    scale=st.sampled_from([0.25, 1 / 3, 0.5, 2.0, 3.0, 4.0]),
    boundary=st.sampled_from(["symmetric", "dualsr"]),
)
def test_any_length_and_scale_keeps_constants_constant(length, scale, boundary):
    matrix = resize_matrix(length, scale, None, boundary)
    assert matrix.shape == (output_length(length, scale), length)
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-12)
