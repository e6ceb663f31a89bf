"""The ``srx`` command: a thin Typer shell; each sub-command lives in its own module."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from .._version import __version__
from ._common import (
    INTERRUPTED,
    TERMINATED,
    SrxCommand,
    SrxGroup,
    Terminated,
    error_line,
    prepare_process,
    silence_library_warnings,
)
from .adapt import HELP as ADAPT_HELP
from .adapt import adapt
from .bench import HELP as BENCH_HELP
from .bench import bench
from .report import HELP as REPORT_HELP
from .report import report
from .run import DEGRADE_HELP, RUN_HELP, degrade, run
from .zero_shot import HELP as ZERO_SHOT_HELP
from .zero_shot import zero_shot

app = typer.Typer(
    name="srx",
    help="Real-world image super-resolution: zero-shot DualSR, pretrained DADA/CDC/DASR/DDNSR/FDA, "
    "cross-camera adaptation recipes, benchmarks.",
    no_args_is_help=True,
    add_completion=True,
    cls=SrxGroup,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _show_version(value: bool) -> None:
    if value:
        print(f"srx {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option("--version", "-V", help="Show the srx version and exit.", callback=_show_version, is_eager=True),
    ] = False,
) -> None:
    """Real-world image super-resolution from the command line.

    srx zero-shot trains DualSR on each photo itself (no weights needed); srx run applies pretrained
    checkpoints; srx degrade makes realistic LR images; srx bench scores methods on paired datasets
    (srx report rebuilds its HTML page);
    srx adapt trains models for a camera without HR photos. See srx COMMAND --help.
    """
    silence_library_warnings()


app.command("zero-shot", cls=SrxCommand, help=ZERO_SHOT_HELP, no_args_is_help=True)(zero_shot)
app.command("run", cls=SrxCommand, help=RUN_HELP, no_args_is_help=True)(run)
app.command("degrade", cls=SrxCommand, help=DEGRADE_HELP, no_args_is_help=True)(degrade)
app.command("bench", cls=SrxCommand, help=BENCH_HELP, no_args_is_help=True)(bench)
app.command("report", cls=SrxCommand, help=REPORT_HELP, no_args_is_help=True)(report)
app.command("adapt", cls=SrxCommand, help=ADAPT_HELP, no_args_is_help=True)(adapt)


def main(argv: list[str] | None = None) -> None:
    """Console entry point. Commands map user errors to exit code 2 themselves (``_common.user_errors``)."""
    prepare_process()
    sys.exit(run_cli(argv))


def run_cli(argv: list[str] | None = None) -> int:
    """Run srx in this process and return its exit code; a usage error is one line, like every other error."""
    try:
        code = app(args=argv, prog_name="srx", standalone_mode=False)
    except typer.TyperException as exc:  # bad option name or value, missing argument, ...
        if type(exc).__name__ == "NoArgsIsHelpError":  # the help was printed already
            return 2
        ctx = getattr(exc, "ctx", None)
        where = f"; see '{ctx.command_path} --help'" if ctx is not None else "; see 'srx --help'"
        message = " ".join(exc.format_message().split()).rstrip(".")
        error_line(f"{message}{where}")
        return 2
    except (typer.Abort, KeyboardInterrupt) as exc:
        error_line(TERMINATED if isinstance(exc.__context__ or exc, Terminated) else INTERRUPTED)
        return 2
    return code if isinstance(code, int) else 0
