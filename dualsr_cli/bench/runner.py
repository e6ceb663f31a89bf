"""Run methods over dataset pairs, score them and keep results safe across interruptions and ranks.

Every finished (item, method) row is appended to a CSV and fsync'd at once, so a killed run loses at most
the image in flight and a rerun with the same ``--out`` skips what is done. Under torchrun rank r takes
items r, r+N, ... and writes its own part file; rank 0 merges them into ``results.csv`` in dataset
order, which makes the merged file equal to a single-process run's.
"""

from __future__ import annotations

import csv
import math
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ImageReadError, ImageSizeError
from ..files import shard
from ..image_io import ImageData, atomic_output, quantize, read_header, read_image, write_image
from ..metrics.kernel import kernel_error
from ..metrics.lpips import LpipsMetric
from ..metrics.protocols import evaluate
from ..runtime.dist import DistContext
from .datasets import Dataset, Pair
from .methods import Method

CSV_COLUMNS = ["item", "method", "psnr", "ssim", "lpips", "seconds", "kernel_error", "camera", "scale", "protocol"]


@dataclass
class Record:
    item: str
    method: str
    psnr: float
    ssim: float
    lpips: float | None
    seconds: float
    kernel_error: float | None
    camera: str
    scale: int
    protocol: str

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.item, self.method, self.protocol, self.scale)

    def to_row(self) -> dict[str, str]:
        def fmt(value) -> str:
            if value is None:
                return ""
            if isinstance(value, float):
                return "inf" if math.isinf(value) else repr(value)
            return str(value)

        return {name: fmt(getattr(self, name)) for name in CSV_COLUMNS}

    @classmethod
    def from_row(cls, row: dict[str, str]) -> Record | None:
        """Parse one CSV row; None for a row cut short by a kill."""
        if any(row.get(name) is None for name in CSV_COLUMNS):
            return None
        try:
            optional = lambda text: float(text) if text else None  # noqa: E731
            return cls(row["item"], row["method"], float(row["psnr"]), float(row["ssim"]), optional(row["lpips"]),
                       float(row["seconds"]), optional(row["kernel_error"]), row["camera"], int(row["scale"]),
                       row["protocol"])  # fmt: skip
        except ValueError:
            return None


