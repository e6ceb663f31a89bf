"""``srx run auto``: find out what a checkpoint is and build the upscaler it holds.

srx's own loaders come first, for the networks spandrel does not know (CDC and DADA's CDC up-samplers,
DDNSR's srx checkpoints, FDA) and for ESRGAN RRDBNets, which both know and which srx's loader already runs
in its three key layouts. Anything else goes to spandrel (the architecture detector chaiNNer uses:
Real-ESRGAN compact, SwinIR, HAT, DAT, OmniSR, SPAN, ...), after srx has read the file with
``weights_only=True`` and unwrapped it. srx's unwrapping is a superset of spandrel's
``canonicalize_state_dict`` (the same wrapper keys, ``params_ema`` before ``params``, plus the DADA/DASR
ones, and the ``module.``/``netG.`` prefixes plus ``_orig_mod.``), so spandrel sees a plain state_dict.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from ..checkpoint import extract_state_dict, read_checkpoint
from ..errors import CheckpointError
from . import TITLES, ModelDescriptor, identify, load_model

SPANDREL_TILE_PAD = 32  # LR pixels: more context than srx's RRDB default, for attention windows
SPANDREL_DISCOURAGED_TILE_PAD = 64  # architectures spandrel marks as tiling-discouraged see far
SPANDREL_BYTES_PER_LR_PIXEL = 64 * 1024  # conservative: transformers need far more than compact CNNs


def _holds_dada_stages(raw: object) -> bool:
    """A DADA checkpoint: {'model': {'up_s', 'up_t', 'down_s', 'down_t', ...}} (or the inner dict)."""
    inner = raw.get("model", raw) if isinstance(raw, dict) else None
    return isinstance(inner, dict) and "up_t" in inner


def srx_architecture(raw: object, path: str | Path, *, has_maps: bool) -> str | None:
    """The ``srx run`` method for a checkpoint srx itself recognises as an upscaler, or None."""
    from .ddnsr import DDNSR_FORMAT

    if isinstance(raw, dict):
        if {"model_Enc", "model_Dec_SR"} <= set(raw):
            return "fda"
        if raw.get("format") == DDNSR_FORMAT:
            return "ddnsr"
    if _holds_dada_stages(raw):
        return "dada" if has_maps else "cdc"
    try:
        state = extract_state_dict(raw, prefer=("up",), source=f"'{path}'")
    except CheckpointError:
        return None
    return {"cdc": "cdc", "fda": "fda", "rrdb": "dasr"}.get(identify(state) or "")


def _first_keys(state: dict[str, torch.Tensor], count: int = 4) -> str:
    shown = ", ".join(f"{key} {list(value.shape)}" for key, value in list(state.items())[:count])
    return f"{len(state)} tensors, first {shown}"


def load_spandrel(state: dict[str, torch.Tensor], path: str | Path) -> ModelDescriptor | None:
    """The spandrel architecture that recognises ``state``, wrapped for srx's tiled inference; None if none."""
    import spandrel

    support = next((s for s in spandrel.MAIN_REGISTRY.architectures("detection") if s.detect(state)), None)
    if support is None:
        return None
    name = support.architecture.name
    try:
        with warnings.catch_warnings():  # upstream model code warns about torch deprecations while building
            warnings.simplefilter("ignore")
            found = support.architecture.load(state)
    except Exception as exc:  # an architecture's loader raises whatever its shape inference hits
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise CheckpointError(f"'{path}' looks like {name} (spandrel), but its tensors do not load: {text}") from None
    if not isinstance(found, spandrel.ImageModelDescriptor):
        raise CheckpointError(f"'{path}' is a {name} {found.purpose.lower()} model; srx run takes image upscalers")
    if found.purpose == "FaceSR":
        raise CheckpointError(
            f"'{path}' is {name}, a face restoration model for aligned face crops; srx run takes whole-image upscalers"
        )
    channels = (found.input_channels, found.output_channels)
    if channels not in ((3, 3), (1, 1)):
        raise CheckpointError(
            f"'{path}' is {name} with {channels[0]} input and {channels[1]} output channels; "
            "srx run takes RGB (or gray) models"
        )
    forward = found if channels == (3, 3) else _gray_forward(found)
    requirements = found.size_requirements
    tiling = found.tiling
    return ModelDescriptor(
        name=f"{name} (spandrel)",
        module=found.model,
        scale=found.scale,
        forward=forward,
        size_multiple=requirements.multiple_of,
        tile_pad=SPANDREL_DISCOURAGED_TILE_PAD if tiling is spandrel.ModelTiling.DISCOURAGED else SPANDREL_TILE_PAD,
        bytes_per_lr_pixel=SPANDREL_BYTES_PER_LR_PIXEL,
        supports_half=found.supports_half,
        whole_image=tiling is spandrel.ModelTiling.INTERNAL or requirements.square,
    )


def _gray_forward(found):
    """A one-channel model runs on the RGB mean; its output is replicated (srx averages gray outputs back)."""

    def forward(x: torch.Tensor) -> torch.Tensor:
        return found(x.mean(dim=1, keepdim=True)).repeat(1, 3, 1, 1)

    return forward


def load_auto(path: str | Path, *, maps_path: str | Path | None = None) -> ModelDescriptor:
    """The upscaler in ``path``, whatever it is; one-line CheckpointError naming what was found otherwise."""
    raw = read_checkpoint(path)
    method = srx_architecture(raw, path, has_maps=maps_path is not None)
    if method == "dasr":
        try:
            model = load_model("dasr", path)
            model.name = "ESRGAN RRDBNet (srx)"
            return model
        except CheckpointError:
            method = None  # an RRDB variant srx does not build (channels, unshuffle): spandrel may
    if method is not None:
        if maps_path is not None and method != "dada":
            raise CheckpointError(f"--maps-weights is only used with DADA checkpoints; '{path}' is {method}")
        model = load_model(method, path, maps_path=maps_path)
        model.name = f"{method} (srx)"
        return model
    state = extract_state_dict(raw, source=f"'{path}'")
    if maps_path is not None:
        raise CheckpointError(f"--maps-weights is only used with DADA checkpoints; '{path}' is not one")
    model = load_spandrel(state, path)
    if model is not None:
        return model
    kind = identify(state)
    if kind is not None:  # srx knows what it is, and it is not an upscaler
        hint = " (srx degrade runs degradation networks)" if kind in ("deresnet", "ddnsr-degradation") else ""
        what = TITLES[kind] if kind == "discriminator" else f"{TITLES[kind]} weights"
        raise CheckpointError(f"'{path}' holds {what}, not an upscaler srx run can use{hint}")
    raise CheckpointError(f"'{path}': no known architecture (srx or spandrel) matches its {_first_keys(state)}")
