"""Each DualSR loss and regulariser term on small hand-checkable inputs."""

from __future__ import annotations

import pytest
import torch

from dualsr_cli.engine.zero_shot.losses import (
    KernelLambdas,
    KernelRegulariser,
    lsgan_loss,
    masked_interpolation_loss,
    shave_to,
    sobel_magnitude,
)


def test_lsgan_loss():
    pred = torch.tensor([[[[0.25, 0.75]]]])
    assert lsgan_loss(pred, real=True).item() == pytest.approx((0.75**2 + 0.25**2) / 2)
    assert lsgan_loss(pred, real=False).item() == pytest.approx((0.25**2 + 0.75**2) / 2)


def test_shave_to_is_symmetric_for_even_differences():
    a = torch.arange(64.0).reshape(1, 1, 8, 8)
    b = torch.zeros(1, 1, 2, 2)
    assert torch.equal(shave_to(a, b), a[..., 3:5, 3:5])


def test_sobel_is_per_channel_unnormalised_and_zero_padded():
    image = torch.full((1, 3, 6, 6), 0.5)
    image[:, 1] = 0.0
    mag = sobel_magnitude(image)
    assert mag[0, 0, 2:4, 2:4].abs().max() == 0  # flat interior
    assert mag[0, 0, 0, 2].item() == pytest.approx(2.0)  # zero padding: border of a constant 0.5 is 2.0
    assert mag[0, 1].abs().max() == 0  # channels are not mixed
    step = torch.zeros(1, 1, 5, 5)
    step[..., 3:] = 0.25
    # gx at column 2 = (1 + 2 + 1) * 0.25 = 1.0 -> unnormalised step of 0.25 already saturates the mask
    assert sobel_magnitude(step)[0, 0, 2, 2].item() == pytest.approx(1.0)


def test_masked_interpolation_loss_ignores_edges():
    lr_bic = torch.full((1, 1, 8, 8), 0.5)
    lr_bic[..., :, 4:] = 1.0  # vertical edge: mask 0 near it and at the zero-padded border
    fake = lr_bic.clone()
    fake[..., 3, 3] += 0.2  # at the edge: masked out
    assert masked_interpolation_loss(fake, lr_bic).item() == pytest.approx(0.0)
    fake = lr_bic.clone()
    fake[..., 3, 1] += 0.2  # flat interior: counts fully, mean over 64 pixels
    assert masked_interpolation_loss(fake, lr_bic).item() == pytest.approx(0.2 / 64)


def test_regulariser_terms_on_a_delta_kernel():
    reg = KernelRegulariser(device=torch.device("cpu"))
    kernel = torch.zeros(13, 13)
    kernel[6, 6] = 1.0
    hr = torch.full((1, 3, 32, 32), 0.2)
    fake_lr = torch.zeros(1, 3, 10, 10)
    terms = reg.terms(kernel, hr, fake_lr)
    assert terms.sum_to_one.item() == pytest.approx(0.0)
    assert terms.boundaries.item() == pytest.approx(0.0)
    assert terms.centralized.item() == pytest.approx(0.25)  # ((6 - 6.5)^2 + (6 - 6.5)^2) / 2
    assert terms.sparse.item() == pytest.approx(1 / 169)
    # official quirk: every target channel is the SUM of R, G, B -> 3 * 0.2 away from the border
    assert terms.bicubic.item() == pytest.approx(0.6**2, rel=1e-5)
    weighted = terms.weighted(KernelLambdas())
    assert weighted.item() == pytest.approx(5 * 0.36, rel=1e-5)


def test_corrected_bicubic_target_is_per_channel():
    reg = KernelRegulariser(device=torch.device("cpu"), channel_sum_bicubic=False)
    hr = torch.full((1, 3, 32, 32), 0.2)
    terms = reg.terms(torch.eye(13), hr, torch.full((1, 3, 10, 10), 0.2))
    assert terms.bicubic.item() == pytest.approx(0.0, abs=1e-10)


def test_corner_mass_is_penalised_and_off_centre_mass_is_not_central():
    reg = KernelRegulariser(device=torch.device("cpu"))
    kernel = torch.zeros(13, 13)
    kernel[0, 0] = 1.0
    terms = reg.terms(kernel, torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 10, 10))
    assert terms.boundaries.item() == pytest.approx(reg.mask[0, 0].item() / 169)
    assert terms.centralized.item() == pytest.approx(6.5**2)