class ResultStore:
    """``results.csv`` (single process, merged) plus ``results.rank<r>.csv`` parts under torchrun."""

    def __init__(self, folder: Path, dist: DistContext) -> None:
        self.folder = folder
        self.dist = dist
        self.main_file = folder / "results.csv"
        self.own_file = self.main_file if not dist.distributed else folder / f"results.rank{dist.rank}.csv"
        self._checked = False

    def _files(self) -> list[Path]:
        return [self.main_file, *sorted(self.folder.glob("results.rank*.csv"))]

    def completed(self) -> dict[tuple, Record]:
        done: dict[tuple, Record] = {}
        for path in self._files():
            if not path.is_file():
                continue
            with path.open(newline="") as handle:
                for row in csv.DictReader(handle):
                    record = Record.from_row(row)
                    if record is not None:
                        done[record.key] = record
        return done

    def _drop_partial_line(self) -> None:
        """A kill during a write can leave a last line without its newline: cut it before appending."""
        if not self.own_file.exists():
            return
        data = self.own_file.read_bytes()
        if data and not data.endswith(b"\n"):
            with self.own_file.open("r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)

    def append(self, record: Record) -> None:
        if not self._checked:
            self._drop_partial_line()
            self._checked = True
        new = not self.own_file.exists() or self.own_file.stat().st_size == 0
        with self.own_file.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
            if new:
                writer.writeheader()
            writer.writerow(record.to_row())
            handle.flush()
            os.fsync(handle.fileno())

    def merge(self, order: Callable[[Record], tuple]) -> list[Record]:
        """Rank 0: fold the part files into results.csv (sorted by ``order``) and remove them."""
        records = sorted(self.completed().values(), key=order)
        with atomic_output(self.main_file) as tmp, tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(r.to_row() for r in records)
        for part in self.folder.glob("results.rank*.csv"):
            part.unlink()
        return records


@dataclass
class BenchHooks:
    on_start: Callable[[int], None] | None = None  # total (item, method) runs for this rank
    on_run: Callable[[str, str], None] | None = None  # item, method key: a run begins
    on_done: Callable[[Record], None] | None = None
    warn: Callable[[str], None] | None = None


@dataclass
class BenchReport:
    dataset: Dataset
    methods: list[str]
    protocol: str
    records: list[Record]
    skipped: list[str] = field(default_factory=list)
    lpips_note: str | None = None

    def summary(self) -> dict:
        per_method = {}
        for method in self.methods:
            rows = [r for r in self.records if r.method == method]
            per_method[method] = summarise(rows)
            cameras = sorted({r.camera for r in rows if r.camera})
            if len(cameras) > 1:
                per_method[method]["per_camera"] = {c: summarise([r for r in rows if r.camera == c]) for c in cameras}
        return {
            "dataset": {"layout": self.dataset.layout, "root": str(self.dataset.root), "scale": self.dataset.scale,
                        "pairs": len(self.dataset.pairs)},
            "protocol": self.protocol,
            "methods": per_method,
            "skipped": self.skipped,
            "lpips_note": self.lpips_note,
        }  # fmt: skip


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def summarise(rows: list[Record]) -> dict:
    return {
        "images": len(rows),
        "psnr": _mean([r.psnr for r in rows]),
        "ssim": _mean([r.ssim for r in rows]),
        "lpips": _mean([r.lpips for r in rows if r.lpips is not None]),
        "seconds": _mean([r.seconds for r in rows]),
        "kernel_error": _mean([r.kernel_error for r in rows if r.kernel_error is not None]),
    }


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text)


def _size_problem(pair: Pair, scale: int) -> str | None:
    lr_w, lr_h = read_header(pair.lr)
    hr_w, hr_h = read_header(pair.hr)
    if lr_w * scale <= hr_w < (lr_w + 1) * scale and lr_h * scale <= hr_h < (lr_h + 1) * scale:
        return None
    expected = f"{lr_w * scale}x{lr_h * scale}"
    return f"{pair.item}: HR '{pair.hr.name}' is {hr_w}x{hr_h} but LR '{pair.lr.name}' x{scale} is {expected}"


def _hr_pixels(hr: ImageData, height: int, width: int) -> np.ndarray:
    """HR as floats, cropped bottom/right to exactly scale x LR (modcrop)."""
    return hr.color.astype(np.float64)[:height, :width] / hr.max_value


