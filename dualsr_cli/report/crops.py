"""Choosing and cutting the crop that a comparison shows: pure functions on (H, W, C) float images."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError


@dataclass(frozen=True)
class Crop:
    """A rectangle in image pixels: left ``x``, top ``y``, width ``w``, height ``h``."""

    x: int
    y: int
    w: int
    h: int

    def __post_init__(self) -> None:
        if self.x < 0 or self.y < 0 or self.w < 1 or self.h < 1:
            raise ConfigError(f"crop {self.describe()} must have x, y >= 0 and w, h >= 1")

    def describe(self) -> str:
        return f"{self.x},{self.y},{self.w},{self.h}"

    def clipped(self, height: int, width: int) -> Crop | None:
        """The part of the crop inside a ``height`` x ``width`` image; None when it lies outside."""
        x1, y1 = min(self.x + self.w, width), min(self.y + self.h, height)
        if self.x >= width or self.y >= height:
            return None
        return Crop(self.x, self.y, x1 - self.x, y1 - self.y)

    def cut(self, image: np.ndarray) -> np.ndarray:
        """(H, W, ...) -> (h, w, ...)."""
        return image[self.y : self.y + self.h, self.x : self.x + self.w]


def parse_crop(text: str) -> Crop:
    """``"x,y,w,h"`` (image pixels) -> Crop; anything else is a ConfigError naming the expected form."""
    parts = [p.strip() for p in text.split(",")]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4:
        raise ConfigError(f"crop '{text}' must be four integers x,y,w,h (left, top, width, height in pixels)")
    return Crop(*values)


def _window_sums(values: np.ndarray, h: int, w: int) -> np.ndarray:
    """(H, W) -> (H-h+1, W-w+1): the sum of every h x w window (summed-area table)."""
    table = np.pad(values, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    return table[h:, w:] - table[:-h, w:] - table[h:, :-w] + table[:-h, :-w]


def most_different_crop(outputs: list[np.ndarray], reference: np.ndarray | None, size: int) -> Crop:
    """The ``size`` x ``size`` window (smaller for small images) where the outputs disagree most.

    ``outputs``: (H, W, C) images of the same scene; ``reference``: the GT, used when there is only one
    output (then the window where that output is furthest from the GT wins). Disagreement is the per-pixel
    variance of the channel mean across outputs, summed over the window; ties go to the top-left one.
    """
    if not outputs:
        raise ValueError("most_different_crop needs at least one image")
    height = min(o.shape[0] for o in outputs)
    width = min(o.shape[1] for o in outputs)
    stack = [np.asarray(o, dtype=np.float32)[:height, :width].mean(axis=2) for o in outputs]
    if len(stack) == 1 and reference is not None:
        stack.append(np.asarray(reference, dtype=np.float32)[:height, :width].mean(axis=2))
    spread = np.var(np.stack(stack), axis=0).astype(np.float64)  # summed in float64: long sums stay exact
    h, w = min(size, height), min(size, width)
    sums = _window_sums(spread, h, w)
    top, left = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return Crop(int(left), int(top), w, h)
