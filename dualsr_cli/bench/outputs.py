"""Where ``srx bench --out DIR`` keeps what it saves besides ``results.csv``.

The runner writes these files and the report reads them, so both name them through this one class.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


def safe_name(text: str) -> str:
    """A method key or item name as a file name (``dualsr:iters=500`` -> ``dualsr_iters=500``)."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text)


@dataclass(frozen=True)
class BenchFiles:
    """The layout of a bench output folder."""

    root: Path

    @property
    def results(self) -> Path:
        return self.root / "results.csv"

    @property
    def summary(self) -> Path:
        return self.root / "summary.json"

    @property
    def report_settings(self) -> Path:
        return self.root / "report_settings.json"

    @property
    def report(self) -> Path:
        return self.root / "report.html"

    @property
    def report_assets(self) -> Path:
        return self.root / "report_files"

    def sr_image(self, method: str, item: str) -> Path:
        """The method's output, quantised to the HR bit depth."""
        return self.root / "images" / safe_name(method) / f"{safe_name(item)}.png"

    def estimated_kernel(self, method: str, item: str) -> Path:
        """The raw kernel a kernel-estimating method found (``.mat``, variable ``Kernel``)."""
        return self.root / "kernels" / safe_name(method) / f"{safe_name(item)}.mat"

    def gt_image(self, item: str) -> Path:
        """The HR image exactly as it was scored (cropped to scale x LR)."""
        return self.root / "reference" / "gt" / f"{safe_name(item)}.png"

    def true_kernel(self, item: str) -> Path:
        """The dataset's true kernel (DIV2KRK), copied so the folder alone rebuilds the report."""
        return self.root / "reference" / "kernels" / f"{safe_name(item)}.mat"
