"""DualSR zero-shot x2 (or x4) vs bicubic on real photos degraded with DIV2KRK-protocol kernels.

For each photo of scikit-image's data folder: HR = the photo (cropped to a multiple of the scale), kernel =
a random 11x11 anisotropic Gaussian with multiplicative noise (the DIV2KRK x2 protocol of the KernelGAN
paper, fixed seed). x2: LR = HR correlated with the kernel (reflect) and subsampled by 2. x4, the way
DIV2KRK made its x4 images: the same x2 kernel applied twice (blur, keep every 2nd pixel, blur, keep every
2nd), which is one 31x31 composite kernel, the ground truth for the kernel error. LR is rounded to 8 bits.
Bicubic is MATLAB ``imresize``; srx is ``zero_shot_image`` (x4: each ``--x4-method``: twice, joint, joint-zssr,
x2-zssr).
Metrics: Y-PSNR / SSIM, MATLAB convention, border = scale. Per-image results are cached in OUT so an
interrupted run resumes. x4 also reports the x2 run's time on the same input: stage 1 of ``twice`` *is*
that x2 run (same input, settings and seed), so its training + inference time is used. Photos smaller than
srx's 84 px minimum at this scale are listed as skipped. Last line: ``mean_gain_db=<default - bicubic>``.
With ``--ensemble K`` (x2) srx is the average of K seeds trained together (``--ensemble``); each member's own
PSNR (= its single run's) is reported beside the average's.

    python benchmarks/zero_shot_quality.py [--scale 2|4] [--iters 3000] [--images astronaut,coffee] [--out DIR]
        [--ensemble K] [--x4-methods joint,twice]

``--images`` takes scikit-image photo names or paths of photo files (e.g. srx's bundled RealSR photo,
``dualsr_cli/samples/realsr_canon_0A5A4954_LR.png``, 1440x960: an x4 LR of 360x240, nearer DIV2KRK's sizes
than the scikit-image photos' 100-190 px).

``--x4-methods`` runs only some x4 methods (each is cached on its own, so a later run adds the others); the
time ratio needs the x2 run, which is stage 1 of ``twice`` and, training only, stage 1 of ``x2-zssr``:
without either it is left out.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.io import savemat

from dualsr_cli.engine.zero_shot.config import MIN_IMAGE_SIDE, X4_METHODS, ZeroShotConfig
from dualsr_cli.engine.zero_shot.pipeline import Hooks, zero_shot_image
from dualsr_cli.image_io import quantize, write_image
from dualsr_cli.metrics.psnr import psnr_y
from dualsr_cli.metrics.ssim import ssim_y
from dualsr_cli.ops.kernels import (
    anisotropic_gaussian_kernel,
    blur_and_subsample,
    blur_and_subsample_twice,
    compose_downscale_kernels,
)
from dualsr_cli.ops.resize import imresize

DEFAULT_IMAGES = ("astronaut", "chelsea", "motorcycle_left", "coffee")
PROGRESS_EVERY = 250  # iterations between progress lines: a paper-settings ensemble trains for hours


def progress_hooks() -> Hooks:
    """Print each training stage's progress with a time estimate, so that a long run shows it is alive."""
    label, total, start = "", 0, 0.0

    def on_start(stage: str, iterations: int) -> None:
        nonlocal label, total, start
        label, total, start = stage, iterations, time.perf_counter()

    def on_step(done: int, _losses: object) -> None:  # the trainers pass the count of steps taken
        if done % PROGRESS_EVERY and done != total:
            return
        elapsed = time.perf_counter() - start
        left = elapsed / done * (total - done)
        print(f"  {label}: {done}/{total} it, {elapsed / 60:.1f} min, ~{left / 60:.0f} min left", flush=True)

    return Hooks(on_start=on_start, on_step=on_step)


