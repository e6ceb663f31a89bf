"""Progress for every long srx command: a live display on a terminal, timed lines in logs, nothing with --quiet.

A command reports *items* (images, benchmark runs, training stages), each made of *steps* (iterations,
tiles). On an interactive stderr a transient rich display shows, per row, what is being done, a bar,
done/total, the elapsed time, an ETA and a detail text (losses). Rows are laid out for the terminal's
width at every refresh; from 60 columns up the description, done/total and ETA always fit, and as the
terminal narrows the detail text goes first, then the elapsed time, then the bar. The display disappears
when the command ends, so result lines and the final summary stand alone below what was printed.

Without a terminal (logs, CI, ``nohup``) it prints to stderr one line per finished item with its time,
for several items the overall elapsed time and ETA, and for an item expected to take a while
(``long_item_seconds``) a line at every 10 % of its steps.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console, RenderableType
from rich.progress import Progress, Task, TaskID
from rich.text import Text

from ._common import stderr

if TYPE_CHECKING:
    from ..engine.zero_shot.trainer import StepLosses

LONG_ITEM_SECONDS = 30.0  # an item projected to take longer than this gets a log line every 10 %
BAR_MIN, BAR_MAX = 10, 30
DESCRIPTION_MIN, DESCRIPTION_WIDE, DESCRIPTION_MAX = 12, 24, 40
DETAIL_MIN = 16


def clock(seconds: float | None) -> str:
    """``H:MM:SS``; ``-:--:--`` while unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "-:--:--"
    whole = max(round(seconds), 0)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def eta_seconds(elapsed: float, done: float, total: float | None) -> float | None:
    """Remaining time at the average rate so far (None until something is done or without a total)."""
    if total is None or done <= 0:
        return None
    return elapsed * max(total - done, 0.0) / done


def format_losses(losses: StepLosses) -> str:
    return (
        f"G {losses.gan:.3f} cyc {losses.cycle_forward + losses.cycle_backward:.3f} "
        f"interp {losses.interpolation:.3f} D {losses.discriminator:.3f} Σk {losses.kernel_sum:.2f}"
    )


@dataclass(frozen=True)
class Row:
    """One display row as plain values: ``fraction`` is None while the total is unknown."""

    description: str
    fraction: float | None
    count: str
    elapsed: str
    eta: str
    detail: str = ""


@dataclass(frozen=True)
class RowLayout:
    """Column widths in characters; 0 hides a column. Columns are separated by one space."""

    description: int
    bar: int
    count: int
    elapsed: int
    eta: int
    detail: int

    def total(self) -> int:
        shown = [w for w in (self.description, self.bar, self.count, self.elapsed, self.eta, self.detail) if w]
        return sum(shown) + len(shown) - 1


def layout_rows(width: int, rows: Iterable[Row]) -> RowLayout:
    """Share ``width`` between the columns of ``rows`` (aligned across rows), most important first.

    Always: the description (at least 12 characters, ellipsised), done/total and the ETA. Then, while
    they fit: a wider description, a bar of 10, the elapsed time, the detail text (at least 16), and
    finally a longer description and a bar of up to 30.
    """
    rows = list(rows)
    natural = {
        "description": max((len(r.description) for r in rows), default=0),
        "count": max((len(r.count) for r in rows), default=0),
        "elapsed": max((len(r.elapsed) for r in rows), default=0),
        "eta": max((len(r.eta) for r in rows), default=0),
        "detail": max((len(r.detail) for r in rows), default=0),
    }
    widths = {
        "description": min(natural["description"], DESCRIPTION_MIN),
        "bar": 0,
        "count": natural["count"],
        "elapsed": 0,
        "eta": natural["eta"],
        "detail": 0,
    }

    def free() -> int:
        return width - RowLayout(**widths).total()

    def grow(name: str, limit: int) -> None:
        if widths[name]:
            widths[name] = max(widths[name], min(limit, widths[name] + free()))

    def add(name: str, size: int) -> None:
        if size and free() >= size + 1:
            widths[name] = size

    grow("description", min(natural["description"], DESCRIPTION_WIDE))
    add("bar", BAR_MIN)
    add("elapsed", natural["elapsed"])
    if natural["detail"]:
        room = free() - 1
        if room >= min(natural["detail"], DETAIL_MIN):
            widths["detail"] = min(natural["detail"], room)
    grow("description", min(natural["description"], DESCRIPTION_MAX))
    grow("bar", BAR_MAX)
    return RowLayout(**widths)


