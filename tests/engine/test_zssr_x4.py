"""joint-zssr's second stage: son/image pairs, their augmentation, and that training fits the pairs."""

from __future__ import annotations

import numpy as np
import torch

from dualsr_cli.engine.zero_shot.config import ZeroShotConfig
from dualsr_cli.engine.zero_shot.zssr_x4 import ZSSRUpsamplerTrainer, dihedral, son_of
from dualsr_cli.ops.kernels import anisotropic_gaussian_kernel, blur_and_subsample_twice
from tests.conftest import photo

CPU = torch.device("cpu")
KERNEL = anisotropic_gaussian_kernel(np.random.default_rng(2))


def test_son_is_the_image_cropped_to_a_multiple_of_4_then_downscaled_twice():
    image = photo("coffee")[:103, :90] / 255.0
    father, son = son_of(image, KERNEL)
    assert father.shape == (100, 88, 3) and son.shape == (25, 22, 3)
    np.testing.assert_array_equal(son, blur_and_subsample_twice(image[:100, :88], KERNEL))


def test_a_pair_is_a_son_crop_and_the_image_crop_it_came_from():
    image = photo("astronaut")[:200, :180] / 255.0
    trainer = ZSSRUpsamplerTrainer(image, KERNEL, ZeroShotConfig(scale=4, iters=3), CPU)
    assert trainer.son_crop == 128 // 4  # HR_CROP / 4, the joint run's LR crop
    trainer.son_crop = 20
    son, father = trainer.pair(3, 5, 0)
    assert son.shape == (1, 3, 20, 20) and father.shape == (1, 3, 80, 80)
    # away from the crop's own borders, downscaling the image crop gives the son crop back
    again = blur_and_subsample_twice(father[0].double().numpy().transpose(1, 2, 0), KERNEL)
    inner = son[0].double().numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(again[4:-4, 4:-4], inner[4:-4, 4:-4], atol=1e-6)
    # both halves of a pair get the same flip/rotation
    for which in range(8):
        s, f = trainer.pair(3, 5, which)
        torch.testing.assert_close(s, dihedral(son, which))
        torch.testing.assert_close(f, dihedral(father, which))


def test_dihedral_gives_the_8_distinct_flips_and_rotations():
    x = torch.rand(1, 3, 5, 5)
    outs = [dihedral(x, which) for which in range(8)]
    torch.testing.assert_close(outs[0], x)
    assert len({tuple(o.flatten().tolist()) for o in outs}) == 8
    torch.testing.assert_close(outs[1], x.flip(3))
    torch.testing.assert_close(outs[2], torch.rot90(x, 1, (2, 3)))


def test_training_fits_the_son_to_image_mapping():
    """The whole-image L1 of G_UP(son) against the image falls: the stage learns what it is shown."""
    config = ZeroShotConfig(scale=4, iters=30)
    trainer = ZSSRUpsamplerTrainer(photo("chelsea")[:88, :88] / 255.0, KERNEL, config, CPU)

    def whole_image_l1() -> float:
        with torch.no_grad():
            return float((trainer.g_up.eval()(trainer.son) - trainer.father).abs().mean())

    before = whole_image_l1()
    steps: list[int] = []
    trainer.train(lambda iteration, losses: steps.append(iteration))
    assert config.zssr_iters == 10 and steps == list(range(1, 11)) and trainer.iteration == 10
    assert whole_image_l1() < 0.2 * before  # measured 0.68 -> 0.07 (the untrained body is far from identity)
