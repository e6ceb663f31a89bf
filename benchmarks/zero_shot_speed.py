"""Time one srx DualSR training step against the official layer-by-layer computation, in one process.

Both trainers are built from the same image, config and seed, so at every iteration they train on the
same crops with identically initialised networks. The reference runs G_DN as its six conv layers on the
patches and keeps everything in the default memory format (as the official code); srx trains G_DN
through its composed 13x13 kernel and keeps G_UP in channels_last. Steps are interleaved so machine
noise hits both alike; medians are reported. The LAST line is ``step_time_ratio=<srx / layer-by-layer>``.

    python benchmarks/zero_shot_speed.py [--steps 20] [--image PATH]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import numpy as np
import torch

from dualsr_cli.engine.zero_shot.config import DEFAULT_ITERS, ZeroShotConfig
from dualsr_cli.engine.zero_shot.trainer import DualSRTrainer
from dualsr_cli.image_io import read_image


def load_image(path: str | None) -> tuple[np.ndarray, str]:
    if path:
        return read_image(path).rgb_float64(), path
    from importlib.resources import files

    sample = files("dualsr_cli") / "samples" / "realsr_canon_0A5A4954_LR.png"
    return read_image(str(sample)).rgb_float64(), "bundled RealSR photo (1440x960)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per variant (after 3 warm-up steps)")
    parser.add_argument("--image", default=None, help="image to crop from (default: the bundled photo)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    image, label = load_image(args.image)
    device = torch.device(args.device)
    config = ZeroShotConfig(iters=args.steps + 3, device=args.device)
    variants = {
        "layer-by-layer reference": DualSRTrainer(
            image, replace(config, channels_last=False), device, reference_layers=True
        ),
        "srx, composed G_DN (NCHW)": DualSRTrainer(image, replace(config, channels_last=False), device),
        "srx, composed G_DN + channels_last (default)": DualSRTrainer(image, config, device),
    }
    timings: dict[str, list[float]] = {name: [] for name in variants}
    for step in range(config.iters):
        for name, trainer in variants.items():
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            trainer.step()
            if device.type == "cuda":
                torch.cuda.synchronize()
            if step >= 3:
                timings[name].append(time.perf_counter() - start)

    print(f"DualSR training step, batch 2, HR crop 128 / LR crop 64, image: {label}")
    print(f"device: {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, {args.steps} timed steps")
    print(f"{'variant':48s} {'s/iter (median)':>16s} {'min for 3000 it':>16s}")
    medians = {}
    for name, values in timings.items():
        medians[name] = statistics.median(values)
        print(f"{name:48s} {medians[name]:16.3f} {medians[name] * DEFAULT_ITERS / 60:16.1f}")
    reference = medians["layer-by-layer reference"]
    nchw = medians["srx, composed G_DN (NCHW)"]
    srx = medians["srx, composed G_DN + channels_last (default)"]
    print(f"composed-kernel G_DN alone: {nchw / reference:.3f} of the reference step time")
    print(f"step_time_ratio={srx / reference:.3f}")


if __name__ == "__main__":
    main()
