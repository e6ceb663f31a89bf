"""runtime/: device resolution and the torchrun context, in one process (the torchrun paths run in the CLI tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import torch

from dualsr_cli.errors import ConfigError
from dualsr_cli.runtime.device import describe, resolve_device
from dualsr_cli.runtime.dist import DistContext, init_from_env
from tests.conftest import REPO


@pytest.mark.parametrize("spec", ["cpu", "CPU", " cpu ", ""])
def test_cpu_specs_resolve_to_the_cpu(spec):
    assert resolve_device(spec) == torch.device("cpu")


def test_auto_picks_cuda_only_when_there_is_one(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("LOCAL_RANK", "3")  # the rank's own GPU, wrapping around the devices present
    assert resolve_device("auto") == torch.device("cuda", 1)


@pytest.mark.parametrize(
    ("spec", "fragment"), [("gpu", "unknown device 'gpu'"), ("cuda:x", "unknown device"), ("tpu", "unknown")]
)
def test_unknown_devices_are_refused_by_name(spec, fragment):
    with pytest.raises(ConfigError, match=fragment):
        resolve_device(spec)


def test_absent_cuda_devices_are_refused_with_the_way_out(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="--device cpu"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ConfigError, match="only 1 CUDA device"):
        resolve_device("cuda:1")
    assert resolve_device("cuda:0") == torch.device("cuda", 0)


def test_cpu_description_names_the_thread_count():
    assert describe(torch.device("cpu")) == f"cpu ({torch.get_num_threads()} threads)"


def test_a_plain_launch_is_rank_0_of_1_and_never_touches_torch_distributed(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(torch.distributed, "all_gather_object", lambda *a: pytest.fail("gathered"))
    monkeypatch.setattr(torch.distributed, "barrier", lambda *a: pytest.fail("barrier"))
    context = init_from_env()
    assert context == DistContext() and context.is_main and not context.distributed
    context.barrier()
    assert context.all_gather({"a": 1}) == [{"a": 1}]
    assert context.from_main("x") == "x"


def test_all_gather_returns_every_rank_in_rank_order(monkeypatch):
    def fake_gather(parts, value):  # what two ranks' all_gather_object leaves on each rank
        parts[:] = [value, {"rank": 1}]

    monkeypatch.setattr(torch.distributed, "all_gather_object", fake_gather)
    assert DistContext(rank=0, world_size=2).all_gather({"rank": 0}) == [{"rank": 0}, {"rank": 1}]


RANK_SCRIPT = """
import os, sys, torch
from dualsr_cli.runtime.dist import init_from_env, shutdown
context = init_from_env()
torch.optim.Adam(torch.nn.Linear(2, 2).parameters())  # what every training run does: it imports torch._dynamo
context.all_gather({"rank": context.rank})
shutdown(context)
names = [open(f"/proc/self/task/{task}/comm").read().strip() for task in os.listdir("/proc/self/task")]
sys.exit(f"gloo threads survived shutdown: {names}" if any("gloo" in name for name in names) else 0)
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="thread names are read from Linux's /proc")
def test_shutdown_stops_gloo_threads_even_after_training_imported_dynamo(tmp_path):
    # A surviving gloo worker that frees a collective's tensors during interpreter shutdown aborts the
    # process at exit (SIGABRT), failing a torchrun job whose results were all written.
    script = tmp_path / "ranks.py"
    script.write_text(RANK_SCRIPT)
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    if torchrun is None:
        pytest.skip("no torchrun beside this Python")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node=2", str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