def load_photo(name: str, multiple: int = 2) -> np.ndarray:
    """A scikit-image photo by name, or any photo file by path (its stem names it in the results)."""
    import imageio.v3 as iio
    import skimage

    path = Path(name) if Path(name).suffix else Path(skimage.__file__).parent / "data" / f"{name}.png"
    photo = iio.imread(path)  # the real photo files
    if photo.ndim == 2:
        photo = np.repeat(photo[:, :, None], 3, axis=2)
    photo = photo[:, :, :3]
    return photo[: photo.shape[0] // multiple * multiple, : photo.shape[1] // multiple * multiple]


def label_of(name: str) -> str:
    return Path(name).stem if Path(name).suffix else name


def make_pair(name: str, index: int, seed: int, folder: Path) -> tuple[Path, Path, Path]:
    hr = load_photo(name)
    kernel = anisotropic_gaussian_kernel(np.random.default_rng(seed + index))
    lr = quantize(blur_and_subsample(hr / 255.0, kernel, 2), 8)
    folder.mkdir(parents=True, exist_ok=True)
    hr_path, lr_path, kernel_path = (
        folder / f"{label_of(name)}_hr.png",
        folder / f"{label_of(name)}_lr.png",
        folder / f"{label_of(name)}_kernel.mat",
    )
    write_image(hr_path, hr / 255.0)
    write_image(lr_path, lr / 255.0)
    savemat(kernel_path, {"Kernel": kernel})
    return hr_path, lr_path, kernel_path


def evaluate(name: str, index: int, args: argparse.Namespace, out: Path) -> dict:
    suffix = f"_ensemble{args.ensemble}" if args.ensemble > 1 else ""
    cache = out / f"{label_of(name)}_iters{args.iters}_seed{args.seed}{suffix}.json"
    if cache.exists():
        return json.loads(cache.read_text())
    hr_path, lr_path, kernel_path = make_pair(name, index, args.seed, out / "data")
    hr = load_photo(name) / 255.0
    from dualsr_cli.image_io import read_image

    lr = read_image(lr_path).rgb_float64()
    bicubic = quantize(np.clip(imresize(lr, 2.0), 0, 1), 8) / 255.0
    start = time.perf_counter()
    config = ZeroShotConfig(iters=args.iters, device=args.device)
    if args.ensemble > 1:
        from dualsr_cli.engine.zero_shot.batched import BatchJob, zero_shot_batch
        from dualsr_cli.engine.zero_shot.config import BatchSettings

        job = BatchJob(lr_path, out / f"{label_of(name)}_x2{suffix}.png", hr_path, kernel_path)
        result = zero_shot_batch([job], config, BatchSettings(ensemble=args.ensemble), hooks=progress_hooks())[0]
    else:
        result = zero_shot_image(
            lr_path,
            out / f"{label_of(name)}_x2.png",
            config,
            gt_path=hr_path,
            gt_kernel_path=kernel_path,
            hooks=progress_hooks(),
        )
    record = {
        "image": label_of(name),
        "lr_size": list(result.input_size),
        "bicubic_psnr": psnr_y(bicubic, hr, border=2),
        "bicubic_ssim": ssim_y(bicubic, hr, border=2),
        "srx_psnr": result.metrics["psnr_y"],
        "srx_ssim": result.metrics["ssim_y"],
        "kernel_l2": result.metrics["kernel"]["l2"],
        "iters": args.iters,
        "seconds": time.perf_counter() - start,
        "s_per_iter": result.seconds_per_iteration,
        "ensemble": args.ensemble,
        "member_psnr": result.batch.get("member_psnr_y", []),
        "kernel_spread": result.batch.get("kernel_spread"),
    }
    cache.write_text(json.dumps(record, indent=2))
    return record


def make_pair_x4(name: str, index: int, seed: int, folder: Path) -> tuple[Path, Path, Path]:
    """HR, x4 LR (the x2 kernel applied twice) and the 31x31 composite kernel, as files."""
    hr = load_photo(name, 4)
    kernel = anisotropic_gaussian_kernel(np.random.default_rng(seed + index))
    lr = quantize(blur_and_subsample_twice(hr / 255.0, kernel), 8)
    composite = compose_downscale_kernels(kernel, kernel)  # 11 + 2·10 = 31 taps, sums to 1
    folder.mkdir(parents=True, exist_ok=True)
    hr_path, lr_path, kernel_path = (
        folder / f"{label_of(name)}_hr_x4.png",
        folder / f"{label_of(name)}_lr_x4.png",
        folder / f"{label_of(name)}_kernel_x4.mat",
    )
    write_image(hr_path, hr / 255.0)
    write_image(lr_path, lr / 255.0)
    savemat(kernel_path, {"Kernel": composite})
    return hr_path, lr_path, kernel_path


def evaluate_x4(name: str, index: int, args: argparse.Namespace, out: Path) -> dict:
    """Bicubic, twice and joint on one photo at x4 (each method's run cached on its own)."""
    hr_path, lr_path, kernel_path = make_pair_x4(name, index, args.seed, out / "data")
    hr = load_photo(name, 4) / 255.0
    from dualsr_cli.image_io import read_image

    lr = read_image(lr_path).rgb_float64()
    record: dict = {"image": label_of(name), "lr_size": [lr.shape[1], lr.shape[0]], "iters": args.iters}
    if min(lr.shape[:2]) < MIN_IMAGE_SIDE:
        record["skipped"] = f"x4 LR is {lr.shape[1]}x{lr.shape[0]}, below srx's {MIN_IMAGE_SIDE} px minimum"
        return record
    bicubic = quantize(np.clip(imresize(lr, 4.0), 0, 1), 8) / 255.0
    record["bicubic_psnr"] = psnr_y(bicubic, hr, border=4)
    record["bicubic_ssim"] = ssim_y(bicubic, hr, border=4)
    for method in args.x4_methods:
        cache = out / f"{label_of(name)}_x4_{method}_iters{args.iters}_seed{args.seed}.json"
        if cache.exists():
            record[method] = json.loads(cache.read_text())
            continue
        start, cpu_start = time.perf_counter(), time.process_time()
        result = zero_shot_image(
            lr_path,
            out / f"{label_of(name)}_{method}_x4.png",
            ZeroShotConfig(scale=4, x4_method=method, iters=args.iters, device=args.device),
            gt_path=hr_path,
            gt_kernel_path=kernel_path,
            hooks=progress_hooks(),
        )
        entry = {
            "psnr": result.metrics["psnr_y"],
            "ssim": result.metrics["ssim_y"],
            "kernel_l2": result.metrics["kernel"]["l2"],
            "seconds": time.perf_counter() - start,
            "cpu_seconds": time.process_time() - cpu_start,  # robust to other work sharing the machine
            "stages": result.stages,
        }
        cache.write_text(json.dumps(entry, indent=2))
        record[method] = entry
        print(
            f"  {name} {method}: {entry['psnr']:.2f} dB ({entry['seconds'] / 60:.1f} min, "
            f"{entry['cpu_seconds'] / 60:.1f} CPU min)",
            flush=True,
        )
    if "twice" in record:
        first = record["twice"]["stages"][0]
        record["x2_seconds"] = first["train_seconds"] + first["inference_seconds"]
    elif "x2-zssr" in record:  # its stage 1 is the x2 run's training (the x2 inference, seconds, is skipped)
        record["x2_seconds"] = record["x2-zssr"]["stages"][0]["train_seconds"]
    return record


def report_x4(records: list[dict], args: argparse.Namespace) -> None:
    done = [r for r in records if "skipped" not in r]
    for r in records:
        if "skipped" in r:
            print(f"skipped {r['image']}: {r['skipped']}")
    print(
        f"\nDualSR zero-shot x4, {args.iters} iterations per x2/x4 run, DIV2KRK-style x4 (x2 kernel applied "
        f"twice, seed {args.seed}); Y-PSNR [dB] / SSIM, MATLAB convention, border 4; minutes per image; "
        "time ratio = method time / x2 run time on the same input"
    )
    timed = all("x2_seconds" in r for r in done)  # the x2 run's time: stage 1 of twice or of x2-zssr
    columns = [("image", 16), ("LR size", 9), ("bicubic", 15)]
    for method in args.x4_methods:
        columns += [(method, 15), ("gain", 6), ("kernel L2", 9), ("min", 5)] + ([("ratio", 5)] if timed else [])
    header = "| " + " | ".join(f"{name:{width}s}" for name, width in columns) + " |"
    print(header)
    print("|" + "|".join("-" * len(part) for part in header.split("|")[1:-1]) + "|")

    def row(label: str, size: str, values: dict) -> str:
        cells = [f"{label:16s}", f"{size:9s}", f"{values['bicubic_psnr']:6.2f} / {values['bicubic_ssim']:.4f}"]
        for method in args.x4_methods:
            m = values[method]
            cells += [
                f"{m['psnr']:6.2f} / {m['ssim']:.4f}",
                f"{m['psnr'] - values['bicubic_psnr']:+6.2f}",
                f"{m['kernel_l2']:9.4f}",
                f"{m['seconds'] / 60:5.1f}",
            ]
            if timed:
                cells.append(f"{m['seconds'] / values['x2_seconds']:5.2f}")
        return "| " + " | ".join(cells) + " |"

    for r in done:
        print(row(r["image"], f"{r['lr_size'][0]}x{r['lr_size'][1]}", r))
    if not done:
        return
    mean = {"bicubic_psnr": float(np.mean([r["bicubic_psnr"] for r in done]))}
    mean["bicubic_ssim"] = float(np.mean([r["bicubic_ssim"] for r in done]))
    if timed:
        mean["x2_seconds"] = float(np.mean([r["x2_seconds"] for r in done]))
    for method in args.x4_methods:
        mean[method] = {
            key: float(np.mean([r[method][key] for r in done])) for key in ("psnr", "ssim", "kernel_l2", "seconds")
        }
    print(row("mean", "", mean))
    if timed:
        source = "twice" if all("twice" in r for r in done) else "x2-zssr, training only"
        print(f"x2 run on the same inputs: {mean['x2_seconds'] / 60:.1f} min per image (stage 1 of {source})")
    gains = {m: mean[m]["psnr"] - mean["bicubic_psnr"] for m in args.x4_methods}
    for method in args.x4_methods:
        print(f"mean_gain_db[{method}]={gains[method]:.3f}")
    default = ZeroShotConfig().x4_method
    print(f"default x4 method: {default}")
    if default in gains:
        print(f"mean_gain_db={gains[default]:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, choices=(2, 4), default=2)
    parser.add_argument("--iters", type=int, default=3000)
    parser.add_argument("--images", default=",".join(DEFAULT_IMAGES))
    parser.add_argument("--seed", type=int, default=0, help="seed of the random kernels")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default="bench_out/zero_shot_quality")
    parser.add_argument("--ensemble", type=int, default=1, help="average K seeds per image (srx --ensemble K)")
    parser.add_argument("--x4-methods", default=",".join(X4_METHODS), help="x4 methods to run, comma-separated")
    args = parser.parse_args()
    out = Path(args.out)
    args.x4_methods = [m.strip() for m in args.x4_methods.split(",") if m.strip()]
    if unknown := set(args.x4_methods) - set(X4_METHODS):
        parser.error(f"unknown --x4-methods {', '.join(sorted(unknown))} (choose from {', '.join(X4_METHODS)})")
    names = [n.strip() for n in args.images.split(",") if n.strip()]
    if args.scale == 4:
        records = []
        for index, name in enumerate(names):
            records.append(
                evaluate_x4(name, DEFAULT_IMAGES.index(name) if name in DEFAULT_IMAGES else index, args, out)
            )
            print(f"done {name}", flush=True)
        report_x4(records, args)
        return
    records = []
    for index, name in enumerate(names):
        record = evaluate(name, DEFAULT_IMAGES.index(name) if name in DEFAULT_IMAGES else index, args, out)
        records.append(record)
        print(
            f"done {name}: bicubic {record['bicubic_psnr']:.2f} dB, srx {record['srx_psnr']:.2f} dB "
            f"({record['seconds'] / 60:.1f} min)",
            flush=True,
        )

    print(
        f"\nDualSR zero-shot x2, {args.iters} iterations, DIV2KRK-style kernels (seed {args.seed}); "
        "Y-PSNR [dB] / SSIM, MATLAB convention, border 2"
    )
    columns = [("image", 16), ("LR size", 9), ("bicubic", 15), ("srx zero-shot", 15), ("gain dB", 7), ("kernel L2", 9)]
    header = "| " + " | ".join(f"{name:{width}s}" for name, width in columns) + " |"
    print(header)
    print("|" + "|".join("-" * len(part) for part in header.split("|")[1:-1]) + "|")
    for r in records:
        size = f"{r['lr_size'][0]}x{r['lr_size'][1]}"
        print(
            f"| {r['image']:16s} | {size:9s} | {r['bicubic_psnr']:6.2f} / {r['bicubic_ssim']:.4f} | "
            f"{r['srx_psnr']:6.2f} / {r['srx_ssim']:.4f} | {r['srx_psnr'] - r['bicubic_psnr']:+7.2f} | "
            f"{r['kernel_l2']:9.4f} |"
        )
    if args.ensemble > 1:
        for r in records:
            members = ", ".join(f"{p:.2f}" for p in r["member_psnr"])
            print(
                f"{r['image']}: ensemble of {args.ensemble} {r['srx_psnr']:.2f} dB, members {members} dB "
                f"(mean {np.mean(r['member_psnr']):.2f}): gain {r['srx_psnr'] - np.mean(r['member_psnr']):+.2f} dB "
                f"over the mean single run, {r['srx_psnr'] - max(r['member_psnr']):+.2f} dB over the best"
            )
    gains = [r["srx_psnr"] - r["bicubic_psnr"] for r in records]
    mean = lambda key: float(np.mean([r[key] for r in records]))  # noqa: E731
    print(
        f"| {'mean':16s} | {'':9s} | {mean('bicubic_psnr'):6.2f} / {mean('bicubic_ssim'):.4f} | "
        f"{mean('srx_psnr'):6.2f} / {mean('srx_ssim'):.4f} | {np.mean(gains):+7.2f} | {mean('kernel_l2'):9.4f} |"
    )
    print(f"mean_gain_db={np.mean(gains):.3f}")


if __name__ == "__main__":
    main()
