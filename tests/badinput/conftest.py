"""The bad-input battery's world: one folder of inputs a new user might hand to srx, and an in-process runner.

Every case runs the real CLI (``dualsr_cli.cli.run_cli``, the console entry point minus its process-wide
setup) in this process, with stdout and stderr captured, so about two hundred cases take seconds. The
few behaviours that need a real process (SIGTERM, warnings at interpreter level) live in test_process.py.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from tests.conftest import photo, run_in_process


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


def srx(*args: object, env: dict[str, str] | None = None) -> Outcome:
    """Run ``srx ARGS`` in this process, as the console script does (minus signal setup)."""
    result = run_in_process([str(a) for a in args], env=env)
    return Outcome(result.returncode, result.stdout, result.stderr)


def assert_refused(outcome: Outcome, *fragments: str) -> None:
    """Exit code 2, exactly one stderr line 'srx: error: ...' containing every fragment, no traceback."""
    assert outcome.code == 2, (outcome.code, outcome.stderr)
    assert len(outcome.lines) == 1, outcome.stderr
    line = outcome.lines[0]
    assert line.startswith("srx: error: "), line
    assert "Traceback" not in outcome.stderr + outcome.stdout
    assert "internal error" not in line, line
    for fragment in fragments:
        assert fragment in line, (fragment, line)


def tree_digest(folder: Path) -> dict[str, str]:
    """Path -> sha256 of every regular file below ``folder`` (links are not followed)."""
    digests = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            digests[str(path.relative_to(folder))] = "link:" + os.readlink(path)
        elif path.is_file():
            digests[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def png_with_declared_size(path: Path, width: int, height: int) -> Path:
    """A PNG whose header declares ``width`` x ``height`` but whose data is a few bytes: a decompression bomb
    as far as any reader that trusts the header is concerned (and a truncated file for one that decodes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(1000)))
    path.write_bytes(data + chunk(b"IEND", b""))
    return path


class World:
    """Named inputs under one root; ``digest()`` proves none of them changed."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __getattr__(self, name: str) -> Path:
        return self.root / WORLD_FILES[name]

    def digest(self) -> dict[str, str]:
        return tree_digest(self.root)


WORLD_FILES = {
    "photo": "photo.png",  # 160x160 RGB: big enough for zero-shot without its small-image warning
    "photo_b": "photo_b.png",
    "alpha": "alpha.png",
    "tiny": "tiny.png",
    "bomb": "bomb.png",
    "big100": "big100.png",
    "big45": "big45.png",
    "truncated": "truncated.png",
    "text_png": "text.png",
    "empty_png": "empty.png",
    "gif": "anim.gif",
    "noext": "noext",
    "text_weights": "text.pth",
    "empty_weights": "empty.pth",
    "random_weights": "random.pth",
    "unsafe_weights": "unsafe.pth",
    "foreign_weights": "foreign.pth",
    "bad_safetensors": "bad.safetensors",
    "a_file": "a_file",
    "loop": "loop.png",
    "dangling": "dangling.png",
    "only_broken": "only_broken",
    "no_images": "no_images",
    "mixed": "mixed",
    "bad_mat": "bad.mat",
    "hr_ok": "hr_ok.png",
    "plain": "plain",
    "plain_mismatch": "plain_mismatch",
    "plain_truncated": "plain_truncated",
    "plain_bomb": "plain_bomb",
}


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> World:
    import torch

    root = tmp_path_factory.mktemp("world")
    w = World(root)
    rgb = photo("chelsea")
    iio.imwrite(w.photo, rgb[40:200, 100:260])
    iio.imwrite(w.photo_b, rgb[60:220, 120:280])
    rgba = np.concatenate([rgb[40:200, 100:260], np.full((160, 160, 1), 200, np.uint8)], axis=2)
    iio.imwrite(w.alpha, rgba)
    iio.imwrite(w.tiny, rgb[:60, :60])
    iio.imwrite(w.hr_ok, rgb[40:360, 100:420])
    png_with_declared_size(w.bomb, 20000, 20000)
    png_with_declared_size(w.big100, 10000, 10000)
    png_with_declared_size(w.big45, 7000, 6500)
    data = w.photo.read_bytes()
    w.truncated.write_bytes(data[: len(data) // 2])
    w.text_png.write_text("not an image\n")
    w.empty_png.write_bytes(b"")
    w.gif.write_bytes(b"GIF89a")
    w.noext.write_bytes(data)
    w.text_weights.write_text("hello world\n")
    w.empty_weights.write_bytes(b"")
    w.random_weights.write_bytes(np.random.default_rng(0).bytes(4000))
    torch.save({"weights": torch.zeros(2), "thing": Path("x")}, w.unsafe_weights)
    torch.save({"some.layer.weight": torch.zeros(3, 3)}, w.foreign_weights)
    w.bad_safetensors.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    w.a_file.write_text("a regular file\n")
    os.symlink("loop.png", w.loop)
    os.symlink("nowhere.png", w.dangling)
    w.only_broken.mkdir()
    os.symlink("self.png", w.only_broken / "self.png")
    os.symlink("../nowhere.png", w.only_broken / "gone.png")
    w.no_images.mkdir()
    (w.no_images / "notes.txt").write_text("x")
    w.mixed.mkdir()
    iio.imwrite(w.mixed / "good.png", rgb[40:200, 100:260])
    os.symlink("loop2.png", w.mixed / "loop2.png")
    w.bad_mat.write_text("not a mat file")
    _plain_dataset(w.plain, rgb)
    _plain_dataset(w.plain_mismatch, rgb, lr_side=40)
    _plain_dataset(w.plain_truncated, rgb, truncate_lr=True)
    _plain_dataset(w.plain_bomb, rgb)
    png_with_declared_size(w.plain_bomb / "LR" / "b.png", 20000, 20000)
    return w


def _plain_dataset(root: Path, rgb: np.ndarray, *, lr_side: int = 48, truncate_lr: bool = False) -> None:
    """HR/ + LR/ folders with two x2 pairs (96 px HR); ``truncate_lr`` cuts the LR JPEGs short (headers intact)."""
    from dualsr_cli.image_io import write_image
    from dualsr_cli.ops.resize import imresize

    for i, name in enumerate(("a", "b")):
        hr = rgb[i * 50 : i * 50 + 96, 100:196] / 255.0
        lr = np.clip(imresize(hr, 0.5), 0, 1)[:lr_side, :lr_side]
        write_image(root / "HR" / f"{name}.png", hr, mkdir=True)
        lr_path = write_image(root / "LR" / f"{name}{'.jpg' if truncate_lr else '.png'}", lr, mkdir=True)
        if truncate_lr:
            data = lr_path.read_bytes()
            lr_path.write_bytes(data[: len(data) // 2])


@pytest.fixture
def checked(world):
    """Yields an output path under tmp; afterwards the world is byte-identical and nothing was left."""
    before = world.digest()
    yield
    assert world.digest() == before, "an input changed"
