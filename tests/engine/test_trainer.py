"""The training loop: faithfulness to the official numbers, determinism, small images."""

from __future__ import annotations

from dataclasses import replace
from importlib.resources import files

import numpy as np
import pytest
import torch

from dualsr_cli.engine.zero_shot.config import OfficialQuirks, ZeroShotConfig
from dualsr_cli.engine.zero_shot.trainer import DualSRTrainer, training_crop_size
from dualsr_cli.errors import ConfigError, ImageSizeError
from dualsr_cli.image_io import read_image
from tests.conftest import photo

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def bundled_photo() -> np.ndarray:
    return read_image(str(files("dualsr_cli") / "samples" / "realsr_canon_0A5A4954_LR.png")).rgb_float64()


def test_first_iterations_reproduce_the_official_run(bundled_photo):
    """docs/dualsr.md §14: the official code on this photo (repo seeds, num_iters 3000)."""
    trainer = DualSRTrainer(bundled_photo, ZeroShotConfig(iters=3000), CPU)
    first = trainer.step()
    assert first.gan == pytest.approx(0.27, abs=0.01)
    assert first.discriminator == pytest.approx(0.26, abs=0.01)
    assert first.cycle_forward == pytest.approx(2.4, abs=0.05)
    assert first.cycle_backward == pytest.approx(3.3, abs=0.05)
    assert first.interpolation == pytest.approx(0.66, abs=0.01)
    assert first.regulariser == pytest.approx(7.0, abs=0.05)
    bicubic = [first.bicubic] + [trainer.step().bicubic for _ in range(3)]
    assert bicubic == pytest.approx([0.68, 0.27, 0.26, 0.54], abs=0.006)


def test_composed_and_layer_by_layer_training_agree():
    image = photo("chelsea")[:200, :220] / 255.0
    config = ZeroShotConfig(iters=3)
    fast = DualSRTrainer(image, config, CPU)
    reference = DualSRTrainer(image, replace(config, channels_last=False), CPU, reference_layers=True)
    for _ in range(3):
        a, b = fast.step(), reference.step()
        for name, value in a.as_dict().items():
            assert value == pytest.approx(getattr(b, name), rel=1e-3, abs=1e-4), name


def test_same_seed_gives_identical_training():
    image = photo("coffee")[:180, :180] / 255.0
    config = ZeroShotConfig(iters=3)
    a, b = DualSRTrainer(image, config, CPU), DualSRTrainer(image, config, CPU)
    assert [a.step() for _ in range(3)] == [b.step() for _ in range(3)]
    assert np.array_equal(a.kernel(), b.kernel())
    c = DualSRTrainer(image, replace(config, seed=1), CPU)
    assert c.step() != DualSRTrainer(image, config, CPU).step()


def test_corrected_mode_trains_and_differs():
    image = photo("coffee")[:180, :180] / 255.0
    official = DualSRTrainer(image, ZeroShotConfig(iters=2), CPU).step()
    corrected = DualSRTrainer(image, ZeroShotConfig(iters=2, quirks=OfficialQuirks.corrected()), CPU).step()
    assert corrected.bicubic < official.bicubic  # per-channel target is ~3x closer than the R+G+B sum


def test_small_images_train_on_smaller_crops_down_to_the_minimum():
    assert training_crop_size(300, 400, 128) == 128
    assert training_crop_size(100, 130, 128) == 100
    assert training_crop_size(66, 90, 128) == 64
    with pytest.raises(ImageSizeError, match="at least 84 px"):
        training_crop_size(60, 90, 128)
    trainer = DualSRTrainer(photo("chelsea")[:90, :100] / 255.0, ZeroShotConfig(iters=2), CPU)
    assert trainer.hr_crop == 68
    losses = trainer.step()
    assert np.isfinite(list(losses.as_dict().values())).all()


def test_scales_other_than_two_and_four_are_refused():
    for scale in (1, 3, 8):
        with pytest.raises(ConfigError, match="x2 or x4"):
            ZeroShotConfig(scale=scale)
    with pytest.raises(ConfigError, match="twice, joint"):
        ZeroShotConfig(scale=4, x4_method="thrice")
