"""Class 'half-done state' for srx adapt: failed starts leave nothing, --resume checks everything first.

Run directories are laid out here as srx adapt writes them (config.json from the same AdaptConfig the CLI
builds, a checkpoint file per stage), so every refusal is exercised through the CLI without training.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from dualsr_cli.recipes.config import AdaptConfig
from dualsr_cli.recipes.job import RunDirectory

from .conftest import assert_refused, srx, tree_digest

CAMERAS = ("--source", "sony", "--target", "olympus")


@pytest.fixture(scope="session")
def drealsr_tiny(tmp_path_factory) -> Path:
    from tests.synthetic import camera_models, make_drealsr

    root = tmp_path_factory.mktemp("drealsr_tiny")
    return make_drealsr(root, camera_models(["sony", "olympus"]), train_patches=8, test_images=1, test_hr=64)


def _argv(data: Path, out: Path, *extra: object) -> list[object]:
    return [
        "adapt",
        "--data",
        data,
        *CAMERAS,
        "--preset",
        "smoke",
        "--perceptual",
        "none",
        "--device",
        "cpu",
        "--quiet",
        "--out",
        out,
        *extra,
    ]


def _lay_out_run(data: Path, out: Path, *, checkpoint: bool = True, **settings) -> Path:
    """A run directory as `srx adapt --preset smoke` leaves it after stage 1 wrote its first checkpoint."""
    config = AdaptConfig.smoke(
        method="dada", data=data, source="sony", target="olympus", out=out, perceptual="none", device="cpu", **settings
    )
    out.mkdir(parents=True)
    (out / "config.json").write_text(json.dumps({**config.to_dict(), "world_size": 1}, indent=2) + "\n")
    (out / "log.jsonl").write_text(json.dumps({"stage": "1-source-cdc", "iteration": 2, "losses": {}}) + "\n")
    if checkpoint:
        folder = out / "checkpoints" / "1-source-cdc"
        folder.mkdir(parents=True)
        torch.save({"iteration": 2, "networks": {}}, folder / "last.pt")
    return out


RESUME_CHANGES = [
    ("seed", ("--seed", "7"), "seed"),
    ("batch-size", ("--batch-size", "3"), "batch_size"),
    ("patch-size", ("--patch-size", "32"), "patch_size"),
    ("val", ("--val", "1"), "val"),
    ("select-on", ("--select-on", "test"), "select_on"),
    ("perceptual", ("--perceptual", "vgg"), "perceptual"),
    ("method", ("--method", "ddnsr"), "method"),
    ("target", ("--target", "canon"), "target"),
    ("source-weights", ("--source-weights", "x.pth"), "source_weights"),
]


@pytest.mark.parametrize(("name", "change", "key"), RESUME_CHANGES, ids=[c[0] for c in RESUME_CHANGES])
def test_resume_refuses_a_changed_setting_and_writes_nothing(drealsr_tiny, tmp_path, name, change, key):
    run = _lay_out_run(drealsr_tiny, tmp_path / "run")
    before = tree_digest(run)
    outcome = srx(*_argv(drealsr_tiny, run, "--resume", *change))
    assert_refused(outcome, f"its {key} is", "--resume may change only")
    assert tree_digest(run) == before


def test_resume_refuses_another_preset(drealsr_tiny, tmp_path):
    run = _lay_out_run(drealsr_tiny, tmp_path / "run")
    before = tree_digest(run)
    argv = ["adapt", "--data", drealsr_tiny, *CAMERAS, "--perceptual", "none", "--out", run, "--resume"]
    assert_refused(srx(*argv), "its preset is")
    assert tree_digest(run) == before


def test_resume_refuses_another_dataset(drealsr_tiny, tmp_path):
    run = _lay_out_run(drealsr_tiny, tmp_path / "run")
    before = tree_digest(run)
    assert_refused(srx(*_argv(tmp_path / "elsewhere", run, "--resume")), "its data is")
    assert tree_digest(run) == before


@pytest.mark.parametrize(
    "content", ["{not json", "[1, 2]", "", "\x00\x01binary"], ids=["broken", "list", "empty", "bin"]
)
@pytest.mark.parametrize("resume", [False, True], ids=["fresh", "resume"])
def test_corrupt_config_json_is_one_line(drealsr_tiny, tmp_path, content, resume):
    run = _lay_out_run(drealsr_tiny, tmp_path / "run")
    (run / "config.json").write_text(content)
    before = tree_digest(run)
    outcome = srx(*_argv(drealsr_tiny, run, *(["--resume"] if resume else [])))
    assert_refused(outcome, "config.json", "not a valid srx adapt config.json")
    assert tree_digest(run) == before


def test_a_started_run_is_not_overwritten_without_resume(drealsr_tiny, tmp_path):
    run = _lay_out_run(drealsr_tiny, tmp_path / "run")
    before = tree_digest(run)
    assert_refused(srx(*_argv(drealsr_tiny, run)), "already holds a run", "--resume")
    assert tree_digest(run) == before


def test_checkpoints_without_config_are_refused(drealsr_tiny, tmp_path):
    run = _lay_out_run(drealsr_tiny, tmp_path / "run")
    (run / "config.json").unlink()
    before = tree_digest(run)
    assert_refused(srx(*_argv(drealsr_tiny, run)), "checkpoints of another run")
    assert_refused(srx(*_argv(drealsr_tiny, run, "--resume")), "no config.json")
    assert tree_digest(run) == before


def test_nothing_to_resume(drealsr_tiny, tmp_path):
    assert_refused(srx(*_argv(drealsr_tiny, tmp_path / "empty", "--resume")), "nothing to resume")
    assert not (tmp_path / "empty").exists()


def test_a_run_failing_before_its_first_step_leaves_no_directory(drealsr_tiny, tmp_path):
    out = tmp_path / "run"
    outcome = srx(*_argv(drealsr_tiny, out, "--patch-size", "4096"))
    assert_refused(outcome, "--patch-size")
    assert not out.exists()


def test_missing_vgg19_is_refused_before_anything_is_written(drealsr_tiny, tmp_path):
    out = tmp_path / "run"
    argv = ["adapt", "--data", drealsr_tiny, *CAMERAS, "--preset", "smoke", "--device", "cpu", "--out", out]
    outcome = srx(*argv, env={"TORCH_HOME": str(tmp_path / "empty_hub")})
    assert_refused(outcome, "VGG19", "--perceptual none")
    assert not out.exists()


def test_a_directory_whose_run_never_started_is_accepted_without_resume(drealsr_tiny, tmp_path):
    """config.json + log.jsonl but no checkpoint (a run killed while starting): the corrected command may
    start afresh there; here it gets as far as its own (patch size) refusal, which leaves the files alone."""
    run = _lay_out_run(drealsr_tiny, tmp_path / "run", checkpoint=False, seed=3)
    before = tree_digest(run)
    outcome = srx(*_argv(drealsr_tiny, run, "--patch-size", "4096"))
    assert_refused(outcome, "--patch-size")  # not "already holds a run"
    assert tree_digest(run) == before
    directory = RunDirectory(run)
    directory.begin({"method": "dada", "seed": 0}, resume=False)
    directory.commit()
    assert json.loads((run / "config.json").read_text()) == {"method": "dada", "seed": 0}
    assert not (run / "log.jsonl").exists()  # the abandoned attempt's log went with it


def test_a_failed_resume_keeps_the_recorded_settings(tmp_path):
    """--resume with allowed changes (--iters, --save-every) that then fails (the dataset is gone from its
    folder): config.json and the log are exactly as before."""
    data = tmp_path / "data"
    data.mkdir()
    run = _lay_out_run(data, tmp_path / "run")
    before = tree_digest(run)
    outcome = srx(*_argv(data, run, "--resume", "--iters", "8", "--save-every", "4"))
    assert_refused(outcome, "no DRealSR training pairs")
    assert tree_digest(run) == before


def test_every_setting_is_either_compared_or_documented_as_changeable():
    """The settings --resume may change are exactly the documented ones."""
    from dualsr_cli.recipes import RECIPES, resume_identity
    from dualsr_cli.recipes.job import RESUME_MAY_CHANGE

    assert set(RESUME_MAY_CHANGE) == {"iters", "eval_every", "save_every", "device"}
    fields = set(AdaptConfig.__dataclass_fields__) | {"world_size"}
    recorded_only = {"out", "resume", "deviations"}
    compared = set().union(*(resume_identity(method) for method in RECIPES))
    assert fields == compared | set(RESUME_MAY_CHANGE) | recorded_only
    assert not compared & set(RESUME_MAY_CHANGE)


def test_a_corrupt_checkpoint_is_one_clear_error(tmp_path):
    from dualsr_cli.errors import CheckpointError

    run = _lay_out_run(tmp_path / "data", tmp_path / "run")
    (run / "checkpoints" / "1-source-cdc" / "last.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"last\.pt.*delete it"):
        RunDirectory(run).load("1-source-cdc", "last")
