"""``srx run`` and ``srx degrade``: pretrained networks over images (options as Real-ESRGAN users know them)."""

from __future__ import annotations

import os
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from .._version import __version__
from ._common import (
    DeviceOption,
    Ext,
    HalfOption,
    InputOption,
    InputsArgument,
    JsonOption,
    OutOption,
    OutscaleOption,
    QuietOption,
    SkipExistingOption,
    TileOption,
    TilePadOption,
    ext_option,
    gather_inputs,
    given,
    report_console,
    suffix_option,
    user_errors,
    warn,
    write_json,
)
from ._progress import CommandProgress

RUN_HELP = "\n\n".join(
    [
        "Upscale images with pretrained checkpoints: auto (the default when the method is left out), dada, cdc, "
        "dasr, ddnsr or fda.",
        "auto: srx recognises its own checkpoints (CDC, DADA, DDNSR, FDA, ESRGAN RRDBNet) and hands any other "
        "to spandrel, which detects Real-ESRGAN compact, SwinIR, HAT, DAT, OmniSR, SPAN and many more; srx's "
        "tiling, IO and device rules apply to all of them.",
        "dada: DADA (Xu et al., CVPR 2022) — the adapted up_t of a DADA checkpoint combined with the attention "
        "maps of the source model given by --maps-weights, as the official DADA test does. cdc: a CDC "
        "(Wei et al., ECCV 2020) or DADA stage-1/2 checkpoint alone (from a DADA checkpoint, up_t). dasr: the "
        "SRN of DASR (ShuhangGu/DASR, "
        "Wei et al., CVPR 2021 — domain-distance aware training; not the other projects named DASR), an "
        "ESRGAN RRDBNet in any of its three key layouts. ddnsr: the RRDB reconstruction network of DDNSR "
        "(Li et al., 2023) as srx adapt writes it. fda: feature distribution alignment (Wang et al., ICCV 2021), "
        "encoder + RRDB decoder as srx adapt --method fda writes it (USR_DA checkpoints load too).",
        "Weights are read with weights_only=True (.pth/.pt/.tar/.ckpt) or from .safetensors; wrappers such as "
        "params_ema, state_dict or model are unwrapped and a module. prefix is stripped. Large images are "
        "processed in tiles whose overlaps are blended, so memory depends on --tile, not on the image.",
    ]
)

DEGRADE_HELP = "\n\n".join(
    [
        "Turn clean HR images into realistic LR images with a learned degradation network.",
        "With a DASR DSN checkpoint (DeResnet, the .tar written by DASR's DSN training) this produces the LR "
        "images DASR's recipe trains its SRN on. With a DDNSR checkpoint written by srx adapt, the dual-input "
        "network also needs --reference: a real LR photo of the target camera whose noise it imitates.",
    ]
)


class Arch(StrEnum):
    auto = "auto"
    dada = "dada"
    cdc = "cdc"
    dasr = "dasr"
    ddnsr = "ddnsr"
    fda = "fda"


RunSuffixOption = suffix_option("x<scale>")
RunExtOption = ext_option(Ext.auto)
DegradeSuffixOption = suffix_option("lr")
DegradeExtOption = ext_option(Ext.png)


def _extensions(images: dict, out: Path, ext: Ext) -> list[str]:
    from ..files import is_file_target, output_extension

    explicit = ext is not Ext.auto and not is_file_target(out)
    return [
        output_extension(path, ext.value, has_alpha=image.alpha is not None, explicit=explicit)
        for path, image in images.items()
    ]


def _complete_method(incomplete: str) -> list[str]:
    return [a.value for a in Arch if a.value.startswith(incomplete)]


