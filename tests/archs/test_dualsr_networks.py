"""DualSR networks: sizes, parameter counts, key names and the official initialisation."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dualsr_cli.archs.dualsr import DownsamplerG, PatchDiscriminator, UpsamplerG, build_dualsr_networks


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_match_the_official_networks():
    g_up, g_dn, d_dn = build_dualsr_networks(0)
    assert (count(g_up), count(g_dn), count(d_dn)) == (225_091, 150_656, 30_977)


@pytest.mark.parametrize(("size", "expected"), [(128, 58), (127, 58), (129, 59), (130, 59), (131, 60)])
def test_downsampler_output_sizes(size, expected):
    assert DownsamplerG()(torch.zeros(1, 3, size, size)).shape == (1, 3, expected, expected)


def test_upsampler_is_exactly_x2_and_discriminator_shaves_six():
    assert UpsamplerG()(torch.zeros(2, 3, 29, 64)).shape == (2, 3, 58, 128)
    d = PatchDiscriminator()
    assert d.forward_shave == 6
    assert d(torch.zeros(2, 3, 58, 58)).shape == (2, 1, 52, 52)


def test_fixed_bilinear_equals_torch_bilinear():
    x = torch.rand(2, 3, 11, 17)
    ours = UpsamplerG().bilinear_upsample(x)
    theirs = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert (ours - theirs).abs().max() < 1e-6


def test_state_dict_keys_are_the_official_names():
    g_up, g_dn, d_dn = build_dualsr_networks(0)
    assert list(g_up.state_dict())[:2] == ["model.0.weight", "model.0.bias"]
    assert "bilinear_kernel" not in g_up.state_dict()
    assert list(g_dn.state_dict()) == [
        "first_layer.weight",
        "feature_block.0.weight",
        "feature_block.1.weight",
        "feature_block.2.weight",
        "feature_block.3.weight",
        "final_layer.weight",
    ]
    keys = d_dn.state_dict()
    assert {
        "first_layer.weight_orig",
        "first_layer.weight_u",
        "first_layer.weight_v",
        "feature_block.1.running_mean",
        "final_layer.0.weight_orig",
    } <= set(keys)


def test_official_initialisation():
    g_up, g_dn, d_dn = build_dualsr_networks(0)
    # G_DN: N(1/n, 1/n); with the official RNG order the composed kernel of seed 0 sums to 1.24
    assert g_dn.kernel().sum().item() == pytest.approx(1.243, abs=1e-3)
    first = g_dn.first_layer.weight
    assert first.mean().item() == pytest.approx(1 / 49, rel=0.3)
    # D: Xavier lands in a temporary, weight_orig keeps PyTorch's uniform(+-1/sqrt(fan_in)) init
    assert d_dn.first_layer.weight_orig.abs().max().item() <= 1 / 147**0.5 + 1e-6
    assert d_dn.first_layer.weight_orig.abs().max().item() > 0.05
    assert torch.all(d_dn.first_layer.bias == 0)
    bn = d_dn.feature_block[1]
    assert abs(bn.weight.mean().item() - 1) < 0.02 and bn.weight.std().item() == pytest.approx(0.02, rel=0.5)
    # G_UP: Kaiming normal, fan_in, ReLU gain -> std sqrt(2/27) for the first layer, zero biases
    assert g_up.model[0].weight.std().item() == pytest.approx((2 / 27) ** 0.5, rel=0.15)
    assert torch.all(g_up.model[0].bias == 0)


def test_building_is_seeded_and_does_not_disturb_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = build_dualsr_networks(5)
    after = torch.rand(3)
    b = build_dualsr_networks(5)
    assert torch.equal(expected, after)
    for net_a, net_b in zip(a, b, strict=True):
        for (ka, va), (kb, vb) in zip(net_a.state_dict().items(), net_b.state_dict().items(), strict=True):
            assert ka == kb and torch.equal(va, vb)
