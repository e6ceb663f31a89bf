"""files.py, atomic.py and kernel_io.py: input discovery, output naming, safe writes, kernel files."""

from __future__ import annotations

import os

import numpy as np
import pytest
from scipy.io import savemat

from dualsr_cli.atomic import atomic_output
from dualsr_cli.errors import ImageReadError, ImageWriteError
from dualsr_cli.files import is_file_target, list_inputs, output_extension, plan_outputs, shard
from dualsr_cli.kernel_io import load_kernel_mat, write_kernel_mat


def _touch(folder, *names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"x")


def test_folders_are_sorted_by_name_files_keep_their_order_and_skips_are_named(tmp_path):
    _touch(tmp_path / "in", "b.png", "a.JPG", "notes.txt", ".hidden.png")
    (tmp_path / "in" / "sub").mkdir()
    os.symlink(tmp_path / "nowhere.png", tmp_path / "in" / "dangling.png")
    _touch(tmp_path, "z.tif", "y.webp")
    listing = list_inputs([tmp_path / "z.tif", tmp_path / "in", tmp_path / "y.webp"])
    assert [p.name for p in listing.images] == ["z.tif", "a.JPG", "b.png", "y.webp"]
    assert len(listing.skipped) == 3
    assert any("broken symbolic link" in s for s in listing.skipped)
    assert any("not searched recursively" in s for s in listing.skipped)
    assert any("notes.txt" in s and "not a supported image type" in s for s in listing.skipped)


def test_missing_inputs_and_folders_without_images_are_errors(tmp_path):
    with pytest.raises(ImageReadError, match="input not found"):
        list_inputs([tmp_path / "missing.png"])
    _touch(tmp_path / "docs", "a.txt")
    with pytest.raises(ImageReadError, match=r"no images found in folder .*1 other entry skipped"):
        list_inputs([tmp_path / "docs"])


def test_outputs_never_overwrite_an_input_or_collide(tmp_path):
    _touch(tmp_path, "a.png", "a.jpg")
    images = [tmp_path / "a.png", tmp_path / "a.jpg"]
    assert plan_outputs(images[:1], tmp_path / "out", "_x2") == [tmp_path / "out" / "a_x2.png"]
    assert plan_outputs(images[:1], tmp_path / "one.tif", "_x2") == [tmp_path / "one.tif"]
    with pytest.raises(ImageWriteError, match="refusing to overwrite input"):
        plan_outputs(images[:1], tmp_path, "")
    with pytest.raises(ImageWriteError, match="would both be written"):
        plan_outputs(images, tmp_path / "out", "_x2")
    with pytest.raises(ImageWriteError, match="names a file but 2 images"):
        plan_outputs(images, tmp_path / "one.png", "_x2")
    with pytest.raises(ImageWriteError, match=r"unsupported output type '\.bmp'"):
        plan_outputs(images[:1], tmp_path / "out.bmp", "_x2")


def test_file_targets_extensions_and_shards():
    from pathlib import Path

    assert is_file_target(Path("x/out.PNG")) and not is_file_target(Path("x/out"))
    assert output_extension(Path("a.jpg"), "auto", has_alpha=False, explicit=False) == ".jpg"
    assert output_extension(Path("a.jpg"), "auto", has_alpha=True, explicit=False) == ".png"
    with pytest.raises(ImageWriteError, match="JPEG cannot store"):
        output_extension(Path("a.png"), "jpg", has_alpha=True, explicit=True)
    items = list(range(7))
    parts = [shard(items, rank, 3) for rank in range(3)]
    assert parts == [[0, 3, 6], [1, 4], [2, 5]] and sorted(i for part in parts for i in part) == items


def test_atomic_output_keeps_the_old_file_when_the_write_fails(tmp_path):
    target = tmp_path / "result.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["result.txt"]
    with atomic_output(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["result.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # the usual permissions, not mkstemp's 0600


def test_kernel_files_round_trip_and_bad_ones_are_named(tmp_path):
    kernel = np.random.default_rng(0).random((13, 13))
    write_kernel_mat(tmp_path / "k.mat", kernel)
    assert np.allclose(load_kernel_mat(tmp_path / "k.mat"), kernel.astype(np.float32))
    savemat(tmp_path / "blindsr.mat", {"ker": kernel})  # BlindSR's variable name
    assert np.allclose(load_kernel_mat(tmp_path / "blindsr.mat"), kernel)
    savemat(tmp_path / "two.mat", {"a": kernel, "b": kernel})
    with pytest.raises(ImageReadError, match="no variable 'Kernel' \\(found: a, b\\)"):
        load_kernel_mat(tmp_path / "two.mat")
    savemat(tmp_path / "flat.mat", {"Kernel": np.ones((3, 5))})
    with pytest.raises(ImageReadError, match="square 2-D kernel"):
        load_kernel_mat(tmp_path / "flat.mat")
    (tmp_path / "text.mat").write_text("hello")
    with pytest.raises(ImageReadError, match=r"not a MATLAB \.mat file"):
        load_kernel_mat(tmp_path / "text.mat")
    with pytest.raises(ImageReadError, match="kernel file not found"):
        load_kernel_mat(tmp_path / "missing.mat")
