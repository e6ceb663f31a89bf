"""What needs a real process: SIGTERM (Slurm, Kubernetes, systemd) and warnings at interpreter level."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO, photo

NOISY_LIBRARY = """
import sys, warnings
import dualsr_cli.image_io as image_io
original = image_io._open_header
def noisy(*args, **kwargs):
    warnings.warn("a library warning srx did not ask for", UserWarning)
    return original(*args, **kwargs)
image_io._open_header = noisy
from dualsr_cli.cli import main
main(sys.argv[1:])
"""


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="200", **extra)
    if "SRX_DEBUG" not in extra:
        env.pop("SRX_DEBUG", None)
    return env


def _srx_process(*args: object, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dualsr_cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(**env),
    )


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _wait_for(path: Path, process: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)


def _terminate(process: subprocess.Popen) -> tuple[int, str]:
    time.sleep(1.0)  # well inside the work
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    return process.returncode, stderr


def test_sigterm_during_zero_shot_training_is_one_line_and_leaves_nothing(world, tmp_path):
    out = tmp_path / "out"
    process = _srx_process("zero-shot", world.photo, "--iters", "100000", "--quiet", "--device", "cpu", "--out", out)
    _wait_for(out, process)  # the output folder is prepared right before training starts
    code, stderr = _terminate(process)
    assert code == 2, stderr
    assert len(_lines(stderr)) == 1 and "terminated (SIGTERM)" in stderr, stderr
    assert "Traceback" not in stderr
    assert list(out.iterdir()) == []  # no partial image, kernel or temporary file


def test_sigterm_during_bench_releases_the_lock_and_keeps_results(tmp_path):
    from dualsr_cli.image_io import write_image
    from dualsr_cli.ops.resize import imresize

    hr = photo("coffee")[:192, :192] / 255.0
    write_image(tmp_path / "data" / "HR" / "a.png", hr, mkdir=True)
    write_image(tmp_path / "data" / "LR" / "a.png", np.clip(imresize(hr, 0.5), 0, 1), mkdir=True)
    out = tmp_path / "out"
    process = _srx_process(
        "bench",
        tmp_path / "data",
        "-m",
        "dualsr:iters=100000",
        "--no-lpips",
        "--quiet",
        "--device",
        "cpu",
        "--out",
        out,
    )
    _wait_for(out / ".srx-bench.lock", process)
    code, stderr = _terminate(process)
    assert code == 2, stderr
    assert len(_lines(stderr)) == 1 and "terminated (SIGTERM)" in stderr, stderr
    assert not out.exists() or not any(out.iterdir())  # lock released, no half-written results


@pytest.mark.parametrize("debug", [False, True], ids=["quiet-libraries", "SRX_DEBUG"])
def test_library_warnings_never_add_lines(world, tmp_path, debug):
    env = _env(SRX_DEBUG="1") if debug else _env()
    argv = ["run", "dasr", world.photo, "-w", world.text_weights, "-o", tmp_path / "out"]
    result = subprocess.run(
        [sys.executable, "-W", "always", "-c", NOISY_LIBRARY, *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    lines = _lines(result.stderr)
    assert lines[-1].startswith("srx: error:") and "text.pth" in lines[-1]
    if debug:
        assert "a library warning srx did not ask for" in result.stderr
    else:
        assert len(lines) == 1, result.stderr


def test_a_real_pillow_warning_does_not_reach_stderr(tmp_path, world):
    """A JPEG with a corrupt EXIF block: Pillow warns while reading it; srx still prints one line."""
    import io
    import struct

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(photo("chelsea")[:160, :160]).save(buffer, "JPEG")
    data = buffer.getvalue()
    exif = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x05\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06"
    path = tmp_path / "bad_exif.jpg"
    path.write_bytes(data[:2] + b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif + data[2:])
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "always",
            "-m",
            "dualsr_cli",
            "run",
            "dasr",
            path,
            "-w",
            world.text_weights,
            "-o",
            tmp_path / "out",
        ],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert result.returncode == 2
    assert len(_lines(result.stderr)) == 1, result.stderr
