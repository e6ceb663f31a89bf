"""Pretrained architectures: official key layouts, shape-derived hyper-parameters, layout conversion."""

from __future__ import annotations

import re

import pytest
import torch

from dualsr_cli.archs import identify
from dualsr_cli.archs.cdc import CDCNet, cdc_scale_from_keys, init_cdc
from dualsr_cli.archs.ddnsr import DualInputDegradation
from dualsr_cli.archs.deresnet import DeResNet, deresnet_arguments
from dualsr_cli.archs.rrdb import RRDBNet, init_rrdb, layout_of, rrdb_arguments, to_original_layout
from tests.archs.conftest import keys_of, official_keys


def params(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_cdc_x4_has_exactly_the_official_keys_and_shapes():
    net = CDCNet(scale=4)
    assert keys_of(net) == official_keys("cdc_x4.txt")
    assert params(net) == 39_920_530


@pytest.mark.parametrize(("scale", "keys", "count"), [(2, 414, 39_698_962), (3, 414, 39_703_570)])
def test_cdc_x2_x3_key_counts_and_parameters(scale, keys, count):
    net = CDCNet(scale=scale)
    assert len(net.state_dict()) == keys and params(net) == count
    assert cdc_scale_from_keys(net.state_dict()) == scale


@torch.inference_mode()
def test_cdc_forward_returns_branches_final_and_softmax_maps():
    torch.manual_seed(0)
    net = CDCNet(scale=2).eval()
    init_cdc(net)
    x = torch.rand(1, 3, 32, 48)
    images, maps = net(x)
    assert len(images) == 4 and all(im.shape == (1, 3, 64, 96) for im in images)
    torch.testing.assert_close(sum(maps), torch.ones_like(maps[0]))
    torch.testing.assert_close(images[-1], sum(w * im for w, im in zip(maps, images[:3], strict=True)))
    torch.testing.assert_close(net.forward_with_map(x, maps)[-1], images[-1])


def test_rrdb_has_the_official_dasr_srn_keys():
    net = RRDBNet()
    assert keys_of(net) == official_keys("rrdb_esrgan_old_x4.txt")
    assert params(net) == 16_697_987
    assert rrdb_arguments(net.state_dict()) == {
        "in_nc": 3,
        "out_nc": 3,
        "nf": 64,
        "nb": 23,
        "gc": 32,
        "scale": 4,
        "unshuffle": 1,
    }


def to_mmsr_layout(state: dict) -> dict:
    """Independent writer of the mmsr-era ESRGAN layout (as xinntao/ESRGAN's RRDBNet_arch names it)."""
    names = {
        "model.0": "conv_first",
        "model.3": "upconv1",
        "model.6": "upconv2",
        "model.8": "HRconv",
        "model.10": "conv_last",
    }
    blocks = 1 + max(int(m.group(1)) for k in state if (m := re.match(r"model\.1\.sub\.(\d+)\.RDB", k)))
    out = {}
    for key, value in state.items():
        if m := re.match(r"model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.(\w+)", key):
            out[f"RRDB_trunk.{m[1]}.RDB{m[2]}.conv{m[3]}.{m[4]}"] = value
        elif key.startswith(f"model.1.sub.{blocks}."):
            out["trunk_conv." + key.rsplit(".", 1)[1]] = value
        else:
            prefix, kind = key.rsplit(".", 1)
            out[f"{names[prefix]}.{kind}"] = value
    return out


def to_basicsr_layout(state: dict) -> dict:
    renames = {"RRDB_trunk.": "body.", "trunk_conv": "conv_body", "upconv": "conv_up", "HRconv": "conv_hr"}
    out = {}
    for key, value in to_mmsr_layout(state).items():
        for old, new in renames.items():
            key = key.replace(old, new)
        out[re.sub(r"\.RDB(\d)\.", r".rdb\1.", key)] = value
    return out


@pytest.mark.parametrize("writer", [to_mmsr_layout, to_basicsr_layout])
def test_rrdb_later_layouts_convert_to_the_original_exactly(writer):
    torch.manual_seed(0)
    net = RRDBNet(nb=3)
    init_rrdb(net)
    converted = writer(net.state_dict())
    assert layout_of(converted) in ("esrgan", "basicsr")
    back = to_original_layout(converted)
    assert set(back) == set(net.state_dict())
    assert all(torch.equal(back[k], v) for k, v in net.state_dict().items())


def test_rrdb_reads_basicsr_pixel_unshuffle_models():
    net = RRDBNet(nb=1, scale=2, unshuffle=2)
    arguments = rrdb_arguments(net.state_dict())
    assert (arguments["scale"], arguments["unshuffle"]) == (2, 2)
    assert net(torch.rand(1, 3, 8, 10)).shape == (1, 3, 16, 20)


def test_deresnet_has_the_official_dsn_keys_and_ceil_output():
    net = DeResNet()
    assert keys_of(net) == official_keys("deresnet_x4.txt")
    assert params(net) == 668_238 and params(DeResNet(scale=2)) == 631_309
    assert deresnet_arguments(net.state_dict()) == {"scale": 4, "nf": 64, "n_res_blocks": 8}
    assert net(torch.rand(1, 3, 190, 190)).shape == (1, 3, 48, 48)


def test_ddnsr_degradation_maps_hr_and_real_lr_to_lr():
    net = DualInputDegradation(scale=4)
    assert net(torch.rand(2, 3, 64, 48), torch.rand(2, 3, 16, 12)).shape == (2, 3, 16, 12)
    with pytest.raises(ValueError, match="must match"):
        net(torch.rand(1, 3, 64, 64), torch.rand(1, 3, 8, 8))
    assert DualInputDegradation(scale=2)(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 16, 16)).shape[-1] == 16


def test_identify_recognises_every_architecture_and_discriminators():
    from dualsr_cli.archs.dualsr import build_dualsr_networks

    g_up, _, d_dn = build_dualsr_networks(0)
    patchgan = {k: torch.zeros(s) for k, s in official_keys("patchgan_d_rgb.txt")}
    assert identify(CDCNet(scale=2).state_dict()) == "cdc"
    assert identify(RRDBNet(nb=1).state_dict()) == "rrdb"
    assert identify(to_basicsr_layout(RRDBNet(nb=1).state_dict())) == "rrdb"
    assert identify(DeResNet().state_dict()) == "deresnet"
    assert identify(DualInputDegradation().state_dict()) == "ddnsr-degradation"
    assert identify(g_up.state_dict()) == "dualsr"
    assert identify(patchgan) == "discriminator"
    assert identify(d_dn.state_dict()) == "discriminator"
    assert identify({"foo.weight": torch.zeros(3, 3)}) is None
