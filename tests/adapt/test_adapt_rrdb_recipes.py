"""srx adapt --method dasr / ddnsr: smoke runs whose outputs load in srx run and srx degrade."""

from __future__ import annotations

import json
import math

import pytest
import torch

from dualsr_cli.archs import load_degrader, load_model
from dualsr_cli.errors import CheckpointError, ConfigError
from dualsr_cli.recipes import run_adapt
from dualsr_cli.recipes.config import AdaptConfig
from tests.synthetic import camera_models, make_drealsr


def smoke(method: str, drealsr, out, **kwargs):
    settings = {"iters": 2, "perceptual": "none", **kwargs}
    config = AdaptConfig.smoke(
        method=method, data=drealsr, source="sony", target="olympus", out=out, device="cpu", **settings
    )
    return run_adapt(config)


def losses_in(log_path) -> list[float]:
    values = []
    for line in log_path.read_text().splitlines():
        record = json.loads(line)
        values += list(record.get("losses", {}).values())
    return values


def test_dasr_smoke_run_trains_dsn_generates_and_trains_srn(drealsr, tmp_path):
    result = smoke("dasr", drealsr, tmp_path / "dasr")
    assert set(result.exports) == {"1-dsn", "2-generate", "3-srn"}
    generated = list((tmp_path / "dasr" / "generated" / "lr").glob("*.png"))
    assert len(generated) == 8 and len(list((tmp_path / "dasr" / "generated" / "ddm").glob("*.npy"))) == 8
    assert all(math.isfinite(v) for v in losses_in(tmp_path / "dasr" / "log.jsonl"))
    assert load_model("dasr", result.exports["3-srn"]).scale == 4
    kind, dsn = load_degrader(result.exports["1-dsn"])
    assert kind == "deresnet" and dsn.scale == 4
    assert set(result.test) == {"bicubic", "adapted"}


def test_ddnsr_smoke_run_and_its_checkpoint_layout(drealsr, tmp_path):
    result = smoke("ddnsr", drealsr, tmp_path / "ddnsr")
    assert set(result.exports) == {"1-source-rrdb", "2-ddnsr"}
    checkpoint = torch.load(result.exports["2-ddnsr"], map_location="cpu", weights_only=True)
    assert checkpoint["format"] == "srx-ddnsr" and checkpoint["scale"] == 4
    assert load_model("ddnsr", result.exports["2-ddnsr"]).scale == 4
    assert load_degrader(result.exports["2-ddnsr"])[0] == "ddnsr"
    assert set(result.test) == {"source-only", "adapted"}
    assert all(math.isfinite(v) for v in losses_in(tmp_path / "ddnsr" / "log.jsonl"))


def test_rrdb_recipes_refuse_cdc_source_weights(drealsr, tmp_path):
    from dualsr_cli.archs.cdc import CDCNet

    torch.save(CDCNet(scale=4).state_dict(), tmp_path / "cdc.pth")
    with pytest.raises(CheckpointError, match="RRDB"):
        smoke("ddnsr", drealsr, tmp_path / "x", source_weights=tmp_path / "cdc.pth")


@pytest.mark.parametrize(
    "method", [pytest.param("dada", marks=pytest.mark.xdist_group("circle")), "dasr", "ddnsr", "fda"]
)
def test_every_recipe_runs_with_its_perceptual_losses(method, drealsr, tmp_path, backbones_in_hub, request):
    options = {"perceptual": "vgg", "iters": 1, "eval_every": 1, "save_every": 1}
    if method == "dada":  # start from the smoke circle model: only the third stage has a VGG loss
        circle = request.getfixturevalue("circle_checkpoint")[0]
        options["source_weights"] = circle / "checkpoints" / "2-circle" / "best.pt"
    if method == "dasr":  # AlexNet-LPIPS (the DSN's perceptual term) cannot take 16 px patches
        with pytest.raises(ConfigError, match="at least 31 px"):
            smoke(method, drealsr, tmp_path / "small", **options)
        drealsr = make_drealsr(
            tmp_path / "data",
            camera_models(["sony", "olympus"]),
            train_patches=4,
            test_images=1,
            patch_hr=128,
            test_hr=64,
        )
        options["patch_size"] = 32
    result = smoke(method, drealsr, tmp_path / method, **options)
    log = (tmp_path / method / "log.jsonl").read_text()
    assert "perceptual losses disabled" not in log and "lpips" in log
    assert all(math.isfinite(v) for v in losses_in(tmp_path / method / "log.jsonl")) and result.test
