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


class Ext(StrEnum):
    auto = "auto"
    png = "png"
    jpg = "jpg"
    tif = "tif"
    webp = "webp"


def _complete_method(incomplete: str) -> list[str]:
    return [a.value for a in Arch if a.value.startswith(incomplete)]


def run(
    method: Annotated[
        str,
        typer.Argument(
            metavar="METHOD|INPUT",
            help="auto, dada, cdc, dasr, ddnsr or fda; when left out (the first argument is an image or folder), auto.",
            show_default=False,
            autocompletion=_complete_method,
        ),
    ],
    weights: Annotated[
        Path,
        typer.Option("--weights", "-w", help="Checkpoint to run (.pth/.pt/.tar/.safetensors).", show_default=False),
    ],
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(metavar="INPUTS", help="Images and/or folders of images.", show_default=False),
    ] = None,
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
        from ..engine.infer import RunOptions, check_run_input, prepare, upscale_file
        from ..errors import ConfigError
        from ..files import is_file_target, list_inputs, plan_outputs
        from ..image_io import read_image
        from ..runtime.device import describe, resolve_device

        if method in {a.value for a in Arch}:
            arch, inputs = Arch(method), list(inputs or [])
        else:  # no method named: the first argument is an input
            arch, inputs = Arch.auto, [Path(method), *(inputs or [])]
        if not inputs:
            raise ConfigError("no input images given: srx run [METHOD] IMAGE... -w WEIGHTS")
        if arch not in (Arch.dada, Arch.auto) and maps_weights is not None:
            raise ConfigError("--maps-weights is only used by srx run dada")
        if outscale is not None and not 0 < outscale <= 16:
            raise ConfigError(f"--outscale must be in (0, 16], got {outscale}")
        target = resolve_device(device)
        listing = list_inputs(inputs)
        for message in listing.skipped:
            warn(message)
        images = {path: read_image(path) for path in listing.images}  # fail before loading any model
        for path, image in images.items():
            check_run_input(image, path)
        model = prepare(load_model(arch.value, weights, maps_path=maps_weights), target, half=half)
        if arch is Arch.auto and not quiet:
            stdout.print(f"{weights}: {model.name} x{model.scale}")
        scale = outscale or model.scale
        label = suffix if suffix is not None else f"x{scale:g}"
        extensions = []
        for path, image in images.items():
            chosen = path.suffix.lower() if ext is Ext.auto else f".{ext.value}"
            if image.alpha is not None and chosen in (".jpg", ".jpeg"):
                if ext is not Ext.auto and not is_file_target(out):
                    raise ConfigError(f"'{path}' has an alpha channel, which JPEG cannot store; use --ext png")
                chosen = ".png"
            extensions.append(chosen)
        outputs = plan_outputs(listing.images, out, f"_{label}" if label else "", extensions)
        options = RunOptions(tile=tile, tile_pad=tile_pad, half=half, outscale=outscale)
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
        from ..engine.degrade import degrade_file
        from ..errors import ConfigError
        from ..files import list_inputs, plan_outputs
        from ..image_io import read_image
        from ..runtime.device import resolve_device

        target = resolve_device(device)
        listing = list_inputs(inputs)
        for message in listing.skipped:
            warn(message)
        for path in listing.images:
            read_image(path)
        kind, net = load_degrader(weights)
        reference_image = None
        if kind == "ddnsr":
            if reference is None:
                raise ConfigError("a DDNSR degradation network needs --reference: a real LR photo of the target camera")
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