def _match_channels(sr: np.ndarray, hr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if sr.shape[2] == hr.shape[2]:
        return sr, hr
    return np.broadcast_to(sr, (*sr.shape[:2], 3)), np.broadcast_to(hr, (*hr.shape[:2], 3))


def run_benchmark(
    dataset: Dataset,
    methods: list[Method],
    *,
    protocol: str = "matlab",
    out_dir: Path | None = None,
    save_images: bool = False,
    limit: int | None = None,
    strict: bool = False,
    lpips: LpipsMetric | None = None,
    dist: DistContext | None = None,
    hooks: BenchHooks | None = None,
) -> BenchReport:
    dist = dist or DistContext()
    hooks = hooks or BenchHooks()
    warn = hooks.warn or (lambda message: None)
    scale = dataset.scale
    pairs = dataset.pairs[:limit] if limit else list(dataset.pairs)
    method_keys = [m.key for m in methods]

    skipped: list[str] = []
    valid: list[Pair] = []
    for pair in pairs:
        try:
            problem = _size_problem(pair, scale)
        except ImageReadError as exc:
            problem = str(exc)
        if problem is None:
            valid.append(pair)
            continue
        if strict:
            raise ImageSizeError(f"{problem} (without --strict such pairs are skipped)")
        skipped.append(problem)
        if dist.is_main:
            warn(f"skipping {problem}")

    store = ResultStore(out_dir, dist) if out_dir is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    done = store.completed() if store else {}
    memory: dict[tuple, Record] = dict(done)

    mine = shard(valid, dist.rank, dist.world_size)
    todo = [(p, m) for p in mine for m in methods if (p.item, m.key, protocol, scale) not in done]
    if hooks.on_start:
        hooks.on_start(len(todo))
    todo_by_item: dict[str, list[Method]] = {}
    for pair, method in todo:
        todo_by_item.setdefault(pair.item, []).append(method)
    for method in methods:  # methods that train several images together learn which ones will come
        plan = getattr(method, "plan", None)
        if plan is not None:
            plan([str(pair.lr) for pair, m in todo if m is method])

    for pair in mine:
        pending = todo_by_item.get(pair.item)
        if not pending:
            continue
        try:
            lr, hr_image = read_image(pair.lr), read_image(pair.hr)
        except ImageReadError as exc:
            if strict:
                raise
            skipped.append(str(exc))
            warn(f"skipping {pair.item}: {exc}")
            continue
        hr = _hr_pixels(hr_image, lr.height * scale, lr.width * scale)
        true_kernel = None
        if pair.kernel is not None:
            from ..engine.zero_shot.pipeline import load_kernel_mat

            true_kernel = load_kernel_mat(pair.kernel)
        for method in pending:
            if hooks.on_run:
                hooks.on_run(pair.item, method.key)
            start = time.perf_counter()
            output = method.upscale(lr)
            seconds = time.perf_counter() - start if output.seconds is None else output.seconds
            sr, target = _match_channels(np.asarray(output.sr), hr)
            scores = evaluate(sr, target, protocol=protocol, scale=scale, bit_depth=hr_image.bit_depth)
            record = Record(
                item=pair.item,
                method=method.key,
                psnr=scores.psnr,
                ssim=scores.ssim,
                lpips=lpips(np.clip(sr, 0, 1), target) if lpips is not None else None,
                seconds=seconds,
                kernel_error=(
                    kernel_error(output.kernel, true_kernel).l2
                    if output.kernel is not None and true_kernel is not None
                    else None
                ),
                camera=pair.camera or "",
                scale=scale,
                protocol=protocol,
            )
            if save_images and out_dir is not None:
                folder = out_dir / "images" / _safe_name(method.key)
                folder.mkdir(parents=True, exist_ok=True)
                depth = hr_image.bit_depth
                write_image(folder / f"{_safe_name(pair.item)}.png", quantize(sr, depth) / ((1 << depth) - 1),
                            bit_depth=depth)  # fmt: skip
            if store is not None:
                store.append(record)
            memory[record.key] = record
            if hooks.on_done:
                hooks.on_done(record)

    item_order = {p.item: i for i, p in enumerate(valid)}
    method_order = {k: i for i, k in enumerate(method_keys)}

    def order(r: Record) -> tuple:
        return (r.protocol, r.scale, item_order.get(r.item, len(item_order)), r.item,
                method_order.get(r.method, len(method_order)), r.method)  # fmt: skip

    dist.barrier()
    if store is not None:
        if dist.is_main:
            memory = {r.key: r for r in store.merge(order)}
        dist.barrier()
        if not dist.is_main:
            memory = store.completed()
    elif dist.distributed:  # nothing on disk to merge: gather every rank's rows in memory
        import torch.distributed

        gathered: list[dict | None] = [None] * dist.world_size
        torch.distributed.all_gather_object(gathered, memory)
        memory = {key: record for part in gathered if part for key, record in part.items()}
    wanted = {(p.item, k, protocol, scale) for p in valid for k in method_keys}
    records = sorted((r for key, r in memory.items() if key in wanted), key=order)
    return BenchReport(dataset, method_keys, protocol, records, skipped, lpips.unavailable_reason if lpips else None)


def report_to_json(report: BenchReport) -> dict:
    return {**report.summary(), "records": [asdict(r) for r in report.records]}
