"""A DualSR run on CUDA against the CPU run of the same seed, for every precision and with CUDA graphs.

Trains a crop of the bundled photo for ``--iters`` iterations on the CPU (fp32, the reference) and then on
CUDA as a single run, through the batched engine (N=1 and N=4, run 0 compared), with TF32, bf16 and CUDA
graphs. For each it prints the seconds, the largest output difference in 8-bit levels, the Y-PSNR of the
output against the CPU output, and the relative difference of the estimated kernel.

    python benchmarks/device_compare.py [--iters 200] [--crop 256]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import torch

from dualsr_cli.engine.zero_shot.batched import BatchedDualSRTrainer, apply_precision
from dualsr_cli.engine.zero_shot.config import BatchSettings, ZeroShotConfig
from dualsr_cli.engine.zero_shot.trainer import DualSRTrainer
from dualsr_cli.image_io import quantize
from dualsr_cli.metrics.psnr import psnr_y
from dualsr_cli.runtime.device import configure_determinism, synchronize


def bundled_photo() -> np.ndarray:
    from importlib.resources import files

    from dualsr_cli.image_io import read_image

    return read_image(str(files("dualsr_cli") / "samples" / "realsr_canon_0A5A4954_LR.png")).rgb_float64()


def outputs_of(trainer: DualSRTrainer, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pixels = torch.from_numpy(image.transpose(2, 0, 1)[None].astype(np.float32))
    color = trainer.upscale(pixels)[0].permute(1, 2, 0).numpy()
    return quantize(color, 8).astype(np.float64) / 255.0, trainer.kernel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--crop", type=int, default=256)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("device_compare.py needs a CUDA device")
    image = bundled_photo()[: args.crop, : args.crop]
    config = ZeroShotConfig(iters=args.iters)
    cpu, cuda = torch.device("cpu"), torch.device("cuda")

    start = time.perf_counter()
    reference = DualSRTrainer(image, config, cpu)
    reference.train()
    ref_out, ref_kernel = outputs_of(reference, image)
    print(f"CPU fp32 reference: {args.iters} iterations on a {args.crop}px crop in {time.perf_counter() - start:.1f} s")

    variants = [
        ("cuda single run fp32", None, BatchSettings()),
        ("cuda batched N=1 fp32 grouped", 1, BatchSettings(stacking="grouped")),
        ("cuda batched N=4 fp32 grouped (run 0)", 4, BatchSettings(stacking="grouped")),
        ("cuda batched N=4 fp32 per-network (run 0)", 4, BatchSettings(stacking="per-network")),
        ("cuda batched N=4 fp32 + CUDA graphs", 4, BatchSettings(stacking="grouped", cuda_graphs=True)),
        ("cuda batched N=4 tf32", 4, BatchSettings(stacking="grouped", precision="tf32")),
        ("cuda batched N=4 bf16", 4, BatchSettings(stacking="grouped", precision="bf16")),
        ("cuda batched N=4 bf16 + CUDA graphs", 4, BatchSettings(precision="bf16", cuda_graphs=True)),
    ]
    print(f"{'variant':44s} {'train s':>8s} {'max |diff| (levels)':>20s} {'PSNR vs CPU':>12s} {'kernel rel diff':>16s}")
    for name, runs, settings in variants:
        configure_determinism(cuda)
        apply_precision(settings.precision, cuda)
        torch.cuda.reset_peak_memory_stats()
        synchronize(cuda)
        start = time.perf_counter()
        try:
            if runs is None:
                trainer = DualSRTrainer(image, config, cuda)
                trainer.train()
                first = trainer
            else:
                configs = [replace(config, seed=config.seed + k) for k in range(runs)]
                batch = BatchedDualSRTrainer([image] * runs, configs, cuda, settings=settings)
                batch.train()
                first = batch.runs[0]
        except Exception as exc:  # report and go on: one broken variant must not hide the others
            print(f"{name:44s} FAILED: {type(exc).__name__}: {exc}")
            continue
        synchronize(cuda)
        seconds = time.perf_counter() - start
        out, kernel = outputs_of(first, image)
        levels = np.abs(out - ref_out).max() * 255
        psnr = psnr_y(out, ref_out, border=2)
        kernel_diff = np.abs(kernel - ref_kernel).max() / np.abs(ref_kernel).max()
        peak = torch.cuda.max_memory_allocated() / 2**20
        print(f"{name:44s} {seconds:8.1f} {levels:20.0f} {psnr:12.2f} {kernel_diff:16.2e}   peak {peak:.0f} MiB")
    apply_precision("fp32", cuda)


if __name__ == "__main__":
    main()
