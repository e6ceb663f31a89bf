"""``srx run`` and ``srx degrade``: pretrained networks over images (options as Real-ESRGAN users know them)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ._common import DeviceOption, QuietOption, SkipExistingOption, TileOption, stdout, user_errors, warn
from ._progress import LiveBar

RUN_HELP = "\n\n".join(
    [
        "Upscale images with official pretrained checkpoints: dada, cdc, dasr, ddnsr or fda.",
        "dada: DADA (Xu et al., CVPR 2022) — the adapted up_t of a DADA checkpoint combined with the attention "
        "maps of the source model given by --maps-weights, as the official DADA test does. cdc: a CDC "
        "(Wei et al., ECCV 2020) or DADA stage-1/2 checkpoint alone. dasr: the SRN of DASR (ShuhangGu/DASR, "
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
    dada = "dada"
    cdc = "cdc"
    dasr = "dasr"
    ddnsr = "ddnsr"
    fda = "fda"


class Ext(StrEnum):
    auto = "auto"
    png = "png"
    jpg = "jpg"
    tif = "tif"
    webp = "webp"


def run(
    arch: Annotated[Arch, typer.Argument(help="dada, cdc, dasr, ddnsr or fda.", show_default=False)],
    inputs: Annotated[list[Path], typer.Argument(help="Images and/or folders of images.", show_default=False)],
    weights: Annotated[
        Path,
        typer.Option("--weights", "-w", help="Checkpoint to run (.pth/.pt/.tar/.safetensors).", show_default=False),
    ],
    maps_weights: Annotated[
        Path | None,
        typer.Option(
            "--maps-weights",
            help="dada only: source CDC/circle checkpoint providing the attention maps.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output folder, or a file name for one input.", rich_help_panel="Output")
    ] = Path("results"),
    outscale: Annotated[
        float | None,
        typer.Option(
            "--outscale",
            "-s",
            help="Final upscaling factor (the network's output is resized "
            "bicubically). Default: the network's own scale.",
            rich_help_panel="Output",
            show_default=False,
        ),
    ] = None,
    suffix: Annotated[
        str | None,
        typer.Option(
            "--suffix",
            help="Output name suffix: <stem>_<suffix>.<ext>; '' for none. Default: x<scale>.",
            rich_help_panel="Output",
            show_default=False,
        ),
    ] = None,
    ext: Annotated[
        Ext,
        typer.Option(
            "--ext",
            help="Output format; auto keeps the input's (PNG when the input has alpha and would be JPEG).",
            rich_help_panel="Output",
        ),
    ] = Ext.auto,
    tile: TileOption = None,
    tile_pad: Annotated[
        int | None,
        typer.Option(
            "--tile-pad",
            help="Context pixels around each tile (blended). Default: the architecture's safe value.",
            rich_help_panel="Runtime",
            show_default=False,
        ),
    ] = None,
    half: Annotated[
        bool, typer.Option("--half", help="fp16 inference (CUDA only).", rich_help_panel="Runtime")
    ] = False,
    device: DeviceOption = "auto",
    skip_existing: SkipExistingOption = False,
    quiet: QuietOption = False,
) -> None:
    with user_errors():
        from ..archs import load_model
        from ..engine.infer import MAX_INPUT_MEGAPIXELS, RunOptions, check_run_input, prepare, upscale_file
        from ..errors import ConfigError
        from ..files import check_out, is_file_target, list_inputs, plan_outputs
        from ..image_io import check_output_format, read_image
        from ..runtime.device import describe, resolve_device
        from ..validation import check_name_part

        if arch is not Arch.dada and maps_weights is not None:
            raise ConfigError("--maps-weights is only used by srx run dada")
        options = RunOptions(tile=tile, tile_pad=tile_pad, half=half, outscale=outscale)
        if suffix:
            check_name_part("--suffix", suffix)
        check_out(out)
        target = resolve_device(device)
        listing = list_inputs(inputs)
        for message in listing.skipped:
            warn(message)
        images = {  # headers checked against the size limit first; every image decoded before a model loads
            path: read_image(path, max_megapixels=MAX_INPUT_MEGAPIXELS, what="srx run") for path in listing.images
        }
        for path, image in images.items():
            check_run_input(image, path)
        extensions = []
        for path, image in images.items():
            chosen = path.suffix.lower() if ext is Ext.auto else f".{ext.value}"
            if image.alpha is not None and chosen in (".jpg", ".jpeg"):
                if ext is not Ext.auto and not is_file_target(out):
                    raise ConfigError(f"'{path}' has an alpha channel, which JPEG cannot store; use --ext png")
                chosen = ".png"
            extensions.append(chosen)
            if is_file_target(out):
                check_output_format(out, has_alpha=image.alpha is not None)

        def plan(scale: float) -> list[Path]:
            label = suffix if suffix is not None else f"x{scale:g}"
            return plan_outputs(listing.images, out, f"_{label}" if label else "", extensions)

        if suffix is not None or outscale is not None or is_file_target(out):
            plan(outscale or 1.0)  # the names do not depend on the model: refuse a bad plan before loading it
        model = prepare(load_model(arch.value, weights, maps_path=maps_weights), target, half=half)
        outputs = plan(outscale or model.scale)
        with LiveBar(enabled=not quiet) as bar:
            for path, target_path in zip(listing.images, outputs, strict=True):
                task = bar.add(path.name, None)
                result = upscale_file(model, path, target_path, options, target, skip_existing=skip_existing,
                                      on_tile=lambda done, total, task=task: bar.update(task, completed=done,
                                                                                        total=total))  # fmt: skip
                if not quiet:
                    if result.skipped:
                        stdout.print(f"skipped {path}: {target_path} exists")
                    else:
                        (w, h), (ow, oh) = result.input_size, result.output_size
                        stdout.print(f"{path} ({w}x{h}) -> {target_path} ({ow}x{oh}) in {result.seconds:.1f} s "
                                     f"on {describe(target)}")  # fmt: skip


def degrade(
    inputs: Annotated[list[Path], typer.Argument(help="HR images and/or folders.", show_default=False)],
    weights: Annotated[
        Path, typer.Option("--weights", "-w", help="DASR DSN (.tar/.pth) or srx DDNSR checkpoint.", show_default=False)
    ],
    reference: Annotated[
        Path | None,
        typer.Option("--reference", help="DDNSR only: a real LR photo of the target camera.", show_default=False),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder, or a file name for one input.")] = Path(
        "results"
    ),
    suffix: Annotated[str, typer.Option("--suffix", help="Output name suffix.")] = "lr",
    device: DeviceOption = "auto",
    skip_existing: SkipExistingOption = False,
    quiet: QuietOption = False,
) -> None:
    with user_errors():
        from ..archs import load_degrader
        from ..engine.degrade import MAX_DDNSR_MEGAPIXELS, degrade_file
        from ..errors import ConfigError
        from ..files import check_out, list_inputs, plan_outputs
        from ..image_io import check_pixel_limit, read_image
        from ..runtime.device import resolve_device
        from ..validation import check_name_part

        if suffix:
            check_name_part("--suffix", suffix)
        check_out(out)
        target = resolve_device(device)
        listing = list_inputs(inputs)
        for message in listing.skipped:
            warn(message)
        sizes = {}
        for path in listing.images:
            image = read_image(path, what="srx degrade")
            sizes[path] = (image.width, image.height)
        kind, net = load_degrader(weights)
        reference_image = None
        if kind == "ddnsr":
            if reference is None:
                raise ConfigError("a DDNSR degradation network needs --reference: a real LR photo of the target camera")
            for path, (width, height) in sizes.items():  # DDNSR runs whole images: refuse big ones before any work
                check_pixel_limit(path, width, height, MAX_DDNSR_MEGAPIXELS, "DDNSR degradation")
            reference_image = read_image(reference)
        elif reference is not None:
            raise ConfigError("--reference is only used with DDNSR checkpoints; a DSN takes the HR image alone")
        net = net.to(target).eval()
        outputs = plan_outputs(listing.images, out, f"_{suffix}" if suffix else "", ".png")
        for path, target_path in zip(listing.images, outputs, strict=True):
            result = degrade_file(net, path, target_path, target, reference=reference_image,
                                  skip_existing=skip_existing)  # fmt: skip
            if not quiet:
                stdout.print(f"{path} -> {target_path}" + (" (skipped: exists)" if result is None else
                                                            f" ({result[0]}x{result[1]})"))  # fmt: skip
