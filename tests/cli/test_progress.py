"""The one progress display: rows laid out for 60/80/120-column terminals, and timed lines in logs."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from dualsr_cli.cli._progress import CommandProgress, Row, clock, eta_seconds, layout_rows, render_rows, task_row

LOSSES = "G 0.693 cyc 0.123 interp 0.045 D 0.693 Σk 1.00"
ZERO_SHOT_ROW = Row("training chelsea_small.png", 0.4, "1200/3000 it", "0:08:01", "ETA 0:12:00", LOSSES)
OVERALL_ROW = Row("all images", 0.5, "2/5 images", "0:40:00", "ETA 0:40:00")


def recording_console(width: int, *, terminal: bool = True) -> Console:
    return Console(record=True, width=width, force_terminal=terminal, file=io.StringIO(), color_system=None)


@pytest.mark.parametrize("width", [60, 80, 120])
def test_rows_fit_and_keep_what_when_how_far_and_eta(width):
    lines = [line.plain for line in render_rows([OVERALL_ROW, ZERO_SHOT_ROW], width)]
    for line in lines:
        assert len(line) <= width, (width, line)
    overall, item = lines
    assert overall.startswith("all images") and "2/5 images" in overall and "ETA 0:40:00" in overall
    assert item.startswith("training") and "1200/3000 it" in item and "ETA 0:12:00" in item
    assert "━" in item  # a bar of at least 10 cells fits from 60 columns up
    # the columns line up between the two rows
    assert overall.index("ETA") == item.index("ETA")


def test_narrowing_drops_the_losses_first_then_the_elapsed_time():
    wide, medium, narrow = (render_rows([ZERO_SHOT_ROW], width)[0].plain for width in (120, 80, 60))
    assert LOSSES in wide and "0:08:01" in wide and "training chelsea_small.png" in wide
    assert "cyc" not in medium and "0:08:01" in medium
    assert "cyc" not in narrow and "0:08:01" not in narrow and narrow.startswith("training c")
    assert layout_rows(60, [ZERO_SHOT_ROW]).bar >= 10


def test_long_names_and_details_are_ellipsised_not_wrapped():
    row = Row(
        "upscaling " + "a_very_long_camera_file_name" * 3 + ".png", None, "–", "0:00:01", "ETA -:--:--", "x" * 300
    )
    for width in (60, 80, 120):
        (line,) = render_rows([row], width)
        assert len(line.plain) <= width and "…" in line.plain and "ETA -:--:--" in line.plain


def test_clock_and_eta():
    assert clock(None) == "-:--:--" and clock(3725.4) == "1:02:05" and clock(float("inf")) == "-:--:--"
    assert eta_seconds(10.0, 0, 100) is None and eta_seconds(10.0, 25, 100) == pytest.approx(30.0)


def frame_lines(progress: CommandProgress, width: int) -> list[str]:
    """What the live display shows now, rendered on a recording console of ``width`` columns."""
    frame = recording_console(width)
    frame.print(progress.display.get_renderable())
    return frame.export_text().splitlines()


@pytest.mark.parametrize("width", [60, 80, 120])
def test_live_display_on_a_recording_terminal_ends_before_the_summary(width):
    console = recording_console(width)
    frames = []
    with CommandProgress(quiet=False, items=2, console=console) as progress:
        assert progress.display is not None
        for name in ("a.png", "b.png"):
            progress.start_item(name, 3000, action="training", unit="it")
            progress.step(1200, detail=LOSSES)
            frames.append(frame_lines(progress, width))
            progress.detail("tile 1/4", action="upscaling")
            frames.append(frame_lines(progress, width))
            progress.finish_item()
            console.print(f"{name} -> {name}_x2.png")
    console.print("summary: 2 images")
    for lines in frames:
        assert len(lines) == 2 and all(len(line) <= width for line in lines), lines
        assert lines[0].startswith("all images") and "ETA" in lines[0] and "ETA" in lines[1]
    assert frames[0][1].startswith("training a.png") and "1200/3000 it" in frames[0][1]
    assert frames[3][1].startswith("upscaling b.png") and "1/2 images" in frames[3][0]
    assert (LOSSES in frames[0][1]) == (width >= 120)  # at 80 columns a short name leaves room for part of it
    assert ("G 0.693" in frames[0][1]) == (width > 60)
    text = console.export_text()  # everything written, live frames included
    assert text.rstrip().endswith("\nsummary: 2 images")
    assert text.rindex("ETA") < text.index("summary: 2 images")


def test_logs_print_a_line_per_item_with_elapsed_and_overall_eta():
    console = recording_console(200, terminal=False)
    with CommandProgress(quiet=False, items=3, console=console) as progress:
        assert progress.display is None
        for name in ("a.png", "b.png"):
            progress.start_item(name, action="upscaling", unit="tiles")
            for done in range(1, 5):
                progress.step(done, 4)
            progress.finish_item()
        progress.start_item("c.png")
        progress.finish_item(skipped=True)
    lines = console.export_text().splitlines()
    assert len(lines) == 2, lines  # short items: no 10 % lines; a skipped one costs no line
    assert lines[0].startswith("[1/3] upscaling a.png: done in 0:00:0")
    assert "all images 1/3, elapsed 0:00:0" in lines[0] and "ETA " in lines[0]
    assert lines[1].startswith("[2/3] upscaling b.png: done in") and "all images 2/3" in lines[1]
    assert progress.summary() == "3 of 3 images done in 0:00:00 (1 already existed)"


def test_logs_print_every_ten_percent_of_a_long_item():
    console = recording_console(200, terminal=False)
    with CommandProgress(quiet=False, items=2, console=console, long_item_seconds=0) as progress:
        progress.start_item("a.png", 40, action="training", unit="it")
        for done in range(1, 41):
            progress.step(done, detail=f"G {done}")
        progress.finish_item(result="PSNR 30.00 dB")
    lines = console.export_text().splitlines()
    assert lines[0] == "[1/2] training a.png: 40 it"
    tenths = [line for line in lines if "%" in line]
    assert [re.search(r"(\d+)%", line).group(1) for line in tenths] == [str(p) for p in range(10, 100, 10)]
    assert all("elapsed" in line and "ETA" in line and "all images ETA" in line for line in tenths)
    assert tenths[0].endswith("; G 4")
    assert lines[-1].startswith("[1/2] training a.png: done in") and "PSNR 30.00 dB" in lines[-1]


def test_a_resumed_stage_counts_its_eta_from_where_it_resumed():
    console = recording_console(200, terminal=False)
    with CommandProgress(quiet=False, console=console, long_item_seconds=0) as progress:
        progress.start_item("circle", 100, action="stage", unit="it", start=50)
        for done in range(51, 101):
            progress.step(done)
    lines = console.export_text().splitlines()
    assert lines[0] == "stage circle: 100 it (from 50)"
    assert [re.search(r"(\d+)%", line).group(1) for line in lines[1:-1]] == ["60", "70", "80", "90"]
    assert lines[-1].startswith("stage circle: done in")  # the open item is closed at the end


def test_quiet_prints_nothing():
    console = recording_console(80)
    with CommandProgress(quiet=True, items=2, console=console) as progress:
        progress.start_item("a.png", 10)
        progress.step(10)
        progress.note("hello")
        progress.finish_item()
    assert console.export_text() == ""


def test_result_lines_pass_above_the_live_rows_not_through_them():
    live, terminal_stdout, piped_stdout = (
        recording_console(80),
        recording_console(80),
        recording_console(80, terminal=False),
    )
    with CommandProgress(quiet=False, items=2, console=live) as progress:
        progress.start_item("a.png", 4, action="upscaling", unit="tiles")
        progress.print("a.png -> out/a_x4.png", terminal_stdout)  # same screen: via the live console
        progress.print("a.png -> out/a_x4.png (piped)", piped_stdout)  # a file or pipe: written there
    assert "a.png -> out/a_x4.png" in live.export_text() and terminal_stdout.export_text() == ""
    assert piped_stdout.export_text() == "a.png -> out/a_x4.png (piped)\n"


def test_eta_counts_down_between_updates_instead_of_climbing():
    from rich.progress import Progress

    now = [0.0]
    progress = Progress(get_time=lambda: now[0], auto_refresh=False, console=recording_console(80))
    task_id = progress.add_task("training a.png", total=100, base=0, unit="it")
    now[0] = 10.0
    progress.update(task_id, completed=10, worked=10.0)
    (task,) = progress.tasks
    assert task_row(task).eta == "ETA 0:01:30"
    now[0] = 20.0  # ten seconds without a step: the estimate made at the last step counts down
    assert task_row(task).eta == "ETA 0:01:20" and task_row(task).elapsed == "0:00:20"
    now[0] = 500.0
    assert task_row(task).eta == "ETA 0:00:00"
