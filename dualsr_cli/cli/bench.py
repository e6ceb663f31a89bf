"""``srx bench``: dataset folder + methods -> bench.run_benchmark -> rich table, CSV and JSON."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from ._common import DeviceOption, QuietOption, TileOption, stdout, user_errors, warn, write_json
from ._progress import LiveBar

HELP = "\n\n".join(
    [
        "Benchmark super-resolution methods on a paired dataset with paper-comparable PSNR / SSIM / LPIPS.",
        "The layout is detected: RealSR V3, DRealSR, DIV2KRK, NTIRE 2017 track 2, the EDSR benchmark layout "
        "(HR/ + LR_bicubic/X<s>/) or plain HR/ + LR/ folders. Methods: bicubic (MATLAB imresize), dualsr "
        "(srx zero-shot at the dataset scale; options as dualsr:iters=500,seed=0, at x4 also x4=twice|joint) "
        "and checkpoints as srx run loads them: "
        "dasr:SRN.pth, cdc:CDC.pth, ddnsr:DDNSR.pth, dada:DADA.pth,maps=SOURCE.pth. "
        "With --out, results.csv gets one row per image and "
        "method as soon as it is done, so a rerun with the same --out resumes. Under torchrun --nproc_per_node=N "
        "the ranks share the images and rank 0 merges the results.",
        "Protocols: matlab (default; DualSR/KernelGAN tables: unrounded BT.601 Y, border = scale, SSIM on Y), "
        "cdc (EDSR/CDC/DADA code: Y weights /256, RGB SSIM; compare with DADA's DRealSR table), realsr "
        "(RealSR Test.m: rounded Y, no border). LPIPS is AlexNet v0.1 from the local torch hub cache.",
    ]
)


def _fmt(value: float | None, digits: int) -> str:
    if value is None:
        return "n/a"
    if math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def bench(
    root: Annotated[Path, typer.Argument(help="Dataset folder.", show_default=False)],
    method: Annotated[
        list[str] | None,
        typer.Option(
            "--method", "-m", help="Method to evaluate; repeat for several. Default: bicubic.", show_default=False
        ),
    ] = None,
    layout: Annotated[
        str | None,
        typer.Option(
            "--layout",
            help="Force a layout: realsr, drealsr, div2krk, ntire17, edsr, plain.",
            rich_help_panel="Dataset",
            show_default=False,
        ),
    ] = None,
    scale: Annotated[
        int | None,
        typer.Option(
            "--scale",
            "-s",
            help="Scale to evaluate (default: x2 if present).",
            rich_help_panel="Dataset",
            show_default=False,
        ),
    ] = None,
    camera: Annotated[
        str | None,
        typer.Option(
            "--camera", help="Only this camera (RealSR, DRealSR).", rich_help_panel="Dataset", show_default=False
        ),
    ] = None,
    split: Annotated[
        str, typer.Option("--split", help="test, train or all (RealSR, DRealSR).", rich_help_panel="Dataset")
    ] = "test",
    limit: Annotated[
        int | None,
        typer.Option("--limit", help="Evaluate only the first N pairs.", rich_help_panel="Dataset", show_default=False),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Stop at a mismatched or unreadable pair instead of skipping it.",
            rich_help_panel="Dataset",
        ),
    ] = False,
    protocol: Annotated[
        str, typer.Option("--protocol", help="matlab, cdc or realsr (see above).", rich_help_panel="Metrics")
    ] = "matlab",
    no_lpips: Annotated[bool, typer.Option("--no-lpips", help="Skip LPIPS.", rich_help_panel="Metrics")] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Folder for results.csv and summary.json (enables resuming).",
            rich_help_panel="Output",
            show_default=False,
        ),
    ] = None,
    save_images: Annotated[
        bool, typer.Option("--save-images", help="Also write OUT/images/<method>/<item>.png.", rich_help_panel="Output")
    ] = False,
    device: DeviceOption = "auto",
    tile: TileOption = None,
    quiet: QuietOption = False,
) -> None:
    with user_errors():
        from ..bench.datasets import detect
        from ..bench.methods import MethodContext, build_method
        from ..bench.runner import BenchHooks, report_to_json, run_benchmark
        from ..errors import ConfigError
        from ..metrics.protocols import PROTOCOLS
        from ..runtime.device import resolve_device
        from ..runtime.dist import init_from_env, shutdown

        if protocol not in PROTOCOLS:
            raise ConfigError(f"unknown protocol '{protocol}' (use {', '.join(PROTOCOLS)})")
        if limit is not None and limit < 1:
            raise ConfigError("--limit must be at least 1")
        if save_images and out is None:
            raise ConfigError("--save-images needs --out")
        dist = init_from_env()
        talk = dist.is_main and not quiet
        try:
            dataset = detect(root, scale=scale, layout=layout, camera=camera, split=split)
            if talk:
                stdout.print(f"detected {dataset.describe()}")
            progress_bar = _Progress(enabled=talk)
            context = MethodContext(scale=dataset.scale, device=device, tile=tile, on_step=progress_bar.on_step)
            methods = [build_method(spec, context) for spec in (method or ["bicubic"])]
            keys = [m.key for m in methods]
            if len(set(keys)) != len(keys):
                raise ConfigError(f"a method is listed twice: {', '.join(keys)}")
            lpips = None
            if not no_lpips:
                from ..metrics.lpips import load_lpips

                lpips = load_lpips(resolve_device(device))
                if lpips.unavailable_reason and dist.is_main:
                    warn(lpips.unavailable_reason)
            with progress_bar:
                report = run_benchmark(
                    dataset, methods, protocol=protocol, out_dir=out, save_images=save_images, limit=limit,
                    strict=strict, lpips=lpips, dist=dist,
                    hooks=BenchHooks(on_start=progress_bar.on_start, on_run=progress_bar.on_run,
                                     on_done=progress_bar.on_done, warn=warn),
                )  # fmt: skip
            if dist.is_main:
                if out is not None:
                    write_json(out / "summary.json", report_to_json(report))
                if not quiet:
                    _print_table(report, out)
        finally:
            shutdown(dist)


def _print_table(report, out: Path | None) -> None:
    from rich.table import Table

    summary = report.summary()
    table = Table(title=f"{report.dataset.layout} x{report.dataset.scale}, protocol {report.protocol}")
    columns = ["method", "images", "PSNR (dB)", "SSIM", "LPIPS", "s/image"]
    has_kernels = any(m["kernel_error"] is not None for m in summary["methods"].values())
    if has_kernels:
        columns.append("kernel L2")
    for name in columns:
        table.add_column(name, justify="left" if name == "method" else "right")
    for key, means in summary["methods"].items():
        row = [key, str(means["images"]), _fmt(means["psnr"], 2), _fmt(means["ssim"], 4), _fmt(means["lpips"], 4),
               _fmt(means["seconds"], 2)]  # fmt: skip
        if has_kernels:
            row.append(_fmt(means["kernel_error"], 4))
        table.add_row(*row)
    stdout.print(table)
    if report.skipped:
        stdout.print(f"{len(report.skipped)} pair(s) skipped (see warnings)")
    if out is not None:
        stdout.print(f"per-image results: {out / 'results.csv'}; summary: {out / 'summary.json'}")


class _Progress(LiveBar):
    """A bar over (image, method) runs with ETA."""

    task = None

    def on_start(self, total: int) -> None:
        self.task = self.add("bench", total)

    def on_run(self, item: str, method: str) -> None:
        self.update(self.task, description=f"{item} · {method}", detail="")

    def on_step(self, iteration: int, losses: object) -> None:
        if iteration % 10 == 0:
            self.update(self.task, detail=f"training it {iteration}")

    def on_done(self, record) -> None:
        self.update(self.task, advance=1, detail=f"{record.psnr:.2f} dB")
