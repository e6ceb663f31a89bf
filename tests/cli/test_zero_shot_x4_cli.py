"""`srx zero-shot --scale 4`: every option's x4 path, in-process (CliRunner), plus torchrun sharding."""

from __future__ import annotations

import json
import os

import imageio.v3 as iio
import numpy as np
import pytest
from scipy.io import loadmat, savemat
from typer.testing import CliRunner

from dualsr_cli.cli import app
from dualsr_cli.image_io import read_image, write_image
from dualsr_cli.ops.kernels import (
    anisotropic_gaussian_kernel,
    blur_and_subsample,
    blur_and_subsample_twice,
    compose_downscale_kernels,
)
from tests.conftest import file_digest, photo, run_torchrun

FEW = ("--scale", "4", "--iters", "2")


def srx(*args) -> object:
    return CliRunner().invoke(app, ["zero-shot", *map(str, args)])


def assert_refused(result, fragment: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.exception)
    assert len(lines) == 1 and lines[0].startswith("srx: error:") and fragment in lines[0], result.stderr


@pytest.fixture()
def degraded_pair(tmp_path):
    """Two real photos degraded the DIV2KRK x4 way, with their HR images and 31x31 kernels in folders."""
    for folder in ("lr", "hr", "k"):
        (tmp_path / folder).mkdir()
    for i, name in enumerate(("astronaut", "coffee")):
        hr = photo(name)[:344, :352] / 255.0
        kernel = anisotropic_gaussian_kernel(np.random.default_rng(i))
        write_image(tmp_path / "lr" / f"{name}.png", blur_and_subsample_twice(hr, kernel))
        write_image(tmp_path / "hr" / f"{name}.png", hr)
        savemat(tmp_path / "k" / f"{name}.mat", {"Kernel": compose_downscale_kernels(kernel, kernel)})
    return tmp_path


def test_twice_on_a_folder_with_gt_kernels_json_progress_and_skip_existing(degraded_pair):
    root = degraded_pair
    before = file_digest(root / "lr" / "coffee.png")
    result = srx(
        root / "lr",
        *FEW,
        "--x4-method",
        "twice",
        "--out",
        root / "o",
        "--gt",
        root / "hr",
        "--gt-kernel",
        root / "k",
        "--json",
        root / "s.json",
        "--save-kernel",
        "--device",
        "cpu",
    )
    assert result.exit_code == 0, (result.stderr, result.exception)
    for name in ("astronaut", "coffee"):
        sr = read_image(root / "o" / f"{name}_x4.png")
        assert (sr.width, sr.height) == (352, 344)
        assert loadmat(root / "o" / f"{name}_kernel_x4.mat")["Kernel"].shape == (25, 25)
        assert (root / "o" / f"{name}_kernel_x4.png").exists()
    # progress shows both stages of every image, counted as one image
    for image in ("[1/2] training astronaut.png", "[2/2] training coffee.png"):
        for stage in ("stage 1/2 (x2 of the input)", "stage 2/2 (x2 of the x2 result)"):
            assert f"{image} · {stage}" in result.stderr
    assert "border 4" in result.stdout and "kernel error" in result.stdout
    summary = json.loads((root / "s.json").read_text())
    assert summary["config"]["scale"] == 4 and summary["config"]["x4_method"] == "twice"
    entry = summary["images"][0]
    assert entry["scale"] == 4 and entry["iterations"] == 4 and len(entry["stages"]) == 2
    metrics = entry["metrics"]
    assert 5 < metrics["psnr_y"] < 60 and 0 < metrics["kernel"]["l2"] < 1
    assert np.isfinite(metrics["downsampler_psnr_y"])
    assert file_digest(root / "lr" / "coffee.png") == before

    os.utime(root / "o" / "coffee_x4.png", (0, 0))
    again = srx(root / "lr", *FEW, "--out", root / "o", "--skip-existing")
    assert again.exit_code == 0 and again.stdout.count("skipped") == 2
    assert os.stat(root / "o" / "coffee_x4.png").st_mtime == 0


@pytest.mark.parametrize(("method", "first_stage"), [("joint-zssr", "joint x4: kernel"), ("x2-zssr", "x2 run: kernel")])
def test_zssr_methods_show_both_stages_and_report_them_in_json(tmp_path, degraded_pair, method, first_stage):
    lr = degraded_pair / "lr" / "coffee.png"
    args = ("--x4-method", method, "--gt", degraded_pair / "hr" / "coffee.png", "--json", tmp_path / "s.json")
    result = srx(lr, "--scale", "4", "--iters", "6", *args, "--out", tmp_path / "o", "--tile", "24")
    assert result.exit_code == 0, (result.stderr, result.exception)
    for stage in (f"stage 1/2 ({first_stage})", "stage 2/2 (ZSSR-style x4 upsampler)"):
        assert f"training coffee.png · {stage}" in result.stderr
    sr = read_image(tmp_path / "o" / "coffee_x4.png")
    assert (sr.width, sr.height) == (352, 344)
    assert loadmat(tmp_path / "o" / "coffee_kernel_x4.mat")["Kernel"].shape == (25, 25)
    entry = json.loads((tmp_path / "s.json").read_text())["images"][0]
    assert [stage["iterations"] for stage in entry["stages"]] == [6, 2] and entry["iterations"] == 8
    assert entry["stages"][1]["son_crop"] == 21 and 5 < entry["metrics"]["psnr_y"] < 60
    untiled = srx(
        lr,
        "--scale",
        "4",
        "--iters",
        "6",
        "--x4-method",
        method,
        "--tile",
        "0",
        "--quiet",
        "--out",
        tmp_path / "u.png",
    )
    assert untiled.exit_code == 0, (untiled.stderr, untiled.exception)
    difference = iio.imread(tmp_path / "u.png").astype(int) - iio.imread(tmp_path / "o" / "coffee_x4.png").astype(int)
    assert np.abs(difference).max() <= 1


