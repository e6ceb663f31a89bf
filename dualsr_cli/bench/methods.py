"""Methods that ``srx bench`` can evaluate, by name: ``bicubic``, ``dualsr[:key=value,...]``.

A method turns one LR image into an SR image (floats in [0, 1], unquantised) and, if it estimates one, a
blur kernel. New methods (the pretrained runners) plug in with one entry in ``METHODS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import ClassVar, Protocol

import numpy as np

from ..errors import ConfigError
from ..image_io import ImageData


@dataclass(frozen=True)
class MethodOutput:
    sr: np.ndarray  # (H, W, C) float in [0, 1], not yet quantised
    kernel: np.ndarray | None = None
    seconds: float | None = None  # this image's share of a batch's time, when images are trained together


class Method(Protocol):
    key: str  # canonical "name[:options]", the resume key of results.csv
    estimates_kernel: bool

    def upscale(self, lr: ImageData) -> MethodOutput: ...


@dataclass
class MethodContext:
    """What every method may need from the run: scale, device, tiling and a progress hook."""

    scale: int
    device: str = "auto"
    tile: int | None = None
    on_step: Callable[[int, object], None] | None = None


def _parse_options(text: str, allowed: dict[str, type], method: str) -> dict[str, object]:
    options: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in allowed:
            known = ", ".join(f"{k}=<{t.__name__}>" for k, t in allowed.items()) or "none"
            raise ConfigError(f"bad option '{part}' for method '{method}' (options: {known})")
        kind = allowed[key]
        try:
            options[key] = value.strip().lower() in ("1", "true", "yes", "on") if kind is bool else kind(value)
        except ValueError:
            raise ConfigError(f"option '{key}' of method '{method}' must be a {kind.__name__}, got '{value}'") from None
    return options


def _key(name: str, options: dict[str, object]) -> str:
    if not options:
        return name
    return name + ":" + ",".join(f"{k}={options[k]}" for k in sorted(options))


class Bicubic:
    """MATLAB ``imresize(lr, scale, 'bicubic')`` (symmetric borders)."""

    estimates_kernel = False

    def __init__(self, option_text: str, context: MethodContext) -> None:
        _parse_options(option_text, {}, "bicubic")
        self.key = "bicubic"
        self.scale = context.scale

    def upscale(self, lr: ImageData) -> MethodOutput:
        from ..ops.resize import imresize

        color = lr.color.astype(np.float64) / lr.max_value
        return MethodOutput(imresize(color, float(self.scale), boundary="symmetric"))


class DualSRMethod:
    """srx's zero-shot DualSR engine, trained per image (options: iters, seed, corrected, lambdas;
    x4=twice|joint|joint-zssr|x2-zssr; back_projection for x2-zssr; batch, ensemble).

    Runs at the dataset's scale (x2 or x4); ``x4`` picks the x4 method and is refused at x2. ``batch=N`` trains
    the next N images of the run together (lockstep, each its own networks and seed); the runner announces the
    images through ``plan`` and each gets 1/N of the batch's time.
    """

    estimates_kernel = True
    OPTIONS: ClassVar[dict[str, type]] = {
        "iters": int,
        "seed": int,
        "corrected": bool,
        "lambda_cycle": float,
        "lambda_interp": float,
        "x4": str,
        "back_projection": int,
        "batch": int,
        "ensemble": int,
    }

    def __init__(self, option_text: str, context: MethodContext) -> None:
        from ..engine.zero_shot.config import SCALES, OfficialQuirks, ZeroShotConfig

        if context.scale not in SCALES:
            raise ConfigError(
                f"method 'dualsr' upscales x2 or x4; the dataset is evaluated at x{context.scale} (use --scale 2 or 4)"
            )
        from ..engine.zero_shot.config import DEFAULT_X4_METHOD, BatchSettings, check_back_projection_applies

        options = _parse_options(option_text, self.OPTIONS, "dualsr")
        if "x4" in options and context.scale != 4:
            raise ConfigError("option 'x4' of method 'dualsr' applies to x4 datasets only (use --scale 4)")
        self.key = _key("dualsr", options)
        self.batch = BatchSettings(images=int(options.get("batch", 1)), ensemble=int(options.get("ensemble", 1)))
        renamed = ("corrected", "x4", "back_projection", "batch", "ensemble")
        settings = {k: v for k, v in options.items() if k not in renamed}
        if "x4" in options:
            settings["x4_method"] = str(options["x4"]).strip().lower()
        if "back_projection" in options:
            x4_method = str(settings.get("x4_method", DEFAULT_X4_METHOD))
            check_back_projection_applies(context.scale, x4_method, "option 'back_projection' of method 'dualsr'")
            settings["back_projection_steps"] = options["back_projection"]
        config = ZeroShotConfig(scale=context.scale, device=context.device, tile=context.tile, **settings)
        if options.get("corrected"):
            config = replace(config, quirks=OfficialQuirks.corrected())
        self.config = config
        self.context = context
        self.upcoming: list[str] = []
        self.done: dict[str, MethodOutput] = {}

    def plan(self, paths: list[str]) -> None:
        """The LR images this method will be asked for, in order (lets ``batch=N`` train them N at a time)."""
        self.upcoming = list(paths)

    def check_input(self, width: int, height: int, path) -> None:
        """DualSR's size limits, checked from the header so that such a pair is skipped before any training."""
        from ..engine.zero_shot.pipeline import check_input_size

        check_input_size(width, height, path)

    def upscale(self, lr: ImageData) -> MethodOutput:
        from ..engine.zero_shot.pipeline import Hooks, super_resolve
        from ..runtime.device import configure_determinism, resolve_device

        device = resolve_device(self.config.device)
        configure_determinism(device)
        hooks = Hooks(on_step=self.context.on_step)
        if not self.batch.needs_batched_engine:
            result = super_resolve(lr, self.config, device, hooks=hooks)
            return MethodOutput(result.color, kernel=result.kernel)
        key = str(lr.path)
        if key not in self.done:
            self._train_batch_from(lr, device, hooks)
        return self.done.pop(key)

    def _train_batch_from(self, lr: ImageData, device, hooks) -> None:
        """Train ``lr`` with the next planned images of the same crop size, up to ``batch`` of them."""
        import time

        from ..engine.zero_shot.batched import super_resolve_batch, training_crop_side
        from ..image_io import read_image

        self.batch.check(self.config, device)
        crop = training_crop_side(lr, self.config)
        images = [lr]
        position = self.upcoming.index(str(lr.path)) if str(lr.path) in self.upcoming else len(self.upcoming)
        for path in self.upcoming[position + 1 :]:
            if len(images) == self.batch.images:
                break
            candidate = read_image(path)
            if training_crop_side(candidate, self.config) == crop:
                images.append(candidate)
        start = time.perf_counter()
        outcomes = super_resolve_batch(images, self.config, self.batch, device, hooks=hooks)
        share = (time.perf_counter() - start) / len(images)
        for image, outcome in zip(images, outcomes, strict=True):
            if str(image.path) in self.upcoming:
                self.upcoming.remove(str(image.path))
            resolved = outcome.resolved
            self.done[str(image.path)] = MethodOutput(resolved.color, kernel=resolved.kernel, seconds=share)


