"""Every supported layout is detected and paired correctly."""

from __future__ import annotations

import pytest

from dualsr_cli.datasets import LAYOUTS, detect
from dualsr_cli.errors import ConfigError, ImageReadError
from dualsr_cli.image_io import read_header


def assert_pairs_consistent(dataset) -> None:
    for pair in dataset.pairs:
        lr_w, lr_h = read_header(pair.lr)
        hr_w, hr_h = read_header(pair.hr)
        assert (hr_w, hr_h) == (lr_w * dataset.scale, lr_h * dataset.scale), pair


def test_realsr_v3_pairs_by_suffix_with_cameras_and_scales(dataset_factory):
    root = dataset_factory("realsr")
    dataset = detect(root)
    assert dataset.layout == "realsr" and dataset.scale == 2 and dataset.other_scales == [4]
    assert [p.item for p in dataset.pairs] == ["Canon_001", "Canon_002", "Nikon_001"]
    assert {p.camera for p in dataset.pairs} == {"Canon", "Nikon"}
    assert all(p.lr.name == p.item + "_LR2.png" and p.hr.name == p.item + "_HR.png" for p in dataset.pairs)
    assert_pairs_consistent(dataset)
    x4 = detect(root, scale=4, camera="nikon")
    assert x4.scale == 4 and [p.item for p in x4.pairs] == ["Nikon_001"]
    assert_pairs_consistent(x4)


def test_drealsr_pairs_x4_with_x1_and_reads_cameras_from_prefixes(dataset_factory):
    dataset = detect(dataset_factory("drealsr"))
    assert dataset.layout == "drealsr" and dataset.scale == 4
    cameras = {p.item: p.camera for p in dataset.pairs}
    assert cameras == {"DSC_1454": "Nikon", "P1130017": "Olympus", "sony_3": "Sony"}
    assert all(p.lr.stem.endswith("_x1") and p.hr.stem.endswith("_x4") for p in dataset.pairs)
    assert_pairs_consistent(dataset)


def test_div2krk_pairs_different_stems_and_finds_kernels(dataset_factory):
    root = dataset_factory("div2krk")
    dataset = detect(root)
    assert dataset.layout == "div2krk" and dataset.scale == 2 and dataset.other_scales == [4]
    assert [p.item for p in dataset.pairs] == ["im_1", "im_2", "im_3"]
    assert all(
        p.hr.name == f"img_{p.item[3:]}_gt.png" and p.kernel.name == f"kernel_{p.item[3:]}.mat" for p in dataset.pairs
    )
    assert_pairs_consistent(dataset)
    x4 = detect(root, scale=4)
    assert all(p.kernel is None for p in x4.pairs)
    assert_pairs_consistent(x4)


def test_ntire17_edsr_and_plain_layouts(dataset_factory):
    for layout, first in (("ntire17", "0801"), ("edsr", "astronaut"), ("plain", "astronaut")):
        dataset = detect(dataset_factory(layout))
        assert dataset.layout == layout and dataset.scale == 2 and len(dataset.pairs) == 3
        assert dataset.pairs[0].item == first
        assert_pairs_consistent(dataset)


def test_forced_layout_and_errors(dataset_factory, tmp_path):
    root = dataset_factory("plain")
    assert detect(root, layout="plain").layout == "plain"
    with pytest.raises(ImageReadError, match="looked for: EDSR"):
        detect(root, layout="edsr")
    with pytest.raises(ImageReadError) as info:
        detect(tmp_path / "plain" / "HR")
    for title in ("RealSR", "DRealSR", "DIV2KRK", "NTIRE 2017", "EDSR", "plain"):
        assert title in str(info.value)
    with pytest.raises(ImageReadError, match="not found"):
        detect(tmp_path / "missing")
    with pytest.raises(ConfigError, match="unknown layout"):
        detect(root, layout="set14")
    with pytest.raises(ConfigError, match="cameras"):
        detect(root, camera="sony")
    assert set(LAYOUTS) == {"realsr", "drealsr", "div2krk", "ntire17", "edsr", "plain"}


def test_unknown_camera_lists_the_known_ones(dataset_factory):
    with pytest.raises(ConfigError, match="Nikon, Olympus, Sony"):
        detect(dataset_factory("drealsr"), camera="leica")
