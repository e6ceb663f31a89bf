"""Loss building blocks of the recipes on hand-checkable inputs, and the offline VGG19 loading."""

from __future__ import annotations

import pytest
import torch

from dualsr_cli.errors import ConfigError
from dualsr_cli.recipes.losses import (
    VGGFeatureLoss,
    bce_gan,
    component_loss,
    discriminator_y,
    gradient_weighted_loss,
    harris_masks,
    perceptual_loss,
)
from tests.conftest import photo


def test_harris_masks_partition_every_pixel_into_flat_edge_corner():
    image = torch.from_numpy(photo("chelsea")[:48, :48] / 255.0).permute(2, 0, 1)[None].float()
    masks = harris_masks(image)
    assert masks.shape == (3, 1, 1, 48, 48)
    total = masks.sum(dim=0)
    assert ((total == 1) | (total == 0)).all() and total.mean() > 0.95  # only |R| exactly at a threshold is left
    assert masks[2].sum() > 0 and masks[1].sum() > 0


def test_gradient_weighted_loss_on_a_constant_offset():
    # SR = HR + 0.1 on a 5x5 image: the Sobel responses of the difference vanish inside and, through the
    # zero padding, are 0.4 (sides) or 0.3 in x and y (corners) on the border.
    hr = torch.rand(1, 1, 5, 5)
    loss = gradient_weighted_loss(hr + 0.1, hr)
    interior, sides, corners = 9 * 0.1, 12 * 0.1 * (1 + 4 * 0.4), 4 * 0.1 * (1 + 4 * 0.3) ** 2
    assert loss.item() == pytest.approx((interior + sides + corners) / 25, rel=1e-5)
    assert gradient_weighted_loss(hr, hr).item() == 0


def test_component_loss_weights_and_final_term():
    hr = torch.rand(1, 3, 16, 16)
    perfect = [hr.clone() for _ in range(4)]
    assert component_loss(perfect, hr, gw=True).item() == pytest.approx(0.0, abs=1e-7)
    shifted = [hr + 0.1 for _ in range(4)]
    loss = component_loss(shifted, hr, gw=False)
    masks = harris_masks(hr)
    expected = sum(w * 0.1 * m.mean().item() for w, m in zip((1, 2, 5), masks, strict=True)) + 0.1
    assert loss.item() == pytest.approx(expected, rel=1e-4)


def test_gan_and_luma_helpers():
    assert bce_gan(torch.zeros(1, 1, 2, 2), True).item() == pytest.approx(torch.log(torch.tensor(2.0)).item())
    white = torch.ones(1, 3, 2, 2)
    assert discriminator_y(white)[0, 0, 0, 0].item() == pytest.approx((65.738 + 129.057 + 25.064) / 256)


def test_vgg_loss_loads_offline_or_names_the_missing_file(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match=r"vgg19-dcbb9e9d\.pth.*--perceptual none"):
        perceptual_loss("vgg", torch.device("cpu"))
    assert perceptual_loss("none", torch.device("cpu")) is None
    folder = tmp_path / "home" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    trunk = torchvision.models.vgg19(weights=None).features.state_dict()
    torch.save({f"features.{k}": v for k, v in trunk.items()}, folder / "vgg19-dcbb9e9d.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    loss = VGGFeatureLoss(layer=8)
    x = torch.rand(1, 3, 32, 32)
    assert loss(x, x).item() == 0 and loss(x, torch.rand(1, 3, 32, 32)).item() > 0
    assert not any(p.requires_grad for p in loss.parameters())
    far = torch.rand(1, 3, 32, 32)
    squared = VGGFeatureLoss(layer=17, distance="mse")  # DDNSR's "VGG-34": ends at relu3_4
    assert isinstance(squared.features[-1], torch.nn.ReLU) and len(squared.features) == 18

    def features(image):
        return squared.features((image - squared.mean) / squared.std)

    assert squared(x, far).item() == pytest.approx((features(x) - features(far)).square().mean().item(), rel=1e-5)
