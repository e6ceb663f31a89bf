"""Shared machinery of the battery: a case is an argv template, the fragments its one error line must name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import WORLD_FILES, World, assert_refused, srx


@dataclass(frozen=True)
class Case:
    id: str
    argv: str  # whitespace-separated; {name} = a world file, {out} = a fresh output path under tmp
    fragments: tuple[str, ...] = ()


def case(id: str, argv: str, *fragments: str) -> Case:
    return Case(id, argv, fragments)


def params(cases: list[Case]) -> list:
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    return [pytest.param(c, id=c.id) for c in cases]


def expand(template: str, world: World, out: Path) -> list[str]:
    names = {name: str(world.root / file) for name, file in WORLD_FILES.items()}
    return [part.format(out=out, **names) for part in template.split()]


def run_refused(c: Case, world: World, tmp_path: Path) -> None:
    """Run a case and check the battery's promises: exit 2, one line, nothing written, inputs untouched."""
    out = tmp_path / "out"
    before = world.digest()
    outcome = srx(*expand(c.argv, world, out))
    assert_refused(outcome, *c.fragments)
    assert not out.exists(), f"{out} was left behind: {sorted(p.name for p in out.rglob('*'))}"
    assert world.digest() == before, "an input changed"
