"""Classes 'internal error' and 'more than one line' for inputs: images, folders, kernels and weights files.

Image headers are checked against the pixel limit before any pixel is decoded (the bomb PNGs here hold a
few bytes behind a header declaring 100-400 MP: a reader that decodes first reports a truncated file,
one that trusts the header and allocates first runs out of memory; srx refuses them by size).
"""

from __future__ import annotations

import pytest

from .cases import case, params, run_refused
from .conftest import srx

ZS = "zero-shot {} --iters 2 --quiet --out {{out}}"
RN = "run dasr {} -w {{foreign_weights}} --quiet -o {{out}}"
DG = "degrade {} -w {{text_weights}} --quiet -o {{out}}"

IMAGES = []
for command, template in (("zero-shot", ZS), ("run", RN), ("degrade", DG)):
    IMAGES += [
        case(f"{command}-bomb-400MP", template.format("{bomb}"), "20000x20000", "at most"),
        case(f"{command}-bomb-100MP", template.format("{big100}"), "10000x10000", "at most"),
        case(f"{command}-truncated", template.format("{truncated}"), "truncated"),
        case(f"{command}-text-as-png", template.format("{text_png}"), "not a valid image"),
        case(f"{command}-empty", template.format("{empty_png}"), "empty"),
        case(f"{command}-gif", template.format("{gif}"), "unsupported file type"),
        case(f"{command}-no-extension", template.format("{noext}"), "unsupported file type"),
        case(f"{command}-missing", template.format("{out}_missing.png"), "not found"),
        case(f"{command}-link-loop", template.format("{loop}"), "link loop"),
        case(f"{command}-dangling-link", template.format("{dangling}"), "broken symbolic link"),
        case(f"{command}-folder-of-broken-links", template.format("{only_broken}"), "no images found", "2 other"),
        case(f"{command}-folder-without-images", template.format("{no_images}"), "no images found"),
    ]
IMAGES += [
    case("zero-shot-45MP-over-its-limit", ZS.format("{big45}"), "7000x6500", "srx zero-shot accepts at most 40"),
    case("zero-shot-too-small", ZS.format("{tiny}"), "at least 84x84"),
    case("zero-shot-one-bad-among-good", "zero-shot {photo} {truncated} --iters 2 --quiet --out {out}", "truncated"),
    case("zero-shot-gt-missing", "zero-shot {photo} --iters 2 --gt {out}_gt.png --out {out}", "ground truth"),
    case("zero-shot-gt-wrong-size", "zero-shot {photo} --iters 2 --gt {photo_b} --out {out}", "ground truth"),
    case("zero-shot-gt-kernel-not-mat", "zero-shot {photo} --iters 2 --gt-kernel {bad_mat} --out {out}", "kernel"),
    case("zero-shot-gt-kernel-missing", "zero-shot {photo} --iters 2 --gt-kernel {out}.mat --out {out}", "not found"),
    case(
        "degrade-weights-before-reference", "degrade {photo} -w {text_weights} --reference {bomb} -o {out}", "text.pth"
    ),
]

WEIGHTS = []
for command, template in (
    ("run", "run dasr {{photo}} -w {} -o {{out}}"),
    ("degrade", "degrade {{photo}} -w {} -o {{out}}"),
):
    WEIGHTS += [
        case(f"{command}-text-file", template.format("{text_weights}"), "not a PyTorch checkpoint"),
        case(f"{command}-empty-file", template.format("{empty_weights}"), "empty"),
        case(f"{command}-random-bytes", template.format("{random_weights}"), "cannot read"),
        case(f"{command}-pickled-object", template.format("{unsafe_weights}"), "weights_only"),
        case(f"{command}-image-as-weights", template.format("{photo}"), "cannot read"),
        case(f"{command}-folder-as-weights", template.format("{mixed}"), "folder"),
        case(f"{command}-missing", template.format("{out}.pth"), "not found"),
        case(f"{command}-bad-safetensors", template.format("{bad_safetensors}"), "safetensors"),
        case(f"{command}-other-network", template.format("{foreign_weights}")),
    ]
WEIGHTS += [
    case("run-maps-weights-text", "run dada {photo} -w {foreign_weights} --maps-weights {text_weights} -o {out}"),
    case("bench-method-weights-text", "bench {plain} --no-lpips -m dasr:{text_weights} --out {out}", "text.pth"),
    case(
        "adapt-source-weights-text",
        "adapt --data {out}_d --source sony --target olympus --preset smoke --perceptual none "
        "--source-weights {text_weights} --out {out}",
    ),
]


@pytest.mark.parametrize("c", params(IMAGES))
def test_bad_images_are_refused_by_header(c, world, tmp_path):
    run_refused(c, world, tmp_path)


@pytest.mark.parametrize("c", params(WEIGHTS))
def test_bad_weights_files(c, world, tmp_path):
    run_refused(c, world, tmp_path)


@pytest.mark.parametrize("command", ["run", "degrade"])
def test_broken_entries_in_a_folder_are_skipped_with_a_warning(world, tmp_path, command):
    """A folder holding a link loop next to a good image: the loop is skipped with a warning, then the
    command goes on (here to refuse the text weights file: warning line + error line, nothing else)."""
    weights = world.text_weights
    argv = (command, "dasr", world.mixed) if command == "run" else (command, world.mixed)
    outcome = srx(*argv, "-w", weights, "-o", tmp_path / "out")
    assert outcome.code == 2
    assert len(outcome.lines) == 2, outcome.stderr
    assert outcome.lines[0].startswith("warning: skipping") and "loop2.png" in outcome.lines[0]
    assert "link loop" in outcome.lines[0]
    assert outcome.lines[1].startswith("srx: error:") and "text.pth" in outcome.lines[1]
    assert not (tmp_path / "out").exists()
