"""Class 'data lost' for srx bench: results.csv is never rewritten away, two runs never share an --out,
and a run in which every pair is skipped says so in one line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dualsr_cli.bench.runner import CSV_COLUMNS, LOCK_NAME

from .conftest import assert_refused, srx, tree_digest

HEADER = ",".join(CSV_COLUMNS) + "\n"
ROW = "old_item,bicubic,30.5,0.9,,0.01,,,2,matlab\n"


def _bench(world, out: Path, *extra: object):
    return srx("bench", world.plain, "--no-lpips", "--quiet", "--out", out, *extra)


UNREADABLE = {
    "other-columns": "name,score\nx,1\n",
    "other-column-order": ",".join(reversed(CSV_COLUMNS)) + "\n",
    "binary": "\x00\x01\x02garbage",
    "bad-middle-row": HEADER + "a,bicubic,not-a-number,0.9,,0.01,,,2,matlab\n" + ROW,
    "short-middle-row": HEADER + "a,bicubic,30\n" + ROW,
    "unclosed-quote": HEADER + '"a,bicubic\n' + ROW,
}


@pytest.mark.parametrize("name", list(UNREADABLE), ids=list(UNREADABLE))
def test_a_results_file_it_cannot_read_is_refused_and_kept(world, tmp_path, name):
    out = tmp_path / "out"
    out.mkdir()
    content = UNREADABLE[name]
    if name == "binary":
        (out / "results.csv").write_bytes(b"\xff\xfe\x00garbage\n")
    else:
        (out / "results.csv").write_text(content)
    before = tree_digest(out)
    outcome = _bench(world, out)
    assert_refused(outcome, "results.csv", "move it aside or choose another --out")
    assert tree_digest(out) == before
    assert not (out / LOCK_NAME).exists()


def test_a_results_file_of_earlier_runs_is_kept_and_a_cut_last_line_dropped(world, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.csv").write_text(HEADER + ROW + "cut,bic")  # a kill in the middle of a row
    outcome = _bench(world, out)
    assert outcome.code == 0, outcome.stderr
    text = (out / "results.csv").read_text()
    assert ROW in text and "cut,bic" not in text
    assert text.count("\n") == 1 + 1 + 2  # header, the earlier row, a and b
    assert not (out / LOCK_NAME).exists()


def test_a_live_lock_refuses_a_second_run(world, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    before = tree_digest(out)
    assert_refused(_bench(world, out), "another srx bench", f"pid {os.getpid()}", LOCK_NAME)
    assert tree_digest(out) == before


def test_a_lock_of_another_host_is_respected(world, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "some-other-node"}))
    assert_refused(_bench(world, out), "some-other-node")


def test_a_stale_lock_of_a_dead_process_is_taken_over(world, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (out / LOCK_NAME).write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    outcome = _bench(world, out)
    assert outcome.code == 0, outcome.stderr
    assert (out / "results.csv").is_file() and not (out / LOCK_NAME).exists()


SKIPPED = [
    ("sizes-mismatch", "plain_mismatch", (), "all 2 pairs were skipped"),
    ("all-unreadable", "plain_truncated", (), "every pair was unreadable"),
    ("too-small-for-dualsr", "plain", ("-m", "dualsr:iters=2"), "all 2 pairs were skipped"),
]


@pytest.mark.parametrize(("name", "dataset", "extra", "fragment"), SKIPPED, ids=[s[0] for s in SKIPPED])
def test_a_run_where_every_pair_is_skipped_exits_2(world, tmp_path, name, dataset, extra, fragment):
    out = tmp_path / "out"
    before = world.digest()
    outcome = srx("bench", getattr(world, dataset), "--no-lpips", "--quiet", "--out", out, *extra)
    assert_refused(outcome, "nothing to evaluate", fragment)
    assert not out.exists()
    assert world.digest() == before


def test_a_bomb_pair_is_skipped_with_a_warning(world, tmp_path):
    out = tmp_path / "out"
    outcome = srx("bench", world.plain_bomb, "--no-lpips", "--quiet", "--out", out)
    assert outcome.code == 0, outcome.stderr
    assert len(outcome.lines) == 1 and outcome.lines[0].startswith("warning: skipping"), outcome.stderr
    assert "20000x20000" in outcome.lines[0]
    assert "DecompressionBomb" not in outcome.stderr
    rows = (out / "results.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith("a,bicubic")
