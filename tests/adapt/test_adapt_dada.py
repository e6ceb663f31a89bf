"""srx adapt --method dada: smoke run, loadable outputs, exact kill-and-resume, torchrun, bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from dualsr_cli.archs import load_model
from dualsr_cli.recipes.data import load_cross_camera
from tests.conftest import REPO, assert_one_line_error, run_srx, run_torchrun

# Tests sharing the session's circle_checkpoint run on one xdist worker (make test: -n 2 --dist loadgroup),
# so it is trained once and its 3.4 GB of checkpoints exist once.
pytestmark = pytest.mark.xdist_group("circle")

SMOKE = ("--preset", "smoke", "--perceptual", "none", "--device", "cpu", "-q")


def test_cameras_are_split_without_leaking_test_or_validation(drealsr):
    data = load_cross_camera(drealsr, "Sony", "OLYMPUS", val=2)
    assert (data.source, data.target) == ("Sony", "Olympus")
    assert {p.camera for p in data.source_train} == {"Sony"} and {p.camera for p in data.target_train} == {"Olympus"}
    train_items = {p.item for p in data.target_train}
    assert len(data.validation) == 2 and not train_items & {p.item for p in data.validation}
    assert not train_items & {p.item for p in data.target_test} and len(data.target_test) == 2
    assert "Olympus" in data.summary() and "held-out validation" in data.summary()


def test_smoke_run_writes_every_stage_and_its_outputs_load_in_srx_run(circle_checkpoint):
    out, result = circle_checkpoint
    assert set(result.exports) == {"1-source-cdc", "2-circle", "3-dada"}
    assert set(result.test) == {"source-only", "adapted"}
    log = (out / "log.jsonl").read_text()
    assert '"deviation"' in log and '"validation"' in log and '"losses"' in log and '"test"' in log
    model = load_model(
        "dada", out / "checkpoints" / "3-dada" / "best.pt", maps_path=out / "checkpoints" / "2-circle" / "best.pt"
    )
    assert model.scale == 4
    assert load_model("cdc", out / "checkpoints" / "1-source-cdc" / "best.pt").scale == 4


def _final_weights(out):
    return torch.load(out / "checkpoints" / "3-dada" / "final.pt", map_location="cpu", weights_only=True)["model"]


def test_killed_and_resumed_run_equals_an_uninterrupted_one(drealsr, circle_checkpoint, tmp_path):
    circle = circle_checkpoint[0] / "checkpoints" / "2-circle" / "best.pt"
    common = [
        "adapt",
        "--data",
        str(drealsr),
        "--source",
        "sony",
        "--target",
        "olympus",
        "--source-weights",
        str(circle),
        "--iters",
        "2",
        "--batch-size",
        "1",
        "--eval-every",
        "10",
        *SMOKE,
    ]
    # Only the run that is killed checkpoints every iteration; how often a run saves does not change what
    # it computes, and skipping the others' checkpoints saves writing GBs (DADA: 1.1 GB per last.pt).
    every_step, at_the_end = ("--save-every", "1"), ("--save-every", "100")
    straight = run_srx(*common, *at_the_end, "--out", tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr
    (tmp_path / "straight" / "checkpoints" / "3-dada" / "last.pt").unlink()  # 1.1 GB the comparison does not need

    env = dict(os.environ, PYTHONPATH=str(REPO))
    cut = tmp_path / "cut"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dualsr_cli", *common, *every_step, "--out", str(cut)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    last = cut / "checkpoints" / "3-dada" / "last.pt"
    deadline = time.time() + 300
    while not last.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (cut / "checkpoints" / "3-dada" / "done.json").exists(), "the run finished before it was killed"
    resumed = run_srx(*common, *at_the_end, "--out", cut, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    a, b = _final_weights(tmp_path / "straight"), _final_weights(cut)
    for net in a:
        for key in a[net]:
            assert torch.equal(a[net][key], b[net][key]), (net, key)


def test_two_process_torchrun_run_completes(drealsr, circle_checkpoint, tmp_path):
    circle = circle_checkpoint[0] / "checkpoints" / "2-circle" / "best.pt"
    proc = run_torchrun(
        "adapt",
        "--data",
        str(drealsr),
        "--source",
        "sony",
        "--target",
        "olympus",
        "--source-weights",
        str(circle),
        "--iters",
        "2",
        "--batch-size",
        "1",
        "--out",
        str(tmp_path / "ddp"),
        *SMOKE,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "ddp" / "checkpoints" / "3-dada" / "done.json").exists()
    assert '"world_size": 2' in (tmp_path / "ddp" / "config.json").read_text()


def test_bad_input_is_one_line_and_exit_2(drealsr, tmp_path):
    base = ["adapt", "--data", str(drealsr), "--out", str(tmp_path / "x"), *SMOKE]
    assert_one_line_error(run_srx(*base, "--source", "leica", "--target", "sony"), "unknown camera 'leica'", "olympus")
    assert_one_line_error(run_srx(*base, "--source", "sony", "--target", "nikon"), "Nikon has no training")
    assert_one_line_error(
        run_srx(
            "adapt",
            "--data",
            str(tmp_path),
            "--source",
            "sony",
            "--target",
            "olympus",
            "--out",
            str(tmp_path / "y"),
            *SMOKE,
        ),
        "Train_x4",
    )
    from dualsr_cli.archs.rrdb import RRDBNet

    torch.save(RRDBNet(nb=1).state_dict(), tmp_path / "rrdb.pth")
    assert_one_line_error(
        run_srx(*base, "--source", "sony", "--target", "olympus", "--source-weights", tmp_path / "rrdb.pth"),
        "CDC or circle",
    )
    assert not (tmp_path / "x" / "checkpoints").exists()
