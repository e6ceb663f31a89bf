"""Checkpoint reading: wrappers seen in the wild, safe unpickling, one-line errors."""

from __future__ import annotations

import collections

import pytest
import torch
from safetensors.torch import save_file

from dualsr_cli.archs import load_degrader, load_model
from dualsr_cli.archs.cdc import CDCNet
from dualsr_cli.archs.deresnet import DeResNet
from dualsr_cli.archs.rrdb import RRDBNet
from dualsr_cli.checkpoint import extract_state_dict, read_checkpoint
from dualsr_cli.errors import CheckpointError


@pytest.fixture(scope="module")
def rrdb_state():
    torch.manual_seed(0)
    return RRDBNet(nb=1).state_dict()


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: sd,
        lambda sd: {"params_ema": sd, "params": {k: v * 0 for k, v in sd.items()}},
        lambda sd: {"params": sd},
        lambda sd: {"state_dict": sd, "Name": "HGSR", "optim": {}},
        lambda sd: {"model": sd, "break_info": {"epoch": 3, "iter_n": 7, "best_psnr": 1.0, "best_ssim": 0.5}},
        lambda sd: {"net": sd},
        lambda sd: {f"module.{k}": v for k, v in sd.items()},
        lambda sd: {"params": collections.OrderedDict((f"module.{k}", v) for k, v in sd.items())},
    ],
    ids=["bare", "params_ema", "params", "cdc_state_dict", "model", "net", "module_prefix", "wrapped_prefixed"],
)
def test_wrappers_and_prefixes_are_unwrapped(tmp_path, rrdb_state, wrap):
    path = tmp_path / "w.pth"
    torch.save(wrap(rrdb_state), path)
    state = extract_state_dict(read_checkpoint(path))
    assert set(state) == set(rrdb_state)
    assert all(torch.equal(state[k], rrdb_state[k]) for k in state)


def test_dada_and_dasr_nestings(tmp_path):
    cdc = CDCNet(scale=2).state_dict()
    torch.save(
        {"break_info": {}, "model": {"up_s": cdc, "up_t": cdc, "down_t": DeResNet().state_dict()}},
        tmp_path / "dada.pth",
    )
    assert set(extract_state_dict(read_checkpoint(tmp_path / "dada.pth"), prefer=("up_t",))) == set(cdc)
    dsn = DeResNet().state_dict()
    torch.save(
        {
            "epoch": 5,
            "iteration": 10,
            "model_g_state_dict": dsn,
            "models_d_state_dict": {},
            "optimizer_g_state_dict": {},
        },
        tmp_path / "dsn.tar",
    )
    kind, net = load_degrader(tmp_path / "dsn.tar")
    assert kind == "deresnet" and net.scale == 4


def test_safetensors_load(tmp_path, rrdb_state):
    save_file({k: v.contiguous() for k, v in rrdb_state.items()}, tmp_path / "w.safetensors")
    model = load_model("dasr", tmp_path / "w.safetensors")
    assert model.scale == 4 and model.name == "dasr"


class NotATensor:
    pass


def test_pickled_code_is_refused(tmp_path, rrdb_state):
    torch.save({"params": rrdb_state, "extra": NotATensor()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match="weights_only"):
        read_checkpoint(tmp_path / "evil.pth")


def test_torchscript_archives_are_refused_without_warnings(tmp_path, recwarn):
    torch.jit.script(torch.nn.Conv2d(3, 3, 3)).save(tmp_path / "scripted.pt")
    with pytest.raises(CheckpointError, match="TorchScript archive"):
        read_checkpoint(tmp_path / "scripted.pt")
    assert not [w for w in recwarn if "TorchScript" in str(w.message)]


def test_broken_files_give_one_line_errors(tmp_path, rrdb_state):
    torch.save(rrdb_state, tmp_path / "full.pth")
    data = (tmp_path / "full.pth").read_bytes()
    (tmp_path / "truncated.pth").write_bytes(data[: len(data) // 2])
    (tmp_path / "random.pth").write_bytes(bytes(range(256)) * 40)
    (tmp_path / "empty.pth").write_bytes(b"")
    for name, fragment in (
        ("truncated.pth", "truncated"),
        ("random.pth", "cannot read"),
        ("empty.pth", "empty"),
        ("missing.pth", "not found"),
    ):
        with pytest.raises(CheckpointError, match=fragment) as info:
            read_checkpoint(tmp_path / name)
        assert "\n" not in str(info.value)


def test_mismatches_name_the_architecture_and_the_offending_keys(tmp_path, rrdb_state):
    torch.save(CDCNet(scale=2).state_dict(), tmp_path / "cdc.pth")
    with pytest.raises(CheckpointError, match=r"CDC / DADA up-sampler .* not ESRGAN RRDBNet"):
        load_model("dasr", tmp_path / "cdc.pth")
    broken = dict(rrdb_state)
    broken["model.1.sub.0.RDB2.conv3.0.weight"] = torch.zeros(32, 128, 5, 5)
    torch.save(broken, tmp_path / "shape.pth")
    with pytest.raises(CheckpointError, match=r"1 with the wrong shape .*RDB2\.conv3\.0\.weight is \[32,128,5,5\]"):
        load_model("dasr", tmp_path / "shape.pth")
    missing = {k: v for k, v in rrdb_state.items() if "RDB3.conv5" not in k}
    torch.save(missing, tmp_path / "missing.pth")
    with pytest.raises(CheckpointError, match="2 missing"):
        load_model("dasr", tmp_path / "missing.pth")
    torch.save({"model": {"up": CDCNet(scale=2).state_dict()}}, tmp_path / "circle.pth")
    with pytest.raises(CheckpointError, match="maps-weights"):
        load_model("dada", tmp_path / "circle.pth")
