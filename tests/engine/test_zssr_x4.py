"""joint-zssr's second stage: son/image pairs, their augmentation, and that training fits the pairs."""

from __future__ import annotations

import numpy as np
import torch

from dualsr_cli.engine.zero_shot.config import ZeroShotConfig
from dualsr_cli.engine.zero_shot.zssr_x4 import ZSSRUpsamplerTrainer, dihedral, dihedral_crop, son_of
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
    father = torch.as_tensor(image.transpose(2, 0, 1)[None], dtype=torch.float32)
    for which in range(8):
        son, crop = trainer.pair(3, 5, which)
        assert son.shape == (1, 3, 20, 20) and crop.shape == (1, 3, 80, 80)
        # the image is flipped/rotated first, then degraded: the kernel keeps its orientation in every son
        turned = dihedral(father.double(), which)[0].numpy().transpose(1, 2, 0)
        expected_son = blur_and_subsample_twice(turned, KERNEL)[3:23, 5:25]
        np.testing.assert_allclose(son[0].double().numpy().transpose(1, 2, 0), expected_son, atol=1e-6)
        torch.testing.assert_close(crop, dihedral(father, which)[:, :, 12:92, 20:100])
        # away from the crop's own borders, degrading the image crop gives the son crop back
        again = blur_and_subsample_twice(crop[0].double().numpy().transpose(1, 2, 0), KERNEL)
        np.testing.assert_allclose(again[4:-4, 4:-4], expected_son[4:-4, 4:-4], atol=1e-6)


def test_batches_fit_inside_every_son_of_a_non_square_image():
    trainer = ZSSRUpsamplerTrainer(photo("coffee")[:120, :200] / 255.0, KERNEL, ZeroShotConfig(scale=4), CPU)
    assert trainer.son_crop == 30 and [s.shape[2:] for s in trainer.sons[:4]] == [
        (30, 50),
        (30, 50),
        (50, 30),
        (50, 30),
    ]
    for _ in range(20):  # rotated sons are 50x30: a crop drawn for the wrong orientation would come out short
        son, father = trainer._batch()
        assert son.shape == (4, 3, 30, 30) and father.shape == (4, 3, 120, 120)


def test_dihedral_crop_is_the_crop_of_the_transformed_image():
    x = torch.arange(2 * 3 * 12 * 20, dtype=torch.float32).reshape(2, 3, 12, 20)
    for which in range(8):
        full = dihedral(x, which)
        for row, col in [(0, 0), (1, 3), (full.shape[2] - 5, full.shape[3] - 5)]:
            torch.testing.assert_close(dihedral_crop(x, which, row, col, 5), full[:, :, row : row + 5, col : col + 5])


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
