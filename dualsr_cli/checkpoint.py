"""Reading weights files safely and getting the state_dict out of the nestings seen in the wild.

- ``.safetensors`` through safetensors; everything else through ``torch.load(weights_only=True)``, so a
  checkpoint can never execute code. Legacy (PyTorch 1.x) pickles of plain tensor dicts load fine.
- Wrappers are unwrapped in a fixed order (BasicSR ``params_ema``/``params``, CDC ``state_dict``, DADA
  ``model`` -> ``up_t``/``up``, DASR ``model_g_state_dict``, ...), and a prefix shared by all keys
  (``module.``, ``_orig_mod.``, ``netG.``) is stripped.
- ``load_strict`` compares keys and shapes before loading and explains a mismatch in one line.
"""

from __future__ import annotations

import os
import pickle
import warnings
import zipfile
from pathlib import Path

import torch

from .errors import CheckpointError

WRAPPER_KEYS = (
    "params_ema",
    "params",
    "params-ema",
    "state_dict",
    "model_state_dict",
    "model_g_state_dict",
    "model",
    "net",
    "netG",
    "generator",
    "reconstruction",
)
PREFIXES = ("module.", "_orig_mod.", "netG.")


def read_checkpoint(path: str | os.PathLike) -> object:
    """Load a weights file on the CPU without executing code; one-line CheckpointError on any failure."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"weights file not found: '{path}'")
    if path.is_dir():
        raise CheckpointError(f"'{path}' is a folder, expected a weights file (.pth, .pt, .tar, .ckpt, .safetensors)")
    if path.stat().st_size == 0:
        raise CheckpointError(f"weights file '{path}' is empty (0 bytes)")
    if path.suffix.lower() == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"cannot read '{path}': not a valid .safetensors file ({_first_line(exc)})") from None
    try:
        with warnings.catch_warnings():  # torch warns before refusing TorchScript archives; srx says it once
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" in str(exc):  # a class or function would have to be imported and run
            raise CheckpointError(
                f"refusing to load '{path}': it contains Python objects besides tensors, and srx loads weights "
                "with weights_only=True so that a checkpoint can never run code"
            ) from None
        raise CheckpointError(f"cannot read '{path}': corrupt or not a PyTorch checkpoint") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, AttributeError, KeyError) as exc:
        if "TorchScript" in str(exc):
            raise CheckpointError(
                f"refusing to load '{path}': it is a TorchScript archive (compiled code) and srx loads weights "
                "only; use the model's .pth or .safetensors state_dict"
            ) from None
        detail = "" if isinstance(exc, KeyError) else f" ({_first_line(exc)})"  # a KeyError says only '101'
        raise CheckpointError(f"cannot read '{path}': truncated, corrupt or not a PyTorch checkpoint{detail}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:120]


def is_state_dict(obj: object) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def strip_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    changed = True
    while changed:
        changed = False
        for prefix in PREFIXES:
            if all(key.startswith(prefix) for key in state):
                state = {key[len(prefix) :]: value for key, value in state.items()}
                changed = True
    return state


def extract_state_dict(
    obj: object, *, prefer: tuple[str, ...] = (), source: str = "checkpoint"
) -> dict[str, torch.Tensor]:
    """Walk wrappers (``prefer`` first, then the usual ones) down to a tensor dict; strip shared prefixes."""
    trail: list[str] = []
    for _ in range(6):
        if is_state_dict(obj):
            return strip_prefixes(dict(obj))
        if not isinstance(obj, dict):
            break
        key = next((k for k in (*prefer, *WRAPPER_KEYS) if k in obj), None)
        if key is None and len(obj) == 1:
            key = next(iter(obj))
        if key is None:
            break
        trail.append(key)
        obj = obj[key]
    where = " -> ".join(trail) if trail else "top level"
    found = ", ".join(map(str, list(obj)[:8])) if isinstance(obj, dict) else type(obj).__name__
    wanted = f" (looked for {', '.join(prefer)})" if prefer else ""
    raise CheckpointError(f"no weights found in {source} at {where}{wanted}; it holds: {found}")


def shape_text(shape: torch.Size | tuple[int, ...]) -> str:
    return "[" + ",".join(map(str, shape)) + "]"


def load_strict(module: torch.nn.Module, state: dict[str, torch.Tensor], title: str) -> None:
    """Load ``state`` strictly; a mismatch becomes one line naming the architecture and the first offenders."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        if wrong:
            k = wrong[0]
            parts.append(
                f"{len(wrong)} with the wrong shape (e.g. {k} is {shape_text(state[k].shape)}, "
                f"expected {shape_text(expected[k].shape)})"
            )
        raise CheckpointError(f"checkpoint does not match {title}: " + "; ".join(parts))
    module.load_state_dict(state, strict=True)
