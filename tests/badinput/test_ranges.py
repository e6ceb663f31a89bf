"""Class 'bad values accepted' / 'internal error': every numeric option has a range, refused before any work.

The tables run each command with a good input and one option out of range; the hypothesis tests feed
arbitrary values to the numeric options and check that the first error names the option exactly when
the value is out of its documented range (the input is missing, so an accepted value fails on that).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dualsr_cli.validation import MAX_ITERATIONS, MAX_SIDE, SEED_MAX

from .cases import case, params, run_refused
from .conftest import assert_refused, srx

ZS = "zero-shot {photo} --iters 2 --quiet --out {out}"
ZERO_SHOT = [
    case("seed-negative", f"{ZS} --seed -1", "--seed", "4294967295"),
    case("seed-2^32", f"{ZS} --seed 4294967296", "--seed"),
    case("seed-huge", f"{ZS} --seed 99999999999999999999999999", "--seed"),
    case("iters-0", "zero-shot {photo} --iters 0 --out {out}", "--iters"),
    case("iters-negative", "zero-shot {photo} --iters -5 --out {out}", "--iters"),
    case("iters-above-limit", "zero-shot {photo} --iters 10000001 --out {out}", "--iters", "10000000"),
    case("iters-beyond-int64", "zero-shot {photo} --iters 99999999999999999999999 --out {out}", "--iters"),
    case("iters-not-a-number", "zero-shot {photo} --iters many --out {out}", "--iters"),
    case("iters-float", "zero-shot {photo} --iters 2.5 --out {out}", "--iters"),
    case("lambda-cycle-nan", f"{ZS} --lambda-cycle nan", "--lambda-cycle"),
    case("lambda-cycle-inf", f"{ZS} --lambda-cycle inf", "--lambda-cycle"),
    case("lambda-cycle-minus-inf", f"{ZS} --lambda-cycle -inf", "--lambda-cycle"),
    case("lambda-cycle-negative", f"{ZS} --lambda-cycle -1", "--lambda-cycle", ">= 0"),
    case("lambda-cycle-absurd", f"{ZS} --lambda-cycle 1e300", "--lambda-cycle"),
    case("lambda-interp-nan", f"{ZS} --lambda-interp nan", "--lambda-interp"),
    case("lambda-interp-negative", f"{ZS} --lambda-interp -0.5", "--lambda-interp"),
    case("lambda-interp-text", f"{ZS} --lambda-interp much", "--lambda-interp"),
    case("tile-negative", f"{ZS} --tile -1", "--tile"),
    case("tile-huge", f"{ZS} --tile 100000000000000000000", "--tile"),
    case("scale-3", f"{ZS} --scale 3", "x2 or x4"),
    case("x4-method-at-x2", f"{ZS} --x4-method twice", "--scale 4 only"),
    case("x4-method-unknown", f"{ZS} --scale 4 --x4-method thrice", "--x4-method"),
    case("scale-0", f"{ZS} --scale 0", "--scale"),
    case("unknown-option", f"{ZS} --itres 5", "--itres"),
    case("device-unknown", f"{ZS} --device gpu", "unknown device"),
    case("device-missing-cuda", f"{ZS} --device cuda:7"),
]

RN = "run dasr {photo} -w {text_weights} --quiet -o {out}"
RUN = [
    case("tile-negative", f"{RN} --tile -3", "--tile"),
    case("tile-huge", f"{RN} --tile 70000", "--tile"),
    case("tile-pad-negative", f"{RN} --tile-pad -1", "--tile-pad"),
    case("tile-pad-huge", f"{RN} --tile-pad 100000", "--tile-pad"),
    case("outscale-0", f"{RN} --outscale 0", "--outscale"),
    case("outscale-negative", f"{RN} --outscale -2", "--outscale"),
    case("outscale-nan", f"{RN} --outscale nan", "--outscale"),
    case("outscale-inf", f"{RN} --outscale inf", "--outscale"),
    case("outscale-17", f"{RN} --outscale 17", "--outscale"),
    case("suffix-slash", f"{RN} --suffix a/b", "--suffix"),
    case("suffix-dotdot", f"{RN} --suffix ..", "--suffix"),
    case("ext-bmp", f"{RN} --ext bmp", "--ext"),
    case("arch-unknown", "run esrgan {photo} -w {text_weights} -o {out}", "neither a method"),
    case("maps-weights-not-dada", f"{RN} --maps-weights {{text_weights}}", "--maps-weights"),
    case("weights-missing-option", "run dasr {photo} -o {out}", "--weights"),
    case("half-on-cpu", "run dasr {photo} -w {foreign_weights} --half --device cpu -o {out}"),
]

DEGRADE = [
    case("suffix-slash", "degrade {photo} -w {text_weights} --suffix x/y -o {out}", "--suffix"),
    case("suffix-backslash", "degrade {photo} -w {text_weights} --suffix x\\y -o {out}", "--suffix"),
    case("device-unknown", "degrade {photo} -w {text_weights} --device tpu -o {out}", "unknown device"),
]

BN = "bench {plain} --no-lpips --quiet --out {out}"
BENCH = [
    case("limit-0", f"{BN} --limit 0", "--limit"),
    case("limit-negative", f"{BN} --limit -3", "--limit"),
    case("limit-text", f"{BN} --limit all", "--limit"),
    case("dualsr-iters-0", f"{BN} -m dualsr:iters=0", "--iters"),
    case("dualsr-iters-huge", f"{BN} -m dualsr:iters=100000000000", "--iters"),
    case("dualsr-seed-negative", f"{BN} -m dualsr:seed=-1", "--seed"),
    case("dualsr-lambda-nan", f"{BN} -m dualsr:lambda_cycle=nan", "--lambda-cycle"),
    case("dualsr-iters-text", f"{BN} -m dualsr:iters=abc", "iters"),
    case("dualsr-unknown-option", f"{BN} -m dualsr:speed=3", "speed"),
    case("dualsr-tile-negative", f"{BN} -m dualsr --tile -1", "--tile"),
    case("method-unknown", f"{BN} -m magic", "unknown method"),
    case("method-twice", f"{BN} -m bicubic -m bicubic", "twice"),
    case("protocol-unknown", f"{BN} --protocol psnr", "protocol"),
    case("scale-missing", f"{BN} --scale 3", "x3"),
    case("layout-unknown", f"{BN} --layout imagenet", "imagenet"),
    case("save-images-without-out", "bench {plain} --no-lpips --save-images", "--save-images needs --out"),
    case("pretrained-without-weights", f"{BN} -m dasr", "needs a checkpoint"),
]

AD = "adapt --data {out}_data --source sony --target olympus --preset smoke --perceptual none --out {out}"
ADAPT = [
    case("seed-negative", f"{AD} --seed -1", "--seed"),
    case("seed-2^32", f"{AD} --seed 4294967296", "--seed"),
    case("iters-0", f"{AD} --iters 0", "--iters"),
    case("iters-beyond-int64", f"{AD} --iters 99999999999999999999", "--iters"),
    case("batch-size-0", f"{AD} --batch-size 0", "--batch-size"),
    case("batch-size-huge", f"{AD} --batch-size 10000000", "--batch-size"),
    case("patch-size-0", f"{AD} --patch-size 0", "--patch-size"),
    case("patch-size-not-16", f"{AD} --patch-size 20", "multiple of 16"),
    case("patch-size-huge", f"{AD} --patch-size 1048576", "--patch-size"),
    case("val-negative", f"{AD} --val -1", "--val"),
    case("val-0-selecting-on-val", f"{AD} --val 0", "--val"),
    case("eval-every-0", f"{AD} --eval-every 0", "--eval-every"),
    case("save-every-0", f"{AD} --save-every 0", "--save-every"),
    case("save-every-negative", f"{AD} --save-every -10", "--save-every"),
    case("fda-lambda-nan", f"{AD} --method fda --fda-lambda-align nan", "--fda-lambda-align"),
    case("fda-lambda-inf", f"{AD} --method fda --fda-lambda-align inf", "--fda-lambda-align"),
    case("fda-lambda-negative", f"{AD} --method fda --fda-lambda-align -1", "--fda-lambda-align"),
    case("fda-losses-unknown", f"{AD} --method fda --fda-losses most", "--fda-losses"),
    case("perceptual-unknown", f"{AD} --perceptual alexnet", "--perceptual"),
    case(
        "preset-unknown", "adapt --data {out}_data --source sony --target olympus --preset fast --out {out}", "--preset"
    ),
    case("method-unknown", f"{AD} --method esrgan", "unknown method"),
    case("select-on-unknown", f"{AD} --select-on train", "--select-on"),
    case("layout-unknown", f"{AD} --layout div2k", "--layout"),
    case("cameras-missing", "adapt --data {out}_data --preset smoke --out {out}", "--source"),
    case("device-unknown", f"{AD} --device gpu0", "unknown device"),
]


@pytest.mark.parametrize("c", params(ZERO_SHOT))
def test_zero_shot_option_ranges(c, world, tmp_path):
    run_refused(c, world, tmp_path)


@pytest.mark.parametrize("c", params(RUN))
def test_run_option_ranges(c, world, tmp_path):
    run_refused(c, world, tmp_path)


@pytest.mark.parametrize("c", params(DEGRADE))
def test_degrade_option_ranges(c, world, tmp_path):
    run_refused(c, world, tmp_path)


@pytest.mark.parametrize("c", params(BENCH))
def test_bench_option_ranges(c, world, tmp_path):
    run_refused(c, world, tmp_path)


@pytest.mark.parametrize("c", params(ADAPT))
def test_adapt_option_ranges(c, world, tmp_path):
    run_refused(c, world, tmp_path)


# --- hypothesis: arbitrary values, the error names the option exactly when the value is out of range ----

FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
INTS = st.one_of(st.integers(-(2**70), 2**70), st.integers(-5, 5), st.sampled_from([SEED_MAX, SEED_MAX + 1]))
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-10, 10))


def _first_error(*argv: object) -> str:
    outcome = srx(*argv)
    assert_refused(outcome)
    return outcome.lines[0]


def _names(line: str, option: str) -> bool:
    return f"{option} must" in line


@FEW
@given(value=INTS)
def test_zero_shot_seed_and_iters_hypothesis(tmp_path_factory, value):
    missing = tmp_path_factory.getbasetemp() / "missing.png"
    line = _first_error("zero-shot", missing, "--seed", value, "--iters", "3")
    assert _names(line, "--seed") == (not 0 <= value <= SEED_MAX), line
    line = _first_error("zero-shot", missing, "--iters", value)
    assert _names(line, "--iters") == (not 1 <= value <= MAX_ITERATIONS), line


@FEW
@given(value=FLOATS)
def test_zero_shot_loss_weights_hypothesis(tmp_path_factory, value):
    missing = tmp_path_factory.getbasetemp() / "missing.png"
    for option in ("--lambda-cycle", "--lambda-interp"):
        line = _first_error("zero-shot", missing, option, repr(value))
        valid = math.isfinite(value) and 0 <= value <= 1e6
        assert _names(line, option) == (not valid), line


@FEW
@given(tile=INTS, pad=INTS, outscale=FLOATS)
def test_run_tiling_and_outscale_hypothesis(tmp_path_factory, tile, pad, outscale):
    missing = tmp_path_factory.getbasetemp() / "missing.png"
    base = ("run", "dasr", missing, "-w", "none.pth")
    line = _first_error(*base, "--tile", tile)
    assert _names(line, "--tile") == (not 0 <= tile <= MAX_SIDE), line
    line = _first_error(*base, "--tile-pad", pad)
    assert _names(line, "--tile-pad") == (not 0 <= pad <= 1024), line
    line = _first_error(*base, "--outscale", repr(outscale))
    assert _names(line, "--outscale") == (not (math.isfinite(outscale) and 0 < outscale <= 16)), line


@FEW
@given(seed=INTS, every=INTS, val=INTS)
def test_adapt_counts_hypothesis(tmp_path_factory, seed, every, val):
    base = tmp_path_factory.getbasetemp()
    argv = (
        "adapt",
        "--data",
        base / "no-data",
        "--source",
        "sony",
        "--target",
        "olympus",
        "--preset",
        "smoke",
        "--perceptual",
        "none",
        "--out",
        base / "never",
    )
    line = _first_error(*argv, "--seed", seed)
    assert _names(line, "--seed") == (not 0 <= seed <= SEED_MAX), line
    line = _first_error(*argv, "--save-every", every)
    assert _names(line, "--save-every") == (not 1 <= every <= MAX_ITERATIONS), line
    line = _first_error(*argv, "--val", val)
    assert _names(line, "--val") == (not 1 <= val <= 1_000_000), line
    assert not (base / "never").exists()
