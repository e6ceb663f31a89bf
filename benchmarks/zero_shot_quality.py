"""DualSR zero-shot x2 vs bicubic on real photos degraded with DIV2KRK-protocol kernels.

For each photo of scikit-image's data folder: HR = the photo (cropped to even size), kernel = a random
11x11 anisotropic Gaussian with multiplicative noise (reference ``dualsr.md`` §6.4, fixed seed), LR = HR
correlated with the kernel (reflect) and subsampled by 2 (rounded to 8 bits). Bicubic is MATLAB
``imresize`` x2; srx is ``zero_shot_image`` at paper settings. Metrics: Y-PSNR / SSIM, MATLAB convention,
border 2. Per-image results are cached in OUT so an interrupted run resumes. Last line:
``mean_gain_db=<srx - bicubic>``. With ``--ensemble K`` srx is the average of K seeds trained together
(``--ensemble``); each member's own PSNR (= its single run's) is reported beside the average's.

    python benchmarks/zero_shot_quality.py [--iters 3000] [--images astronaut,chelsea] [--out DIR] [--ensemble K]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.io import savemat

from dualsr_cli.engine.zero_shot.config import ZeroShotConfig
from dualsr_cli.engine.zero_shot.pipeline import zero_shot_image
from dualsr_cli.image_io import quantize, write_image
from dualsr_cli.metrics.psnr import psnr_y
from dualsr_cli.metrics.ssim import ssim_y
from dualsr_cli.ops.kernels import anisotropic_gaussian_kernel, blur_and_subsample
from dualsr_cli.ops.resize import imresize

DEFAULT_IMAGES = ("astronaut", "chelsea", "motorcycle_left", "coffee")


def load_photo(name: str) -> np.ndarray:
    from pathlib import Path

    import imageio.v3 as iio
    import skimage

    photo = iio.imread(Path(skimage.__file__).parent / "data" / f"{name}.png")  # the real photo files
    if photo.ndim == 2:
        photo = np.repeat(photo[:, :, None], 3, axis=2)
    photo = photo[:, :, :3]
    return photo[: photo.shape[0] // 2 * 2, : photo.shape[1] // 2 * 2]


def make_pair(name: str, index: int, seed: int, folder: Path) -> tuple[Path, Path, Path]:
    hr = load_photo(name)
    kernel = anisotropic_gaussian_kernel(np.random.default_rng(seed + index))
    lr = quantize(blur_and_subsample(hr / 255.0, kernel, 2), 8)
    folder.mkdir(parents=True, exist_ok=True)
    hr_path, lr_path, kernel_path = (
        folder / f"{name}_hr.png",
        folder / f"{name}_lr.png",
        folder / f"{name}_kernel.mat",
    )
    write_image(hr_path, hr / 255.0)
    write_image(lr_path, lr / 255.0)
    savemat(kernel_path, {"Kernel": kernel})
    return hr_path, lr_path, kernel_path


def evaluate(name: str, index: int, args: argparse.Namespace, out: Path) -> dict:
    suffix = f"_ensemble{args.ensemble}" if args.ensemble > 1 else ""
    cache = out / f"{name}_iters{args.iters}_seed{args.seed}{suffix}.json"
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
        from dualsr_cli.engine.zero_shot.batched import BatchJob, BatchSettings, zero_shot_batch

        job = BatchJob(lr_path, out / f"{name}_x2{suffix}.png", hr_path, kernel_path)
        result = zero_shot_batch([job], config, BatchSettings(ensemble=args.ensemble))[0]
    else:
        result = zero_shot_image(lr_path, out / f"{name}_x2.png", config, gt_path=hr_path, gt_kernel_path=kernel_path)
    record = {
        "image": name,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iters", type=int, default=3000)
    parser.add_argument("--images", default=",".join(DEFAULT_IMAGES))
    parser.add_argument("--seed", type=int, default=0, help="seed of the random kernels")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default="bench_out/zero_shot_quality")
    parser.add_argument("--ensemble", type=int, default=1, help="average K seeds per image (srx --ensemble K)")
    args = parser.parse_args()
    out = Path(args.out)
    names = [n.strip() for n in args.images.split(",") if n.strip()]
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
