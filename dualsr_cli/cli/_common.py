"""What every srx command shares: consoles, the error boundary and option declarations."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperCommand, TyperGroup

from ..errors import ConfigError, SrxError

# soft_wrap: messages are never re-wrapped, so an error stays one line whatever the terminal width.
stdout = Console(soft_wrap=True, highlight=False)
stderr = Console(stderr=True, soft_wrap=True, highlight=False)

INTERRUPTED = "interrupted: outputs already finished are kept, nothing partial was written"
TERMINATED = "terminated (SIGTERM): outputs already finished are kept, nothing partial was written"


class Terminated(KeyboardInterrupt):
    """SIGTERM (how Slurm, Kubernetes and systemd stop a job), raised like Ctrl-C so every cleanup runs."""


def _raise_terminated(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM during cleanup ends the process at once
    raise Terminated()


def prepare_process() -> None:
    """Process-wide setup of the console entry point: SIGTERM handling and quiet libraries.

    Library warnings (Pillow, torch, numpy) would add lines to srx's one-line errors; they are shown
    only with SRX_DEBUG=1. torch's C++ log is limited to errors for the same reason.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_terminated)
    silence_library_warnings()
    if not os.environ.get("SRX_DEBUG"):
        os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")


def silence_library_warnings() -> None:
    if not os.environ.get("SRX_DEBUG"):
        warnings.simplefilter("ignore")


def error_line(message: str) -> None:
    print(f"srx: error: {message}", file=sys.stderr, flush=True)


