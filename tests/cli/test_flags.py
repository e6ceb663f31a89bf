"""One flag vocabulary: every alias reaches the same config, --json everywhere, help without <bool>.

In-process (typer's CliRunner); the library calls behind a command are replaced by recorders where a real
run would only slow the test down, so each test checks what a flag turns into.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from dualsr_cli.cli import app
from dualsr_cli.image_io import read_image, write_image
from tests.conftest import photo

runner = CliRunner()
COMMANDS = ["zero-shot", "run", "degrade", "bench", "adapt"]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "120"})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from dualsr_cli.archs.deresnet import DeResNet
    from dualsr_cli.archs.rrdb import RRDBNet, init_rrdb

    root = tmp_path_factory.mktemp("flags")
    torch.manual_seed(0)
    net = RRDBNet(nb=1)
    init_rrdb(net)
    torch.save(net.state_dict(), root / "srn.pth")
    torch.save({"epoch": 1, "iteration": 1, "model_g_state_dict": DeResNet().state_dict()}, root / "dsn.tar")
    write_image(root / "small.png", photo("chelsea")[:20, :24] / 255.0)
    write_image(root / "photo.png", photo("coffee")[:100, :100] / 255.0)
    write_image(root / "hr.png", photo("astronaut")[:64, :72] / 255.0)
    return root


@pytest.fixture
def device_specs(monkeypatch):
    """Record what --device / -g / --gpu-id resolve to, and compute on the CPU regardless."""
    import dualsr_cli.runtime.device as device_module

    specs: list[str] = []

    def resolve(spec="auto"):
        specs.append(spec)
        return torch.device("cpu")

    monkeypatch.setattr(device_module, "resolve_device", resolve)
    return specs


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)])
def test_help_shows_flags_bare_and_every_command_lists_its_vocabulary(command):
    result = invoke(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    if not command:
        assert "--install-completion" in result.output and "--show-completion" in result.output
    if command and command[0] in ("zero-shot", "run", "degrade"):
        for flag in ("--input", "-i", "--suffix", "--ext", "--json", "--gpu-id", "-g", "--output"):
            assert flag in result.output, (command, flag)
    if command in (["run"], ["degrade"]):
        assert "--tile_pad" in result.output and "--tile" in result.output
    if command == ["run"]:
        assert "--fp32" in result.output and "--outscale" in result.output


@pytest.mark.parametrize("command", ["zero-shot", "bench"])
def test_dash_s_means_the_output_scale_only(command, files):
    result = invoke(command, files / "photo.png", "-s", "2")
    assert result.exit_code == 2 and "No such option" in result.output


def test_run_aliases_reach_the_run_options(files, device_specs, monkeypatch):
    import dualsr_cli.engine.infer as infer

    calls = []

    def upscale_file(model, path, target, options, device, *, skip_existing=False, on_tile=None):
        calls.append((path, target, options))
        on_tile(1, 1)
        return infer.RunResult(str(path), str(target), (24, 20), (48, 40), 0.01)

    monkeypatch.setattr(infer, "upscale_file", upscale_file)
    spellings = [
        [
            "-i",
            files / "small.png",
            "-g",
            "1",
            "--tile_pad",
            "6",
            "--fp32",
            "-s",
            "2",
            "--ext",
            "webp",
            "--suffix",
            "big",
            "-t",
            "16",
            "--output",
        ],
        [
            "--input",
            files / "small.png",
            "--gpu-id",
            "1",
            "--tile-pad",
            "6",
            "--fp32",
            "--outscale",
            "2",
            "--ext",
            "webp",
            "--suffix",
            "big",
            "--tile",
            "16",
            "-o",
        ],
        [
            files / "small.png",
            "--device",
            "cuda:1",
            "--tile-pad",
            "6",
            "--fp32",
            "-s",
            "2",
            "--ext",
            "webp",
            "--suffix",
            "big",
            "--tile",
            "16",
            "--out",
        ],
    ]
    for index, spelling in enumerate(spellings):
        out = files / f"run{index}"
        result = invoke("run", "dasr", "-w", files / "srn.pth", "-q", *spelling, out)
        assert result.exit_code == 0, result.output
        path, target, options = calls[-1]
        assert path == files / "small.png" and target == out / "small_big.webp"
        assert (options.tile, options.tile_pad, options.half, options.outscale) == (16, 6, False, 2.0)
        assert device_specs[-1] == "cuda:1"
    assert len(calls) == 3


def test_run_half_reaches_the_options_and_no_input_is_one_line(files):
    result = invoke("run", "dasr", files / "small.png", "-w", files / "srn.pth", "--half", "--device", "cpu")
    assert result.exit_code == 2 and "--half needs a CUDA device" in result.output
    result = invoke("run", "dasr", "-w", files / "srn.pth", "-q")
    assert result.exit_code == 2 and "no input given" in result.output


def test_zero_shot_gets_input_suffix_ext_and_gpu_id(files, device_specs, monkeypatch):
    import dualsr_cli.engine.zero_shot.folder as folder
    import dualsr_cli.engine.zero_shot.pipeline as pipeline

    calls = []

    def zero_shot_image(input_path, output_path, config, **kwargs):
        calls.append((Path(input_path), Path(output_path), config))
        return pipeline.ZeroShotResult(
            str(input_path), str(output_path), None, None, (0, 0), (0, 0), "", "", 0, 0, 0.0, 0.0, 0.0, {}, skipped=True
        )

    monkeypatch.setattr(folder, "zero_shot_image", zero_shot_image)  # what zero_shot_folder calls per image
    out = files / "zs"
    for spelling in (["-i", files / "photo.png", "-g", "0"], ["--input", files / "photo.png", "--gpu-id", "0"]):
        result = invoke("zero-shot", *spelling, "--suffix", "sr", "--ext", "tif", "--output", out, "-q")
        assert result.exit_code == 0, result.output
        path, target, config = calls[-1]
        assert path == files / "photo.png" and target == out / "photo_sr.tif" and config.device == "cuda:0"
    result = invoke("zero-shot", files / "photo.png", "--suffix", "", "-o", out, "-q")
    assert result.exit_code == 0 and calls[-1][1] == out / "photo.png"
    result = invoke("zero-shot", files / "photo.png", "-o", out, "-q")
    assert calls[-1][1] == out / "photo_x2.png"  # the defaults: suffix x<scale>, PNG


def test_zero_shot_refuses_jpeg_for_an_image_with_alpha_before_training(files, monkeypatch):
    import dualsr_cli.engine.zero_shot.folder as folder

    def never(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(folder, "zero_shot_image", never)
    write_image(files / "rgba.png", photo("coffee")[:100, :100] / 255.0, alpha=np.ones((100, 100)))
    result = invoke("zero-shot", files / "photo.png", files / "rgba.png", "--ext", "jpg", "-o", files / "zj")
    assert result.exit_code == 2 and "alpha" in result.output


def test_degrade_gets_tile_tile_pad_ext_suffix(files, device_specs, monkeypatch):
    import dualsr_cli.engine.degrade as degrade_module

    calls = []
    original = degrade_module.degrade_file

    def degrade_file(net, path, target, device, options, **kwargs):
        calls.append((path, target, options))
        return original(net, path, target, device, options, **kwargs)

    monkeypatch.setattr(degrade_module, "degrade_file", degrade_file)
    result = invoke(
        "degrade",
        "-i",
        files / "hr.png",
        "-w",
        files / "dsn.tar",
        "--tile",
        "32",
        "--tile_pad",
        "16",
        "--ext",
        "tif",
        "--suffix",
        "low",
        "-g",
        "2",
        "-o",
        files / "tiled",
        "-q",
    )
    assert result.exit_code == 0, result.output
    path, target, options = calls[-1]
    assert path == files / "hr.png"
    assert target == files / "tiled" / "hr_low.tif" and (options.tile, options.tile_pad) == (32, 16)
    assert device_specs[-1] == "cuda:2"
    result = invoke("degrade", files / "hr.png", "-w", files / "dsn.tar", "--tile", "0", "-o", files / "whole", "-q")
    assert result.exit_code == 0, result.output
    assert calls[-1][1] == files / "whole" / "hr_lr.png" and calls[-1][2].tile == 0  # defaults: suffix lr, PNG
    tiled, whole = read_image(files / "tiled" / "hr_low.tif"), read_image(files / "whole" / "hr_lr.png")
    assert (tiled.width, tiled.height) == (whole.width, whole.height) == (18, 16)
    assert np.abs(tiled.color.astype(int) - whole.color.astype(int)).max() <= 1  # tiles blend to the whole image


def test_run_and_degrade_json_hold_outputs_sizes_and_seconds(files):
    result = invoke(
        "run",
        "dasr",
        files / "small.png",
        "-w",
        files / "srn.pth",
        "-t",
        "0",
        "--device",
        "cpu",
        "-o",
        files / "rj",
        "--json",
        files / "run.json",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((files / "run.json").read_text())
    (entry,) = summary["images"]
    assert summary["command"] == "run" and summary["arch"] == "dasr" and summary["options"]["tile"] == 0
    assert entry["output"] == str(files / "rj" / "small_x4.png") and entry["output_size"] == [96, 80]
    assert entry["input_size"] == [24, 20] and entry["seconds"] > 0
    result = invoke(
        "degrade", files / "hr.png", "-w", files / "dsn.tar", "--device", "cpu", "-o", files / "dj", "--json", "-"
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # stdout is the JSON alone; the result line went to stderr
    assert summary["command"] == "degrade" and summary["images"][0]["output_size"] == [18, 16]
    assert "hr.png (72x64) -> " in result.stderr


def test_bench_json_is_the_summary_and_logs_a_line_per_run(tmp_path):
    (tmp_path / "HR").mkdir()
    (tmp_path / "LR").mkdir()
    for name in ("a", "b"):
        hr = photo("chelsea")[:64, :64] / 255.0
        write_image(tmp_path / "HR" / f"{name}.png", hr)
        write_image(tmp_path / "LR" / f"{name}.png", hr[::2, ::2])
    result = invoke("bench", tmp_path, "--scale", "2", "--no-lpips", "--json", "-")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["methods"]["bicubic"]["images"] == 2 and len(summary["records"]) == 2
    lines = result.stderr.splitlines()
    assert any(line.startswith("[1/2] a · bicubic: done in") and "PSNR" in line and "ETA" in line for line in lines)
    assert "PSNR (dB)" in result.stderr  # the table, on stderr when stdout carries the JSON
