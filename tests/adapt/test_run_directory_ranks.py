"""Two gloo ranks sharing one run directory: the job's start must not race between them."""

from __future__ import annotations

import time
from pathlib import Path

import torch
import torch.distributed
import torch.multiprocessing

from dualsr_cli.recipes.job import RunDirectory
from dualsr_cli.runtime.dist import DistContext


def _start_run(rank: int, store_file: str, root: str, result_dir: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{store_file}", rank=rank, world_size=2)
    try:
        if rank == 1:
            time.sleep(1.0)  # the slower rank must still find an empty directory
        run_dir = RunDirectory(Path(root), DistContext(rank=rank, world_size=2))
        try:
            run_dir.write_config({"method": "dada", "world_size": 2}, resume=False)
            outcome = "ok"
        except Exception as error:  # the parent asserts on the text
            outcome = f"{type(error).__name__}: {error}"
        Path(result_dir, f"rank{rank}.txt").write_text(outcome)
    finally:
        torch.distributed.destroy_process_group()


def test_slow_rank_does_not_mistake_rank0_config_for_an_old_run(tmp_path: Path) -> None:
    root = tmp_path / "run"
    torch.multiprocessing.spawn(
        _start_run, args=(str(tmp_path / "store"), str(root), str(tmp_path)), nprocs=2, join=True
    )
    assert (tmp_path / "rank0.txt").read_text() == "ok"
    assert (tmp_path / "rank1.txt").read_text() == "ok"
    assert (root / "config.json").is_file()
