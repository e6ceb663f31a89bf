"""srx adapt --method fda / srx run fda: smoke run, USR_DA import, exact resume, paper mode, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from dualsr_cli.archs import load_model
from dualsr_cli.archs.fda import FDAUpscaler
from dualsr_cli.archs.rrdb import init_rrdb
from dualsr_cli.errors import ConfigError
from dualsr_cli.image_io import write_image
from dualsr_cli.recipes import resume_identity
from dualsr_cli.recipes.data import ImageCache, PatchSampler, load_cross_camera
from dualsr_cli.recipes.fda import linear_probe_accuracy, probe_patches
from dualsr_cli.recipes.job import RunDirectory
from tests.archs.test_pretrained_archs import to_basicsr_layout
from tests.conftest import REPO, assert_one_line_error, photo, run_srx

SMOKE = ("--method", "fda", "--preset", "smoke", "--perceptual", "none", "--device", "cpu", "-q")


def test_smoke_run_logs_alignment_and_loads_in_srx_run(drealsr, tmp_path):
    out = tmp_path / "fda"
    result = run_srx(
        "adapt", "--data", drealsr, "--source", "sony", "--target", "olympus", "--out", out, *SMOKE, process=True
    )
    assert result.returncode == 0, result.stderr
    log = (out / "log.jsonl").read_text()
    assert "D_f_on_target" in log and "probe_accuracy" in log and "cross-camera mode" in log
    validations = [json.loads(line) for line in log.splitlines() if '"validation"' in line]
    assert validations[0]["iteration"] == 0 and set(validations[0]["validation"]) == {
        "D_f_on_target",
        "D_f_on_source",
        "probe_accuracy",
    }
    assert "psnr" in validations[1]["validation"]
    model = load_model("fda", out / "checkpoints" / "fda" / "best.pt")
    assert model.scale == 4
    lr = tmp_path / "lr.png"
    write_image(lr, photo("coffee")[:24, :30] / 255.0)
    run = run_srx("run", "fda", lr, "-w", out / "checkpoints" / "fda" / "best.pt", "-o", tmp_path / "sr.png", "-q")
    assert run.returncode == 0, run.stderr


def test_usr_da_checkpoints_load_by_renaming(tmp_path):
    torch.manual_seed(0)
    net = FDAUpscaler(nb=1)
    init_rrdb(net)
    encoder = {f"conv_featmap.{k.split('.', 1)[1]}": v for k, v in net.E.state_dict().items()}
    torch.save({"model_Enc": encoder, "model_Dec_SR": to_basicsr_layout(net.G_SR.state_dict())}, tmp_path / "usr.pth")
    model = load_model("fda", tmp_path / "usr.pth")
    x = torch.rand(1, 3, 12, 10)
    with torch.inference_mode():
        torch.testing.assert_close(model.forward(x), net.eval()(x))


def test_linear_probe_separates_distinct_features_and_not_identical_ones():
    rng = torch.Generator().manual_seed(0)
    a, b = torch.randn(40, 8, generator=rng), torch.randn(40, 8, generator=rng) + 3.0
    assert linear_probe_accuracy(a, b) > 0.95
    same = torch.randn(80, 8, generator=rng)
    assert linear_probe_accuracy(same[:40], same[40:]) < 0.8
    held_out = torch.zeros(80, dtype=torch.bool)
    held_out[20:40] = held_out[60:] = True  # scored on these rows only: here their labels are swapped
    assert linear_probe_accuracy(torch.cat([a[:20], b[20:]]), torch.cat([b[:20], a[20:]]), held_out=held_out) < 0.05


def test_probe_is_scored_on_images_it_was_not_fitted_on(drealsr):
    data = load_cross_camera(drealsr, "sony", "olympus", val=2)
    cache = ImageCache()
    x_t, x_s, held_out = probe_patches(data, 16, cache, patches=32)
    assert x_t.shape == x_s.shape == (32, 3, 16, 16)
    for camera_rows, pairs, seed in (
        (held_out[:32], data.target_train, 4321),
        (held_out[32:], data.source_train, 1234),
    ):
        sampler = PatchSampler(pairs, scale=4, lr_patch=16, seed=seed, cache=cache)
        sampler.draw(32, with_hr=False)  # the same draws as probe_patches made
        fitted = {p.item for p, scored in zip(sampler.last_pairs, camera_rows.tolist(), strict=True) if not scored}
        scored = {p.item for p, scored in zip(sampler.last_pairs, camera_rows.tolist(), strict=True) if scored}
        assert fitted and scored and not fitted & scored


def _weights(out):
    return torch.load(out / "checkpoints" / "fda" / "final.pt", map_location="cpu", weights_only=True)["model"]


def test_killed_and_resumed_run_equals_an_uninterrupted_one(drealsr, tmp_path):
    common = [
        "adapt",
        "--data",
        str(drealsr),
        "--source",
        "sony",
        "--target",
        "olympus",
        "--iters",
        "6",
        "--eval-every",
        "100",
        *SMOKE,
    ]
    # Only the run that is killed checkpoints every iteration; how often a run saves does not change what
    # it computes, and skipping the others' checkpoints saves writing GBs (DADA: 1.1 GB per last.pt).
    every_step, at_the_end = ("--save-every", "1"), ("--save-every", "100")
    assert run_srx(*common, *at_the_end, "--out", tmp_path / "straight").returncode == 0
    cut = tmp_path / "cut"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dualsr_cli", *common, *every_step, "--out", str(cut)],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    last = cut / "checkpoints" / "fda" / "last.pt"
    deadline = time.time() + 300
    while not last.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (cut / "checkpoints" / "fda" / "done.json").exists(), "the run finished before it was killed"
    resumed = run_srx(*common, *at_the_end, "--out", cut, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a, b = _weights(tmp_path / "straight"), _weights(cut)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_paper_mode_on_an_aim2019_layout(tmp_path):
    root = tmp_path / "AIM2019"
    for i, name in enumerate(("astronaut", "chelsea", "coffee")):
        hr = photo(name)[:192, :192] / 255.0
        noisy = np.clip(hr[::4, ::4] + np.random.default_rng(i).normal(0, 0.05, (48, 48, 3)), 0, 1)
        write_image(root / "DIV2K_train_HR" / f"{i:04d}.png", hr, mkdir=True)
        write_image(root / "TrainingSource" / f"{i:04d}.png", noisy, mkdir=True)
        write_image(root / "DIV2K_valid_HR" / f"{801 + i:04d}.png", hr, mkdir=True)
        write_image(root / "ValidationSource" / f"{801 + i:04d}.png", noisy, mkdir=True)
    out = tmp_path / "paper"
    result = run_srx("adapt", "--data", root, "--layout", "aim2019", "--out", out, "--iters", "2", *SMOKE)
    assert result.returncode == 0, result.stderr
    assert len(list((out / "cache" / "x_s").glob("*.png"))) == 3
    assert (out / "checkpoints" / "fda" / "final.pt").exists()
    assert '"test"' in (out / "log.jsonl").read_text()


def test_bad_input(drealsr, tmp_path):
    base = ["adapt", "--out", str(tmp_path / "x"), *SMOKE]
    assert_one_line_error(run_srx(*base, "--data", drealsr, "--source", "fuji", "--target", "sony"), "unknown camera")
    assert_one_line_error(run_srx(*base, "--data", drealsr, "--layout", "ntire2020"), "Corrupted-tr-x")
    assert_one_line_error(run_srx(*base, "--data", drealsr, "--layout", "div2k"), "unknown --layout")
    torch.save(torch.nn.Conv2d(3, 3, 3).state_dict(), tmp_path / "bad.pth")
    lr = tmp_path / "lr.png"
    write_image(lr, photo("coffee")[:24, :30] / 255.0)
    assert_one_line_error(run_srx("run", "fda", lr, "-w", tmp_path / "bad.pth", "-o", tmp_path / "o"), "not a")


@pytest.mark.parametrize("method", ["dasr", "ddnsr"])
def test_fda_layouts_are_refused_for_other_methods(drealsr, tmp_path, method):
    result = run_srx(
        "adapt",
        "--data",
        drealsr,
        "--layout",
        "aim2019",
        "--method",
        method,
        "--out",
        tmp_path / "x",
        "--preset",
        "smoke",
        "--device",
        "cpu",
    )
    assert_one_line_error(result, "exists for --method fda only")


def test_alignment_weight_is_checked_and_bound_to_the_run(drealsr, tmp_path):
    base = ["adapt", "--data", drealsr, "--source", "sony", "--target", "olympus", "--out", str(tmp_path / "x")]
    assert_one_line_error(run_srx(*base, *SMOKE, "--fda-lambda-align", "-1"), "must be a number >= 0")
    assert_one_line_error(
        run_srx(*base, "--method", "ddnsr", "--preset", "smoke", "--fda-lambda-align", "1"),
        "exist for --method fda only",
    )
    identity = resume_identity("fda")  # FDA's own settings join the common ones
    run_dir = RunDirectory(tmp_path / "run")
    run_dir.write_config({"method": "fda", "fda_losses": "full", "fda_lambda_align": 0.01}, resume=False)
    with pytest.raises(ConfigError, match=r"its fda_lambda_align is 0\.01, not 1\.0"):
        run_dir.write_config(
            {"method": "fda", "fda_losses": "full", "fda_lambda_align": 1.0}, resume=True, identity=identity
        )
    older = RunDirectory(tmp_path / "older")  # written before the key existed: it ran with the default
    older.write_config({"method": "fda"}, resume=False)
    older.write_config(
        {"method": "fda", "fda_losses": "full", "fda_lambda_align": 0.01}, resume=True, identity=identity
    )
    assert "fda_lambda_align" not in resume_identity("dada")