def run(
    weights: Annotated[
        Path,
        typer.Option("--weights", "-w", help="Checkpoint to run (.pth/.pt/.tar/.safetensors).", show_default=False),
    ],
    method: Annotated[
        str | None,
        typer.Argument(
            metavar="METHOD|INPUT",
            help="auto, dada, cdc, dasr, ddnsr or fda; when left out (the first argument is an image or folder, "
            "or inputs come with -i), auto.",
            show_default=False,
            autocompletion=_complete_method,
        ),
    ] = None,
    inputs: InputsArgument = None,
    input_flag: InputOption = None,
    maps_weights: Annotated[
        Path | None,
        typer.Option(
            "--maps-weights",
            help="dada only: source CDC/circle checkpoint providing the attention maps.",
            show_default=False,
        ),
    ] = None,
    out: OutOption = Path("results"),
    outscale: OutscaleOption = None,
    suffix: RunSuffixOption = None,
    ext: RunExtOption = None,
    tile: TileOption = None,
    tile_pad: TilePadOption = None,
    half: HalfOption = None,
    device: DeviceOption = "auto",
    skip_existing: SkipExistingOption = False,
    quiet: QuietOption = False,
    json_path: JsonOption = None,
) -> None:
    with user_errors():
        from ..archs import load_model
        from ..engine.infer import MAX_INPUT_MEGAPIXELS, RunOptions, check_run_input, prepare, upscale_file
        from ..errors import ConfigError
        from ..files import check_out, is_file_target, list_inputs, plan_outputs
        from ..image_io import read_image
        from ..runtime.device import describe, resolve_device
        from ..validation import check_name_part, check_output_file

        if method in {a.value for a in Arch}:
            arch, positional = Arch(method), list(inputs or [])
        elif method is None:  # only -i/--input inputs
            arch, positional = Arch.auto, list(inputs or [])
        else:  # no method named: the first argument is an input
            if not os.path.lexists(method):
                methods = ", ".join(a.value for a in Arch)
                raise ConfigError(f"'{method}' is neither a method ({methods}) nor an existing image or folder")
            arch, positional = Arch.auto, [Path(method), *(inputs or [])]
        if arch not in (Arch.dada, Arch.auto) and maps_weights is not None:
            raise ConfigError("--maps-weights is only used by srx run dada")
        options = RunOptions(**given(tile=tile, tile_pad=tile_pad, half=half, outscale=outscale))
        if suffix:
            check_name_part("--suffix", suffix)
        check_out(out)
        if json_path is not None:
            check_output_file(json_path, "--json")
        target = resolve_device(device)
        listing = list_inputs(gather_inputs(positional, input_flag))
        for message in listing.skipped:
            warn(message)
        images = {  # headers checked against the size limit first; every image decoded before a model loads
            path: read_image(path, max_megapixels=MAX_INPUT_MEGAPIXELS, what="srx run") for path in listing.images
        }
        for path, image in images.items():
            check_run_input(image, path)
        extensions = _extensions(images, out, ext or Ext.auto)

        def plan(scale: float) -> list[Path]:
            label = suffix if suffix is not None else f"x{scale:g}"
            return plan_outputs(listing.images, out, f"_{label}" if label else "", extensions)

        if suffix is not None or options.outscale is not None or is_file_target(out):
            plan(options.outscale or 1.0)  # the names do not depend on the model: refuse a bad plan before loading it
        model = prepare(load_model(arch.value, weights, maps_path=maps_weights), target, half=options.half)
        report = report_console(json_path)
        if arch is Arch.auto and not quiet:
            report.print(f"{weights}: {model.name} x{model.scale}")
        outputs = plan(options.outscale or model.scale)
        summary = {
            "srx_version": __version__,
            "command": "run",
            "arch": arch.value,
            "model": model.name,
            "weights": str(weights),
            "device": str(target),
            "scale": model.scale,
            "options": asdict(options),
            "images": [],
        }
        _process_files(
            list(zip(listing.images, outputs, strict=True)),
            lambda path, target_path, on_tile: upscale_file(
                model, path, target_path, options, target, skip_existing=skip_existing, on_tile=on_tile
            ),
            action="upscaling",
            summary=summary,
            quiet=quiet,
            json_path=json_path,
            where=f" on {describe(target)}",
        )