def test_back_projection_steps_reach_x2_zssr_and_make_the_output_consistent_with_the_input(tmp_path, degraded_pair):
    lr = degraded_pair / "lr" / "coffee.png"
    for steps in (0, 4):
        out = tmp_path / f"bp{steps}"
        result = srx(lr, *FEW, "--x4-method", "x2-zssr", "--back-projection", steps, "--quiet", "--out", out)
        assert result.exit_code == 0, (result.stderr, result.exception)
    kernel = loadmat(tmp_path / "bp0" / "coffee_kernel_x4.mat")["Kernel"]
    np.testing.assert_array_equal(kernel, loadmat(tmp_path / "bp4" / "coffee_kernel_x4.mat")["Kernel"])
    lr_pixels = read_image(lr).rgb_float64()

    def inconsistency(name: str) -> float:
        sr = read_image(tmp_path / name / "coffee_x4.png").rgb_float64()
        return float(np.abs(blur_and_subsample(sr, kernel, 4) - lr_pixels).mean())

    assert inconsistency("bp4") < 0.8 * inconsistency("bp0")


def test_joint_tiled_equals_untiled_and_corrected_changes_the_result(tmp_path):
    write_image(tmp_path / "in.png", photo("coffee")[60:160, 100:210] / 255.0)
    runs = {
        "untiled": ("--tile", "0"),
        "tiled": ("--tile", "32"),
        "corrected": ("--tile", "0", "--corrected"),
    }
    for name, extra in runs.items():
        result = srx(
            tmp_path / "in.png",
            *FEW,
            "--x4-method",
            "joint",
            "--quiet",
            "--out",
            tmp_path / f"{name}.png",
            "--seed",
            "3",
            *extra,
        )
        assert result.exit_code == 0, (result.stderr, result.exception)
    untiled = iio.imread(tmp_path / "untiled.png").astype(int)
    assert untiled.shape == (400, 440, 3)
    assert np.abs(iio.imread(tmp_path / "tiled.png").astype(int) - untiled).max() <= 1
    assert file_digest(tmp_path / "corrected.png") != file_digest(tmp_path / "untiled.png")


def test_bad_input_at_x4_is_refused_before_training(tmp_path, degraded_pair):
    iio.imwrite(tmp_path / "tiny.png", photo("chelsea")[:83, :120])
    out = tmp_path / "out"
    assert_refused(srx(tmp_path / "tiny.png", *FEW, "--out", out), "at least 84x84")
    assert_refused(srx(tmp_path / "tiny.png", "--x4-method", "joint", "--out", out), "--scale 4 only")
    assert_refused(srx(tmp_path / "tiny.png", *FEW, "--x4-method", "thrice", "--out", out), "twice, joint")
    for args in ((*FEW, "--x4-method", "joint"), ("--iters", "2")):
        assert_refused(srx(tmp_path / "tiny.png", *args, "--back-projection", "2", "--out", out), "x2-zssr only")
    assert_refused(srx(tmp_path / "tiny.png", *FEW, "--back-projection", "-1", "--out", out), "--back-projection")
    lr = degraded_pair / "lr" / "coffee.png"
    # a ground truth of x2 size does not match the x4 result
    write_image(tmp_path / "gt_x2.png", photo("coffee")[:172, :176] / 255.0)
    assert_refused(srx(lr, *FEW, "--gt", tmp_path / "gt_x2.png", "--out", out), "x4 result")
    assert_refused(srx(lr, *FEW, "--device", "cuda:7", "--out", out), "cuda")
    assert not out.exists() or not any(out.iterdir())


def test_torchrun_shards_x4_runs_across_ranks(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name, photo_name in (("a.png", "coffee"), ("b.png", "astronaut"), ("c.png", "chelsea")):
        iio.imwrite(folder / name, photo(photo_name)[:90, :88])
    proc = run_torchrun(
        "zero-shot",
        str(folder),
        *FEW,
        "--x4-method",
        "joint",
        "--quiet",
        "--out",
        str(tmp_path / "o"),
        "--json",
        str(tmp_path / "s.json"),
        "--device",
        "cpu",
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "o").glob("*_x4.png")) == ["a_x4.png", "b_x4.png", "c_x4.png"]
    assert len(list((tmp_path / "o").glob("*_kernel_x4.mat"))) == 3
    summary = json.loads((tmp_path / "s.json").read_text())
    assert [os.path.basename(e["input"]) for e in summary["images"]] == ["a.png", "b.png", "c.png"]
    assert all(e["scale"] == 4 for e in summary["images"])
