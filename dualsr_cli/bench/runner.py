"""Run methods over dataset pairs, score them and keep results safe across interruptions and ranks.

Every finished (item, method) row is appended to a CSV and fsync'd at once, so a killed run loses at most
the image in flight and a rerun with the same ``--out`` skips what is done. Under torchrun rank r takes
items r, r+N, ... and writes its own part file; rank 0 merges them into ``results.csv`` in dataset
order, which makes the merged file equal to a single-process run's.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_output
from ..datasets import Dataset, Pair
from ..errors import ConfigError, ImageReadError, ImageSizeError, SrxError
from ..files import shard
from ..image_io import ImageData, quantize, read_header, read_image, sample_max, write_image
from ..metrics.kernel import kernel_error
from ..metrics.lpips import LpipsMetric
from ..metrics.protocols import evaluate
from ..runtime.dist import DistContext
from .methods import Method
from .outputs import BenchFiles

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
            return cls(
                row["item"],
                row["method"],
                float(row["psnr"]),
                float(row["ssim"]),
                optional(row["lpips"]),
                float(row["seconds"]),
                optional(row["kernel_error"]),
                row["camera"],
                int(row["scale"]),
                row["protocol"],
            )
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

    def check(self) -> None:
        """Refuse, before any work, a results file this run could not read back or would have to rewrite.

        Every line must be a row in srx bench's columns; only a last line cut short by a kill (no newline)
        may be unreadable. Anything else would be lost when the run merges its rows into results.csv.
        """
        for path in self._files():
            if not path.is_file():
                continue
            advice = "move it aside or choose another --out"
            try:
                text = path.read_text(encoding="utf-8")
                lines = text.splitlines(keepends=True)
                rows = list(csv.reader(lines))
            except (OSError, UnicodeDecodeError, csv.Error) as exc:
                reason = _reason(exc)
                raise ConfigError(f"'{path}' is not a results table srx bench can read ({reason}); {advice}") from None
            if not rows:
                continue
            if rows[0] != CSV_COLUMNS:
                shown = ",".join(rows[0])[:80]
                raise ConfigError(
                    f"'{path}' has other columns ({shown}) than srx bench writes ({','.join(CSV_COLUMNS)}); {advice}"
                )
            for number, row in enumerate(rows[1:], start=2):
                complete = len(row) == len(CSV_COLUMNS)
                parsed = Record.from_row(dict(zip(CSV_COLUMNS, row, strict=True))) if complete else None
                cut_by_kill = number == len(rows) and not lines[-1].endswith("\n")
                if parsed is None and not cut_by_kill:
                    raise ConfigError(f"'{path}' line {number} is not a result row srx bench can read; {advice}")

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


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:100]


LOCK_NAME = ".srx-bench.lock"


def _lock_owner_alive(owner: dict) -> bool:
    """Whether the process that wrote a lock may still run: a dead pid on this host means a stale lock."""
    if owner.get("host") != socket.gethostname():
        return True  # another machine: srx cannot tell, so it assumes the run is alive
    try:
        os.kill(int(owner["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


def _read_lock(lock: Path) -> dict | None:
    """The owner recorded in a lock file; None when the lock vanished meanwhile."""
    try:
        owner = json.loads(lock.read_text())
        if isinstance(owner, dict):
            return owner
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        pass
    try:
        fresh = time.time() - lock.stat().st_mtime < 10
    except FileNotFoundError:
        return None
    # An unreadable lock younger than 10 s is being written by a run that is starting: respect it.
    return {"pid": "?", "host": "?"} if fresh else {"pid": "?", "host": socket.gethostname(), "stale": True}


def acquire_lock(folder: Path) -> Path:
    """Create ``folder/.srx-bench.lock`` (pid, host) so that two runs never write one results.csv.

    A lock left by a run that died (its pid no longer exists on this host) is taken over.
    """
    lock = folder / LOCK_NAME
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            owner = _read_lock(lock)
            if owner is None:
                continue  # released meanwhile: try again
            if owner.get("stale") or not _lock_owner_alive(owner):
                lock.unlink(missing_ok=True)  # its run is gone
                continue
            raise ConfigError(
                f"another srx bench (pid {owner.get('pid')} on {owner.get('host')}) is writing to '{folder}'; wait "
                f"for it or choose another --out (if no such run exists, delete '{lock}')"
            ) from None
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}))
        return lock
    raise ConfigError(f"cannot take the lock '{lock}' (it keeps changing); is another srx bench starting there?")


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
            "dataset": {
                "layout": self.dataset.layout,
                "root": str(self.dataset.root),
                "scale": self.dataset.scale,
                "pairs": len(self.dataset.pairs),
            },
            "protocol": self.protocol,
            "methods": per_method,
            "skipped": self.skipped,
            "lpips_note": self.lpips_note,
        }


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


def _size_problem(pair: Pair, scale: int, methods: list[Method] = ()) -> str | None:
    """Why a pair cannot be evaluated, from the headers alone (no pixel is decoded); None if it can."""
    lr_w, lr_h = read_header(pair.lr, what="srx bench")
    hr_w, hr_h = read_header(pair.hr, what="srx bench")
    if lr_w * scale <= hr_w < (lr_w + 1) * scale and lr_h * scale <= hr_h < (lr_h + 1) * scale:
        for method in methods:
            check = getattr(method, "check_input", None)
            if check is not None:
                check(lr_w, lr_h, pair.lr)
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


def _references_saved(files: BenchFiles, pair: Pair) -> bool:
    return files.gt_image(pair.item).exists() and (pair.kernel is None or files.true_kernel(pair.item).exists())


def _save_kernel(path: Path, kernel: np.ndarray) -> None:
    from ..kernel_io import write_kernel_mat

    path.parent.mkdir(parents=True, exist_ok=True)
    write_kernel_mat(path, kernel)


def _save_references(
    files: BenchFiles, pair: Pair, hr: np.ndarray, bit_depth: int, true_kernel: np.ndarray | None
) -> None:
    write_image(files.gt_image(pair.item), hr, bit_depth=bit_depth, mkdir=True)
    if true_kernel is not None:
        _save_kernel(files.true_kernel(pair.item), true_kernel)


def _split_by_size(
    pairs: list[Pair], scale: int, methods: list[Method], *, strict: bool
) -> tuple[list[Pair], list[str]]:
    """(pairs every method can run on, one message per other pair); with ``strict`` the first problem is an error."""
    skipped: list[str] = []
    valid: list[Pair] = []
    for pair in pairs:
        try:
            problem = _size_problem(pair, scale, methods)
        except SrxError as exc:
            problem = str(exc)
        if problem is None:
            valid.append(pair)
            continue
        if strict:
            raise ImageSizeError(f"{problem} (without --strict such pairs are skipped)")
        skipped.append(problem)
    if pairs and not valid:
        more = f" (and {len(skipped) - 1} more)" if len(skipped) > 1 else ""
        raise ImageReadError(f"nothing to evaluate: all {len(pairs)} pairs were skipped; first: {skipped[0]}{more}")
    return valid, skipped


@dataclass(frozen=True)
class _Scoring:
    """What every scored (pair, method) of one benchmark run shares."""

    protocol: str
    scale: int
    lpips: LpipsMetric | None
    files: BenchFiles | None  # where images and kernels are kept (with --save-images)
    save_images: bool
    store: ResultStore | None


def _score(
    run: _Scoring, pair: Pair, method: Method, lr: ImageData, hr: np.ndarray, bit_depth: int, true_kernel
) -> Record:
    """Upscale ``lr`` with ``method``, score it against ``hr``, keep the image and kernel, append the row."""
    start = time.perf_counter()
    output = method.upscale(lr)
    seconds = time.perf_counter() - start if output.seconds is None else output.seconds
    sr, target = _match_channels(np.asarray(output.sr), hr)
    scores = evaluate(sr, target, protocol=run.protocol, scale=run.scale, bit_depth=bit_depth)
    kernel_l2 = None
    if output.kernel is not None and true_kernel is not None:
        kernel_l2 = kernel_error(output.kernel, true_kernel, scale=run.scale).l2
    record = Record(
        item=pair.item,
        method=method.key,
        psnr=scores.psnr,
        ssim=scores.ssim,
        lpips=run.lpips(np.clip(sr, 0, 1), target) if run.lpips is not None else None,
        seconds=seconds,
        kernel_error=kernel_l2,
        camera=pair.camera or "",
        scale=run.scale,
        protocol=run.protocol,
    )
    if run.save_images and run.files is not None:
        stored = quantize(sr, bit_depth) / sample_max(bit_depth)
        path = run.files.sr_image(method.key, pair.item)
        write_image(path, stored, bit_depth=bit_depth, mkdir=True, metadata=lr.metadata, scale=run.scale)
        if output.kernel is not None:
            _save_kernel(run.files.estimated_kernel(method.key, pair.item), output.kernel)
    if run.store is not None:
        run.store.append(record)
    return record


def _merged_records(
    memory: dict[tuple, Record], store: ResultStore | None, dist: DistContext, order: Callable[[Record], tuple]
) -> dict[tuple, Record]:
    """Every rank's rows: merged into results.csv by rank 0 and read back, or gathered in memory."""
    dist.barrier()
    if store is not None:
        if dist.is_main:
            memory = {r.key: r for r in store.merge(order)}
        dist.barrier()
        if not dist.is_main:
            memory = store.completed()
    elif dist.distributed:  # nothing on disk to merge: gather every rank's rows in memory
        memory = {key: record for part in dist.all_gather(memory) for key, record in part.items()}
    return memory


