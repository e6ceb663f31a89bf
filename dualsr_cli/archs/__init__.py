"""Architecture registry: what a state_dict is, and how to build the model it belongs to.

``identify`` recognises a state_dict by its keys (detection is data, as in spandrel); ``load_model``
builds the network from tensor shapes, loads it strictly and returns a ``ModelDescriptor`` that tells the
inference engine the scale, the size multiple, a safe tile padding and the memory per LR pixel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn

from ..checkpoint import extract_state_dict, load_strict, read_checkpoint
from ..errors import CheckpointError
from .cdc import SIZE_MULTIPLE as CDC_SIZE_MULTIPLE

TITLES = {
    "cdc": "CDC / DADA up-sampler (HourGlassNetMultiScaleInt)",
    "rrdb": "ESRGAN RRDBNet (DASR SRN, DDNSR reconstruction)",
    "deresnet": "DASR DSN down-sampler (DeResnet)",
    "ddnsr-degradation": "DDNSR dual-input degradation network",
    "dualsr": "DualSR G_UP",
    "fda": "feature distribution alignment SR (Wang et al., ICCV 2021) E + G_SR",
    "discriminator": "a discriminator",
}


def identify(state: dict[str, torch.Tensor]) -> str | None:
    """Name of the architecture ``state`` belongs to (None if unknown)."""
    from .rrdb import layout_of

    keys = set(state)
    if any(k.startswith("E.body.") for k in keys) and any(k.startswith("G_SR.") for k in keys):
        return "fda"
    if {"conv_in.0.weight", "HG_0.down1.res_block.res.0.weight"} <= keys:
        return "cdc"
    if layout_of(state) is not None:
        return "rrdb"
    if {"block_input.0.weight", "down_sample.0.weight", "block_output.weight"} <= keys:
        return "deresnet"
    if {"noise.head.weight", "source.0.weight", "down.0.weight"} <= keys:
        return "ddnsr-degradation"
    if "model.14.weight" in keys and "model.0.weight" in keys and state["model.0.weight"].shape[-1] == 3:
        return "dualsr"
    last_conv = next((v for v in reversed(list(state.values())) if v.ndim == 4), None)
    patch_gan = last_conv is not None and last_conv.shape[0] == 1  # one logit per patch
    if patch_gan or any("linear" in k or k.startswith(("net.net.", "features.", "conv0_0")) for k in keys):
        return "discriminator"
    return None


@dataclass(frozen=True)
class TilingProfile:
    """How ``srx run`` tiles an architecture: context per tile side, and peak memory per LR pixel of a tile.

    ``tile_pad`` is enough context for tile seams below 1e-4 on the tested networks
    (``test_tiled_equals_untiled``). ``bytes_per_lr_pixel`` is srx's estimate of the peak, used to size
    automatic tiles from free memory (``ops.tiling.auto_tile_size``); ``benchmarks/run_speed.py`` measures
    the real peaks.
    """

    tile_pad: int
    bytes_per_lr_pixel: int


TILING = {
    "cdc": TilingProfile(tile_pad=32, bytes_per_lr_pixel=48 * 1024),
    "dada": TilingProfile(tile_pad=32, bytes_per_lr_pixel=64 * 1024),  # two CDCs: up_t and the maps' up_0
    "rrdb": TilingProfile(tile_pad=24, bytes_per_lr_pixel=24 * 1024),  # dasr, ddnsr
    "fda": TilingProfile(tile_pad=24, bytes_per_lr_pixel=24 * 1024),
}


@dataclass
class ModelDescriptor:
    """A loaded network plus what tiled inference needs to run it right."""

    name: str
    module: nn.Module
    scale: int
    forward: Callable[[torch.Tensor], torch.Tensor]
    size_multiple: int = 1
    tile_pad: int = 24  # LR pixels of context per tile side (enough for <=1e-4 tile seams on tested nets)
    bytes_per_lr_pixel: int = 16 * 1024
    supports_half: bool = True
    whole_image: bool = False  # run untiled unless --tile says otherwise (models that tile internally)

    def to(self, device: torch.device, dtype: torch.dtype = torch.float32) -> ModelDescriptor:
        self.module.to(device=device, dtype=dtype).eval()
        return self


def state_from_file(path: str | Path, *, prefer: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
    return extract_state_dict(read_checkpoint(path), prefer=prefer, source=f"'{path}'")


def _require(state: dict[str, torch.Tensor], wanted: str, path: str | Path, hint: str = "") -> None:
    found = identify(state)
    if found == wanted:
        return
    if found is None:
        raise CheckpointError(
            f"'{path}' is not a {TITLES[wanted]} checkpoint (unrecognised keys, e.g. {', '.join(list(state)[:3])})"
        )
    if found == "discriminator":
        raise CheckpointError(f"'{path}' holds a discriminator, not the {TITLES[wanted]} generator")
    raise CheckpointError(f"'{path}' holds {TITLES[found]} weights, not {TITLES[wanted]} weights{hint}")


def build_cdc(state: dict[str, torch.Tensor], path: str | Path) -> nn.Module:
    from .cdc import CDCNet, cdc_scale_from_keys

    _require(state, "cdc", path, " (srx run dasr/ddnsr take RRDB weights)")
    scale = cdc_scale_from_keys(state)
    if scale is None:
        raise CheckpointError(f"'{path}': cannot tell the CDC scale from its keys")
    net = CDCNet(scale=scale)
    load_strict(net, state, f"{TITLES['cdc']} x{scale}")
    return net


def build_rrdb(state: dict[str, torch.Tensor], path: str | Path) -> nn.Module:
    from .rrdb import RRDBNet, rrdb_arguments, to_original_layout

    _require(state, "rrdb", path, " (use srx run cdc or dada for CDC weights)")
    state = to_original_layout(state)
    try:
        arguments = rrdb_arguments(state)
        net = RRDBNet(**arguments)
    except (KeyError, ValueError, IndexError) as exc:
        raise CheckpointError(f"'{path}': cannot read RRDBNet hyper-parameters from its tensors ({exc})") from None
    load_strict(net, state, f"{TITLES['rrdb']} x{arguments['scale']} with {arguments['nb']} blocks")
    return net


def build_deresnet(state: dict[str, torch.Tensor], path: str | Path) -> nn.Module:
    from .deresnet import DeResNet, deresnet_arguments

    _require(state, "deresnet", path)
    arguments = deresnet_arguments(state)
    net = DeResNet(**arguments)
    load_strict(net, state, f"{TITLES['deresnet']} x{arguments['scale']}")
    return net


def build_fda(state: dict[str, torch.Tensor], path: str | Path) -> nn.Module:
    from .fda import FDAUpscaler, split_state
    from .rrdb import rrdb_arguments

    _require(state, "fda", path, " (srx run dasr takes plain RRDB weights)")
    encoder, decoder = split_state(state)
    try:
        arguments = rrdb_arguments(decoder)
        net = FDAUpscaler(features=encoder["body.0.weight"].shape[0], nb=arguments["nb"], scale=arguments["scale"])
    except (KeyError, ValueError, IndexError) as exc:
        raise CheckpointError(f"'{path}': cannot read the FDA networks' sizes from its tensors ({exc})") from None
    load_strict(
        net,
        {**{f"E.{k}": v for k, v in encoder.items()}, **{f"G_SR.{k}": v for k, v in decoder.items()}},
        f"{TITLES['fda']} x{arguments['scale']}",
    )
    return net


def _fda_state(path: str | Path) -> dict[str, torch.Tensor]:
    """srx's FDA checkpoint, or USR_DA's {'model_Enc', 'model_Dec_SR'} renamed to srx's keys."""
    raw = read_checkpoint(path)
    if isinstance(raw, dict) and {"model_Enc", "model_Dec_SR"} <= set(raw):
        from .fda import from_usr_da

        return from_usr_da(extract_state_dict(raw["model_Enc"]), extract_state_dict(raw["model_Dec_SR"]))
    return extract_state_dict(raw, source=f"'{path}'")


