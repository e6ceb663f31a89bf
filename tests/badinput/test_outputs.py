"""Class 'checked too late' / 'internal error': every output location is checked before any work starts."""

from __future__ import annotations

import pytest

from .cases import case, params, run_refused
from .conftest import assert_refused, srx

OUTPUTS = [
    # -o / --out under or onto a regular file
    case("zero-shot-out-under-file", "zero-shot {photo} --iters 2 --out {a_file}/sub", "not writable", "is a file"),
    case("zero-shot-out-is-file", "zero-shot {photo} {photo_b} --iters 2 --out {a_file}", "--out", "is a file"),
    case("zero-shot-json-under-file", "zero-shot {photo} --iters 2 --out {out} --json {a_file}/s.json", "--json"),
    case("zero-shot-json-is-folder", "zero-shot {photo} --iters 2 --out {out} --json {mixed}", "--json", "folder"),
    case("zero-shot-file-out-under-file", "zero-shot {photo} --iters 2 --out {a_file}/x.png", "not writable"),
    case("run-out-under-file", "run dasr {photo} -w {text_weights} -o {a_file}/sub", "not writable"),
    case("run-file-out-under-file", "run dasr {photo} -w {text_weights} -o {a_file}/x.png", "not writable"),
    case("degrade-out-under-file", "degrade {photo} -w {text_weights} -o {a_file}/sub", "not writable"),
    case("bench-out-is-file", "bench {plain} --no-lpips --out {a_file}", "--out", "is a file"),
    case("bench-out-under-file", "bench {plain} --no-lpips --out {a_file}/results", "--out", "not writable"),
    case(
        "adapt-out-is-file",
        "adapt --data {plain} --source sony --target olympus --preset smoke --perceptual none --out {a_file}",
        "--out",
        "is a file",
    ),
    case(
        "adapt-out-under-file",
        "adapt --data {plain} --source sony --target olympus --preset smoke --perceptual none --out {a_file}/r",
        "--out",
        "not writable",
    ),
    # unsupported output types are refused instead of becoming folder names
    case("zero-shot-out-bmp", "zero-shot {photo} --iters 2 --out {out}.bmp", "unsupported output type '.bmp'"),
    case("zero-shot-out-gif", "zero-shot {photo} --iters 2 --out {out}.gif", "'.gif'"),
    case("run-out-bmp", "run dasr {photo} -w {text_weights} -o {out}.bmp", "'.bmp'"),
    case("degrade-out-ppm", "degrade {photo} -w {text_weights} -o {out}.ppm", "'.ppm'"),
    # plans that would overwrite inputs or collide
    case("zero-shot-out-is-input", "zero-shot {photo} --iters 2 --out {photo}", "overwrite"),
    case("zero-shot-two-inputs-one-file", "zero-shot {photo} {photo_b} --iters 2 --out {out}.png", "names a file"),
    case("zero-shot-same-input-twice", "zero-shot {photo} {photo} --iters 2 --out {out}", "both be written"),
    case("run-out-is-input", "run dasr {photo} -w {text_weights} -o {photo}", "overwrite"),
    case("run-jpg-for-alpha", "run dasr {alpha} -w {text_weights} --ext jpg -o {out}", "alpha"),
    case("zero-shot-jpg-for-alpha", "zero-shot {alpha} --iters 2 --out {out}.jpg", "alpha"),
]


@pytest.mark.parametrize("c", params(OUTPUTS))
def test_output_locations_are_checked_first(c, world, tmp_path):
    run_refused(c, world, tmp_path)
    assert not (tmp_path / "out.bmp").exists() and not (tmp_path / "out.png").exists()


def test_unwritable_json_is_found_before_training(world, tmp_path, monkeypatch):
    """The --json check runs before the training loop: training must never be reached."""
    from dualsr_cli.engine.zero_shot import trainer

    def no_training(*args, **kwargs):
        raise AssertionError("training started although --json cannot be written")

    monkeypatch.setattr(trainer.DualSRTrainer, "train", no_training)
    outcome = srx("zero-shot", world.photo, "--iters", "2", "--out", tmp_path / "o", "--json", world.a_file / "x")
    assert_refused(outcome, "--json")
    assert not (tmp_path / "o").exists()