def warn(message: str) -> None:
    stderr.print(f"[yellow]warning:[/] {message}", markup=True)


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Turn what a user can fix into one stderr line and exit code 2; never show a traceback for it."""
    try:
        yield
    except SrxError as exc:
        error_line(str(exc))
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt as exc:
        error_line(TERMINATED if isinstance(exc, Terminated) else INTERRUPTED)
        raise typer.Exit(2) from None
    except MemoryError:
        error_line("out of memory: use a smaller --tile, or --device cpu if a GPU ran out")
        raise typer.Exit(2) from None
    except typer.Exit:
        raise
    except Exception as exc:
        if _is_out_of_memory(exc):
            error_line("out of GPU memory: use a smaller --tile or --device cpu")
            raise typer.Exit(2) from None
        if os.environ.get("SRX_DEBUG"):
            traceback.print_exc()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        error_line(f"internal error ({type(exc).__name__}: {first}); rerun with SRX_DEBUG=1 for a traceback")
        raise typer.Exit(1) from None


def _is_out_of_memory(exc: Exception) -> bool:
    torch = sys.modules.get("torch")
    oom = getattr(torch, "OutOfMemoryError", None) if torch else None
    return bool(oom and isinstance(exc, oom))


def write_json(target: Path, payload: dict[str, Any]) -> None:
    """Write a JSON summary atomically (``-`` prints it to stdout instead)."""
    text = json.dumps(payload, indent=2, default=str)
    if str(target) == "-":
        print(text)
        return
    from ..atomic import atomic_output

    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(target) as tmp:
        tmp.write_text(text + "\n")


# --- the flag vocabulary: every command declares its options from these ------------------------------------
# One spelling, one meaning everywhere; Real-ESRGAN's spellings (inference_realesrgan.py) are accepted as
# aliases where the meaning is the same. Defaults live in the config dataclasses: an option left out is None.


class _FlagsWithoutType:
    """Help shows on/off flags bare (typer would print ``<bool>`` after them, as if they took a value)."""

    def get_params(self, ctx):  # type: ignore[no-untyped-def]
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""
        return params


class SrxCommand(_FlagsWithoutType, TyperCommand):
    pass


class SrxGroup(_FlagsWithoutType, TyperGroup):
    pass


class Ext(StrEnum):
    auto = "auto"
    png = "png"
    jpg = "jpg"
    tif = "tif"
    webp = "webp"


def given(**values: Any) -> dict[str, Any]:
    """The options the user gave (not None), to pass to a config dataclass that holds the defaults."""
    return {name: value for name, value in values.items() if value is not None}


def gather_inputs(positional: list[Path] | None, flagged: list[Path] | None) -> list[Path]:
    """Inputs given as arguments and with -i/--input, in that order; at least one is required."""
    inputs = [*(positional or []), *(flagged or [])]
    if not inputs:
        raise ConfigError("no input given: name images or folders (as arguments or with -i/--input)")
    return inputs


def json_to_stdout(target: Path | None) -> bool:
    return target is not None and str(target) == "-"


def report_console(json_target: Path | None) -> Console:
    """Where result lines go: stdout, or stderr when stdout carries the JSON summary (``--json -``)."""
    return stderr if json_to_stdout(json_target) else stdout


def _device_alias(value: str) -> str:
    """A bare GPU number (Real-ESRGAN's ``-g/--gpu-id N``) means ``cuda:N``."""
    return f"cuda:{value}" if value.isdigit() else value


InputsArgument = Annotated[
    list[Path] | None,
    typer.Argument(help="Image files and/or folders of images (sorted, not recursive).", show_default=False),
]
InputOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--input",
        "-i",
        help="An image or folder, like the INPUTS arguments (repeatable; Real-ESRGAN's spelling).",
        show_default=False,
    ),
]
OutOption = Annotated[
    Path,
    typer.Option(
        "--out",
        "-o",
        "--output",
        help="Output folder, or the output file when there is one input.",
        rich_help_panel="Output",
    ),
]
DeviceOption = Annotated[
    str,
    typer.Option(
        "--device",
        "-g",
        "--gpu-id",
        help="Where to compute: auto (CUDA if available, else CPU), cpu, cuda, cuda:N, or a GPU number N "
        "(= cuda:N, as Real-ESRGAN's -g/--gpu-id).",
        callback=_device_alias,
        rich_help_panel="Runtime",
    ),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only warnings and errors.", rich_help_panel="Output")
]
SkipExistingOption = Annotated[
    bool,
    typer.Option("--skip-existing", help="Skip inputs whose output file already exists.", rich_help_panel="Output"),
]
TileOption = Annotated[
    int | None,
    typer.Option(
        "--tile",
        "-t",
        help="Tile side in input pixels (0 = the whole image at once). Default: chosen from free memory.",
        rich_help_panel="Runtime",
        show_default=False,
    ),
]
TilePadOption = Annotated[
    int | None,
    typer.Option(
        "--tile-pad",
        "--tile_pad",
        help="Context pixels around each tile, blended away. Default: the network's safe value.",
        rich_help_panel="Runtime",
        show_default=False,
    ),
]
HalfOption = Annotated[
    bool | None,
    typer.Option(
        "--half/--fp32",
        help="fp16 inference (CUDA only); --fp32, the default, computes in float32.",
        rich_help_panel="Runtime",
        show_default=False,
    ),
]
OutscaleOption = Annotated[
    float | None,
    typer.Option(
        "--outscale",
        "-s",
        help="Final upscaling factor: the network's output is resized bicubically to it. Default: the network's "
        "own scale.",
        rich_help_panel="Output",
        show_default=False,
    ),
]


def json_option(content: str) -> Any:
    """``--json FILE|-``: a machine-readable summary; with ``-`` stdout carries only the JSON."""
    return Annotated[
        Path | None,
        typer.Option(
            "--json",
            metavar="FILE|-",
            help=f"Write a JSON summary ({content}) to FILE; '-' prints it on stdout and the usual lines go to stderr.",
            rich_help_panel="Output",
            show_default=False,
        ),
    ]


JsonOption = json_option("per image: input, output, sizes, seconds")


def suffix_option(default: str) -> Any:
    """``--suffix``: output names are ``<stem>_<suffix>.<ext>``."""
    return Annotated[
        str | None,
        typer.Option(
            "--suffix",
            help=f"Output file names are <stem>_<suffix>.<ext>; '' for <stem>.<ext>. Default: {default}.",
            rich_help_panel="Output",
            show_default=False,
        ),
    ]


def ext_option(default: Ext) -> Any:
    """``--ext``: the output format; auto keeps the input's."""
    return Annotated[
        Ext | None,
        typer.Option(
            "--ext",
            help="Output format; auto keeps the input's (PNG where the input has alpha and would be JPEG). "
            f"Default: {default.value}.",
            rich_help_panel="Output",
            show_default=False,
        ),
    ]