def _bar(fraction: float | None, width: int) -> Text:
    if fraction is None:  # unknown total: an empty track
        return Text("─" * width, style="bar.back")
    filled = min(max(round(fraction * width), 0), width)
    style = "bar.finished" if filled == width else "bar.complete"
    return Text.assemble(("━" * filled, style), ("─" * (width - filled), "bar.back"))


def _cell(text: str, width: int, style: str = "") -> Text:
    cell = Text(text, style=style)
    cell.truncate(width, overflow="ellipsis", pad=True)
    return cell


def render_rows(rows: list[Row], width: int) -> list[Text]:
    """The display lines for ``rows`` on a terminal ``width`` columns wide (each at most ``width``)."""
    layout = layout_rows(width, rows)
    lines = []
    for row in rows:
        parts = []
        if layout.description:
            parts.append(_cell(row.description, layout.description, "progress.description"))
        if layout.bar:
            parts.append(_bar(row.fraction, layout.bar))
        parts.append(_cell(row.count, layout.count, "progress.download"))
        if layout.elapsed:
            parts.append(_cell(row.elapsed, layout.elapsed, "progress.elapsed"))
        parts.append(_cell(row.eta, layout.eta, "progress.remaining"))
        if layout.detail:
            parts.append(_cell(row.detail, layout.detail))
        line = Text(" ").join(parts)
        line.rstrip()
        line.no_wrap, line.overflow = True, "ellipsis"
        lines.append(line)
    return lines


def task_row(task: Task) -> Row:
    """A rich task (with srx's fields: unit, base, skipped, detail, worked) as a Row."""
    fields = task.fields
    base = fields.get("base", 0) + fields.get("skipped", 0)  # steps that cost no time in this session
    elapsed = task.elapsed or 0.0
    total = task.total
    done = task.completed
    count = f"{int(done)}/{int(total)}" if total is not None else (f"{int(done)}" if done else "–")
    unit = fields.get("unit", "")
    # the rate as of the last update, counted down since: a slow step does not make the ETA climb
    worked = min(fields.get("worked", elapsed), elapsed)
    remaining = eta_seconds(worked, done - base, None if total is None else total - base)
    if remaining is not None:
        remaining = max(remaining - (elapsed - worked), 0.0)
    if total is not None and done >= total:
        remaining = 0.0
    return Row(
        description=task.description,
        fraction=None if not total else done / total,
        count=f"{count} {unit}".rstrip(),
        elapsed=clock(elapsed),
        eta=f"ETA {clock(remaining)}",
        detail=fields.get("detail", ""),
    )


class _Display(Progress):
    """rich Progress whose rows are laid out by ``render_rows`` for the console's current width."""

    def __init__(self, *, console: Console, **settings) -> None:
        self.terminal = console  # rich renders once inside __init__, before ``self.console`` exists
        super().__init__(console=console, **settings)

    def get_renderables(self) -> Iterable[RenderableType]:
        rows = [task_row(task) for task in self.tasks if task.visible]
        yield from render_rows(rows, self.terminal.width)


def live_display(console: Console) -> Progress:
    """The display every command uses: transient (erased at the end); stdout passes above it if it is shown."""
    return _Display(console=console, transient=True, refresh_per_second=4, redirect_stdout=sys.stdout.isatty())


