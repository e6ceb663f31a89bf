"""Batched zero-shot training: every run of a batch equals its single run with the same seed."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from dualsr_cli.engine.zero_shot.batched import BatchedDualSRTrainer, use_dtype
from dualsr_cli.engine.zero_shot.config import BatchSettings, ZeroShotConfig
from dualsr_cli.engine.zero_shot.trainer import DualSRTrainer
from dualsr_cli.errors import ConfigError
from tests.conftest import photo

CPU = torch.device("cpu")
CONFIG = ZeroShotConfig(iters=2, hr_crop=64)


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    """Two photos of different sizes (crops are fixed-size, so they train together)."""
    return [photo("chelsea")[40:140, 100:220] / 255.0, photo("coffee")[100:190, 200:310] / 255.0]


def _state(trainer: DualSRTrainer) -> dict[str, torch.Tensor]:
    """Every trained tensor of a run: weights, spectral-norm vectors, BatchNorm running statistics."""
    state = {}
    for name, network in (("g_up", trainer.g_up), ("g_dn", trainer.g_dn), ("d_dn", trainer.d_dn)):
        for key, value in network.state_dict().items():
            if value.is_floating_point():
                state[f"{name}.{key}"] = value
    return state


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


# D's biases that only feed a BatchNorm through linear layers: the BatchNorm removes them, so their gradient
# is zero but for rounding noise (which Adam scales up by lr/eps); they stay below 1e-9 instead of matching.
CANCELLED_BY_BATCHNORM = {"d_dn.first_layer.bias", *(f"d_dn.feature_block.{i}.bias" for i in (0, 3, 6, 9, 12))}


def _single_runs(images, configs, dtype, lambdas=None):
    runs = []
    for index, (image, config) in enumerate(zip(images, configs, strict=True)):
        run = use_dtype(DualSRTrainer(image, config, CPU), dtype)
        if lambdas:
            lambdas(index, run)
        run.train()
        runs.append(run)
    return runs


def _different_schedules(index: int, run: DualSRTrainer) -> None:
    """Start run 1 with the late-training regulariser weights so per-run λ handling is exercised."""
    if index == 1:
        run.schedule.lambdas.bicubic = 0.05
        run.schedule.lambdas.centralized = 1.0
        run.schedule.lambdas.sparse = 5.0


@pytest.mark.parametrize("stacking", ["grouped", "per-network"])
def test_batched_float64_equals_single_runs(images, stacking):
    configs = [replace(CONFIG, seed=3), replace(CONFIG, seed=8)]
    singles = _single_runs(images, configs, torch.float64, _different_schedules)
    batch = BatchedDualSRTrainer(images, configs, CPU, settings=BatchSettings(stacking=stacking), dtype=torch.float64)
    for index, run in enumerate(batch.runs):
        _different_schedules(index, run)
    batch.train()
    for single, run in zip(singles, batch.runs, strict=True):
        assert run.iteration == single.iteration == CONFIG.iters
        assert _relative(run.last_kernel, single.last_kernel) < 1e-10
        expected = _state(single)
        got = _state(run)
        assert expected.keys() == got.keys()
        for key, value in expected.items():
            if "running_" in key:  # BatchNorm statistics (never read: D only runs in training mode) carry that noise
                assert _relative(got[key], value) < 1e-8, key
            elif key in CANCELLED_BY_BATCHNORM:
                assert float(got[key].abs().max()) < 1e-9 and float(value.abs().max()) < 1e-9, key
            else:
                assert _relative(got[key], value) < 1e-10, key
        assert run.schedule == single.schedule
        for name, value in single.last_losses.as_dict().items():
            assert getattr(run.last_losses, name) == pytest.approx(value, rel=1e-6, abs=1e-9), name
    # the runs really differ from each other (different images, seeds and schedules)
    assert _relative(batch.runs[0].last_kernel, batch.runs[1].last_kernel) > 1e-3


def test_batched_float32_outputs_match_single_runs(images):
    """The grouped (stacked-network) computation, the CUDA default, in float32; per-network runs the same modules."""
    configs = [replace(CONFIG, seed=0), replace(CONFIG, seed=1)]
    singles = _single_runs(images, configs, torch.float32)
    batch = BatchedDualSRTrainer(images, configs, CPU, settings=BatchSettings(stacking="grouped"))
    batch.train()
    for image, single, run in zip(images, singles, batch.runs, strict=True):
        pixels = torch.from_numpy(image.transpose(2, 0, 1)[None].astype(np.float32))
        expected = single.upscale(pixels).clamp(0, 1)
        got = run.upscale(pixels).clamp(0, 1)
        assert got.shape == expected.shape == (1, 3, 2 * image.shape[0], 2 * image.shape[1])
        assert float((got - expected).abs().max()) <= 2 / 255
        assert np.allclose(run.kernel(), single.kernel(), rtol=1e-3, atol=1e-5)


def test_training_step_creates_no_tensor_off_the_training_device(images):
    """Every network, crop and constant on the meta device: a tensor made on the CPU by mistake would raise."""
    meta = torch.device("meta")
    configs = [CONFIG, replace(CONFIG, seed=1)]
    batch = BatchedDualSRTrainer(images, configs, meta, settings=BatchSettings(stacking="grouped"))
    for stacking in ("grouped", "per-network"):
        batch.stacking = stacking
        batch._set_learning_rates()
        inputs = batch._inputs()
        assert all(t.device == meta for t in inputs.values())
        values = batch._train_step(inputs)
        assert values.device == meta and values.shape == (2, 8)
        assert all(p.device == meta for run in batch.runs for p in run.g_up.parameters())
        assert all(p.grad is None or p.grad.device == meta for run in batch.runs for p in run.d_dn.parameters())


def test_runs_must_share_settings_and_crop_size(images):
    with pytest.raises(ConfigError, match="share every setting"):
        BatchedDualSRTrainer(images, [CONFIG, replace(CONFIG, lambda_cycle=1.0)], CPU)
    small = photo("chelsea")[:90, :90] / 255.0  # 70 px after the border: 68 px crops
    with pytest.raises(ConfigError, match="one crop size"):
        BatchedDualSRTrainer([images[0], small], [replace(CONFIG, hr_crop=128)] * 2, CPU)


def test_gpu_only_options_are_refused_on_the_cpu():
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        BatchSettings(precision="bf16").check(CONFIG, CPU)
    with pytest.raises(ConfigError, match="--cuda-graphs needs a CUDA device"):
        BatchSettings(cuda_graphs=True).check(CONFIG, CPU)
    with pytest.raises(ConfigError, match="--precision must be one of"):
        BatchSettings(precision="fp16")
    BatchSettings(precision="fp32").check(CONFIG, CPU)
    x4 = SimpleNamespace(scale=4)  # ZeroShotConfig is x2-only on this branch; x4 arrives from elsewhere
    with pytest.raises(ConfigError, match="support x2 only"):
        BatchSettings(images=2).check(x4, CPU)


def test_bf16_autocast_step_runs_and_stays_close(images):
    """The bf16 code path (CUDA autocast) exercised with the CPU's bf16 autocast: dtypes line up, losses stay near."""
    configs = [CONFIG, replace(CONFIG, seed=1)]
    exact = BatchedDualSRTrainer(images, configs, CPU, settings=BatchSettings(stacking="grouped"))
    halved = BatchedDualSRTrainer(images, configs, CPU, settings=BatchSettings(stacking="grouped"))
    halved.autocast = torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False)
    for a, b in zip(exact.step(), halved.step(), strict=True):
        for name, value in a.as_dict().items():
            assert getattr(b, name) == pytest.approx(value, rel=0.05, abs=0.02), name
    assert all(p.dtype == torch.float32 for run in halved.runs for p in run.g_up.parameters())


def test_sequential_stacking_is_bit_identical_to_single_runs(images):
    """The CPU default: each run's own single-run step in turn, in lockstep."""
    configs = [replace(CONFIG, seed=0, iters=1), replace(CONFIG, seed=1, iters=1)]
    singles = _single_runs(images, configs, torch.float32)
    batch = BatchedDualSRTrainer(images, configs, CPU)
    assert batch.stacking == "sequential"
    batch.train()
    for single, run in zip(singles, batch.runs, strict=True):
        assert torch.equal(run.last_kernel, single.last_kernel) and run.last_losses == single.last_losses
    with pytest.raises(ConfigError, match="stacked computation"):
        BatchSettings(stacking="sequential", cuda_graphs=True)
