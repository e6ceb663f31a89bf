"""srx — real-world image super-resolution (package ``dualsr_cli``).

The library can be used without the CLI. Heavy modules (torch, OpenCV) load only when a public name
is first touched, so ``import dualsr_cli`` and ``srx --help`` stay fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._version import __version__

_LAZY_EXPORTS = {
    "ZeroShotConfig": "dualsr_cli.engine.zero_shot.config",
    "BatchSettings": "dualsr_cli.engine.zero_shot.config",
    "zero_shot_image": "dualsr_cli.engine.zero_shot.pipeline",
    "FolderOptions": "dualsr_cli.engine.zero_shot.folder",
    "plan_folder": "dualsr_cli.engine.zero_shot.folder",
    "zero_shot_folder": "dualsr_cli.engine.zero_shot.folder",
    "AdaptConfig": "dualsr_cli.recipes.config",
    "run_adapt": "dualsr_cli.recipes",
    "run_benchmark": "dualsr_cli.bench.runner",
    "DualSRTrainer": "dualsr_cli.engine.zero_shot.trainer",
    "read_image": "dualsr_cli.image_io",
    "write_image": "dualsr_cli.image_io",
    "imresize": "dualsr_cli.ops.resize",
    "psnr_y": "dualsr_cli.metrics.psnr",
    "ssim_y": "dualsr_cli.metrics.ssim",
    "SrxError": "dualsr_cli.errors",
}

__all__ = ["__version__", *_LAZY_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _LAZY_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dualsr_cli' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
