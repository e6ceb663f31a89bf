"""`srx zero-shot` through its console entry point (a few runs in a real process), including every bad-input path."""

from __future__ import annotations

import json
import os
import re

import imageio.v3 as iio
import numpy as np
import pytest
from scipy.io import loadmat

from dualsr_cli.image_io import read_image, write_image
from tests.conftest import assert_one_line_error, file_digest, photo, run_srx, run_torchrun

FEW = ("--iters", "3", "--quiet")


def test_help_and_version():
    result = run_srx("--help")
    assert result.returncode == 0 and "zero-shot" in result.stdout
    result = run_srx("zero-shot", "--help")
    assert result.returncode == 0
    for flag in ("--iters", "--seed", "--lambda-cycle", "--lambda-interp", "--device", "--gt", "--json"):
        assert flag in result.stdout
    assert "DualSR" in result.stdout
    version = run_srx("--version", process=True)
    assert version.returncode == 0 and version.stdout.startswith("srx ")


def test_the_command_line_loads_without_torch():
    """``srx --help`` and option parsing stay fast: torch and the networks load only when a command runs."""
    import subprocess
    import sys

    from tests.conftest import REPO

    code = "import sys, dualsr_cli.cli; heavy = {'torch', 'cv2'} & set(sys.modules); assert not heavy, heavy"
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_end_to_end_on_a_real_photo(tmp_path, small_photo_path):
    out = tmp_path / "out"
    before = file_digest(small_photo_path)
    result = run_srx(  # a real process, as a user runs it (the other CLI tests run in this one)
        "zero-shot",
        small_photo_path,
        "--iters",
        "4",
        "--out",
        out,
        "--save-kernel",
        "--save-comparison",
        "--json",
        tmp_path / "summary.json",
        process=True,
    )
    assert result.returncode == 0, result.stderr
    sr = read_image(out / "chelsea_small_x2.png")
    assert (sr.width, sr.height) == (240, 200) and sr.bit_depth == 8
    kernel = loadmat(out / "chelsea_small_kernel_x2.mat")["Kernel"]
    assert kernel.shape == (13, 13) and kernel.dtype == np.float32
    kernel_picture = read_image(out / "chelsea_small_kernel_x2.png")
    assert kernel_picture.width > 300 and len(np.unique(kernel_picture.color.reshape(-1, 3), axis=0)) > 200
    comparison = read_image(out / "chelsea_small_comparison_x2.png").color
    gap, header = 12, 34  # the figure's margins: bicubic, then srx, each at one pixel per image pixel
    shown = comparison[header : header + 200, 2 * gap + 240 : 2 * gap + 480]
    np.testing.assert_array_equal(shown, sr.color)
    summary = json.loads((tmp_path / "summary.json").read_text())
    entry = summary["images"][0]
    assert entry["iterations"] == 4 and set(entry["final_losses"]) >= {
        "gan",
        "cycle_forward",
        "discriminator",
    }
    assert entry["train_seconds"] > 0
    assert "chelsea_small_x2.png" in result.stdout
    assert file_digest(small_photo_path) == before


def test_same_seed_twice_gives_byte_identical_output(tmp_path, small_photo_path):
    a = run_srx("zero-shot", small_photo_path, *FEW, "--out", tmp_path / "a.png")
    b = run_srx("zero-shot", small_photo_path, *FEW, "--out", tmp_path / "b.png", process=True)  # across processes
    assert a.returncode == b.returncode == 0
    assert file_digest(tmp_path / "a.png") == file_digest(tmp_path / "b.png")


def test_ground_truth_and_kernel_metrics_are_reported(tmp_path):
    from scipy.io import savemat

    from dualsr_cli.ops.kernels import anisotropic_gaussian_kernel, blur_and_subsample

    hr = photo("coffee")[:220, :240] / 255.0
    kernel = anisotropic_gaussian_kernel(np.random.default_rng(1))
    write_image(tmp_path / "lr.png", blur_and_subsample(hr, kernel))
    write_image(tmp_path / "hr.png", hr)
    savemat(tmp_path / "k.mat", {"Kernel": kernel})
    result = run_srx(
        "zero-shot",
        tmp_path / "lr.png",
        "--iters",
        "2",
        "--out",
        tmp_path / "o",
        "--gt",
        tmp_path / "hr.png",
        "--gt-kernel",
        tmp_path / "k.mat",
        "--json",
        "-",
    )
    assert result.returncode == 0, result.stderr
    assert "Y-PSNR" in result.stderr and "kernel error" in result.stderr  # stdout carries the JSON alone
    summary = json.loads(result.stdout)
    metrics = summary["images"][0]["metrics"]
    assert 5 < metrics["psnr_y"] < 60 and 0 < metrics["ssim_y"] <= 1
    assert metrics["kernel"]["l2"] > 0 and np.isfinite(metrics["downsampler_psnr_y"])


def test_gray_16bit_and_alpha_inputs_keep_their_form(tmp_path):
    base = photo("chelsea")[:110, :100] / 255.0
    write_image(tmp_path / "gray16.png", base[:, :, :1] * 0.9 + 0.01, bit_depth=16)
    alpha = np.tile(np.linspace(0, 1, 100), (110, 1))
    write_image(tmp_path / "rgba.png", base, alpha=alpha)
    result = run_srx("zero-shot", tmp_path / "gray16.png", tmp_path / "rgba.png", *FEW, "--out", tmp_path / "o")
    assert result.returncode == 0, result.stderr
    gray = read_image(tmp_path / "o" / "gray16_x2.png")
    assert gray.is_gray and gray.bit_depth == 16 and (gray.width, gray.height) == (200, 220)
    rgba = read_image(tmp_path / "o" / "rgba_x2.png")
    assert rgba.alpha is not None and not rgba.is_gray
    # the alpha plane is the bicubic x2 of the input's: a horizontal ramp stays a ramp
    assert rgba.alpha[:, 10].std() == 0 and rgba.alpha[0, 150] > rgba.alpha[0, 50]


