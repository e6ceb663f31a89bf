"""Training data of the cross-camera recipes: DRealSR cameras, splits and seeded patch sampling.

The source camera contributes LR/HR training pairs; the target camera only LR images for training. A
validation split of target LR/HR training pairs (``--val N``) is held out for model selection, and the
target's test pairs never enter training. Patches are drawn with a ``numpy`` Generator whose state is
part of every checkpoint, so a resumed run draws exactly the patches an uninterrupted run would.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..datasets import DREALSR_CAMERAS, PAPER_LAYOUTS, Pair, challenge_folders, detect
from ..errors import ConfigError, ImageReadError
from ..image_io import read_image

CAMERA_NAMES = sorted(set(DREALSR_CAMERAS.values()))


def camera_name(text: str) -> str:
    """'sony' / 'Sony' / 'olympus' -> the canonical camera name; an unknown name lists the known ones."""
    for name in CAMERA_NAMES:
        if text.strip().lower() == name.lower():
            return name
    raise ConfigError(f"unknown camera '{text}' (known: {', '.join(n.lower() for n in CAMERA_NAMES)})")


@dataclass
class CrossCameraData:
    scale: int
    source: str
    target: str
    source_train: list[Pair]
    target_train: list[Pair]  # only their LR is used for training
    validation: list[Pair]  # held-out target training pairs, for model selection
    target_test: list[Pair]  # never used in training; for --select-on test and final evaluation
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def summary(self) -> str:
        if not self.counts:
            return (
                f"paper mode: {len(self.source_train)} clean HR images (source, bicubic LR), "
                f"{len(self.target_train)} real LR images ({self.target}), {len(self.target_test)} validation "
                "pairs for the final evaluation (no selection: the last checkpoint is kept)"
            )
        lines = ["DRealSR pairs per camera (train / test):"]
        for camera in CAMERA_NAMES:
            c = self.counts.get(camera, {})
            if c:
                lines.append(f"  {camera:10s} {c.get('train', 0):6d} / {c.get('test', 0):4d}")
        lines.append(
            f"source {self.source}: {len(self.source_train)} training pairs; target {self.target}: "
            f"{len(self.target_train)} LR images for training, {len(self.validation)} held-out validation pairs, "
            f"{len(self.target_test)} test pairs (kept out of training)"
        )
        return "\n".join(lines)


def load_cross_camera(
    root: str | Path, source: str, target: str, *, scale: int = 4, val: int = 10, seed: int = 1
) -> CrossCameraData:
    """DRealSR ``Train_x<s>``/``Test_x<s>`` pairs split into source, target, validation and test."""
    source, target = camera_name(source), camera_name(target)
    if source == target:
        raise ConfigError(f"--source and --target are both {source}; cross-camera adaptation needs two cameras")
    root = Path(root)
    try:
        train = detect(root, layout="drealsr", scale=scale, split="train")
    except ImageReadError:
        raise ImageReadError(
            f"no DRealSR training pairs in '{root}': expected x{scale}/Train_x{scale}/train_HR and train_LR "
            f"(and Test_x{scale}/test_HR, test_LR)"
        ) from None
    try:
        test = detect(root, layout="drealsr", scale=scale, split="test").pairs
    except ImageReadError:
        test = []
    counts: dict[str, dict[str, int]] = {}
    for split_name, pairs in (("train", train.pairs), ("test", test)):
        for camera, n in Counter(p.camera for p in pairs if p.camera).items():
            counts.setdefault(camera, {})[split_name] = n
    source_train = [p for p in train.pairs if p.camera == source]
    target_pool = [p for p in train.pairs if p.camera == target]
    if not source_train:
        raise ConfigError(f"source camera {source} has no training LR/HR pairs in '{root}'")
    if not target_pool:
        raise ConfigError(f"target camera {target} has no training LR images in '{root}'")
    if val >= len(target_pool):
        raise ConfigError(f"--val {val} leaves no target training images ({target} has {len(target_pool)})")
    order = np.random.default_rng(seed).permutation(len(target_pool))
    validation = [target_pool[i] for i in sorted(order[:val])]
    held_out = {p.item for p in validation}
    return CrossCameraData(
        scale=train.scale,
        source=source,
        target=target,
        source_train=source_train,
        target_train=[p for p in target_pool if p.item not in held_out],
        validation=validation,
        target_test=[p for p in test if p.camera == target],
        counts=counts,
    )


def check_patch_fits(pairs: list[Pair], lr_patch: int) -> None:
    """Refuse, from the headers alone, a ``--patch-size`` larger than an LR training image."""
    from ..image_io import read_header

    for pair in pairs:
        width, height = read_header(pair.lr)
        if min(width, height) < lr_patch:
            raise ConfigError(
                f"--patch-size {lr_patch} is larger than the training image '{pair.lr}' ({width}x{height}); "
                "use a smaller --patch-size"
            )


class ImageCache:
    """Decoded images as float32 CHW arrays, kept in memory up to a budget (training patches are small)."""

    def __init__(self, budget_bytes: int = 2 << 30) -> None:
        self.budget = budget_bytes
        self.used = 0
        self.store: dict[Path, np.ndarray] = {}

    def get(self, path: Path) -> np.ndarray:
        cached = self.store.get(path)
        if cached is not None:
            return cached
        array = np.ascontiguousarray(read_image(path).rgb_float64().transpose(2, 0, 1), dtype=np.float32)
        if self.used + array.nbytes <= self.budget:
            self.store[path] = array
            self.used += array.nbytes
        return array


def augment(array: np.ndarray, flip_h: bool, flip_v: bool, turns: int) -> np.ndarray:
    """Flips and 90° turns of a (C, H, W) array, the same for every array of a sample."""
    if flip_h:
        array = array[:, :, ::-1]
    if flip_v:
        array = array[:, ::-1, :]
    return np.rot90(array, turns, axes=(1, 2))


class PatchSampler:
    """Random LR patches (and the aligned HR patch) with flips and 90° rotations, from a seeded Generator."""

    def __init__(self, pairs: list[Pair], *, scale: int, lr_patch: int, seed: int, cache: ImageCache) -> None:
        if not pairs:
            raise ConfigError("no images to sample patches from")
        self.pairs, self.scale, self.lr_patch, self.cache = pairs, scale, lr_patch, cache
        self.rng = np.random.default_rng(seed)

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state

    def draw(self, batch: int, *, with_hr: bool = True, geometry: list[tuple] | None = None):
        """(lr, hr or None, geometry): geometry lets a second sampler reuse crops and flips (DADA)."""
        lrs, hrs, used = [], [], []
        self.last_pairs: list[Pair] = []
        for b in range(batch):
            pair = self.pairs[int(self.rng.integers(len(self.pairs)))]
            self.last_pairs.append(pair)
            lr = self.cache.get(pair.lr)
            p = self.lr_patch
            if lr.shape[1] < p or lr.shape[2] < p:
                raise ConfigError(f"'{pair.lr}' is smaller than the {p}px training patch; use a smaller --patch-size")
            if geometry is None:
                top = int(self.rng.integers(lr.shape[1] - p + 1))
                left = int(self.rng.integers(lr.shape[2] - p + 1))
                flips = (bool(self.rng.integers(2)), bool(self.rng.integers(2)), int(self.rng.integers(4)))
            else:
                top, left, flips = geometry[b]
                top, left = min(top, lr.shape[1] - p), min(left, lr.shape[2] - p)
            used.append((top, left, flips))
            lrs.append(augment(lr[:, top : top + p, left : left + p], *flips))
            if with_hr:
                s = self.scale
                hr = self.cache.get(pair.hr)
                hrs.append(augment(hr[:, top * s : (top + p) * s, left * s : (left + p) * s], *flips))
        lr_t = torch.from_numpy(np.ascontiguousarray(np.stack(lrs)))
        hr_t = torch.from_numpy(np.ascontiguousarray(np.stack(hrs))) if with_hr else None
        return lr_t, hr_t, used


def load_paper_mode(
    root: str | Path, layout: str, cache: Path, *, scale: int = 4, is_main: bool = True
) -> CrossCameraData:
    """AIM 2019 / NTIRE 2020 layouts: T = the real LR set, S = clean HR with MATLAB-bicubic x1/scale copies.

    The bicubic copies are computed once into ``cache`` (rank 0 writes them). Validation pairs are the
    challenge's validation LR/HR, paired by sorted position; they are used only for the final evaluation.
    """
    from ..image_io import write_image
    from ..ops.resize import imresize

    root = Path(root)
    names = PAPER_LAYOUTS[layout]
    target_lr, clean_hr, valid_lr, valid_hr = challenge_folders(root, layout)
    if not target_lr or not clean_hr:
        raise ConfigError(f"the {layout} layout in '{root}' has no training images")
    source = []
    for hr in clean_hr:
        lr_path = cache / f"{hr.stem}.png"
        if is_main and not lr_path.exists():
            image = read_image(hr).rgb_float64()
            image = image[: image.shape[0] // scale * scale, : image.shape[1] // scale * scale]
            write_image(lr_path, np.clip(imresize(image, 1.0 / scale), 0, 1), mkdir=True)
        source.append(Pair(hr.stem, lr_path, hr, camera="clean"))
    target = [Pair(p.stem, p, p, camera="target") for p in target_lr]
    test = [Pair(lr.stem, lr, hr, camera="target") for lr, hr in zip(valid_lr, valid_hr, strict=False)]
    data = CrossCameraData(
        scale=scale,
        source="clean HR (bicubic x1/4)",
        target=names[0],
        source_train=source,
        target_train=target,
        validation=[],
        target_test=test,
    )
    data.counts = {}
    return data
