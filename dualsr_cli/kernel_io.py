"""Blur kernels as MATLAB ``.mat`` files, the format DualSR, KernelGAN, DIV2KRK and BlindSR exchange them in."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .atomic import atomic_output
from .errors import ImageReadError, ImageWriteError


def load_kernel_mat(path: Path) -> np.ndarray:
    """A 2-D kernel from a .mat file: variable ``Kernel`` (DualSR/KernelGAN), ``ker`` (BlindSR) or the only one."""
    from scipy.io import loadmat

    if not path.is_file():
        raise ImageReadError(f"kernel file not found: '{path}'")
    try:
        contents = loadmat(path)
    except Exception as exc:
        raise ImageReadError(f"cannot read kernel '{path}': not a MATLAB .mat file ({exc})") from None
    arrays = {k: v for k, v in contents.items() if not k.startswith("__")}
    kernel = arrays.get("Kernel", arrays.get("ker"))
    if kernel is None and len(arrays) == 1:
        kernel = next(iter(arrays.values()))
    if kernel is None:
        raise ImageReadError(
            f"cannot read kernel '{path}': no variable 'Kernel' (found: {', '.join(arrays) or 'none'})"
        )
    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 2 or kernel.shape[0] != kernel.shape[1] or kernel.sum() <= 0:
        raise ImageReadError(f"cannot read kernel '{path}': expected a square 2-D kernel with positive sum")
    return kernel


def write_kernel_mat(path: Path, kernel: np.ndarray) -> None:
    """``kernel`` as float32 variable ``Kernel``, the form DualSR and KernelGAN save and their readers expect."""
    from scipy.io import savemat

    try:
        with atomic_output(path) as tmp:
            savemat(tmp, {"Kernel": kernel.astype(np.float32)})
    except OSError as exc:
        raise ImageWriteError(f"cannot write '{path}': {exc.strerror or exc}") from None
