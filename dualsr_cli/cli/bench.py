"""``srx bench``: dataset folder + methods -> bench.run_benchmark -> rich table, CSV and JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..metrics import format_score
from ._common import DeviceOption, QuietOption, TileOption, json_option, report_console, user_errors, warn, write_json
from ._progress import CommandProgress, format_losses

HELP = "\n\n".join(
    [
        "Benchmark super-resolution methods on a paired dataset with paper-comparable PSNR / SSIM / LPIPS.",
        "The layout is detected: RealSR V3, DRealSR, DIV2KRK, NTIRE 2017 track 2, the EDSR benchmark layout "
        "(HR/ + LR_bicubic/X<s>/) or plain HR/ + LR/ folders. Methods: bicubic (MATLAB imresize), dualsr "
        "(srx zero-shot at the dataset scale; options as dualsr:iters=500,seed=0, at x4 also "
        "x4=twice|joint|joint-zssr|x2-zssr) "
        "and checkpoints as srx run loads them: "
        "dasr:SRN.pth, cdc:CDC.pth, ddnsr:DDNSR.pth, fda:FDA.pth, dada:DADA.pth,maps=SOURCE.pth, auto:ANY.pth. "
        "With --out, results.csv gets one row per image and "
        "method as soon as it is done, so a rerun with the same --out resumes. Under torchrun --nproc_per_node=N "
        "the ranks share the images and rank 0 merges the results.",
        "Protocols: matlab (default; DualSR/KernelGAN tables: unrounded BT.601 Y, border = scale, SSIM on Y), "
        "cdc (EDSR/CDC/DADA code: Y weights /256, RGB SSIM; compare with DADA's DRealSR table), realsr "
        "(RealSR Test.m: rounded Y, no border). LPIPS is AlexNet v0.1 from the local torch hub cache.",
    ]
)


BenchJsonOption = json_option("per-method means, skipped pairs and every per-image record")


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
        bool,
        typer.Option(
            "--save-images",
            help="Also write OUT/images/<method>/<item>.png (and OUT/kernels/<method>/<item>.mat for methods that "
            "estimate a kernel).",
            rich_help_panel="Output",
        ),
    ] = False,
    report: Annotated[
        bool,
        typer.Option(
            "--report",
            help="Write OUT/report.html: metric tables, side-by-side crops of GT, bicubic and every method, "
            "estimated vs true kernels. Implies --save-images, keeps the scored GT under OUT/reference/ and "
            "adds bicubic if it is not listed. srx report OUT rebuilds the page.",
            rich_help_panel="Output",
        ),
    ] = False,
    report_crop: Annotated[
        str | None,
        typer.Option(
            "--report-crop",
            help="Also show this crop of every image in the report: x,y,w,h in HR pixels. Implies --report.",
            rich_help_panel="Output",
            show_default=False,
        ),
    ] = None,
    device: DeviceOption = "auto",
    tile: TileOption = None,
    quiet: QuietOption = False,
    json_path: BenchJsonOption = None,
) -> None:
    with user_errors():
        from ..bench.methods import DualSRMethod, MethodContext, build_method, with_baseline
        from ..bench.runner import BenchHooks, report_to_json, run_benchmark
        from ..datasets import detect
        from ..errors import ConfigError
        from ..metrics.protocols import PROTOCOLS
        from ..runtime.device import resolve_device
        from ..runtime.dist import init_from_env, shutdown
        from ..validation import check_int, check_output_dir, check_output_file

        if protocol not in PROTOCOLS:
            raise ConfigError(f"unknown protocol '{protocol}' (use {', '.join(PROTOCOLS)})")
        if limit is not None:
            check_int("--limit", limit, low=1, high=10**9)
        if save_images and out is None:
            raise ConfigError("--save-images needs --out")
        if out is not None:
            check_output_dir(out, "--out")
        if json_path is not None:
            check_output_file(json_path, "--json")
        report_config = None
        if report or report_crop is not None:
            from ..report import ReportConfig, parse_crop

            if out is None:
                raise ConfigError("--report needs --out (the report is built from OUT/results.csv and saved images)")
            report_config = ReportConfig(crop=parse_crop(report_crop) if report_crop is not None else None)
        dist = init_from_env()
        talk = dist.is_main and not quiet
        console = report_console(json_path)
        try:
            dataset = detect(root, scale=scale, layout=layout, camera=camera, split=split)
            if talk:
                console.print(f"detected {dataset.describe()}")
            progress = CommandProgress(quiet=not talk, noun="run")
            iterations: dict[str, int] = {}
            context = MethodContext(
                scale=dataset.scale,
                device=device,
                tile=tile,
                on_step=lambda iteration, losses: progress.step(iteration, detail=format_losses(losses)),
            )
            specs = method or ["bicubic"]
            if report_config is not None:
                specs = with_baseline(specs)
            methods = [build_method(spec, context) for spec in specs]
            keys = [m.key for m in methods]
            if len(set(keys)) != len(keys):
                raise ConfigError(f"a method is listed twice: {', '.join(keys)}")
            iterations.update({m.key: m.config.iters for m in methods if isinstance(m, DualSRMethod)})
            lpips = None
            if not no_lpips:
                from ..metrics.lpips import load_lpips

                lpips = load_lpips(resolve_device(device))
                if lpips.unavailable_reason and dist.is_main:
                    warn(lpips.unavailable_reason)
            keep = report_config is not None  # the report needs the outputs, the GT and the kernels
            if keep and dist.is_main:  # saved first, so srx report OUT after an interrupted run keeps the crop
                from ..report import save_settings

                out.mkdir(parents=True, exist_ok=True)
                save_settings(out, report_config)
            with progress:
                hooks = BenchHooks(
                    on_start=progress.set_items,
                    on_run=lambda item, key: progress.start_item(f"{item} · {key}", iterations.get(key), unit="it"),
                    on_done=lambda record: progress.finish_item(result=_scores(record)),
                    warn=warn,
                )
                results = run_benchmark(
                    dataset,
                    methods,
                    protocol=protocol,
                    out_dir=out,
                    save_images=save_images or keep,
                    save_references=keep,
                    limit=limit,
                    strict=strict,
                    lpips=lpips,
                    dist=dist,
                    hooks=hooks,
                )
            if dist.is_main:
                summary = report_to_json(results)
                if json_path is not None:
                    write_json(json_path, summary)
                if not quiet:
                    _print_table(results, out, console)
                if report_config is not None:
                    from ..report import build_report

                    page = build_report(out, report_config)
                    if not quiet:
                        console.print(f"report: {page.path}")
        finally:
            shutdown(dist)


def _scores(record) -> str:
    lpips = f", LPIPS {record.lpips:.4f}" if record.lpips is not None else ""
    return f"PSNR {format_score(record.psnr, 2)} dB, SSIM {format_score(record.ssim, 4)}{lpips}"


def _print_table(report, out: Path | None, console) -> None:
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
        row = [
            key,
            str(means["images"]),
            format_score(means["psnr"], 2),
            format_score(means["ssim"], 4),
            format_score(means["lpips"], 4),
            format_score(means["seconds"], 2),
        ]
        if has_kernels:
            row.append(format_score(means["kernel_error"], 4))
        table.add_row(*row)
    console.print(table)
    if report.skipped:
        console.print(f"{len(report.skipped)} pair(s) skipped (see warnings)")
    if out is not None:
        console.print(f"per-image results: {out / 'results.csv'}; summary: {out / 'summary.json'}")