def load_model(arch: str, path: str | Path, *, maps_path: str | Path | None = None) -> ModelDescriptor:
    """Build the upscaler ``srx run <arch>`` runs: auto, dada, cdc, dasr, ddnsr or fda.

    ``cdc`` takes a CDC checkpoint's ``up`` or, from a DADA checkpoint, the adapted ``up_t`` alone.
    """
    if arch == "auto":
        from .auto import load_auto

        return load_auto(path, maps_path=maps_path)
    if arch == "cdc":
        net = build_cdc(state_from_file(path, prefer=("up", "up_t")), path)
        return ModelDescriptor(
            "cdc", net, net.scale, net.upscale, size_multiple=CDC_SIZE_MULTIPLE, **asdict(TILING["cdc"])
        )
    if arch == "dada":
        from .cdc import DADAUpscaler

        if maps_path is None:
            raise CheckpointError(
                "srx run dada needs --maps-weights: the source model (circle or CDC checkpoint) whose attention "
                "maps the official DADA test combines with up_t"
            )
        up_t = build_cdc(state_from_file(path, prefer=("up_t",)), path)
        up_0 = build_cdc(state_from_file(maps_path, prefer=("up",)), maps_path)
        net = DADAUpscaler(up_t, up_0)
        return ModelDescriptor("dada", net, net.scale, net, size_multiple=CDC_SIZE_MULTIPLE, **asdict(TILING["dada"]))
    if arch in ("dasr", "ddnsr"):
        net = build_rrdb(state_from_file(path, prefer=("reconstruction",)), path)
        return ModelDescriptor(arch, net, net.scale, net, size_multiple=net.unshuffle, **asdict(TILING["rrdb"]))
    if arch == "fda":
        net = build_fda(_fda_state(path), path)
        return ModelDescriptor("fda", net, net.scale, net, **asdict(TILING["fda"]))
    raise CheckpointError(f"unknown architecture '{arch}' (srx run takes auto, dada, cdc, dasr, ddnsr or fda)")


def load_degrader(path: str | Path) -> tuple[str, nn.Module]:
    """The HR -> LR network of a DSN (DASR) or DDNSR checkpoint: ('deresnet' | 'ddnsr', module)."""
    raw = read_checkpoint(path)
    if isinstance(raw, dict) and "degradation" in raw:
        from .ddnsr import DualInputDegradation

        state = extract_state_dict(raw["degradation"], source=f"'{path}'")
        net = DualInputDegradation(scale=int(raw.get("scale", 4)))
        load_strict(net, state, TITLES["ddnsr-degradation"])
        return "ddnsr", net
    state = extract_state_dict(raw, source=f"'{path}'")
    if identify(state) == "ddnsr-degradation":
        raise CheckpointError(
            f"'{path}' is a bare DDNSR degradation state_dict; srx needs the srx adapt checkpoint "
            "that also records its scale"
        )
    return "deresnet", build_deresnet(state, path)
