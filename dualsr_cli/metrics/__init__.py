"""Image-quality metrics with the conventions of the SR literature (``docs/metrics.md``)."""

from __future__ import annotations

import math


def format_score(value: float | None, digits: int) -> str:
    """A metric for tables: ``n/a`` when it was not computed, ``inf`` for identical images (PSNR)."""
    if value is None:
        return "n/a"
    if math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"
