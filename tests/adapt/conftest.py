"""A tiny synthetic DRealSR dataset (real photos, two 'cameras' with their own blur and noise)."""

from __future__ import annotations

import pytest

from tests.synthetic import camera_models, make_drealsr


@pytest.fixture(scope="session")
def drealsr(tmp_path_factory):
    root = tmp_path_factory.mktemp("drealsr")
    return make_drealsr(root, camera_models(["sony", "olympus"]), train_patches=8, test_images=2, test_hr=64)


@pytest.fixture(scope="session")
def circle_checkpoint(tmp_path_factory, drealsr):
    """A real stage-2 export, made by the smoke run of stages 1 and 2 (shared by the slower tests)."""
    from dualsr_cli.recipes import run_adapt
    from dualsr_cli.recipes.config import AdaptConfig

    out = tmp_path_factory.mktemp("runs") / "full"
    config = AdaptConfig.smoke(
        method="dada", data=drealsr, source="sony", target="olympus", out=out, iters=2, perceptual="none", device="cpu"
    )
    result = run_adapt(config)
    for last in out.glob("checkpoints/*/last.pt"):  # resume state (2.1 GB here) that no test reads
        last.unlink()
    return out, result


@pytest.fixture(scope="session")
def _backbone_hub(tmp_path_factory):
    """Randomly initialised VGG19 and AlexNet (LPIPS) weights under torchvision's file names (written once)."""
    import torch
    import torchvision

    home = tmp_path_factory.mktemp("torch_home")
    folder = home / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.vgg19(weights=None).state_dict(), folder / "vgg19-dcbb9e9d.pth")
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), folder / "alexnet-owt-7be5be79.pth")
    return home


@pytest.fixture
def backbones_in_hub(_backbone_hub, monkeypatch):
    """A private torch hub holding the backbones, as $TORCH_HOME for one test."""
    monkeypatch.setenv("TORCH_HOME", str(_backbone_hub))
