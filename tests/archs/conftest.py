"""Key -> shape dumps of official checkpoints (tests/fixtures/keys; sources in its README)."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "keys"


def official_keys(name: str) -> list[tuple[str, list[int]]]:
    rows = []
    for line in (FIXTURES / name).read_text().splitlines():
        key, _, shape = line.rpartition(" [")
        rows.append((key, [int(v) for v in shape.rstrip("]").split(",") if v.strip()]))
    return rows


def keys_of(module) -> list[tuple[str, list[int]]]:
    return [(k, list(v.shape)) for k, v in module.state_dict().items()]
