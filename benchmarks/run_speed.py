"""Throughput and peak memory of ``srx run`` per architecture (random weights, official shapes and init).

- Speed: megapixels (of LR input) per second on a 256x256 image with a fixed 128 px tile (default pad).
- Memory: peak resident memory of a fresh process upscaling a 2000x2000 image, tiled (tile 128). The
  tiled run stops after its first tiles: every tile has the same size and the output canvas is allocated
  and touched at the first tile, so the peak is already reached. The untiled peak is measured at three
  small sizes (96, 160, 224 px) in fresh processes and extrapolated linearly in pixel count to 2000x2000 (an untiled x4
  RRDB/CDC pass on 2000x2000 needs far more than this machine's 24 GiB).

    python benchmarks/run_speed.py [--archs dasr,cdc,dada] [--device cpu]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time

import numpy as np


def build(arch: str):
    from dataclasses import asdict

    import torch

    from dualsr_cli.archs import TILING, ModelDescriptor
    from dualsr_cli.archs.cdc import CDCNet, DADAUpscaler, init_cdc
    from dualsr_cli.archs.rrdb import RRDBNet, init_rrdb

    torch.manual_seed(0)
    if arch == "dasr":
        net = RRDBNet()
        init_rrdb(net)
        return ModelDescriptor("dasr", net, 4, net, **asdict(TILING["rrdb"]))
    nets = []
    for _ in range(2 if arch == "dada" else 1):
        net = CDCNet(scale=4)
        init_cdc(net)
        nets.append(net)
    if arch == "cdc":
        return ModelDescriptor("cdc", nets[0], 4, nets[0].upscale, size_multiple=16, tile_pad=32)
    model = DADAUpscaler(nets[0], nets[1])
    return ModelDescriptor("dada", model, 4, model, size_multiple=16, tile_pad=32)


class _Stop(Exception):
    pass


def child(arch: str, mode: str, size: int, device_name: str) -> None:
    """Run in a fresh process; prints JSON with seconds and peak RSS (MiB)."""
    import resource

    import torch

    from dualsr_cli.engine.infer import RunOptions, prepare, upscale_pixels

    device = torch.device(device_name)
    model = prepare(build(arch), device, half=False)
    pixels = torch.rand(1, 3, size, size)
    tiles = {"done": 0}

    def stop_early(done: int, total: int) -> None:
        tiles["done"], tiles["total"] = done, total
        if mode == "peak" and done >= 3:
            raise _Stop

    start = time.perf_counter()
    with contextlib.suppress(_Stop):
        upscale_pixels(model, pixels, RunOptions(tile=0 if mode == "untiled" else 128), device, stop_early)
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mib": peak_mib, "tiles": tiles}))


def measure(arch: str, mode: str, size: int, device: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", arch, mode, str(size), device], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", default="dasr,cdc,dada")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        arch, mode, size, device = args.child
        child(arch, mode, int(size), device)
        return
    print(f"srx run, x4 models with official shapes, device {args.device}")
    print(
        f"{'arch':6s} {'MP/s (256x256, tile 128)':>26s} {'peak 2000x2000 tiled':>22s} {'untiled (extrapolated)':>24s}"
    )
    for arch in args.archs.split(","):
        speed = measure(arch, "tiled", 256, args.device)
        megapixels_per_second = 256 * 256 / 1e6 / speed["seconds"]
        tiled = measure(arch, "peak", 2000, args.device)
        sizes = (96, 160, 224)
        peaks = [measure(arch, "untiled", s, args.device)["peak_mib"] for s in sizes]
        slope, intercept = np.polyfit([s * s for s in sizes], peaks, 1)
        untiled = intercept + slope * 2000 * 2000
        print(
            f"{arch:6s} {megapixels_per_second:26.4f} {tiled['peak_mib'] / 1024:19.2f} GiB {untiled / 1024:21.1f} GiB",
            flush=True,
        )


if __name__ == "__main__":
    main()
