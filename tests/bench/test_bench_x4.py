"""``srx bench --scale 4`` with ``dualsr:x4=twice|joint`` on DIV2KRK, RealSR, DRealSR and plain x4 layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from dualsr_cli.bench.methods import MethodContext, build_method
from dualsr_cli.bench.runner import run_benchmark
from dualsr_cli.datasets import detect
from dualsr_cli.errors import ConfigError
from dualsr_cli.image_io import write_image
from dualsr_cli.ops.kernels import anisotropic_gaussian_kernel, blur_and_subsample_twice, compose_downscale_kernels
from tests.conftest import photo

HR_SIDE = 344  # x4 LR of 86 px: just above srx's 84 px minimum, so the runs stay fast


def _x4_pair(name: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(HR, LR, 31x31 kernel): a real photo degraded the DIV2KRK x4 way (an x2 kernel applied twice)."""
    hr = photo(name)[:HR_SIDE, :HR_SIDE] / 255.0
    kernel = anisotropic_gaussian_kernel(np.random.default_rng(seed))
    return hr, np.clip(blur_and_subsample_twice(hr, kernel), 0, 1), compose_downscale_kernels(kernel, kernel)


def _build(layout: str, root: Path) -> Path:
    hr, lr, kernel = _x4_pair("astronaut", 1)
    if layout == "div2krk":
        base = root / "DIV2KRK"
        write_image(base / "gt" / "img_1_gt.png", hr, mkdir=True)
        write_image(base / "lr_x4" / "im_1.png", lr, mkdir=True)
        (base / "gt_k_x4").mkdir()
        savemat(base / "gt_k_x4" / "kernel_1.mat", {"Kernel": kernel})
        return base
    if layout == "realsr":
        base = root / "RealSR(V3)"
        write_image(base / "Canon" / "Test" / "4" / "Canon_001_HR.png", hr, mkdir=True)
        write_image(base / "Canon" / "Test" / "4" / "Canon_001_LR4.png", lr, mkdir=True)
        return base
    if layout == "drealsr":
        base = root / "DRealSR" / "Test_x4"
        write_image(base / "test_HR" / "sony_3_x4.png", hr, mkdir=True)
        write_image(base / "test_LR" / "sony_3_x1.png", lr, mkdir=True)
        return root / "DRealSR"
    base = root / "plain"
    write_image(base / "HR" / "astronaut.png", hr, mkdir=True)
    write_image(base / "LR" / "astronaut.png", lr, mkdir=True)
    return base


def test_div2krk_x4_scores_both_methods_with_kernel_error_against_the_31x31_kernel(tmp_path):
    dataset = detect(_build("div2krk", tmp_path), scale=4)
    assert dataset.layout == "div2krk" and dataset.scale == 4 and dataset.pairs[0].kernel is not None
    context = MethodContext(scale=4, device="cpu")
    methods = [
        build_method(spec, context) for spec in ("bicubic", "dualsr:iters=2,x4=twice", "dualsr:iters=2,x4=joint")
    ]
    report = run_benchmark(dataset, methods)
    by_method = {r.method: r for r in report.records}
    assert set(by_method) == {"bicubic", "dualsr:iters=2,x4=twice", "dualsr:iters=2,x4=joint"}
    assert all(r.scale == 4 and np.isfinite(r.psnr) for r in report.records)
    assert by_method["bicubic"].kernel_error is None
    for key in ("dualsr:iters=2,x4=twice", "dualsr:iters=2,x4=joint"):
        assert 0 < by_method[key].kernel_error < 1


@pytest.mark.parametrize("layout", ["realsr", "drealsr", "plain"])
def test_real_x4_layouts_run_dualsr_at_x4(tmp_path, layout):
    dataset = detect(_build(layout, tmp_path), scale=4)
    assert dataset.layout == layout and dataset.scale == 4
    report = run_benchmark(dataset, [build_method("dualsr:iters=2,x4=joint", MethodContext(scale=4, device="cpu"))])
    (record,) = report.records
    assert record.scale == 4 and 5 < record.psnr < 60 and record.kernel_error is None


def test_x4_method_option_is_validated():
    context = MethodContext(scale=4)
    assert build_method("dualsr:x4=joint", context).config.x4_method == "joint"
    assert build_method("dualsr:x4=joint-zssr", context).config.x4_method == "joint-zssr"
    assert build_method("dualsr", context).config.scale == 4
    with pytest.raises(ConfigError, match="x4 datasets only"):
        build_method("dualsr:x4=twice", MethodContext(scale=2))
    with pytest.raises(ConfigError, match="twice, joint"):
        build_method("dualsr:x4=thrice", context)


def test_back_projection_option_reaches_x2_zssr_and_is_refused_elsewhere():
    context = MethodContext(scale=4)
    assert build_method("dualsr:back_projection=0", context).config.back_projection_steps == 0
    method = build_method("dualsr:x4=x2-zssr,back_projection=5", context)
    assert method.config.back_projection_steps == 5 and method.key == "dualsr:back_projection=5,x4=x2-zssr"
    with pytest.raises(ConfigError, match="x4 method x2-zssr only"):
        build_method("dualsr:x4=joint,back_projection=2", context)
    with pytest.raises(ConfigError, match="x4 method x2-zssr only"):
        build_method("dualsr:back_projection=2", MethodContext(scale=2))
    with pytest.raises(ConfigError, match="--back-projection"):
        build_method("dualsr:back_projection=-1", context)