def degrade(
    weights: Annotated[
        Path, typer.Option("--weights", "-w", help="DASR DSN (.tar/.pth) or srx DDNSR checkpoint.", show_default=False)
    ],
    inputs: InputsArgument = None,
    input_flag: InputOption = None,
    reference: Annotated[
        Path | None,
        typer.Option("--reference", help="DDNSR only: a real LR photo of the target camera.", show_default=False),
    ] = None,
    out: OutOption = Path("results"),
    suffix: DegradeSuffixOption = None,
    ext: DegradeExtOption = None,
    tile: TileOption = None,
    tile_pad: TilePadOption = None,
    device: DeviceOption = "auto",
    skip_existing: SkipExistingOption = False,
    quiet: QuietOption = False,
    json_path: JsonOption = None,
) -> None:
    with user_errors():
        from ..archs import load_degrader
        from ..engine.degrade import DEFAULT_SUFFIX, MAX_DDNSR_MEGAPIXELS, DegradeOptions, degrade_file
        from ..errors import ConfigError
        from ..files import check_out, list_inputs, plan_outputs
        from ..image_io import check_pixel_limit, read_image
        from ..runtime.device import resolve_device
        from ..validation import check_name_part, check_output_file

        options = DegradeOptions(**given(tile=tile, tile_pad=tile_pad))
        if suffix:
            check_name_part("--suffix", suffix)
        check_out(out)
        if json_path is not None:
            check_output_file(json_path, "--json")
        target = resolve_device(device)
        listing = list_inputs(gather_inputs(inputs, input_flag))
        for message in listing.skipped:
            warn(message)
        images = {path: read_image(path, what="srx degrade") for path in listing.images}
        kind, net = load_degrader(weights)
        reference_image = None
        if kind == "ddnsr":
            if reference is None:
                raise ConfigError("a DDNSR degradation network needs --reference: a real LR photo of the target camera")
            if options.tile:
                raise ConfigError("a DDNSR degradation network runs whole images: drop --tile")
            for path, image in images.items():  # DDNSR runs whole images: refuse big ones before any work
                check_pixel_limit(path, image.width, image.height, MAX_DDNSR_MEGAPIXELS, "DDNSR degradation")
            reference_image = read_image(reference)
        elif reference is not None:
            raise ConfigError("--reference is only used with DDNSR checkpoints; a DSN takes the HR image alone")
        net = net.to(target).eval()
        label = DEFAULT_SUFFIX if suffix is None else suffix
        outputs = plan_outputs(
            listing.images, out, f"_{label}" if label else "", _extensions(images, out, ext or Ext.png)
        )
        summary = {
            "srx_version": __version__,
            "command": "degrade",
            "kind": kind,
            "weights": str(weights),
            "device": str(target),
            "options": asdict(options),
            "images": [],
        }
        _process_files(
            list(zip(listing.images, outputs, strict=True)),
            lambda path, target_path, on_tile: degrade_file(
                net,
                path,
                target_path,
                target,
                options,
                reference=reference_image,
                skip_existing=skip_existing,
                on_tile=on_tile,
            ),
            action="degrading",
            summary=summary,
            quiet=quiet,
            json_path=json_path,
        )


def _process_files(
    pairs: list[tuple[Path, Path]],
    work,
    *,
    action: str,
    summary: dict,
    quiet: bool,
    json_path: Path | None,
    where: str = "",
) -> None:
    """``srx run`` and ``srx degrade``: each (input, output) through ``work`` with progress, result lines and JSON.

    ``work(path, target_path, on_tile)`` returns the file's ``FileResult``; ``where`` ends each result line.
    """
    report = report_console(json_path)
    with CommandProgress(quiet=quiet, items=len(pairs)) as progress:
        for path, target_path in pairs:
            progress.start_item(path.name, action=action, unit="tiles")
            result = work(path, target_path, lambda done, total: progress.step(done, total))
            progress.finish_item(skipped=result.skipped)
            summary["images"].append(result.__dict__)
            if quiet:
                continue
            if result.skipped:
                progress.print(f"skipped {path}: {target_path} exists", report)
            else:
                (w, h), (ow, oh) = result.input_size, result.output_size
                line = f"{path} ({w}x{h}) -> {target_path} ({ow}x{oh}) in {result.seconds:.1f} s{where}"
                progress.print(line, report)
    if closing := progress.summary():
        report.print(closing)
    if json_path is not None:
        write_json(json_path, summary)
