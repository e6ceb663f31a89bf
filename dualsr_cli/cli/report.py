"""``srx report OUT``: rebuild OUT/report.html from results.csv and the files srx bench --report saved."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from ._common import QuietOption, stdout, user_errors

HELP = "\n\n".join(
    [
        "Rebuild the HTML report (tables, crops, kernels) of a srx bench --out folder.",
        "Writes OUT/report.html + OUT/report_files/ from OUT/results.csv and the images, ground truths and "
        "kernels that srx bench --report saved. Nothing is recomputed, so a resumed or torchrun-sharded run "
        "gives the same page. Open OUT/report.html in any browser; it loads nothing from the network.",
    ]
)


def report(
    out: Annotated[Path, typer.Argument(help="The folder given to srx bench --out.", show_default=False)],
    crop: Annotated[
        str | None,
        typer.Option(
            "--crop",
            help="Also show this crop of every image: x,y,w,h in HR pixels (saved for later rebuilds). "
            "Default: the one srx bench --report-crop chose, if any.",
            show_default=False,
        ),
    ] = None,
    no_crop: Annotated[bool, typer.Option("--no-crop", help="Forget the saved --crop.")] = False,
    quiet: QuietOption = False,
) -> None:
    with user_errors():
        from ..errors import ConfigError
        from ..report import build_report, load_settings, parse_crop, save_settings

        if crop is not None and no_crop:
            raise ConfigError("--crop and --no-crop exclude each other")
        config = load_settings(out) if out.is_dir() else None
        if config is not None and (crop is not None or no_crop):
            config = replace(config, crop=parse_crop(crop) if crop is not None else None)
        result = build_report(out, config)
        if crop is not None or no_crop:
            save_settings(out, config)
        if not quiet:
            stdout.print(f"{result.path}: {len(result.items)} image(s), methods {', '.join(result.methods)}")
