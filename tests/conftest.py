"""Shared fixtures: real photos from scikit-image's data folder and a subprocess runner for the CLI."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

if os.environ.get("PYTEST_XDIST_WORKER"):  # make test: two workers on two cores, one thread each
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # inherited by the srx subprocesses the tests start
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def photo(name: str) -> np.ndarray:
    """A real photo shipped with scikit-image, as uint8 RGB (gray photos replicated)."""
    import skimage.data

    image = getattr(skimage.data, name)()
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])


@pytest.fixture(scope="session")
def small_photo_path(tmp_path_factory) -> Path:
    """A 120x100 crop of scikit-image's 'chelsea' (a real photo), saved as 8-bit PNG."""
    import imageio.v3 as iio

    path = tmp_path_factory.mktemp("photos") / "chelsea_small.png"
    iio.imwrite(path, photo("chelsea")[60:160, 150:270])
    return path


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_srx(
    *args: str | os.PathLike,
    cwd: Path | None = None,
    timeout: float = 600,
    process: bool = False,
    env: dict[str, str] | None = None,
) -> CliResult:
    """Run ``srx ARGS`` through the console entry point: in this process (``run_cli``, output captured), or
    with ``process=True`` in a subprocess as a user would (for what needs a real process: kills, torchrun,
    interpreter-level warnings, a cold start)."""
    if not process:
        return run_in_process([str(a) for a in args], env={"COLUMNS": "200", "SRX_DEBUG": None, **(env or {})}, cwd=cwd)
    child_env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="200", **(env or {}))
    child_env.pop("SRX_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "dualsr_cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=child_env,
        timeout=timeout,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def run_torchrun(*args: str | os.PathLike, nproc: int = 2, timeout: float = 900) -> CliResult:
    """``torchrun --standalone --nproc_per_node=NPROC -m dualsr_cli ARGS`` (skips the test without torchrun)."""
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    if torchrun is None:
        pytest.skip("no torchrun beside this Python")
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="200")
    env.pop("SRX_DEBUG", None)
    command = [torchrun, "--standalone", f"--nproc_per_node={nproc}", "-m", "dualsr_cli", *map(str, args)]
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def run_in_process(argv: list[str], *, env: dict[str, str | None] | None = None, cwd: Path | None = None) -> CliResult:
    """``srx ARGV`` in this process with stdout/stderr captured and ``env`` applied (None removes a variable)."""
    from dualsr_cli.cli import run_cli

    saved = {key: os.environ.get(key) for key in (env or {})}
    for key, value in (env or {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.chdir(cwd or os.getcwd()), redirect_stdout(out), redirect_stderr(err):
            code = run_cli(argv)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return CliResult(code, out.getvalue(), err.getvalue())


def file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def assert_one_line_error(result: CliResult, *fragments: str) -> None:
    """Exit code 2, exactly one line on stderr starting with 'srx: error:', no traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("srx: error:"), lines[0]
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
