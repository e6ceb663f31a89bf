"""srx bench: metrics protocols, LPIPS offline loading, resuming, torchrun sharding and bad input."""

from __future__ import annotations

import csv
import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from dualsr_cli.bench.methods import MethodContext, build_method
from dualsr_cli.bench.runner import run_benchmark
from dualsr_cli.datasets import detect
from dualsr_cli.errors import ConfigError, ImageSizeError
from dualsr_cli.metrics.lpips import load_lpips
from dualsr_cli.metrics.protocols import evaluate
from tests.bench.conftest import hr_lr, write_image
from tests.conftest import REPO, assert_one_line_error, photo, run_srx, run_torchrun


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("protocol", ["matlab", "cdc", "realsr"])
def test_identical_images_score_inf_and_one(protocol):
    hr = photo("chelsea")[:64, :64] / 255.0
    scores = evaluate(hr, hr, protocol=protocol, scale=2)
    assert math.isinf(scores.psnr) and scores.ssim == pytest.approx(1.0)


def test_cdc_and_realsr_protocols_against_independent_formulas():
    hr = photo("coffee")[:64, :80] / 255.0
    sr = np.clip(hr + np.random.default_rng(0).normal(0, 0.02, hr.shape), 0, 1)
    diff_y = (sr - hr) @ (np.array([65.738, 129.057, 25.064]) / 256)
    mse = np.mean(diff_y[2:-2, 2:-2] ** 2)
    assert evaluate(sr, hr, protocol="cdc", scale=2).psnr == pytest.approx(-10 * math.log10(mse))
    to_y = lambda im: np.round(16 + np.round(im * 255) @ np.array([65.481, 128.553, 24.966]) / 255)  # noqa: E731
    mse = np.mean((to_y(sr) - to_y(hr)) ** 2)
    assert evaluate(sr, hr, protocol="realsr", scale=2).psnr == pytest.approx(10 * math.log10(255**2 / mse))