def run_benchmark(
    dataset: Dataset,
    methods: list[Method],
    *,
    protocol: str = "matlab",
    out_dir: Path | None = None,
    save_images: bool = False,
    save_references: bool = False,
    limit: int | None = None,
    strict: bool = False,
    lpips: LpipsMetric | None = None,
    dist: DistContext | None = None,
    hooks: BenchHooks | None = None,
) -> BenchReport:
    """Score ``methods`` on ``dataset``; with ``out_dir`` rows go to ``results.csv`` as they finish.

    ``save_images`` also keeps each output (and each estimated kernel); ``save_references`` keeps the scored
    HR image and the true kernel, so ``out_dir`` alone is enough to build ``srx report``.
    """
    dist = dist or DistContext()
    hooks = hooks or BenchHooks()
    warn = hooks.warn or (lambda message: None)
    scale = dataset.scale
    pairs = dataset.pairs[:limit] if limit else list(dataset.pairs)

    valid, skipped = _split_by_size(pairs, scale, methods, strict=strict)
    if dist.is_main:
        for problem in skipped:
            warn(f"skipping {problem}")

    with _results_folder(out_dir, dist) as store:
        report = _evaluate(
            dataset,
            methods,
            valid,
            skipped,
            protocol=protocol,
            store=store,
            out_dir=out_dir,
            save_images=save_images,
            save_references=save_references,
            strict=strict,
            lpips=lpips,
            dist=dist,
            hooks=hooks,
            warn=warn,
        )
        if out_dir is not None and dist.is_main:
            text = json.dumps(report_to_json(report), indent=2, default=str)
            with atomic_output(out_dir / "summary.json") as tmp:
                tmp.write_text(text + "\n")
    return report


