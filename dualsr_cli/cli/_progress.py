"""Progress display for every command: a rich bar on a terminal, plain lines in logs, nothing with --quiet."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ._common import stderr

if TYPE_CHECKING:
    from ..engine.zero_shot.trainer import StepLosses


class LiveBar:
    """Owns a rich Progress (description, bar, done/total, ETA, a detail text) only on an interactive stderr."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Progress | None = None
        if enabled and stderr.is_terminal:
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(bar_width=28), MofNCompleteColumn(),
                                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                TextColumn("{task.fields[detail]}"), console=stderr, refresh_per_second=4)  # fmt: skip

    def __enter__(self):
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc_info)

    def add(self, description: str, total: int | None, completed: int = 0):
        return self.bar.add_task(description, total=total, completed=completed, detail="") if self.bar else None

    def update(self, task, **fields) -> None:
        if self.bar is not None and task is not None:
            self.bar.update(task, **fields)


def format_losses(losses: StepLosses) -> str:
    return (
        f"G {losses.gan:.3f}  cyc {losses.cycle_forward + losses.cycle_backward:.3f}  "
        f"interp {losses.interpolation:.3f}  D {losses.discriminator:.3f}  Σk {losses.kernel_sum:.2f}"
    )


class TrainingProgress(LiveBar):
    """Plugs into ``pipeline.Hooks`` for a sequence of images; a line every 10 % when not on a terminal."""

    def __init__(self, *, quiet: bool, total_images: int) -> None:
        super().__init__(enabled=not quiet)
        self.quiet = quiet
        self.total_images = total_images
        self.image_index = 0
        self.task = None
        self.total = 0
        self.started = 0.0
        self.next_log = 0
        self.stage: tuple[int, int, str] | None = None

    def on_stage(self, stage: int, stages: int, what: str) -> None:
        """The next ``on_start`` is stage ``stage`` of ``stages`` of the same image (x4 ``twice``)."""
        self.stage = (stage, stages, what)

    def on_start(self, name: str, total: int) -> None:
        stage, self.stage = self.stage, None
        if stage is None or stage[0] == 1:
            self.image_index += 1
        self.total = total
        self.started = time.perf_counter()
        self.next_log = max(total // 10, 1)
        label = f"[{self.image_index}/{self.total_images}] {name}" if self.total_images > 1 else name
        if stage is not None:
            label += f" · stage {stage[0]}/{stage[1]} ({stage[2]})"
        if self.bar is not None:
            self.task = self.add(label, total)
        elif not self.quiet:
            stderr.print(f"training {label}: {total} iterations")

    def on_step(self, iteration: int, losses: StepLosses) -> None:
        if self.bar is not None:
            self.update(self.task, completed=iteration, detail=format_losses(losses))
        elif not self.quiet and (iteration >= self.next_log or iteration == self.total):
            self.next_log += max(self.total // 10, 1)
            elapsed = time.perf_counter() - self.started
            per_iter = elapsed / iteration
            eta = per_iter * (self.total - iteration)
            stderr.print(
                f"  {iteration}/{self.total} it  {per_iter:.3f} s/it  ETA {eta / 60:.1f} min  {format_losses(losses)}"
            )

    def on_inference(self, done: int, total: int) -> None:
        self.update(self.task, detail=f"upscaling tile {done}/{total}")
