"""`srx run` / `srx degrade` with checkpoints saved in the official layouts (random weights, official names)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dualsr_cli.archs import ModelDescriptor
from dualsr_cli.archs.cdc import CDCNet, DADAUpscaler, init_cdc
from dualsr_cli.archs.ddnsr import DDNSR_FORMAT, DualInputDegradation
from dualsr_cli.archs.deresnet import DeResNet
from dualsr_cli.archs.rrdb import RRDBNet, init_rrdb
from dualsr_cli.engine.infer import RunOptions, upscale_pixels
from dualsr_cli.image_io import quantize, read_image, write_image
from tests.archs.conftest import official_keys
from tests.archs.test_pretrained_archs import to_basicsr_layout, to_mmsr_layout
from tests.conftest import assert_one_line_error, file_digest, photo, run_srx

CPU = torch.device("cpu")


def rrdb(nb: int = 2) -> RRDBNet:
    torch.manual_seed(1)
    net = RRDBNet(nb=nb).eval()
    init_rrdb(net)
    return net


def cdc(scale: int, seed: int = 2) -> CDCNet:
    torch.manual_seed(seed)
    net = CDCNet(scale=scale).eval()
    init_cdc(net)
    return net


@pytest.fixture(scope="module")
def lr_photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("lr") / "lr.png"
    write_image(path, photo("coffee")[100:132, 200:248] / 255.0)  # 48x32, a multiple of 16
    return path


def expected_output(module, path) -> np.ndarray:
    pixels = read_image(path).rgb_float64()
    with torch.inference_mode():
        sr = module(torch.from_numpy(pixels.transpose(2, 0, 1)[None].astype(np.float32)))
    return quantize(sr[0].permute(1, 2, 0).numpy(), 8)


CASES = {
    "dasr-original-bare": ("dasr", lambda: rrdb().state_dict(), lambda: rrdb()),
    "dasr-mmsr-params": ("dasr", lambda: {"params": to_mmsr_layout(rrdb().state_dict())}, lambda: rrdb()),
    "dasr-basicsr-ema-module": (
        "dasr",
        lambda: {"params_ema": {f"module.{k}": v for k, v in to_basicsr_layout(rrdb().state_dict()).items()}},
        lambda: rrdb(),
    ),
    "ddnsr-srx-format": (
        "ddnsr",
        lambda: {
            "format": DDNSR_FORMAT,
            "version": 1,
            "scale": 4,
            "reconstruction": rrdb().state_dict(),
            "degradation": DualInputDegradation().state_dict(),
        },
        lambda: rrdb(),
    ),
    "cdc-official-release": (
        "cdc",
        lambda: {"Name": "HGSR", "state_dict": cdc(2).state_dict(), "optim": {}},
        lambda: cdc(2).upscale,
    ),
    "cdc-stage1": ("cdc", lambda: {"break_info": {"epoch": 1}, "model": cdc(4).state_dict()}, lambda: cdc(4).upscale),
}


@pytest.mark.parametrize("case", list(CASES))
def test_run_output_equals_a_direct_forward(tmp_path, lr_photo, case):
    arch, checkpoint, module = CASES[case]
    torch.save(checkpoint(), tmp_path / "w.pth")
    result = run_srx(
        "run", arch, lr_photo, "-w", tmp_path / "w.pth", "-o", tmp_path / "sr.png", "-t", "0", "-q", "--device", "cpu"
    )
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(read_image(tmp_path / "sr.png").color, expected_output(module(), lr_photo))


def test_dada_combines_up_t_with_the_source_models_maps(tmp_path, lr_photo):
    up_t, up_0 = cdc(2, seed=3), cdc(2, seed=4)
    torch.save(
        {
            "break_info": {"epoch": 2},
            "model": {"up_s": up_0.state_dict(), "up_t": up_t.state_dict(), "down_t": DeResNet(scale=2).state_dict()},
        },
        tmp_path / "dada.pth",
    )
    torch.save(
        {"break_info": {}, "model": {"up": up_0.state_dict(), "down": DeResNet(scale=2).state_dict()}},
        tmp_path / "circle.pth",
    )
    result = run_srx(
        "run",
        "dada",
        lr_photo,
        "-w",
        tmp_path / "dada.pth",
        "--maps-weights",
        tmp_path / "circle.pth",
        "-o",
        tmp_path / "sr.png",
        "-t",
        "0",
        "-q",
    )
    assert result.returncode == 0, result.stderr
    expected = expected_output(DADAUpscaler(up_t, up_0).eval(), lr_photo)
    np.testing.assert_array_equal(read_image(tmp_path / "sr.png").color, expected)
    assert_one_line_error(
        run_srx("run", "dada", lr_photo, "-w", tmp_path / "dada.pth", "-o", tmp_path / "x.png"), "--maps-weights"
    )


def test_cdc_pads_sizes_that_are_not_multiples_of_16_and_crops_back():
    net = cdc(2)
    model = ModelDescriptor("cdc", net, 2, net.upscale, size_multiple=16)
    pixels = torch.rand(1, 3, 40, 57)
    out = upscale_pixels(model, pixels, RunOptions(tile=0), CPU)
    padded = torch.nn.functional.pad(pixels, (0, 7, 0, 8), mode="replicate")
    with torch.inference_mode():
        expected = net.upscale(padded)[..., :80, :114]
    assert out.shape == (1, 3, 80, 114)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("arch", ["rrdb", "cdc"])
def test_tiled_equals_untiled(arch):
    if arch == "rrdb":
        net = rrdb(nb=8)
        model = ModelDescriptor("dasr", net, 4, net, tile_pad=24)
        pixels = torch.rand(1, 3, 50, 60)
    else:
        net = cdc(2)
        model = ModelDescriptor("cdc", net, 2, net.upscale, size_multiple=16, tile_pad=32)
        pixels = torch.rand(1, 3, 64, 80)
    untiled = upscale_pixels(model, pixels, RunOptions(tile=0), CPU)
    tiled = upscale_pixels(model, pixels, RunOptions(tile=32), CPU)
    assert (tiled - untiled).abs().max().item() <= 1e-4


def test_full_size_official_checkpoints_load(tmp_path):
    from dualsr_cli.archs import load_model

    torch.save({k: torch.zeros(s) for k, s in official_keys("rrdb_esrgan_old_x4.txt")}, tmp_path / "srn.pth")
    model = load_model("dasr", tmp_path / "srn.pth")
    assert model.scale == 4 and model.module.model[1].sub[22] is not None
    torch.save(
        {"Name": "x", "state_dict": {k: torch.zeros(s) for k, s in official_keys("cdc_x4.txt")}}, tmp_path / "cdc.pth"
    )
    assert load_model("cdc", tmp_path / "cdc.pth").scale == 4


def test_bad_checkpoints_are_one_line_errors_without_output(tmp_path, lr_photo):
    torch.save(rrdb().state_dict(), tmp_path / "good.pth")
    data = (tmp_path / "good.pth").read_bytes()
    (tmp_path / "truncated.pth").write_bytes(data[: len(data) // 3])
    (tmp_path / "random.pth").write_bytes(np.random.default_rng(0).bytes(5000))
    torch.save(cdc(2).state_dict(), tmp_path / "cdc.pth")
    torch.save({k: torch.zeros(s) for k, s in official_keys("patchgan_d_rgb.txt")}, tmp_path / "disc.pth")
    wrong = rrdb().state_dict()
    wrong["model.0.weight"] = torch.zeros(64, 3, 5, 5)
    torch.save(wrong, tmp_path / "wrong.pth")
    cases = {
        "truncated.pth": "truncated",
        "random.pth": "cannot read",
        "cdc.pth": "not ESRGAN RRDBNet",
        "disc.pth": "discriminator",
        "wrong.pth": "wrong shape",
        "missing.pth": "not found",
    }
    before = file_digest(lr_photo)
    for name, fragment in cases.items():
        out = tmp_path / f"out_{name}"
        result = run_srx("run", "dasr", lr_photo, "-w", tmp_path / name, "-o", out)
        assert_one_line_error(result, fragment)
        assert not out.exists()
    assert file_digest(lr_photo) == before
    assert_one_line_error(
        run_srx("run", "dasr", lr_photo, "-w", tmp_path / "good.pth", "--half", "-o", tmp_path / "h"),
        "--half needs a CUDA device",
    )


def test_folder_gray_alpha_16bit_suffix_ext_and_outscale(tmp_path):
    torch.save(rrdb(nb=1).state_dict(), tmp_path / "w.pth")
    folder = tmp_path / "in"
    base = photo("chelsea")[:20, :24] / 255.0
    folder.mkdir()
    write_image(folder / "b_gray16.png", base[:, :, :1], bit_depth=16)
    write_image(folder / "a_rgba.png", base, alpha=np.full(base.shape[:2], 0.5))
    write_image(folder / "c.jpg", base)
    (folder / "notes.txt").write_text("x")
    result = run_srx("run", "dasr", folder, "-w", tmp_path / "w.pth", "-o", tmp_path / "o", "-s", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.index("a_rgba") < result.stdout.index("b_gray16") < result.stdout.index("c.jpg")
    assert "notes.txt" in result.stderr
    gray = read_image(tmp_path / "o" / "b_gray16_x2.png")
    assert gray.is_gray and gray.bit_depth == 16 and (gray.width, gray.height) == (48, 40)
    rgba = read_image(tmp_path / "o" / "a_rgba_x2.png")
    assert rgba.alpha is not None and np.all(np.abs(rgba.alpha.astype(int) - 128) <= 1)
    assert (tmp_path / "o" / "c_x2.jpg").exists()
    again = run_srx(
        "run",
        "dasr",
        folder,
        "-w",
        tmp_path / "w.pth",
        "-o",
        tmp_path / "o",
        "--suffix",
        "",
        "--ext",
        "webp",
        "--skip-existing",
        "-q",
    )
    assert again.returncode == 0 and (tmp_path / "o" / "c.webp").exists() and (tmp_path / "o" / "a_rgba.webp").exists()


def test_degrade_with_a_dasr_dsn_and_a_ddnsr_checkpoint(tmp_path):
    torch.manual_seed(0)
    dsn = DeResNet().eval()
    torch.save(
        {"epoch": 5, "iteration": 99, "model_g_state_dict": dsn.state_dict(), "models_d_state_dict": {}},
        tmp_path / "dsn.tar",
    )
    write_image(tmp_path / "hr.png", photo("astronaut")[:130, :150] / 255.0)
    result = run_srx("degrade", tmp_path / "hr.png", "-w", tmp_path / "dsn.tar", "-o", tmp_path / "o", "-q")
    assert result.returncode == 0, result.stderr
    lr = read_image(tmp_path / "o" / "hr_lr.png")
    assert (lr.width, lr.height) == (38, 33)  # ceil(150/4), ceil(130/4)
    with torch.inference_mode():
        direct = dsn(torch.from_numpy(read_image(tmp_path / "hr.png").rgb_float64().transpose(2, 0, 1)[None]).float())
    assert np.abs(lr.color.astype(int) - quantize(direct[0].permute(1, 2, 0).numpy(), 8).astype(int)).max() <= 1
    ddn = DualInputDegradation(scale=4)
    torch.save(
        {
            "format": DDNSR_FORMAT,
            "version": 1,
            "scale": 4,
            "reconstruction": rrdb(1).state_dict(),
            "degradation": ddn.state_dict(),
        },
        tmp_path / "ddnsr.pth",
    )
    write_image(tmp_path / "real_lr.png", photo("coffee")[:20, :20] / 255.0)
    assert_one_line_error(
        run_srx("degrade", tmp_path / "hr.png", "-w", tmp_path / "ddnsr.pth", "-o", tmp_path / "d"), "--reference"
    )
    ok = run_srx(
        "degrade",
        tmp_path / "hr.png",
        "-w",
        tmp_path / "ddnsr.pth",
        "--reference",
        tmp_path / "real_lr.png",
        "-o",
        tmp_path / "d",
        "-q",
    )
    assert ok.returncode == 0, ok.stderr
    assert read_image(tmp_path / "d" / "hr_lr.png").width == 38


def test_run_help_names_the_dasr_it_means():
    help_text = run_srx("run", "--help").stdout
    assert "ShuhangGu/DASR" in help_text and "--tile-pad" in help_text and "--maps-weights" in help_text
