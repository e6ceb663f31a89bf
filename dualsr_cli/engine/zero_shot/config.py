"""Settings of one DualSR zero-shot run.

Defaults are the official code's (``docs/dualsr.md`` §4–5; the quirks §10).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal

from ...errors import ConfigError
from ...validation import (
    MAX_BATCH,
    MAX_SIDE,
    check_int,
    check_iterations,
    check_positive_float,
    check_seed,
    check_weight,
)

if TYPE_CHECKING:
    import torch

SCALES = (2, 4)
X4Method = Literal["twice", "joint", "joint-zssr", "x2-zssr"]
X4_METHODS: tuple[X4Method, ...] = ("twice", "joint", "joint-zssr", "x2-zssr")
# x2-zssr: measured best on the x4 benchmark's three photos at 3000 iterations (benchmarks/zero_shot_quality.py
# --scale 4; the figures and the time against the x2 run are in README "x4")
DEFAULT_X4_METHOD: X4Method = "x2-zssr"

DEFAULT_ITERS = 3000
HR_CROP = 128
MIN_HR_CROP = 64
TRAINING_BORDER = 10
# An image must leave at least a MIN_HR_CROP square after the 10-pixel training border on each side.
# The same 84 px hold at x4: ``twice`` starts with an x2 run on the input, and ``joint`` trains on the same
# 64..128 px crops of the input (its LR crops are a quarter of that, 16..32 px).
MIN_IMAGE_SIDE = MIN_HR_CROP + 2 * TRAINING_BORDER
MAX_INPUT_MEGAPIXELS = 40.0
# The second stage of joint-zssr and x2-zssr (zssr_x4.py): ZSSR-style G_UP training on the image and its learned-kernel
# downscale, for a third of the joint run's iterations (1000 at the default 3000), 4 crop pairs per step
ZSSR_ITERS_DIVISOR = 3
ZSSR_BATCH = 4
ZSSR_LR = 1e-3
# x2-zssr follows KernelGAN+ZSSR on DIV2KRK around that stage: the x2 kernel's negligible taps are dropped
# before it is composed (KernelGAN's n_filtering = 40), and the x4 output is back-projected with the x4
# kernel (ZSSR's back-projection; KernelGAN's ZSSR config runs 2 + 2 steps, srx 2: see README "x4")
KERNEL_KEEP_TAPS = 40
BACK_PROJECTION_STEPS = 2
MAX_BACK_PROJECTION_STEPS = 20


@dataclass(frozen=True)
class OfficialQuirks:
    """Behaviours of the official code that change results; all on by default for faithfulness.

    ``--corrected`` on the CLI turns every one of them off.
    """

    channel_sum_bicubic: bool = True  # L_bic target is the R+G+B sum of the bicubic downscale
    stale_fake_lr: bool = True  # D trains on G_DN(y) from before this iteration's G_DN update
    offset_lr_schedule: bool = True  # G_DN/D_DN lr steps one iteration after G_UP's
    truncated_imresize: bool = True  # Python imresize clone truncates instead of mirroring at top/left

    @classmethod
    def corrected(cls) -> OfficialQuirks:
        return cls(False, False, False, False)

    def names_on(self) -> list[str]:
        return [name for name, on in asdict(self).items() if on]


def check_back_projection_applies(scale: int, x4_method: str, flag: str = "--back-projection") -> None:
    """Refuse a back-projection step count where no back-projection runs, so that it is not silently ignored.

    Only called when the user set the count: the config's default applies to every run and is unused by most.
    """
    if scale != 4 or x4_method != "x2-zssr":
        raise ConfigError(f"{flag} applies to --scale 4 with the x4 method x2-zssr only")


@dataclass(frozen=True)
class ZeroShotConfig:
    """One DualSR run per image: scale, schedule length, loss weights, optimiser and runtime settings.

    ``scale=4`` runs ``x4_method``: ``joint`` (one run with an x4 upsampler and G_DN's kernel applied twice),
    ``joint-zssr`` (that run, then a fresh x4 G_UP trained ZSSR-style with its kernel), ``x2-zssr`` (a DualSR
    x2 run for its kernel only, then that ZSSR-style stage) or ``twice`` (DualSR x2, then a fresh DualSR x2
    on its result); ``x4_method`` is ignored at x2. ``back_projection_steps`` finishes ``x2-zssr`` only (0 for
    noisy photos, as KernelGAN's ZSSR settings for real images do: back-projection would sharpen the noise).
    """

    scale: int = 2
    x4_method: X4Method = DEFAULT_X4_METHOD
    back_projection_steps: int = BACK_PROJECTION_STEPS
    iters: int = DEFAULT_ITERS
    seed: int = 0
    lambda_cycle: float = 5.0
    lambda_interp: float = 2.0
    lambda_regularization: float = 2.0
    lr_g_up: float = 1e-3
    lr_g_dn: float = 2e-4
    lr_d_dn: float = 2e-4
    beta1: float = 0.5
    batch_size: int = 2
    hr_crop: int = HR_CROP
    quirks: OfficialQuirks = field(default_factory=OfficialQuirks)
    device: str = "auto"
    tile: int | None = None  # LR tile side for inference; None = automatic, 0 = untiled
    channels_last: bool = True

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ConfigError(f"--scale {self.scale} is not supported: DualSR zero-shot upscales x2 or x4")
        if self.x4_method not in X4_METHODS:
            raise ConfigError(f"--x4-method must be one of {', '.join(X4_METHODS)} (got '{self.x4_method}')")
        check_int("--back-projection", self.back_projection_steps, low=0, high=MAX_BACK_PROJECTION_STEPS)
        check_iterations("--iters", self.iters)
        check_seed("--seed", self.seed)
        check_int("batch size", self.batch_size, low=1, high=MAX_BATCH)
        if self.hr_crop < MIN_HR_CROP or self.hr_crop % 4 or self.hr_crop > MAX_SIDE:
            raise ConfigError(f"HR crop must be a multiple of 4 and at least {MIN_HR_CROP} (got {self.hr_crop})")
        for name in ("lambda_cycle", "lambda_interp", "lambda_regularization"):
            check_weight(f"--{name.replace('_', '-')}", getattr(self, name))
        for name in ("lr_g_up", "lr_g_dn", "lr_d_dn"):
            check_positive_float(f"learning rate {name}", getattr(self, name), high=1.0)
        if not 0 <= self.beta1 < 1:
            raise ConfigError(f"Adam beta1 must be in [0, 1), got {self.beta1}")
        if self.tile is not None:
            check_int("--tile", self.tile, low=0, high=MAX_SIDE, hint="0 turns tiling off")

    @property
    def zssr_iters(self) -> int:
        """Iterations of the ZSSR-style second stage of joint-zssr and x2-zssr."""
        return max(1, self.iters // ZSSR_ITERS_DIVISOR)

    def to_dict(self) -> dict:
        return asdict(self)


PRECISIONS = ("fp32", "tf32", "bf16")
STACKINGS = ("auto", "grouped", "per-network", "sequential")


@dataclass(frozen=True)
class BatchSettings:
    """How many runs train together and how: ``--batch-images``, ``--ensemble``, ``--precision``, ``--cuda-graphs``."""

    images: int = 1
    ensemble: int = 1
    precision: str = "fp32"
    cuda_graphs: bool = False
    stacking: str = "auto"

    def __post_init__(self) -> None:
        if self.images < 1:
            raise ConfigError(f"--batch-images must be at least 1 (got {self.images})")
        if self.ensemble < 1:
            raise ConfigError(f"--ensemble must be at least 1 (got {self.ensemble})")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)} (got '{self.precision}')")
        if self.stacking not in STACKINGS:
            raise ConfigError(f"stacking must be one of {', '.join(STACKINGS)} (got '{self.stacking}')")
        if self.stacking == "sequential" and (self.cuda_graphs or self.precision != "fp32"):
            raise ConfigError("--cuda-graphs and --precision need a stacked computation, not sequential stacking")

    @property
    def needs_batched_engine(self) -> bool:
        return self.images > 1 or self.ensemble > 1 or self.precision != "fp32" or self.cuda_graphs

    def check(self, config: ZeroShotConfig, device: torch.device) -> None:
        """Refuse what this engine cannot do, before any training starts."""
        if config.scale != 2:
            raise ConfigError(
                "--batch-images, --ensemble, --precision and --cuda-graphs support x2 only "
                f"(got --scale {config.scale})"
            )
        if self.precision != "fp32" and device.type != "cuda":
            raise ConfigError(f"--precision {self.precision} needs a CUDA device; on {device.type} srx trains in fp32")
        if self.cuda_graphs and device.type != "cuda":
            raise ConfigError(f"--cuda-graphs needs a CUDA device (got {device.type})")

    def resolved_stacking(self, device: torch.device) -> str:
        if self.stacking != "auto":
            return self.stacking
        return "grouped" if device.type == "cuda" else "sequential"