@contextlib.contextmanager
def _results_folder(out_dir: Path | None, dist: DistContext):
    """The ResultStore of ``out_dir``, locked against a second run and checked before any work."""
    if out_dir is None:
        yield None
        return
    created = not os.path.lexists(out_dir)
    lock = None
    error = None
    store = ResultStore(out_dir, dist)
    if dist.is_main:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            lock = acquire_lock(out_dir)
            store.check()
        except OSError as exc:
            error = f"--out '{out_dir}' is not writable ({exc.strerror or _reason(exc)})"
        except SrxError as exc:
            error = str(exc)
    error = dist.from_main(error)
    try:
        if error:
            raise ConfigError(error)
        yield store
    finally:
        if lock is not None:
            with contextlib.suppress(OSError):
                lock.unlink()
        if created and dist.is_main:
            with contextlib.suppress(OSError):
                out_dir.rmdir()  # only succeeds if empty: this run made the folder and wrote nothing there


def _evaluate(
    dataset: Dataset,
    methods: list[Method],
    valid: list[Pair],
    skipped: list[str],
    *,
    protocol: str,
    store: ResultStore | None,
    out_dir: Path | None,
    save_images: bool,
    save_references: bool,
    strict: bool,
    lpips: LpipsMetric | None,
    dist: DistContext,
    hooks: BenchHooks,
    warn: Callable[[str], None],
) -> BenchReport:
    scale = dataset.scale
    method_keys = [m.key for m in methods]
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

    files = BenchFiles(out_dir) if out_dir is not None else None
    scoring = _Scoring(protocol, scale, lpips, files, save_images, store)
    if save_images and files is not None and dist.is_main:
        unsaved = sum(
            1
            for p in valid
            for k in method_keys
            if (p.item, k, protocol, scale) in done and not files.sr_image(k, p.item).exists()
        )
        if unsaved:
            warn(f"{unsaved} result(s) finished earlier were run without saving images; they have no picture")

    # Warnings about unreadable pairs wait until one pair has worked: if none does, one error says so.
    unreadable: list[str] = []
    any_read = False
    for pair in mine:
        pending = todo_by_item.get(pair.item, [])
        missing_references = save_references and files is not None and not _references_saved(files, pair)
        if not pending and not missing_references:
            continue
        try:
            lr, hr_image = read_image(pair.lr), read_image(pair.hr)
        except SrxError as exc:
            if strict:
                raise
            skipped.append(str(exc))
            if any_read:
                warn(f"skipping {pair.item}: {exc}")
            else:
                unreadable.append(f"skipping {pair.item}: {exc}")
            continue
        if not any_read:
            any_read = True
            for message in unreadable:
                warn(message)
        hr = _hr_pixels(hr_image, lr.height * scale, lr.width * scale)
        true_kernel = None
        if pair.kernel is not None:
            from ..kernel_io import load_kernel_mat

            true_kernel = load_kernel_mat(pair.kernel)
        if missing_references:
            _save_references(files, pair, hr, hr_image.bit_depth, true_kernel)
        for method in pending:
            if hooks.on_run:
                hooks.on_run(pair.item, method.key)
            record = _score(scoring, pair, method, lr, hr, hr_image.bit_depth, true_kernel)
            memory[record.key] = record
            if hooks.on_done:
                hooks.on_done(record)

    if unreadable and not any_read:
        if not done and not dist.distributed:
            more = f" (and {len(unreadable) - 1} more)" if len(unreadable) > 1 else ""
            first = unreadable[0].removeprefix("skipping ")
            raise ImageReadError(f"nothing to evaluate: every pair was unreadable; first: {first}{more}")
        for message in unreadable:
            warn(message)

    item_order = {p.item: i for i, p in enumerate(valid)}
    method_order = {k: i for i, k in enumerate(method_keys)}

    def order(r: Record) -> tuple:
        return (
            r.protocol,
            r.scale,
            item_order.get(r.item, len(item_order)),
            r.item,
            method_order.get(r.method, len(method_order)),
            r.method,
        )

    memory = _merged_records(memory, store, dist, order)
    wanted = {(p.item, k, protocol, scale) for p in valid for k in method_keys}
    records = sorted((r for key, r in memory.items() if key in wanted), key=order)
    return BenchReport(dataset, method_keys, protocol, records, skipped, lpips.unavailable_reason if lpips else None)


def report_to_json(report: BenchReport) -> dict:
    return {**report.summary(), "records": [asdict(r) for r in report.records]}
