"""Settings of an ``srx adapt`` job. Paper schedules are the defaults; ``--preset smoke`` and the
``--iters/--batch-size/--patch-size`` options override them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..errors import ConfigError
from ..validation import MAX_BATCH, MAX_ITERATIONS, MAX_SIDE, check_int, check_seed, check_weight

METHODS = ("dada", "dasr", "ddnsr", "fda")
LAYOUTS = ("drealsr", "aim2019", "ntire2020")
FDA_LAMBDA_ALIGN = 0.01  # FDA's alignment weight: srx's choice (docs/fda.md §4, USR_DA's value); the poster gives none


@dataclass(frozen=True)
class AdaptConfig:
    method: str
    data: Path
    out: Path
    source: str | None = None
    target: str | None = None
    scale: int = 4
    iters: int | None = None  # per stage; None = the paper's schedule
    batch_size: int | None = None  # per process; None = the paper's per stage
    patch_size: int | None = None  # LR patch side; None = the recipe's paper value
    val: int = 10
    select_on: str = "val"  # "test" reproduces the official code, which selects on the test images
    protocol: str = "cdc"
    eval_every: int = 1000
    save_every: int = 1000
    perceptual: str = "vgg"
    seed: int = 0
    device: str = "auto"
    preset: str = "paper"
    source_weights: Path | None = None
    resume: bool = False
    world_size: int = 1
    layout: str = "drealsr"  # fda paper mode: aim2019 or ntire2020 folder layouts
    fda_losses: str = "full"  # "rec": the FDA networks trained with L_rec alone (for comparison)
    fda_lambda_align: float = FDA_LAMBDA_ALIGN
    deviations: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown method '{self.method}' (use {', '.join(METHODS)})")
        if self.layout not in LAYOUTS:
            raise ConfigError(f"unknown --layout '{self.layout}' (use {', '.join(LAYOUTS)})")
        if self.layout != "drealsr" and self.method != "fda":
            raise ConfigError(f"--layout {self.layout} (paper mode) exists for --method fda only")
        if self.layout == "drealsr" and not (self.source and self.target):
            raise ConfigError(
                "--source and --target name the two DRealSR cameras (e.g. --source sony --target olympus)"
            )
        if self.fda_losses not in ("full", "rec"):
            raise ConfigError("--fda-losses must be full or rec")
        check_weight("--fda-lambda-align", self.fda_lambda_align)
        if self.method != "fda" and (self.fda_losses != "full" or self.fda_lambda_align != FDA_LAMBDA_ALIGN):
            raise ConfigError("--fda-losses and --fda-lambda-align exist for --method fda only")
        if self.select_on not in ("val", "test"):
            raise ConfigError("--select-on must be val or test")
        if self.perceptual not in ("vgg", "none"):
            raise ConfigError(f"unknown --perceptual '{self.perceptual}' (use vgg or none)")
        if self.preset not in ("paper", "smoke"):
            raise ConfigError("--preset must be paper or smoke")
        if self.scale != 4:
            raise ConfigError("srx adapt trains x4 models (DRealSR x4, as DADA/DASR/DDNSR)")
        limits = {"iters": MAX_ITERATIONS, "batch_size": MAX_BATCH, "patch_size": MAX_SIDE}
        for name, high in limits.items():
            value = getattr(self, name)
            if value is not None:
                check_int(f"--{name.replace('_', '-')}", value, low=1, high=high)
        check_seed("--seed", self.seed)
        selects_on_val = self.layout == "drealsr" and self.select_on == "val"
        check_int(
            "--val",
            self.val,
            low=1 if selects_on_val else 0,
            high=1_000_000,
            hint="it counts the target training pairs held out for model selection",
        )
        for name in ("eval_every", "save_every"):
            check_int(
                f"--{name.replace('_', '-')}",
                getattr(self, name),
                low=1,
                high=MAX_ITERATIONS,
                hint="it is an interval in iterations",
            )
        check_int("world size", self.world_size, low=1, high=1_000_000)
        if self.patch_size is not None and self.method == "dada" and self.patch_size % 16:
            raise ConfigError("DADA's CDC network needs --patch-size to be a multiple of 16")

    @classmethod
    def smoke(cls, **kwargs) -> AdaptConfig:
        """Tiny counts for CPU checks: a few iterations per stage on 16 px LR patches (24 for fda)."""
        patch = 24 if kwargs.get("method") == "fda" else 16  # FDA's PatchGANs on LR images need >= 24 px
        base = {
            "iters": 4,
            "batch_size": 2,
            "patch_size": patch,
            "val": 2,
            "eval_every": 2,
            "save_every": 2,
            "preset": "smoke",
        }
        return cls(**{**base, **{k: v for k, v in kwargs.items() if v is not None}})

    def stage_value(self, name: str, paper: int) -> int:
        value = getattr(self, name)
        return paper if value is None else value

    def to_dict(self) -> dict:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}

    def with_deviation(self, text: str) -> AdaptConfig:
        return replace(self, deviations=[*self.deviations, text])