class PretrainedMethod:
    """A checkpoint run by ``srx run``'s engine: ``dasr:PATH``, ``cdc:PATH``, ``ddnsr:PATH``,
    ``dada:PATH,maps=SOURCE_PATH``, ``auto:PATH`` (any architecture ``srx run auto`` recognises)."""

    estimates_kernel = False

    def __init__(self, arch: str, option_text: str, context: MethodContext) -> None:
        from ..archs import load_model
        from ..engine.infer import RunOptions, prepare
        from ..runtime.device import resolve_device

        path, _, maps = option_text.partition(",maps=")
        if not path:
            example = f"{arch}:DADA.pth,maps=SOURCE.pth" if arch == "dada" else f"{arch}:WEIGHTS.pth"
            raise ConfigError(f"method '{arch}' needs a checkpoint, e.g. -m {example}")
        self.key = f"{arch}:{option_text}"
        self.device = resolve_device(context.device)
        self.model = prepare(load_model(arch, path, maps_path=maps or None), self.device, half=False)
        if self.model.scale != context.scale:
            raise ConfigError(
                f"'{path}' is a x{self.model.scale} model but the dataset is evaluated at x{context.scale}"
            )
        self.options = RunOptions(tile=context.tile)

    def upscale(self, lr: ImageData) -> MethodOutput:
        from ..engine.infer import upscale_pixels
        from ..engine.postprocess import from_network_output, to_network_input

        output = upscale_pixels(self.model, to_network_input(lr), self.options, self.device)
        return MethodOutput(from_network_output(output, lr)[0])


def _pretrained(arch: str) -> Callable[[str, MethodContext], Method]:
    return lambda option_text, context: PretrainedMethod(arch, option_text, context)


MethodFactory = Callable[[str, MethodContext], Method]
METHODS: dict[str, MethodFactory] = {
    "bicubic": Bicubic,
    "dualsr": DualSRMethod,
    "dada": _pretrained("dada"),
    "cdc": _pretrained("cdc"),
    "dasr": _pretrained("dasr"),
    "ddnsr": _pretrained("ddnsr"),
    "fda": _pretrained("fda"),
    "auto": _pretrained("auto"),
}


def with_baseline(specs: list[str]) -> list[str]:
    """``specs`` with ``bicubic`` first if it is missing: the report shows every method beside bicubic."""
    names = [spec.partition(":")[0].strip().lower() for spec in specs]
    return specs if "bicubic" in names else ["bicubic", *specs]


def build_method(spec: str, context: MethodContext) -> Method:
    """``name`` or ``name:options`` -> a ready method; unknown names list the registry."""
    name, _, option_text = spec.partition(":")
    factory = METHODS.get(name.strip().lower())
    if factory is None:
        raise ConfigError(f"unknown method '{name}' (available: {', '.join(METHODS)})")
    return factory(option_text, context)
