"""DualSR training throughput: N runs in lockstep (``--batch-images N``) against the same N runs one by one.

For every N (default 1, 2, 4, 8) a batched trainer of N runs (the bundled photo with seeds 0..N-1, each run
its own networks) and N single-run trainers with the same seeds are stepped in turn, round after round, so
load from other processes on the machine hits both alike. Throughput is image-iterations per second
(N runs x iterations / seconds). Memory: on CUDA the peak allocated during a step; on the CPU the bytes
autograd saves for the backward of one step (what grows with N; weights and Adam states are ~4 MB per run).
The LAST line is ``throughput_ratio=<best batched / sequential>``, the best over N > 1 (N = 1 if only 1).

    python benchmarks/zero_shot_throughput.py [--rounds 4] [--sizes 1,2,4,8] [--device cpu|cuda]
        [--stacking auto|grouped|per-network|sequential|both|A,B] [--precision fp32|tf32|bf16] [--cuda-graphs]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from dualsr_cli.engine.zero_shot.batched import BatchedDualSRTrainer, apply_precision
from dualsr_cli.engine.zero_shot.config import BatchSettings, ZeroShotConfig
from dualsr_cli.engine.zero_shot.trainer import DualSRTrainer
from dualsr_cli.runtime.device import configure_determinism, resolve_device, synchronize

WARMUP_ROUNDS = 1


def bundled_photo():
    from importlib.resources import files

    from dualsr_cli.image_io import read_image

    return read_image(str(files("dualsr_cli") / "samples" / "realsr_canon_0A5A4954_LR.png")).rgb_float64()


def saved_bytes(step) -> int:
    """Bytes of the tensors autograd keeps for backward during ``step()`` (the activations)."""
    total = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal total
        total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        step()
    return total


def saved_bytes_of_one_step(trainer: BatchedDualSRTrainer) -> int:
    """Activations held at once in one step: all N runs' when stacked, one run's at a time when sequential."""
    if trainer.stacking == "sequential":
        return max(saved_bytes(run.step) for run in trainer.runs)
    return saved_bytes(trainer.step)


def timed(step, device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    step()
    synchronize(device)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=4, help="timed rounds (after one warm-up round)")
    parser.add_argument("--sizes", default="1,2,4,8", help="numbers of runs trained together")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--stacking", default="auto", help="auto, grouped, per-network, sequential, or a comma list")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "tf32", "bf16"])
    parser.add_argument("--cuda-graphs", action="store_true")
    parser.add_argument("--crop", type=int, default=0, help="train on the top-left CROPxCROP of the photo (0: all)")
    args = parser.parse_args()

    device = resolve_device(args.device)
    configure_determinism(device)
    apply_precision(args.precision, device)
    sizes = [int(n) for n in args.sizes.split(",")]
    stackings = ["grouped", "per-network"] if args.stacking == "both" else args.stacking.split(",")
    image = bundled_photo()
    if args.crop:
        image = image[: args.crop, : args.crop]
    iters = (args.rounds + WARMUP_ROUNDS) * len(sizes) + 2  # enough crops: the single runs serve every N
    config = ZeroShotConfig(iters=iters, device=str(device))
    configs = [replace(config, seed=seed) for seed in range(max(sizes))]

    singles = [DualSRTrainer(image, cfg, device) for cfg in configs]
    batched: dict[tuple[str, int], BatchedDualSRTrainer] = {}
    for stacking in stackings:
        settings = BatchSettings(precision=args.precision, cuda_graphs=args.cuda_graphs, stacking=stacking)
        for n in sizes:
            batched[(stacking, n)] = BatchedDualSRTrainer([image] * n, configs[:n], device, settings=settings)

    seconds_seq = {n: 0.0 for n in sizes}
    seconds_batch = {key: 0.0 for key in batched}
    for round_index in range(WARMUP_ROUNDS + args.rounds):
        for n in sizes:
            for stacking in stackings:
                elapsed = timed(batched[(stacking, n)].step, device)
                if round_index >= WARMUP_ROUNDS:
                    seconds_batch[(stacking, n)] += elapsed
            for single in singles[:n]:  # the same N runs one after another
                elapsed = timed(single.step, device)
                if round_index >= WARMUP_ROUNDS:
                    seconds_seq[n] += elapsed
        print(f"round {round_index + 1}/{WARMUP_ROUNDS + args.rounds} done", flush=True)

    memory = {}
    for key, trainer in batched.items():
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            trainer.step()
            memory[key] = torch.cuda.max_memory_allocated(device)
        else:
            memory[key] = saved_bytes_of_one_step(trainer)
    memory_label = "peak MiB" if device.type == "cuda" else "saved MiB"

    threads = torch.get_num_threads() if device.type == "cpu" else "-"
    print(
        f"DualSR training throughput on {device} (torch {torch.__version__}, {threads} CPU threads), "
        f"bundled photo, HR crop 128, batch 2, precision {args.precision}, cuda graphs {args.cuda_graphs}, "
        f"{args.rounds} timed rounds after {WARMUP_ROUNDS} warm-up"
    )
    print(
        f"{'N':>3s} {'stacking':>12s} {'sequential it/s':>16s} {'batched it/s':>13s} {'ratio':>6s} {memory_label:>10s}"
    )
    best = (0.0, None)
    for (stacking, n), seconds in seconds_batch.items():
        sequential = n * args.rounds / seconds_seq[n]
        together = n * args.rounds / seconds
        ratio = seconds_seq[n] / seconds
        mib = memory[(stacking, n)] / 2**20
        print(f"{n:3d} {stacking:>12s} {sequential:16.3f} {together:13.3f} {ratio:6.3f} {mib:10.1f}")
        if (n > 1 or max(sizes) == 1) and ratio > best[0]:
            best = (ratio, (stacking, n))
    print(f"best: N={best[1][1]} {best[1][0]} (image-iterations/s relative to the same runs one by one)")
    print(f"throughput_ratio={best[0]:.3f}")


if __name__ == "__main__":
    main()
