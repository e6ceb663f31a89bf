"""Training progress: a rich bar on a terminal, a line every 10 % in logs, nothing with --quiet."""

from __future__ import annotations

import time

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from ..engine.zero_shot.trainer import StepLosses
from ._common import stderr


def format_losses(losses: StepLosses) -> str:
    return (
        f"G {losses.gan:.3f}  cyc {losses.cycle_forward + losses.cycle_backward:.3f}  "
        f"interp {losses.interpolation:.3f}  D {losses.discriminator:.3f}  Σk {losses.kernel_sum:.2f}"
    )


class TrainingProgress:
    """Context manager whose methods plug into ``pipeline.Hooks`` for a sequence of images."""

    def __init__(self, *, quiet: bool, total_images: int) -> None:
        self.quiet = quiet
        self.total_images = total_images
        self.image_index = 0
        self.interactive = stderr.is_terminal and not quiet
        self.progress: Progress | None = None
        self.task = None
        self.total = 0
        self.started = 0.0
        self.next_log = 0

    def __enter__(self) -> TrainingProgress:
        if self.interactive:
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(bar_width=28),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[losses]}"),
                console=stderr,
                refresh_per_second=4,
            )
            self.progress.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc_info)

    def on_start(self, name: str, total: int) -> None:
        self.image_index += 1
        self.total = total
        self.started = time.perf_counter()
        self.next_log = max(total // 10, 1)
        label = f"[{self.image_index}/{self.total_images}] {name}" if self.total_images > 1 else name
        if self.progress is not None:
            self.task = self.progress.add_task(label, total=total, losses="")
        elif not self.quiet:
            stderr.print(f"training {label}: {total} iterations")

    def on_step(self, iteration: int, losses: StepLosses) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, completed=iteration, losses=format_losses(losses))
        elif not self.quiet and (iteration >= self.next_log or iteration == self.total):
            self.next_log += max(self.total // 10, 1)
            elapsed = time.perf_counter() - self.started
            per_iter = elapsed / iteration
            eta = per_iter * (self.total - iteration)
            stderr.print(
                f"  {iteration}/{self.total} it  {per_iter:.3f} s/it  ETA {eta / 60:.1f} min  {format_losses(losses)}"
            )

    def on_inference(self, done: int, total: int) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, losses=f"upscaling tile {done}/{total}")
