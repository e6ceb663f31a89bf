"""Figures people read: the blur-kernel picture and the before/after comparison (matplotlib, Agg).

Figures are drawn on ``matplotlib.figure.Figure`` objects with the Agg canvas, never through pyplot, so
nothing depends on a display or on global state, and every file appears atomically.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic import atomic_output
from ..errors import ImageWriteError
from ..image_io import quantize
from ..metrics.kernel import aligned_kernel
from ..ops.kernels import centre_of_mass, fit_kernel_size
from .crops import Crop

KERNEL_COLORMAP = "viridis"
ERROR_COLORMAP = "RdBu_r"


def _save(figure, path: Path, dpi: int) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    try:
        with atomic_output(path) as tmp:
            figure.savefig(tmp, format="png", dpi=dpi, facecolor="white")
    except OSError as exc:
        raise ImageWriteError(f"cannot write '{path}': {exc.strerror or exc}") from None
    return path


def _kernel_note(kernel: np.ndarray) -> str:
    row, col = centre_of_mass(kernel)
    return f"sum {kernel.sum():.3f}\ncentre of mass\n(row {row:.2f}, col {col:.2f})"


def _draw_kernel(axes, kernel: np.ndarray, offset: int, title: str, vmin: float, vmax: float):
    """One kernel panel: the taps, the centre of mass as '+', its sum and centre written in the corner."""
    shown = fit_kernel_size(kernel, kernel.shape[0] + 2 * offset)
    image = axes.imshow(shown, cmap=KERNEL_COLORMAP, vmin=vmin, vmax=vmax, interpolation="nearest")
    row, col = centre_of_mass(kernel)
    axes.plot(col + offset, row + offset, marker="+", color="red", markersize=12, markeredgewidth=1.5)
    padded = f", padded to {shown.shape[0]}x{shown.shape[1]}" if offset else ""
    axes.set_title(f"{title} ({kernel.shape[0]}x{kernel.shape[1]}{padded})", fontsize=10)
    axes.text(
        0.03,
        0.97,
        _kernel_note(kernel),
        transform=axes.transAxes,
        fontsize=7.5,
        va="top",
        ha="left",
        bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 2},
    )
    _kernel_ticks(axes, shown.shape[0])
    return image


def _kernel_ticks(axes, size: int) -> None:
    step = max(1, size // 6)
    axes.set_xticks(range(0, size, step))
    axes.set_yticks(range(0, size, step))
    axes.tick_params(labelsize=7)


def kernel_figure(
    path: str | Path, estimated: np.ndarray, truth: np.ndarray | None = None, *, scale: int = 2, title: str = ""
) -> Path:
    """Write a PNG of a blur kernel (any square size) with a colour bar, its sum and centre of mass.

    estimated: (k, k) raw kernel as the method saved it. With ``truth`` (t, t) the true kernel is drawn
    beside it on the same colour scale (the smaller one zero-padded in the middle to the larger size),
    and a third panel shows estimate - truth after both are normalised to sum 1 and centred, whose
    Frobenius norm is the kernel error srx reports.
    """
    from matplotlib.figure import Figure

    from ..metrics.kernel import kernel_error

    estimated = np.asarray(estimated, dtype=np.float64)
    panels = [("estimated", estimated)]
    if truth is not None:
        panels.append(("true", np.asarray(truth, dtype=np.float64)))
    size = max(k.shape[0] for _, k in panels)
    vmin = min(0.0, *(float(k.min()) for _, k in panels))
    vmax = max(float(k.max()) for _, k in panels)
    figure = Figure(figsize=(3.9 if truth is None else 11.0, 3.7), layout="constrained")
    axes = figure.subplots(1, len(panels) + (truth is not None), squeeze=False)[0]
    for ax, (label, kernel) in zip(axes, panels, strict=False):
        image = _draw_kernel(ax, kernel, (size - kernel.shape[0]) // 2, label, vmin, vmax)
    label = "tap value" if truth is None else "tap value (shared scale)"
    figure.colorbar(image, ax=list(axes[: len(panels)]), shrink=0.85, label=label)
    if truth is not None:
        diff = aligned_kernel(estimated, size, scale) - aligned_kernel(panels[1][1], size, scale)
        limit = max(float(np.abs(diff).max()), 1e-12)
        shown = axes[2].imshow(diff, cmap=ERROR_COLORMAP, vmin=-limit, vmax=limit, interpolation="nearest")
        error = kernel_error(estimated, panels[1][1], scale=scale)
        axes[2].set_title(f"estimated - true, L2 {error.l2:.4f}", fontsize=10)
        axes[2].text(
            0.03,
            0.97,
            "both normalised to sum 1\nand centred",
            transform=axes[2].transAxes,
            fontsize=7.5,
            va="top",
            bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 2},
        )
        _kernel_ticks(axes[2], size)
        figure.colorbar(shown, ax=axes[2], shrink=0.85, label="difference")
    if title:
        figure.suptitle(title, fontsize=11)
    return _save(figure, Path(path), dpi=100)


def _as_rgb8(image: np.ndarray) -> np.ndarray:
    """(H, W[, C]) floats in [0, 1] -> (H, W, 3) uint8, rounded as srx writes 8-bit files."""
    image = quantize(np.asarray(image), 8)
    if image.ndim == 2:
        image = image[:, :, None]
    return np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image[:, :, :3]


def comparison_figure(path: str | Path, panels: list[tuple[str, np.ndarray]], crop: Crop, *, note: str = "") -> Path:
    """Write crops of same-size images side by side, one image pixel per figure pixel (no resampling).

    panels: (label, (H, W, C) floats in [0, 1]) in display order; crop: where, in those images' pixels.
    """
    from matplotlib.figure import Figure

    dpi, gap, header, footer = 100, 12, 34, 22 if note else 6
    cuts = [_as_rgb8(crop.cut(image)) for _, image in panels]
    h, w = cuts[0].shape[:2]
    width = len(cuts) * w + (len(cuts) + 1) * gap
    height = h + header + footer
    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    for i, ((label, _), cut) in enumerate(zip(panels, cuts, strict=True)):
        left = gap + i * (w + gap)
        axes = figure.add_axes((left / width, footer / height, w / width, h / height))
        axes.imshow(cut, interpolation="nearest")
        axes.set_axis_off()
        figure.text((left + w / 2) / width, 1 - 6 / height, label, ha="center", va="top", fontsize=11)
    if note:
        figure.text(gap / width, 4 / height, note, ha="left", va="bottom", fontsize=8, color="#444444")
    return _save(figure, Path(path), dpi=dpi)
