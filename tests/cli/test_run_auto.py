"""`srx run auto` (and `srx run -w FILE` without a method) on random-weight checkpoints saved in the layouts
their projects publish: srx's own architectures through srx's loaders, everything else through spandrel."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from dualsr_cli.cli import app
from dualsr_cli.image_io import quantize, read_image, write_image
from tests.cli.test_run_cli import cdc, expected_output, rrdb
from tests.conftest import CliResult, assert_one_line_error, photo
from tests.test_image_metadata import assert_camera_metadata_kept, camera_jpeg, icc_profile


def srx(*args) -> CliResult:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return CliResult(result.exit_code, result.stdout, result.stderr)


@pytest.fixture(scope="module")
def lr_photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("lr") / "lr.png"
    write_image(path, photo("coffee")[100:132, 200:248] / 255.0)  # 48x32
    return path


def compact() -> torch.nn.Module:
    from spandrel.architectures.Compact import Compact

    torch.manual_seed(5)
    return Compact(num_feat=16, num_conv=2, upscale=4).eval()


def swinir() -> torch.nn.Module:
    from spandrel.architectures.SwinIR import SwinIR

    torch.manual_seed(6)
    return SwinIR(
        img_size=16,
        embed_dim=12,
        depths=[1],
        num_heads=[2],
        window_size=4,
        mlp_ratio=2.0,
        upscale=2,
        upsampler="pixelshuffledirect",
    ).eval()


def span() -> torch.nn.Module:
    from spandrel.architectures.SPAN import SPAN

    torch.manual_seed(7)
    return SPAN(num_in_ch=3, num_out_ch=3, feature_channels=8, upscale=2).eval()


def omnisr() -> torch.nn.Module:
    from spandrel.architectures.OmniSR import OmniSR

    torch.manual_seed(9)
    return OmniSR(num_feat=16, block_num=1, window_size=4, res_num=1, up_scale=2).eval()


def spandrel_output(path, image_path) -> np.ndarray:
    """What spandrel itself makes of the checkpoint, run on the whole image."""
    import spandrel

    model = spandrel.ModelLoader().load_from_file(path).eval()
    pixels = read_image(image_path).rgb_float64()[:, :, : model.input_channels]
    sr = model(torch.from_numpy(pixels.transpose(2, 0, 1)[None].astype(np.float32)))
    return quantize(sr[0].permute(1, 2, 0).numpy(), 8)


CASES = {  # name: (what to save, what `srx run` reports, scale)
    "realesrgan-compact-params": (lambda: {"params": compact().state_dict()}, "Compact", 4),
    "swinir-params-ema": (lambda: {"params_ema": swinir().state_dict()}, "SwinIR", 2),
    "span-bare": (lambda: span().state_dict(), "SPAN", 2),
    "omnisr-bare": (lambda: omnisr().state_dict(), "OmniSR", 2),
}


@pytest.mark.parametrize("case", CASES)
def test_spandrel_architectures_run_like_spandrel_runs_them(tmp_path, lr_photo, case):
    make, name, scale = CASES[case]
    torch.save(make(), tmp_path / "model.pth")
    result = srx("run", "auto", lr_photo, "-w", tmp_path / "model.pth", "-o", tmp_path / "sr.png", "-t", "0")
    assert result.returncode == 0, result.stderr
    assert f"{name} (spandrel) x{scale}" in result.stdout
    sr = read_image(tmp_path / "sr.png")
    assert (sr.width, sr.height) == (48 * scale, 32 * scale)
    np.testing.assert_array_equal(sr.color, spandrel_output(tmp_path / "model.pth", lr_photo))
    tiled = srx("run", lr_photo, "-w", tmp_path / "model.pth", "-o", tmp_path / "tiled.png", "-t", "16", "-q")
    assert tiled.returncode == 0, tiled.stderr  # no method named: auto
    difference = np.abs(read_image(tmp_path / "tiled.png").color.astype(int) - sr.color.astype(int))
    assert difference.mean() < 2.0  # blended tiles stay close to the whole-image result


def test_old_style_esrgan_goes_to_srx_rrdb_loader_with_metadata_kept(tmp_path):
    torch.save(rrdb().state_dict(), tmp_path / "RRDB_ESRGAN_x4.pth")  # model.0 / model.1.sub.N.RDB1 keys
    camera = camera_jpeg(tmp_path / "camera.jpg")
    result = srx("run", camera, "-w", tmp_path / "RRDB_ESRGAN_x4.pth", "-o", tmp_path / "sr.jpg", "-t", "0")
    assert result.returncode == 0, result.stderr
    assert "ESRGAN RRDBNet (srx) x4" in result.stdout
    assert_camera_metadata_kept(tmp_path / "sr.jpg", size=(160, 240), dpi=1200, icc=icc_profile())
    dasr = srx("run", "dasr", camera, "-w", tmp_path / "RRDB_ESRGAN_x4.pth", "-o", tmp_path / "dasr.jpg", "-t", "0")
    assert dasr.returncode == 0, dasr.stderr
    assert (tmp_path / "sr.jpg").read_bytes() == (tmp_path / "dasr.jpg").read_bytes()
    # spandrel recognises the file too (srx's loader is preferred) and computes the same image
    import spandrel

    assert spandrel.ModelLoader().load_from_file(tmp_path / "RRDB_ESRGAN_x4.pth").architecture.name == "ESRGAN"
    srx("run", camera, "-w", tmp_path / "RRDB_ESRGAN_x4.pth", "-o", tmp_path / "sr.png", "-t", "0", "-q")
    difference = np.abs(
        read_image(tmp_path / "sr.png").color.astype(int)
        - spandrel_output(tmp_path / "RRDB_ESRGAN_x4.pth", camera).astype(int)
    )
    assert difference.max() <= 1


def dada_checkpoint(path):
    from dualsr_cli.archs.deresnet import DeResNet

    up_s, up_t = cdc(2, seed=3), cdc(2, seed=4)
    torch.save(
        {
            "break_info": {"epoch": 2},
            "model": {"up_s": up_s.state_dict(), "up_t": up_t.state_dict(), "down_t": DeResNet(scale=2).state_dict()},
        },
        path,
    )
    return up_t


def test_cdc_on_a_dada_checkpoint_runs_up_t_and_auto_agrees(tmp_path):
    up_t = dada_checkpoint(tmp_path / "DADA_best.pth")
    lr_photo = write_image(tmp_path / "lr.png", photo("coffee")[100:116, 200:216] / 255.0)  # CDC is slow on CPU
    result = srx("run", "cdc", lr_photo, "-w", tmp_path / "DADA_best.pth", "-o", tmp_path / "cdc.png", "-t", "0", "-q")
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(
        read_image(tmp_path / "cdc.png").color, expected_output(lambda x: up_t.upscale(x), lr_photo)
    )
    auto = srx("run", "auto", lr_photo, "-w", tmp_path / "DADA_best.pth", "-o", tmp_path / "auto.png", "-t", "0")
    assert auto.returncode == 0, auto.stderr
    assert "cdc (srx) x2" in auto.stdout
    assert (tmp_path / "auto.png").read_bytes() == (tmp_path / "cdc.png").read_bytes()


def test_unknown_and_wrong_kind_checkpoints_are_one_line_errors(tmp_path, lr_photo):
    torch.save(
        {"encoder.stem.weight": torch.zeros(8, 3, 3, 3), "encoder.stem.bias": torch.zeros(8)}, tmp_path / "mystery.pth"
    )
    result = srx("run", "auto", lr_photo, "-w", tmp_path / "mystery.pth", "-o", tmp_path / "x.png")
    assert_one_line_error(result, "no known architecture", "2 tensors", "encoder.stem.weight [8, 3, 3, 3]")
    assert not (tmp_path / "x.png").exists()

    from dualsr_cli.archs.deresnet import DeResNet

    torch.save(DeResNet(scale=2).state_dict(), tmp_path / "dsn.pth")
    assert_one_line_error(
        srx("run", lr_photo, "-w", tmp_path / "dsn.pth", "-o", tmp_path / "x.png"), "DeResnet", "srx degrade"
    )
    torch.save({"params": compact().state_dict()}, tmp_path / "compact.pth")
    assert_one_line_error(
        srx(
            "run",
            lr_photo,
            "-w",
            tmp_path / "compact.pth",
            "--maps-weights",
            tmp_path / "compact.pth",
            "-o",
            tmp_path / "x.png",
        ),
        "--maps-weights",
    )
    assert_one_line_error(srx("run", "auto", "-w", tmp_path / "compact.pth"), "no input given")
    assert not (tmp_path / "x.png").exists()


def test_one_channel_spandrel_model_runs_on_gray_images(tmp_path):
    from spandrel.architectures.Compact import Compact

    torch.manual_seed(8)
    torch.save(
        {"params": Compact(num_in_ch=1, num_out_ch=1, num_feat=8, num_conv=2, upscale=2).state_dict()},
        tmp_path / "gray.pth",
    )
    gray = write_image(tmp_path / "g.png", photo("camera")[200:232, 200:240, :1] / 255.0)
    result = srx("run", gray, "-w", tmp_path / "gray.pth", "-o", tmp_path / "sr.png", "-t", "0")
    assert result.returncode == 0, result.stderr
    sr = read_image(tmp_path / "sr.png")
    assert sr.is_gray and (sr.width, sr.height) == (80, 64)
    difference = np.abs(sr.color[:, :, 0].astype(int) - spandrel_output(tmp_path / "gray.pth", gray)[:, :, 0])
    assert difference.max() <= 1  # the RGB mean of a replicated gray differs from it by float rounding at most


def test_bench_method_auto_runs_a_spandrel_checkpoint(tmp_path):
    from dualsr_cli.bench.methods import MethodContext, build_method
    from dualsr_cli.errors import ConfigError

    torch.save(span().state_dict(), tmp_path / "span.pth")
    method = build_method(f"auto:{tmp_path / 'span.pth'}", MethodContext(scale=2, device="cpu", tile=0))
    lr = read_image(write_image(tmp_path / "lr.png", photo("chelsea")[:24, :20] / 255.0))
    sr = method.upscale(lr).sr
    assert sr.shape == (48, 40, 3)
    expected = spandrel_output(tmp_path / "span.pth", tmp_path / "lr.png")
    np.testing.assert_array_equal(quantize(sr, 8), expected)
    with pytest.raises(ConfigError, match="x2 model"):
        build_method(f"auto:{tmp_path / 'span.pth'}", MethodContext(scale=4, device="cpu"))
