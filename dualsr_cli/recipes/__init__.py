"""``srx adapt``: cross-camera adaptation recipes run as resumable batch jobs.

``run_adapt`` loads the cameras, prepares the run directory and runs the chosen recipe's steps in order.
A step is either a training ``Stage`` (driven by ``job.run_stage``: checkpoints, validation, exact
resume) or an ``Action`` such as DASR's LR generation. A step already finished in the run directory is
not run again; the interrupted one continues from its last checkpoint. At the end the adapted model and
the model it started from (source-only) are both evaluated on the target camera's test pairs.

Recipes are one module each (``dada``, ``dasr``, ``ddnsr``, ``fda``), each declaring its ``RECIPE``
(``plan.Recipe``: steps, comparison, accepted ``--source-weights``, resume identity); ``RECIPES`` lists them.
"""

from __future__ import annotations

import importlib
from typing import Any

# Heavy modules (torch, the networks) load when a name is first used, so that ``srx --help`` and the
# config classes (``recipes.config``) stay light.
_LAZY_EXPORTS = {
    "run_adapt": "dualsr_cli.recipes.run",
    "AdaptResult": "dualsr_cli.recipes.run",
    "RECIPES": "dualsr_cli.recipes.registry",
    "resume_identity": "dualsr_cli.recipes.registry",
}

__all__ = list(_LAZY_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _LAZY_EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dualsr_cli.recipes' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