def test_lpips_loads_offline_from_the_torch_hub_cache(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    missing = load_lpips(torch.device("cpu"))
    assert missing.model is None
    assert "alexnet-owt-7be5be79.pth" in missing.unavailable_reason
    assert str(tmp_path / "empty" / "hub" / "checkpoints") in missing.unavailable_reason
    assert missing(np.zeros((8, 8, 3)), np.zeros((8, 8, 3))) is None

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    (tmp_path / "home" / "hub" / "checkpoints").mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(
        torchvision.models.alexnet(weights=None).state_dict(),
        tmp_path / "home" / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth",
    )
    metric = load_lpips(torch.device("cpu"))
    assert metric.unavailable_reason is None
    a = photo("astronaut")[:64, :64] / 255.0
    b = photo("chelsea")[:64, :64] / 255.0
    assert metric(a, a) == pytest.approx(0.0, abs=1e-6)
    assert metric(a, b) > metric(a, np.clip(a + 0.01, 0, 1)) > 0


def test_runner_reports_kernel_error_for_kernel_estimating_methods(dataset_factory):
    dataset = detect(dataset_factory("div2krk"))
    context = MethodContext(scale=2, device="cpu")
    methods = [build_method("bicubic", context), build_method("dualsr:iters=2", context)]
    report = run_benchmark(dataset, methods, limit=1)
    by_method = {r.method: r for r in report.records}
    assert by_method["bicubic"].kernel_error is None
    assert by_method["dualsr:iters=2"].kernel_error > 0
    assert set(report.summary()["methods"]) == {"bicubic", "dualsr:iters=2"}


def test_method_specs_are_validated():
    context = MethodContext(scale=2)
    assert build_method("dualsr:iters=5,seed=1", context).key == "dualsr:iters=5,seed=1"
    with pytest.raises(ConfigError, match="available: bicubic, dualsr, dada, cdc, dasr, ddnsr"):
        build_method("esrgan", context)
    with pytest.raises(ConfigError, match="bad option 'steps=3'"):
        build_method("dualsr:steps=3", context)
    with pytest.raises(ConfigError, match="x2 or x4"):
        build_method("dualsr", MethodContext(scale=3))


def test_size_mismatch_is_skipped_with_a_warning_or_an_error_with_strict(dataset_factory):
    root = dataset_factory("plain")
    write_image(root / "HR" / "coffee.png", photo("coffee")[:180, :192] / 255.0)  # not 2x its LR any more
    dataset = detect(root)
    warnings = []
    from dualsr_cli.bench.runner import BenchHooks

    report = run_benchmark(
        dataset, [build_method("bicubic", MethodContext(scale=2))], hooks=BenchHooks(warn=warnings.append)
    )
    assert [r.item for r in report.records] == ["astronaut", "chelsea"]
    assert len(warnings) == 1 and "coffee" in warnings[0] and "192x180" in warnings[0]
    with pytest.raises(ImageSizeError, match="coffee"):
        run_benchmark(dataset, [build_method("bicubic", MethodContext(scale=2))], strict=True)


def test_cli_writes_csv_json_images_and_resumes(dataset_factory, tmp_path):
    root = dataset_factory("edsr")
    out = tmp_path / "run"
    first = run_srx("bench", root, "--out", out, "--limit", "2", "--no-lpips", process=True)
    assert first.returncode == 0, first.stderr
    assert "EDSR benchmark" in first.stdout and "2 pairs" not in first.stdout
    rows = read_rows(out / "results.csv")
    assert [r["item"] for r in rows] == ["astronaut", "chelsea"]
    assert set(rows[0]) >= {"item", "method", "psnr", "ssim", "lpips", "seconds"}
    with open(out / "results.csv", "a") as handle:  # a row cut short by a kill
        handle.write("coffee,bicubic,27.1")
    second = run_srx("bench", root, "--out", out, "--no-lpips", "--save-images")
    assert second.returncode == 0, second.stderr
    rows2 = read_rows(out / "results.csv")
    assert [r["item"] for r in rows2] == ["astronaut", "chelsea", "coffee"]
    assert rows2[0]["seconds"] == rows[0]["seconds"]  # not recomputed
    assert (out / "images" / "bicubic" / "coffee.png").exists()
    assert not (out / "images" / "bicubic" / "astronaut.png").exists()
    import json

    summary = json.loads((out / "summary.json").read_text())
    assert summary["methods"]["bicubic"]["images"] == 3 and summary["protocol"] == "matlab"
    assert "bicubic" in second.stdout and "PSNR" in second.stdout


def test_killed_run_loses_at_most_the_image_in_flight(dataset_factory, tmp_path):
    root = dataset_factory("plain")
    out = tmp_path / "killed"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    args = [
        sys.executable,
        "-m",
        "dualsr_cli",
        "bench",
        str(root),
        "--out",
        str(out),
        "-m",
        "dualsr:iters=10",
        "--no-lpips",
        "--device",
        "cpu",
        "--quiet",
    ]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline:
        if (out / "results.csv").exists() and len(read_rows(out / "results.csv")) >= 1:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = read_rows(out / "results.csv")
    assert 1 <= len(done_before) < 3
    resumed = run_srx("bench", root, "--out", out, "-m", "dualsr:iters=10", "--no-lpips", "--device", "cpu")
    assert resumed.returncode == 0, resumed.stderr
    rows = read_rows(out / "results.csv")
    assert [r["item"] for r in rows] == ["astronaut", "chelsea", "coffee"]
    assert rows[0] == done_before[0]


def test_torchrun_two_processes_equal_a_single_process(dataset_factory, tmp_path):
    root = dataset_factory("div2krk")
    common = ["bench", str(root), "-m", "bicubic", "-m", "dualsr:iters=2", "--no-lpips", "--device", "cpu", "-q"]
    multi = run_torchrun(*common, "--out", tmp_path / "multi")
    assert multi.returncode == 0, multi.stderr
    # torchrun runs each rank on one thread: so does the single process, for identical arithmetic
    single = run_srx(*common, "--out", tmp_path / "single", process=True, env={"OMP_NUM_THREADS": "1"})
    assert single.returncode == 0, single.stderr
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    multi_rows = read_rows(tmp_path / "multi" / "results.csv")
    assert len(multi_rows) == 6
    assert strip(multi_rows) == strip(read_rows(tmp_path / "single" / "results.csv"))
    assert not list((tmp_path / "multi").glob("results.rank*.csv"))


def test_bad_input_is_one_line_and_exit_2(dataset_factory, tmp_path):
    assert_one_line_error(run_srx("bench", tmp_path / "nope"), "not found")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.txt").write_text("x")
    result = run_srx("bench", tmp_path / "junk")
    assert_one_line_error(result, "no LR/HR pairs", "RealSR", "DIV2KRK", "EDSR")
    root = dataset_factory("plain")
    assert_one_line_error(run_srx("bench", root, "--protocol", "ycbcr"), "unknown protocol")
    assert_one_line_error(run_srx("bench", root, "-m", "nope"), "unknown method")
    (root / "LR" / "chelsea.png").write_text("not an image")
    assert_one_line_error(run_srx("bench", root, "--strict", "--no-lpips"), "chelsea")
    skipped = run_srx("bench", root, "--no-lpips")
    assert skipped.returncode == 0 and "chelsea" in skipped.stderr and "Traceback" not in skipped.stderr
    hr, lr, _ = hr_lr("chelsea", 2)
    write_image(root / "LR" / "chelsea.png", lr)  # readable again
    write_image(root / "HR" / "coffee.png", hr[:80])  # but coffee's HR is no longer 2x its LR
    assert_one_line_error(run_srx("bench", root, "--strict", "--no-lpips"), "coffee", "192x80")


def test_pretrained_checkpoints_plug_into_the_registry(dataset_factory, tmp_path):
    from dualsr_cli.archs.rrdb import RRDBNet, init_rrdb

    torch.manual_seed(0)
    net = RRDBNet(nb=1)
    init_rrdb(net)
    torch.save({"params": net.state_dict()}, tmp_path / "srn.pth")
    root = dataset_factory("drealsr")  # x4
    result = run_srx(
        "bench",
        root,
        "-m",
        "bicubic",
        "-m",
        f"dasr:{tmp_path / 'srn.pth'}",
        "--no-lpips",
        "--device",
        "cpu",
        "--out",
        tmp_path / "out",
    )
    assert result.returncode == 0, result.stderr
    methods = {r["method"] for r in read_rows(tmp_path / "out" / "results.csv")}
    assert methods == {"bicubic", f"dasr:{tmp_path / 'srn.pth'}"}
    with pytest.raises(ConfigError, match="needs a checkpoint"):
        build_method("dasr", MethodContext(scale=4))
    with pytest.raises(ConfigError, match="x4 model"):
        build_method(f"dasr:{tmp_path / 'srn.pth'}", MethodContext(scale=2))


def test_dualsr_batch_option_trains_images_together_with_single_run_results(dataset_factory):
    dataset = detect(dataset_factory("div2krk"))
    context = MethodContext(scale=2, device="cpu")
    batched = build_method("dualsr:iters=2,batch=2", context)
    methods = [build_method("dualsr:iters=2", context), batched]
    report = run_benchmark(dataset, methods)
    rows = {(r.item, r.method): r for r in report.records}
    items = sorted({r.item for r in report.records})
    assert len(items) == 3 and batched.key == "dualsr:batch=2,iters=2"
    for item in items:  # 3 images: a batch of 2, then 1
        single, together = rows[(item, "dualsr:iters=2")], rows[(item, batched.key)]
        assert together.psnr == pytest.approx(single.psnr, abs=0.05)
        assert together.kernel_error == pytest.approx(single.kernel_error, rel=1e-2, abs=1e-4)
        assert together.seconds > 0
    assert not batched.done and not batched.upcoming
