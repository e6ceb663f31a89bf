"""Every command that writes images keeps the input's EXIF, ICC profile and print size (zero-shot, run,
degrade, bench --save-images), called as library functions on a camera JPEG."""

from __future__ import annotations

import torch
from PIL import Image

from dualsr_cli.archs import ModelDescriptor
from dualsr_cli.archs.deresnet import DeResNet
from dualsr_cli.engine.degrade import degrade_file
from dualsr_cli.engine.infer import RunOptions, upscale_file
from dualsr_cli.image_io import read_image, write_image
from tests.conftest import photo
from tests.test_image_metadata import assert_camera_metadata_kept, camera_jpeg, icc_profile


def test_run_keeps_metadata_and_scales_dpi_with_outscale(tmp_path):
    camera = camera_jpeg(tmp_path / "camera.jpg")
    model = ModelDescriptor("nearest", torch.nn.Upsample(scale_factor=2), 2, torch.nn.Upsample(scale_factor=2))
    for name, outscale, size, dpi in [("x2.jpg", None, (80, 120), 600), ("x3.png", 3.0, (120, 180), 900)]:
        upscale_file(model, camera, tmp_path / name, RunOptions(tile=0, outscale=outscale), torch.device("cpu"))
        assert_camera_metadata_kept(tmp_path / name, size=size, dpi=dpi, icc=icc_profile())


def test_degrade_keeps_metadata_at_the_lower_resolution(tmp_path):
    camera = camera_jpeg(tmp_path / "camera.jpg")
    torch.manual_seed(0)
    net = DeResNet(scale=2, nf=8, n_res_blocks=1).eval()
    degrade_file(net, camera, tmp_path / "lr.png", torch.device("cpu"))
    assert_camera_metadata_kept(tmp_path / "lr.png", size=(20, 30), dpi=150, icc=icc_profile())


def test_zero_shot_keeps_metadata(tmp_path):
    from dualsr_cli.engine.zero_shot.config import ZeroShotConfig
    from dualsr_cli.engine.zero_shot.pipeline import zero_shot_image

    metadata = read_image(camera_jpeg(tmp_path / "camera.jpg")).metadata
    write_image(tmp_path / "big.jpg", photo("coffee")[:90, :96] / 255.0, metadata=metadata)  # big enough for DualSR
    zero_shot_image(tmp_path / "big.jpg", tmp_path / "sr.jpg", ZeroShotConfig(iters=2, device="cpu"))
    assert_camera_metadata_kept(tmp_path / "sr.jpg", size=(192, 180), dpi=600, icc=icc_profile())


def test_bench_saved_images_keep_the_lr_metadata(tmp_path):
    from dualsr_cli.bench.methods import MethodContext, build_method
    from dualsr_cli.bench.runner import run_benchmark
    from dualsr_cli.datasets import detect

    metadata = read_image(camera_jpeg(tmp_path / "camera.jpg")).metadata
    hr = photo("chelsea")[:64, :48] / 255.0
    write_image(tmp_path / "set" / "HR" / "cat.png", hr, mkdir=True)
    write_image(tmp_path / "set" / "LR" / "cat.png", hr[::2, ::2], mkdir=True, metadata=metadata)
    report = run_benchmark(
        detect(tmp_path / "set", scale=2),
        [build_method("bicubic", MethodContext(scale=2))],
        out_dir=tmp_path / "out",
        save_images=True,
    )
    assert len(report.records) == 1
    saved = tmp_path / "out" / "images" / "bicubic" / "cat.png"
    assert_camera_metadata_kept(saved, size=(48, 64), dpi=600, icc=icc_profile())
    with Image.open(saved) as im:
        assert im.mode == "RGB"
