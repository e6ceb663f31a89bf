"""Device choice and determinism, written once for every command."""

from __future__ import annotations

import os
import re

import torch

from ..errors import ConfigError

_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")


def resolve_device(spec: str = "auto") -> torch.device:
    """'auto' -> CUDA if available (the rank's local device under torchrun), else CPU; validate the rest."""
    spec = (spec or "auto").strip().lower()
    if not _DEVICE_PATTERN.match(spec):
        raise ConfigError(f"unknown device '{spec}' (use auto, cpu, cuda or cuda:N)")
    if spec == "auto":
        if torch.cuda.is_available():
            local_rank = int(os.environ.get("LOCAL_RANK", "0"))
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device '{spec}' requested but CUDA is not available on this machine (use --device cpu)")
        device = torch.device(spec)
        index = device.index if device.index is not None else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"device '{spec}' requested but only {torch.cuda.device_count()} CUDA device(s) exist")
        return torch.device("cuda", index)
    if spec == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ConfigError("device 'mps' requested but Apple MPS is not available")
        return torch.device("mps")
    return torch.device("cpu")


def configure_determinism(device: torch.device) -> None:
    """Match the official setup (cudnn.deterministic) and keep fp32 convolutions in true fp32 on CUDA.

    TF32 would change results by ~1e-3 relative on Ampere and newer GPUs, beyond run-to-run noise.
    """
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return str(device)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
