"""Input discovery and output naming, shared by every command that takes IMAGE_OR_DIR arguments."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ImageReadError, ImageWriteError
from .image_io import SUPPORTED_EXTENSIONS
from .validation import check_output_dir, check_output_file


@dataclass
class InputListing:
    """Images to process, in order, and what was skipped on the way (one message each)."""

    images: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def is_image_name(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_EXTENSIONS


def list_inputs(paths: Iterable[str | os.PathLike]) -> InputListing:
    """Expand files and folders into a sorted list of images (folders are not recursed).

    A missing path or a folder without images is an error; non-images, sub-folders and entries that
    cannot be read (broken symbolic links, link loops) inside a folder are skipped with a message.
    Explicit file arguments keep their order; each folder is sorted by name.
    """
    listing = InputListing()
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            if path.is_symlink():
                raise ImageReadError(f"input '{path}' is a broken symbolic link (or a link loop)")
            raise ImageReadError(f"input not found: '{path}'")
        if path.is_dir():
            found, skipped = [], []
            try:
                entries = sorted(path.iterdir(), key=lambda p: p.name)
            except OSError as exc:
                raise ImageReadError(f"cannot list folder '{path}' ({exc.strerror or exc})") from None
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if not entry.exists():  # a dangling link or a link loop: nothing to read behind the name
                    skipped.append(f"skipping '{entry}': a broken symbolic link (or a link loop)")
                elif entry.is_dir():
                    skipped.append(f"skipping sub-folder '{entry}' (folders are not searched recursively)")
                elif is_image_name(entry):
                    found.append(entry)
                else:
                    skipped.append(f"skipping '{entry}': not a supported image type")
            if not found:
                supported = ", ".join(SUPPORTED_EXTENSIONS)
                extra = f"; {len(skipped)} other entr{'y' if len(skipped) == 1 else 'ies'} skipped" if skipped else ""
                raise ImageReadError(f"no images found in folder '{path}' (looked for {supported}{extra})")
            listing.images.extend(found)
            listing.skipped.extend(skipped)
        else:
            listing.images.append(path)
    return listing


def unsupported_image_suffix(path: Path) -> bool:
    """A name ending in an image type srx does not write (``out.bmp``): a mistake, not a folder name."""
    suffix = path.suffix.lower()
    if not suffix or suffix in SUPPORTED_EXTENSIONS:
        return False
    from PIL import Image

    return suffix in Image.registered_extensions()


def check_out(out: Path, *, single_file_allowed: bool = True) -> None:
    """Refuse, before any work, an ``--out`` that cannot be written or names an unsupported image type."""
    if out.is_dir():
        check_output_dir(out, "--out")
        return
    if unsupported_image_suffix(out):
        supported = ", ".join(SUPPORTED_EXTENSIONS)
        raise ImageWriteError(
            f"--out '{out}': unsupported output type '{out.suffix}' (supported: {supported}); give a supported "
            "file name, or a folder name without an image extension"
        )
    if is_file_target(out) and single_file_allowed:
        check_output_file(out, "--out")
    else:
        check_output_dir(out, "--out")


def is_file_target(out: Path) -> bool:
    """An --out ending in an image extension names a file; anything else names a folder."""
    return is_image_name(out) and not out.is_dir()


def plan_outputs(images: list[Path], out: Path, suffix: str, ext: str | list[str] = ".png") -> list[Path]:
    """Output path per input: ``out/<stem><suffix><ext>``, or ``out`` itself for a single input file.

    ``ext`` is one extension for all outputs or one per input.

    Refuses a plan that would overwrite an input or write two inputs to one file, and an ``out`` that
    cannot be written.
    """
    check_out(out)
    if is_file_target(out):
        if len(images) != 1:
            raise ImageWriteError(f"--out '{out}' names a file but {len(images)} images were given; pass a folder")
        targets = [out]
    else:
        exts = [ext] * len(images) if isinstance(ext, str) else ext
        targets = [out / f"{image.stem}{suffix}{e}" for image, e in zip(images, exts, strict=True)]
    resolved_inputs = {image.resolve() for image in images}
    seen: dict[Path, Path] = {}
    for image, target in zip(images, targets, strict=True):
        resolved = target.resolve()
        if resolved in resolved_inputs:
            raise ImageWriteError(f"refusing to overwrite input '{image}' with its own output; choose another --out")
        if resolved in seen:
            raise ImageWriteError(
                f"'{seen[resolved]}' and '{image}' would both be written to '{target}'; rename one of them"
            )
        seen[resolved] = image
    return targets


def shard(items: list, rank: int, world_size: int) -> list:
    """Items of one rank: r, r + N, r + 2N, ... (rank 0 of 1 gets everything)."""
    return items[rank::world_size]


def output_extension(image: Path, ext: str, *, has_alpha: bool, explicit: bool) -> str:
    """The output extension for ``image`` under ``--ext`` (``auto`` = the input's own).

    JPEG cannot hold alpha: where ``auto`` would pick it the output is PNG; an ``explicit`` jpg for an
    image with alpha is refused.
    """
    chosen = image.suffix.lower() if ext == "auto" else f".{ext}"
    if has_alpha and chosen in (".jpg", ".jpeg"):
        if explicit:
            raise ImageWriteError(f"'{image}' has an alpha channel, which JPEG cannot store; use --ext png")
        chosen = ".png"
    return chosen
