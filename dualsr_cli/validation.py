"""Range checks for numeric options and output locations, shared by every config and command.

Each check raises a ``ConfigError`` / ``ImageWriteError`` whose message names the option as the user
typed it (``--seed``) and says what to do, so the CLI can show it as its one error line. Nothing here
creates or writes anything: output locations are checked, not prepared, so a refused command leaves no
trace on disk.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from .errors import ConfigError, ImageWriteError

# numpy's legacy RandomState (the crop sampler, as the official code) takes seeds in [0, 2**32 - 1];
# torch.manual_seed accepts a superset, so this is the range every srx seed must stay in.
SEED_MAX = 2**32 - 1
# Far beyond any paper schedule (DualSR 3000, DASR/DADA/FDA ~1e5-1e6), small enough for every counter.
MAX_ITERATIONS = 10_000_000
# Tiles, patches and batches larger than this are typing mistakes, not settings.
MAX_SIDE = 65_536
MAX_BATCH = 65_536


def check_int(option: str, value: int, *, low: int, high: int, hint: str = "") -> None:
    """``low <= value <= high`` for an integer option, else one ConfigError naming ``option``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{option} must be a whole number, got {value!r}")
    if not low <= value <= high:
        tail = f"; {hint}" if hint else ""
        raise ConfigError(f"{option} must be between {low} and {high}, got {value}{tail}")


def check_seed(option: str, value: int) -> None:
    check_int(option, value, low=0, high=SEED_MAX, hint="any seed in that range gives a reproducible run")


def check_iterations(option: str, value: int) -> None:
    check_int(option, value, low=1, high=MAX_ITERATIONS)


def check_weight(option: str, value: float, *, high: float = 1e6) -> None:
    """A loss weight: a finite number in [0, high]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{option} must be a number, got {value!r}")
    if not math.isfinite(value) or not 0 <= value <= high:
        raise ConfigError(f"{option} must be a number >= 0 (finite, at most {high:g}), got {value}")


def check_positive_float(option: str, value: float, *, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{option} must be a number, got {value!r}")
    if not math.isfinite(value) or not 0 < value <= high:
        raise ConfigError(f"{option} must be a number in (0, {high:g}], got {value}")


def check_name_part(option: str, value: str) -> None:
    """A text that becomes part of a file name (``--suffix``): no folder separators, no NUL."""
    if "/" in value or "\\" in value or "\0" in value or value in (".", ".."):
        raise ConfigError(f"{option} becomes part of file names: it cannot contain '/' or '\\', nor be '.' or '..'")


def _nearest_existing(path: Path) -> Path:
    current = path
    while not os.path.lexists(current):
        parent = current.parent
        if parent == current:
            break
        current = parent
    return current


def check_output_dir(folder: str | os.PathLike, option: str) -> None:
    """``folder`` exists as a writable folder, or could be created: its nearest existing ancestor is one."""
    folder = Path(folder)
    existing = _nearest_existing(folder)
    if existing == folder and not folder.is_dir():
        what = "a broken link" if folder.is_symlink() and not folder.exists() else "a file, not a folder"
        raise ImageWriteError(f"{option} '{folder}' is {what}; choose a folder")
    if not existing.is_dir():
        raise ImageWriteError(f"{option} '{folder}' is not writable: '{existing}' is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ImageWriteError(f"{option} '{folder}' is not writable: no permission to write in '{existing}'")


def check_output_file(path: str | os.PathLike, option: str) -> None:
    """``path`` can be (re)written as a file: not a folder, and its folder exists or can be created."""
    path = Path(path)
    if str(path) == "-":
        return
    if path.is_dir():
        raise ImageWriteError(f"{option} '{path}' is a folder; give a file name")
    parent = path.parent
    existing = _nearest_existing(parent)
    if not existing.is_dir():
        raise ImageWriteError(f"{option} '{path}' is not writable: '{existing}' is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ImageWriteError(f"{option} '{path}' is not writable: no permission to write in '{existing}'")
    if path.exists() and not os.access(path, os.W_OK):
        raise ImageWriteError(f"{option} '{path}' exists and is read-only")
