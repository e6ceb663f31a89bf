"""torchrun integration: which rank am I, how many are we, wait for the others.

Launched plainly, srx is rank 0 of 1 and never touches ``torch.distributed``. Under ``torchrun`` the
standard environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT) is read and a process group is
formed: NCCL when every rank has its own GPU, otherwise gloo (CPU).
"""

from __future__ import annotations

import datetime
import importlib
import os
from dataclasses import dataclass

import torch

# Ranks of a zero-shot run may finish their shards hours apart; barriers must not time out before.
BARRIER_TIMEOUT = datetime.timedelta(days=7)


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.distributed:
            torch.distributed.barrier()

    def all_gather(self, value: object) -> list:
        """Every rank's ``value``, in rank order, on every rank (``[value]`` when not distributed)."""
        if not self.distributed:
            return [value]
        parts: list = [None] * self.world_size
        torch.distributed.all_gather_object(parts, value)
        return parts

    def from_main(self, value: object) -> object:
        """Rank 0's ``value`` on every rank (e.g. an error found by rank 0 alone, so all ranks stop)."""
        if not self.distributed:
            return value
        box = [value]
        torch.distributed.broadcast_object_list(box, src=0)
        return box[0]


def init_from_env() -> DistContext:
    """Join the torchrun process group if launched by torchrun; otherwise a single-process context."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not torch.distributed.is_initialized():
        # torch.optim imports torch._dynamo on first use; imported after the group exists, dynamo keeps
        # references to it, destroy_process_group then leaves gloo's worker threads running, and one of them
        # freeing a collective's tensors during interpreter shutdown aborts the process (SIGABRT,
        # "terminate called without an active exception", about 1 run in 5 under torchrun on torch 2.14).
        importlib.import_module("torch._dynamo")
        use_nccl = torch.cuda.is_available() and torch.cuda.device_count() > local_rank
        backend = "nccl" if use_nccl else "gloo"
        if use_nccl:
            torch.cuda.set_device(local_rank)
        torch.distributed.init_process_group(backend=backend, timeout=BARRIER_TIMEOUT)
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank)


def shutdown(context: DistContext) -> None:
    if context.distributed and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
