"""Kernel building blocks and the exactness of training G_DN through its composed kernel."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dualsr_cli.archs.dualsr import DownsamplerG, build_dualsr_networks
from dualsr_cli.ops.kernels import (
    anisotropic_gaussian_kernel,
    bicubic_downscale_kernel,
    boundary_penalty_mask,
    centre_of_mass,
    composed_kernel,
    drop_negligible_taps,
    shift_kernel,
)


@pytest.mark.parametrize("size", [128, 127, 131])
def test_composed_kernel_g_dn_equals_layer_by_layer_in_outputs_and_weight_gradients(size):
    torch.manual_seed(1)
    net = DownsamplerG().double()
    for p in net.parameters():
        p.data.normal_(1.0 / p[0].numel(), 1.0 / p[0].numel())
    x = torch.rand(2, 3, size, size, dtype=torch.float64)
    target = torch.rand(2, 3, (size - 13) // 2 + 1, (size - 13) // 2 + 1, dtype=torch.float64)

    layered = net.forward_layers(x)
    loss_layers = ((layered - target) ** 2).sum()
    grads_layers = torch.autograd.grad(loss_layers, list(net.parameters()))

    composed = net(x)
    loss_composed = ((composed - target) ** 2).sum()
    grads_composed = torch.autograd.grad(loss_composed, list(net.parameters()))

    assert composed.shape == layered.shape
    torch.testing.assert_close(composed, layered, rtol=1e-10, atol=1e-12)
    for g_c, g_l in zip(grads_composed, grads_layers, strict=True):
        torch.testing.assert_close(g_c, g_l, rtol=1e-9, atol=1e-12)


def test_composed_kernel_in_float32_matches_layers_to_float_noise():
    _, g_dn, _ = build_dualsr_networks(0)
    x = torch.rand(1, 3, 64, 64)
    torch.testing.assert_close(g_dn(x), g_dn.forward_layers(x), rtol=1e-5, atol=1e-6)


def test_composed_kernel_of_single_layer_is_that_layer():
    w = torch.rand(1, 1, 5, 5)
    np.testing.assert_allclose(composed_kernel([w]).numpy(), w[0, 0].numpy(), atol=1e-7)


def test_bicubic_downscale_kernel_is_matlab_weights_outer_product():
    w = np.array([-3, -9, 29, 111, 111, 29, -9, -3]) / 256
    k = bicubic_downscale_kernel(torch.float64).numpy()
    np.testing.assert_allclose(k, np.outer(w, w), atol=1e-15)
    assert k[3, 3] == pytest.approx(0.1880035400390625)
    assert k[0, 0] == pytest.approx(1.373291015625e-4)
    assert k.sum() == pytest.approx(1.0)


def test_boundary_mask_penalises_only_the_outer_two_rings():
    mask = boundary_penalty_mask(13, 30).numpy()
    assert np.all(mask[2:11, 2:11] == 0)
    ring = mask.copy()
    ring[2:11, 2:11] = np.nan
    assert np.nanmin(ring) == pytest.approx(2.139, abs=1e-3)
    assert np.nanmax(ring) == pytest.approx(5.756, abs=1e-3)


def test_random_div2krk_kernel_sums_to_one_and_is_centred_at_5_5():
    rng = np.random.default_rng(0)
    for _ in range(5):
        k = anisotropic_gaussian_kernel(rng)
        assert k.shape == (11, 11)
        assert k.sum() == pytest.approx(1.0)
        r, c = centre_of_mass(k)
        assert abs(r - 5.5) < 0.35 and abs(c - 5.5) < 0.35


def test_shift_kernel_moves_centre_of_mass_to_matlab_alignment():
    k = np.zeros((13, 13))
    k[4:7, 5:8] = 1.0
    shifted = shift_kernel(k, 2)
    r, c = centre_of_mass(shifted)
    assert r == pytest.approx(6.5, abs=0.02) and c == pytest.approx(6.5, abs=0.02)


def _blurry_kernel_with_tails(seed: int = 0) -> np.ndarray:
    """A 13x13 learned-looking kernel: a Gaussian core plus small positive and negative noise everywhere."""
    rng = np.random.default_rng(seed)
    z = np.arange(13) - 6.0
    core = np.exp(-(z[:, None] ** 2 / 3.0 + z[None, :] ** 2 / 1.5))
    kernel = core / core.sum() + 2e-4 * rng.standard_normal((13, 13))
    return kernel / kernel.sum()


def test_drop_negligible_taps_keeps_shape_sums_to_one_and_is_non_negative():
    cleaned = drop_negligible_taps(_blurry_kernel_with_tails(), keep=40)
    assert cleaned.shape == (13, 13)
    assert cleaned.sum() == pytest.approx(1.0, abs=1e-12)
    assert cleaned.min() >= 0.0


def test_drop_negligible_taps_zeroes_every_tap_below_three_quarters_of_the_41st_largest():
    kernel = _blurry_kernel_with_tails()
    threshold = 0.75 * np.sort(kernel.ravel())[-41]
    cleaned = drop_negligible_taps(kernel, keep=40)
    assert np.all(cleaned[kernel <= threshold] == 0.0)
    assert np.all(cleaned[kernel > threshold] > 0.0)
    assert np.count_nonzero(cleaned) >= 41
    assert np.count_nonzero(cleaned) < kernel.size  # the tails are really gone


def test_drop_negligible_taps_keeps_the_order_of_the_surviving_taps():
    kernel = _blurry_kernel_with_tails(seed=1)
    cleaned = drop_negligible_taps(kernel, keep=40)
    kept = cleaned > 0
    order_before = np.argsort(kernel[kept], kind="stable")
    order_after = np.argsort(cleaned[kept], kind="stable")
    np.testing.assert_array_equal(order_before, order_after)
    # the survivors are shifted by one constant, then rescaled: an affine map of the original taps
    slope = np.polyfit(kernel[kept], cleaned[kept], 1)[0]
    np.testing.assert_allclose(cleaned[kept], slope * (kernel[kept] - 0.75 * np.sort(kernel.ravel())[-41]))


def test_drop_negligible_taps_leaves_a_delta_and_narrows_a_wide_kernel():
    delta = np.zeros((13, 13))
    delta[6, 6] = 1.0
    np.testing.assert_array_equal(drop_negligible_taps(delta, keep=40), delta)
    wide = _blurry_kernel_with_tails()
    z = np.arange(13) - 6.0

    def variance(k: np.ndarray) -> float:
        return float((k * (z[:, None] ** 2 + z[None, :] ** 2)).sum())

    assert variance(drop_negligible_taps(wide, keep=40)) < variance(wide)


def test_drop_negligible_taps_refuses_a_kernel_with_no_taps_to_drop():
    with pytest.raises(ValueError, match="no taps beyond"):
        drop_negligible_taps(np.ones((5, 5)) / 25.0, keep=40)