def test_folder_is_sorted_skips_non_images_and_honours_skip_existing(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("b.png", "a.png"):
        iio.imwrite(folder / name, photo("coffee")[:100, :100])
    (folder / "notes.txt").write_text("hello")
    (folder / "sub").mkdir()
    result = run_srx("zero-shot", folder, "--iters", "2", "--out", tmp_path / "o")
    assert result.returncode == 0, result.stderr
    assert result.stdout.index("a.png") < result.stdout.index("b.png")
    assert "notes.txt" in result.stderr and "sub" in result.stderr
    # no terminal: progress is a timed line per image on stderr, with the folder's ETA
    assert "[1/2] training a.png: 2 it" in result.stderr
    assert re.search(r"\[1/2\] training a\.png: done in \d:\d\d:\d\d; all images 1/2, elapsed .*, ETA ", result.stderr)
    assert result.stdout.rstrip().splitlines()[-1].startswith("2 of 2 images done in")
    first = file_digest(tmp_path / "o" / "a_x2.png")
    os.utime(tmp_path / "o" / "a_x2.png", (0, 0))
    again = run_srx("zero-shot", folder, "--iters", "2", "--out", tmp_path / "o", "--skip-existing")
    assert again.returncode == 0 and again.stdout.count("skipped") == 2
    assert file_digest(tmp_path / "o" / "a_x2.png") == first
    assert os.stat(tmp_path / "o" / "a_x2.png").st_mtime == 0


def _bad_input_cases(tmp_path, small_photo_path):
    data = small_photo_path.read_bytes()
    cases = {
        "missing": (tmp_path / "nope.png", "not found"),
        "empty": (tmp_path / "empty.png", "empty"),
        "corrupt": (tmp_path / "corrupt.png", "cannot read"),
        "truncated": (tmp_path / "truncated.png", "cannot read"),
        "text": (tmp_path / "text.png", "not a valid image"),
        "tiny": (tmp_path / "tiny.png", "at least 84x84"),
        "empty_folder": (tmp_path / "nothing", "no images found"),
    }
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "corrupt.png").write_bytes(data[:40] + bytes(200) + data[240:])
    (tmp_path / "truncated.png").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.png").write_text("definitely not a PNG\n")
    iio.imwrite(tmp_path / "tiny.png", photo("chelsea")[:80, :120])
    (tmp_path / "nothing").mkdir()
    (tmp_path / "nothing" / "readme.txt").write_text("x")
    return cases


@pytest.mark.parametrize("case", ["missing", "empty", "corrupt", "truncated", "text", "tiny", "empty_folder"])
def test_bad_input_gives_one_line_exit_2_and_no_output(tmp_path, small_photo_path, case):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    path, fragment = _bad_input_cases(inputs, small_photo_path)[case]
    before = file_digest(path) if path.is_file() else None
    out = tmp_path / "out"
    result = run_srx("zero-shot", path, *FEW, "--out", out)
    assert_one_line_error(result, fragment)
    assert not out.exists() or not any(out.iterdir())
    if before is not None:
        assert file_digest(path) == before


def test_unwritable_output_folder_and_other_refusals(tmp_path, small_photo_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert_one_line_error(run_srx("zero-shot", small_photo_path, *FEW, "--out", blocker / "out"), "not writable")
    assert_one_line_error(
        run_srx("zero-shot", small_photo_path, *FEW, "--scale", "3", "--out", tmp_path / "o"), "x2 or x4"
    )
    assert_one_line_error(run_srx("zero-shot", small_photo_path, *FEW, "--out", small_photo_path), "overwrite")
    assert_one_line_error(
        run_srx("zero-shot", small_photo_path, small_photo_path, *FEW, "--out", tmp_path / "x.png"),
        "names a file",
    )
    assert_one_line_error(run_srx("zero-shot", small_photo_path, *FEW, "--device", "cuda:7", "--out", tmp_path / "o"))
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_read_only_output_folder(tmp_path, small_photo_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert_one_line_error(run_srx("zero-shot", small_photo_path, *FEW, "--out", locked), "not writable")
    finally:
        locked.chmod(0o700)


def test_folder_with_one_corrupt_image_fails_before_any_training(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    iio.imwrite(folder / "a.png", photo("coffee")[:100, :100])
    (folder / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    result = run_srx("zero-shot", folder, *FEW, "--out", tmp_path / "o")
    assert_one_line_error(result, "b.png")
    assert not (tmp_path / "o" / "a_x2.png").exists()


def test_torchrun_shards_a_folder_across_ranks(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for name, photo_name in (("a.png", "coffee"), ("b.png", "chelsea"), ("c.png", "astronaut")):
        iio.imwrite(folder / name, photo(photo_name)[:100, :110])
    proc = run_torchrun(
        "zero-shot",
        str(folder),
        "--iters",
        "2",
        "--quiet",
        "--out",
        str(tmp_path / "o"),
        "--json",
        str(tmp_path / "s.json"),
        "--device",
        "cpu",
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "o").glob("*_x2.png")) == ["a_x2.png", "b_x2.png", "c_x2.png"]
    summary = json.loads((tmp_path / "s.json").read_text())
    assert [os.path.basename(e["input"]) for e in summary["images"]] == ["a.png", "b.png", "c.png"]
