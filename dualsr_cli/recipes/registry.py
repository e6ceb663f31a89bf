"""The recipes ``srx adapt --method`` offers: each module declares its ``RECIPE`` (``plan.Recipe``)."""

from __future__ import annotations

from typing import Any

from . import dada, dasr, ddnsr, fda
from .job import COMMON_RESUME_KEYS
from .plan import Recipe

RECIPES: dict[str, Recipe] = {"dada": dada.RECIPE, "dasr": dasr.RECIPE, "ddnsr": ddnsr.RECIPE, "fda": fda.RECIPE}


def resume_identity(method: str) -> dict[str, Any]:
    """The settings --resume compares for ``method``: the common ones and the recipe's own."""
    return {**COMMON_RESUME_KEYS, **RECIPES[method].resume_keys}
