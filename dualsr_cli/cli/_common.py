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
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ..errors import SrxError

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
    from ..image_io import atomic_output

    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(target) as tmp:
        tmp.write_text(text + "\n")


DeviceOption = Annotated[
    str,
    typer.Option(
        "--device",
        help="Where to compute: auto (CUDA if available, else CPU), cpu, cuda or cuda:N.",
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
        help="Inference tile size in LR pixels (0 = whole image at once). Default: chosen from free memory.",
        rich_help_panel="Runtime",
        show_default=False,
    ),
]
JsonOption = Annotated[
    Path | None,
    typer.Option(
        "--json",
        help="Write a machine-readable summary (timings, losses, metrics) to this file; '-' prints it.",
        rich_help_panel="Output",
        show_default=False,
    ),
]
