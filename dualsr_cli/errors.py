"""Errors a user can fix. The CLI turns any of them into one line on stderr and exit code 2."""

from __future__ import annotations


class SrxError(Exception):
    """Base class: the message is shown to the user as-is, so it must say what is wrong and what to do."""

    exit_code = 2


class ImageReadError(SrxError):
    """An input image is missing, empty, corrupt, truncated or in a format srx does not read."""


class ImageWriteError(SrxError):
    """An output cannot be written (folder not writable, format cannot hold the data, would overwrite input)."""


class ConfigError(SrxError):
    """An option or combination of options is invalid (unsupported scale, device not available, ...)."""


class ImageSizeError(SrxError):
    """An image is too small or too large for the requested operation."""


class CheckpointError(SrxError):
    """A weights file is missing, corrupt, unsafe to unpickle, or not the architecture that was asked for."""
