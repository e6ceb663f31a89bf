"""`srx zero-shot --batch-images / --ensemble`, in process: results, JSON and refusals."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
from typer.testing import CliRunner

from dualsr_cli.cli import app
from dualsr_cli.image_io import read_image
from tests.conftest import photo

FEW = ["--iters", "2", "--quiet"]


def _invoke(*args) -> object:
    return CliRunner().invoke(app, [str(a) for a in args])


def test_batched_images_of_two_sizes_match_their_single_runs(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    iio.imwrite(inputs / "a.png", photo("chelsea")[40:140, 100:220])  # 120x100
    iio.imwrite(inputs / "b.png", photo("coffee")[100:200, 200:330])  # 130x100: same 80 px crop
    single = _invoke("zero-shot", inputs, "--out", tmp_path / "single", *FEW)
    assert single.exit_code == 0, single.output
    batched = _invoke(
        "zero-shot",
        inputs,
        "--out",
        tmp_path / "batched",
        "--batch-images",
        "2",
        *FEW,
        "--json",
        tmp_path / "batched.json",
    )
    assert batched.exit_code == 0, batched.output
    for name in ("a_x2.png", "b_x2.png"):
        one = read_image(tmp_path / "single" / name).color.astype(int)
        two = read_image(tmp_path / "batched" / name).color.astype(int)
        assert one.shape == two.shape and np.abs(one - two).max() <= 2
    entries = json.loads((tmp_path / "batched.json").read_text())["images"]
    assert [e["batch"]["images_together"] for e in entries] == [["a.png", "b.png"]] * 2
    assert all(e["iterations"] == 2 and e["batch"]["stacking"] == "sequential" for e in entries)


def test_ensemble_averages_seeds_and_reports_the_kernel_spread(tmp_path):
    lr = photo("chelsea")[40:140, 100:220]
    iio.imwrite(tmp_path / "lr.png", lr)
    iio.imwrite(tmp_path / "gt.png", np.repeat(np.repeat(lr, 2, axis=0), 2, axis=1))
    result = _invoke(
        "zero-shot",
        tmp_path / "lr.png",
        "--out",
        tmp_path / "out",
        "--ensemble",
        "2",
        "--gt",
        tmp_path / "gt.png",
        "--json",
        tmp_path / "s.json",
        "--iters",
        "2",
    )
    assert result.exit_code == 0, result.output
    assert "ensemble of 2 seeds" in result.output
    entry = json.loads((tmp_path / "s.json").read_text())["images"][0]
    assert entry["batch"]["seeds"] == [0, 1] and entry["batch"]["runs_together"] == 2
    assert entry["batch"]["kernel_spread"]["max_tap_std"] > 0
    assert len(entry["batch"]["member_psnr_y"]) == 2 and "psnr_y" in entry["metrics"]
    assert (tmp_path / "out" / "lr_x2.png").exists() and (tmp_path / "out" / "lr_kernel_x2.mat").exists()


def test_batch_options_are_refused_in_one_line(tmp_path):
    iio.imwrite(tmp_path / "a.png", photo("chelsea")[40:140, 100:220])
    for args, message in (
        (["--precision", "bf16"], "needs a CUDA device"),
        (["--cuda-graphs"], "--cuda-graphs needs a CUDA device"),
        (["--batch-images", "0"], "--batch-images must be at least 1"),
        (["--ensemble", "0"], "--ensemble must be at least 1"),
        (["--precision", "fp16"], "--precision must be one of"),
    ):
        result = _invoke("zero-shot", tmp_path / "a.png", "--out", tmp_path / "out", "--device", "cpu", *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