class CommandProgress:
    """What a command reports while it works: items (``noun``) made of steps, shown as the module says.

    ``items`` is the number of items when known (``set_items`` later, or None for open-ended work such
    as training stages). ``live`` defaults to whether ``console`` is an interactive terminal.
    """

    def __init__(
        self,
        *,
        quiet: bool,
        items: int | None = None,
        noun: str = "image",
        console: Console | None = None,
        live: bool | None = None,
        long_item_seconds: float = LONG_ITEM_SECONDS,
    ) -> None:
        self.console = console or stderr
        self.quiet = quiet
        self.noun = noun
        self.items = items
        self.long_item_seconds = long_item_seconds
        self.display = None
        interactive = self.console.is_terminal and not self.console.is_dumb_terminal
        if not quiet and (interactive if live is None else live):
            self.display = live_display(self.console)
        self.overall: TaskID | None = None
        self.task: TaskID | None = None
        self.started = time.perf_counter()
        self.finished = 0  # items done, skipped included
        self.skipped = 0
        self.index = 0
        self.name = ""
        self.action = ""
        self.steps: int | None = None
        self.base = 0
        self.done = 0
        self.item_started = 0.0
        self.next_log = 0.1
        self.open = False

    # -- context ---------------------------------------------------------------------------------------
    def __enter__(self) -> CommandProgress:
        self.started = time.perf_counter()
        if self.display is not None:
            self.display.__enter__()
            self._ensure_overall()
        return self

    def __exit__(self, *exc_info) -> None:
        if self.open and exc_info[0] is None:
            self.finish_item()
        if self.display is not None:
            self.display.__exit__(*exc_info)

    @property
    def logging(self) -> bool:
        return not self.quiet and self.display is None

    def set_items(self, items: int) -> None:
        self.items = items
        self._ensure_overall()

    def _ensure_overall(self) -> None:
        if self.display is not None and self.items is not None and self.items > 1 and self.overall is None:
            self.overall = self.display.add_task(
                f"all {self.noun}s", total=self.items, unit=f"{self.noun}s", detail="", skipped=0
            )

    def _description(self) -> str:
        return f"{self.action} {self.name}".strip()

    def _label(self) -> str:
        """The item in log lines: its description, numbered when there are several."""
        if self.items and self.items > 1:
            return f"[{self.index}/{self.items}] {self._description()}"
        return self._description()

    # -- items -----------------------------------------------------------------------------------------
    def start_item(
        self, name: str, steps: int | None = None, *, action: str = "", unit: str = "", start: int = 0
    ) -> None:
        """Item ``name`` begins: ``action`` says what is done to it, ``start`` steps are already done (resumed)."""
        if self.open:
            self.finish_item()
        self.open = True
        self.index += 1
        self.name, self.action, self.steps, self.base, self.done = name, action, steps, start, start
        self.item_started = time.perf_counter()
        self.next_log = 0.1 * (math.floor(10 * start / steps) + 1) if steps else 0.1
        if self.display is not None:
            fields = {"total": steps, "completed": start, "unit": unit, "base": start, "detail": ""}
            if self.task is None:
                self.task = self.display.add_task(self._description(), **fields)
            else:
                self.display.reset(self.task, description=self._description(), **fields)
        elif self.logging and steps:
            resumed = f" (from {start})" if start else ""
            self.console.print(f"{self._label()}: {steps} {unit}{resumed}".rstrip(), highlight=False)

    def next_stage(self, name: str, steps: int, *, action: str = "", unit: str = "") -> None:
        """The current item goes on with another run of ``steps`` (x4 ``twice``); it still counts as one item."""
        if not self.open:
            self.start_item(name, steps, action=action, unit=unit)
            return
        self.name, self.action, self.steps, self.base, self.done = name, action, steps, 0, 0
        self.next_log = 0.1
        if self.display is not None:
            fields = {"total": steps, "completed": 0, "unit": unit, "base": 0, "detail": ""}
            self.display.reset(self.task, description=self._description(), **fields)
        elif self.logging and steps:
            self.console.print(f"{self._label()}: {steps} {unit}".rstrip(), highlight=False)

    def step(self, done: int, total: int | None = None, detail: str | None = None) -> None:
        """``done`` of the item's steps are finished (``total`` when it becomes known only now)."""
        if total is not None:
            self.steps = total
        self.done = done
        if self.display is not None:
            fields = {} if detail is None else {"detail": detail}
            self.display.update(self.task, completed=done, total=self.steps, **fields)
            self._stamp(self.task)
            self._update_overall()
        elif self.logging and self.steps:
            self._log_step(detail)

    def detail(self, text: str, *, action: str | None = None) -> None:
        """Show ``text`` beside the bar; a new ``action`` (upscaling after training) renames the live row."""
        if self.display is not None:
            description = self._description() if action is None else f"{action} {self.name}"
            self.display.update(self.task, detail=text, description=description)

    def finish_item(self, *, skipped: bool = False, result: str = "") -> None:
        """The current item is done (``skipped`` when nothing had to be computed); ``result`` goes in the log."""
        if not self.open:
            return
        self.open = False
        self.finished += 1
        self.skipped += skipped
        if self.display is not None:
            if self.steps:
                self.display.update(self.task, completed=self.steps)
            if result:
                self.display.update(self.task, detail=result)
            self._update_overall()
        elif self.logging and not skipped:
            took = time.perf_counter() - self.item_started
            line = f"{self._label()}: done in {clock(took)}"
            if result:
                line += f", {result}"
            if self.items and self.items > 1:
                line += f"; all {self.noun}s {self.finished}/{self.items}, elapsed {clock(self._elapsed())}, "
                line += f"ETA {clock(self._overall_eta(0.0))}"
            self.console.print(line, highlight=False)

    def note(self, text: str) -> None:
        """A message line (above the display on a terminal)."""
        if not self.quiet:
            self.console.print(text, highlight=False)

    def print(self, text: str, console: Console) -> None:
        """A result line for ``console`` (stdout, usually), printed above the live rows when both share a terminal.

        rich writes a console's output straight to the terminal, past the live display's redirection, so a
        result printed there directly would land inside the rows being redrawn.
        """
        if self.display is not None and console.is_terminal:
            self.console.print(text, highlight=False)
        else:
            console.print(text, highlight=False)

    def summary(self) -> str | None:
        """The closing line for several items (print it after the display has stopped), else None."""
        if self.quiet or not self.items or self.items < 2:
            return None
        existed = f" ({self.skipped} already existed)" if self.skipped else ""
        return f"{self.finished} of {self.items} {self.noun}s done in {clock(self._elapsed())}{existed}"

    # -- arithmetic ------------------------------------------------------------------------------------
    def _elapsed(self) -> float:
        return time.perf_counter() - self.started

    def _item_fraction(self) -> float:
        if not self.open or not self.steps:
            return 0.0
        return min(self.done / self.steps, 1.0)

    def _overall_eta(self, partial: float) -> float | None:
        """Overall remaining time: skipped items cost nothing, the current item counts by its fraction."""
        if not self.items:
            return None
        worked = self.finished - self.skipped + partial
        return eta_seconds(self._elapsed(), worked, self.items - self.skipped)

    def _update_overall(self) -> None:
        if self.overall is not None:
            self.display.update(self.overall, completed=self.finished + self._item_fraction(), skipped=self.skipped)
            self._stamp(self.overall)

    def _stamp(self, task_id: TaskID) -> None:
        """Remember the task's elapsed time at this update (``worked``), the base of its ETA."""
        task = next(task for task in self.display.tasks if task.id == task_id)
        self.display.update(task_id, worked=task.elapsed or 0.0)

    def _log_step(self, detail: str | None) -> None:
        fraction = (self.done - self.base) / max(self.steps - self.base, 1)
        progress = self.done / self.steps
        if progress + 1e-9 < self.next_log or self.done >= self.steps:
            return
        self.next_log = 0.1 * (math.floor(10 * progress + 1e-9) + 1)
        took = time.perf_counter() - self.item_started
        if fraction <= 0 or took / fraction < self.long_item_seconds:
            return
        line = (
            f"{self._label()}: {100 * progress:.0f}% ({self.done}/{self.steps}), elapsed {clock(took)}, "
            f"ETA {clock(eta_seconds(took, fraction, 1.0))}"
        )
        if self.items and self.items > 1:
            line += f"; all {self.noun}s ETA {clock(self._overall_eta(self._item_fraction()))}"
        if detail:
            line += f"; {detail}"
        self.console.print(line, highlight=False)
