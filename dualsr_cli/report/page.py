"""``OUT/report.html``: one page to look at a bench run, rebuilt from ``results.csv`` and the saved files.

Nothing here runs a method or reads the dataset: the page depends only on what the bench output folder
holds, so a resumed or torchrun-sharded run (whose ``results.csv`` equals a single run's) gives the same
page, and ``srx report OUT`` rebuilds it alone. Pictures are PNG files in ``OUT/report_files/`` referenced
by relative paths; the only script is a few inline lines that sort the tables. No network is touched.
"""

from __future__ import annotations

import csv
import html
import json
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._version import __version__
from ..bench.outputs import BenchFiles, safe_name
from ..bench.runner import Record
from ..errors import ConfigError, ImageReadError
from ..image_io import read_image, write_image
from ..metrics import format_score
from .crops import Crop, most_different_crop
from .figures import kernel_figure

BASELINE = "bicubic"


@dataclass(frozen=True)
class ReportConfig:
    """What the page shows besides the automatic crop; saved in the output folder for ``srx report``."""

    crop: Crop | None = None  # the user's crop (HR pixels), shown for every image under the automatic one
    crop_size: int = 128  # side of the automatic crop, in HR pixels (smaller images: the whole side)
    display_size: int = 256  # crops are enlarged on screen by a whole factor up to about this many pixels
    thumbnail_width: int = 240  # the GT overview with the crop rectangles

    def __post_init__(self) -> None:
        if self.crop_size < 8:
            raise ConfigError(f"the report's crop size must be at least 8 pixels, got {self.crop_size}")

    def to_dict(self) -> dict:
        return {
            "crop": None if self.crop is None else [self.crop.x, self.crop.y, self.crop.w, self.crop.h],
            "crop_size": self.crop_size,
        }

    @classmethod
    def from_dict(cls, data: dict) -> ReportConfig:
        crop = data.get("crop")
        return cls(crop=Crop(*map(int, crop)) if crop else None, crop_size=int(data.get("crop_size", cls.crop_size)))


def save_settings(out_dir: Path, config: ReportConfig) -> None:
    from ..atomic import atomic_output

    path = BenchFiles(Path(out_dir)).report_settings
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps(config.to_dict(), indent=2) + "\n")


def load_settings(out_dir: Path) -> ReportConfig:
    """The settings the last ``srx bench --report`` saved, or the defaults."""
    path = BenchFiles(Path(out_dir)).report_settings
    if not path.is_file():
        return ReportConfig()
    try:
        return ReportConfig.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"cannot read '{path}': {exc}; delete it to use the defaults") from None


@dataclass
class ReportResult:
    path: Path
    items: list[str]
    methods: list[str]
    notes: list[str] = field(default_factory=list)


def read_records(files: BenchFiles) -> list[Record]:
    if not files.results.is_file():
        raise ImageReadError(f"no results.csv in '{files.root}': run srx bench with --out {files.root} first")
    with files.results.open(newline="") as handle:
        records = [r for r in map(Record.from_row, csv.DictReader(handle)) if r is not None]
    if not records:
        raise ImageReadError(f"'{files.results}' has no finished rows yet")
    return records


def _pick_run(records: list[Record], files: BenchFiles, notes: list[str]) -> tuple[str, int, dict]:
    """Which (protocol, scale) the page shows: the last bench run's (summary.json), else the first in the CSV."""
    summary = {}
    if files.summary.is_file():
        try:
            summary = json.loads(files.summary.read_text())
        except ValueError:
            summary = {}
    runs = list(dict.fromkeys((r.protocol, r.scale) for r in records))
    wanted = (summary.get("protocol"), (summary.get("dataset") or {}).get("scale"))
    chosen = wanted if wanted in runs else runs[0]
    if len(runs) > 1:
        others = ", ".join(f"{p} x{s}" for p, s in runs if (p, s) != chosen)
        notes.append(f"results.csv also holds rows for {others}; this page shows {chosen[0]} x{chosen[1]}")
    return chosen[0], chosen[1], summary


def _read_pixels(path: Path) -> np.ndarray | None:
    if not path.is_file():
        return None
    image = read_image(path)
    return image.color.astype(np.float64) / image.max_value


def _metric_line(record: Record | None) -> str:
    if record is None:
        return ""
    psnr, ssim, lpips = format_score(record.psnr, 2), format_score(record.ssim, 4), format_score(record.lpips, 4)
    line = f"PSNR {psnr} dB · SSIM {ssim} · LPIPS {lpips}"
    if record.kernel_error is not None:
        line += f" · kernel L2 {format_score(record.kernel_error, 4)}"
    return line


def _thumbnail(gt: np.ndarray, crops: list[tuple[Crop, tuple[float, float, float]]], width: int) -> np.ndarray:
    """The GT shrunk to ``width`` px (if wider) with each crop outlined in its colour."""
    from ..ops.resize import imresize

    factor = min(1.0, width / gt.shape[1])
    small = np.clip(imresize(gt, factor), 0, 1) if factor < 1 else gt.copy()
    if small.shape[2] == 1:
        small = np.repeat(small, 3, axis=2)
    for crop, colour in crops:
        x0, y0 = int(crop.x * factor), int(crop.y * factor)
        x1 = min(small.shape[1] - 1, math.ceil((crop.x + crop.w) * factor) - 1)
        y1 = min(small.shape[0] - 1, math.ceil((crop.y + crop.h) * factor) - 1)
        for t in range(2):  # a 2-pixel outline
            small[max(y0 - t, 0), x0 : x1 + 1] = colour
            small[min(y1 + t, small.shape[0] - 1), x0 : x1 + 1] = colour
            small[y0 : y1 + 1, max(x0 - t, 0)] = colour
            small[y0 : y1 + 1, min(x1 + t, small.shape[1] - 1)] = colour
    return small


AUTO_COLOUR = (0.9, 0.1, 0.1)
USER_COLOUR = (0.1, 0.4, 1.0)


@dataclass
class _Panel:
    label: str
    metrics: str
    src: str | None  # relative to the page; None: no saved image
    full: str | None  # link to the full image


@dataclass
class _CropRow:
    title: str
    crop: Crop
    zoom: int
    panels: list[_Panel]


@dataclass
class _ItemSection:
    item: str
    thumbnail: str | None
    rows: list[_CropRow]
    kernels: list[tuple[str, str]]  # (method, figure src)
    notes: list[str]


def _zoom(crop: Crop, display: int) -> int:
    return max(1, display // max(crop.w, crop.h))


def _build_item(
    item: str,
    methods: list[str],
    rows: dict[str, Record],
    files: BenchFiles,
    assets: Path,
    config: ReportConfig,
    scale: int,
) -> _ItemSection:
    folder = assets / safe_name(item)
    folder.mkdir(parents=True)

    def relative(path: Path) -> str:
        """A link from the page; assets are written in ``assets`` but end up in ``files.report_assets``."""
        if path.is_relative_to(assets):
            path = files.report_assets / path.relative_to(assets)
        return os.path.relpath(path, files.root).replace(os.sep, "/")

    notes: list[str] = []
    gt = _read_pixels(files.gt_image(item))
    outputs = {m: _read_pixels(files.sr_image(m, item)) for m in methods}
    missing = [m for m, image in outputs.items() if image is None]
    if missing:
        notes.append(f"no saved image for {', '.join(missing)} (run without --report or --save-images)")
    if gt is None:
        notes.append("no saved ground truth (reference/gt): crops need a run with --report")
    shown = {m: image for m, image in outputs.items() if image is not None}

    crop_rows: list[_CropRow] = []
    frames: list[tuple[Crop, tuple[float, float, float]]] = []
    if gt is not None and shown:
        height, width = gt.shape[:2]
        auto = most_different_crop(list(shown.values()), gt, config.crop_size)
        wanted = [("where the methods differ most", auto, AUTO_COLOUR)]
        if config.crop is not None:
            user = config.crop.clipped(height, width)
            if user is None:
                notes.append(f"the chosen crop {config.crop.describe()} lies outside this {width}x{height} image")
            else:
                wanted.append((f"chosen crop {config.crop.describe()}", user, USER_COLOUR))
        for index, (title, crop, colour) in enumerate(wanted):
            panels = []
            for position, (label, image) in enumerate([("ground truth", gt), *outputs.items()]):
                record = rows.get(label)
                if image is None:
                    panels.append(_Panel(label, _metric_line(record), None, None))
                    continue
                path = folder / f"crop{index}_{position:02d}_{safe_name(label)}.png"
                write_image(path, np.clip(crop.cut(image), 0, 1), bit_depth=8)
                full = files.gt_image(item) if label == "ground truth" else files.sr_image(label, item)
                panels.append(_Panel(label, _metric_line(record), relative(path), relative(full)))
            caption = f"{title}: x={crop.x}, y={crop.y}, {crop.w}x{crop.h} px"
            crop_rows.append(_CropRow(caption, crop, _zoom(crop, config.display_size), panels))
            frames.append((crop, colour))
    thumbnail = None
    if gt is not None:
        path = folder / "overview.png"
        write_image(path, _thumbnail(gt, frames, config.thumbnail_width), bit_depth=8)
        thumbnail = relative(path)

    kernels = []
    truth_path = files.true_kernel(item)
    truth = _load_kernel(truth_path) if truth_path.is_file() else None
    for method in methods:
        path = files.estimated_kernel(method, item)
        if path.is_file():
            figure = kernel_figure(
                folder / f"kernel_{safe_name(method)}.png",
                _load_kernel(path),
                truth,
                scale=scale,
                title=f"{item} · {method}",
            )
            kernels.append((method, relative(figure)))
    return _ItemSection(item, thumbnail, crop_rows, kernels, notes)


def _load_kernel(path: Path) -> np.ndarray:
    from ..kernel_io import load_kernel_mat

    return load_kernel_mat(path)


def _replace_folder(new: Path, target: Path) -> None:
    """Swap ``new`` in for ``target`` (generated files only), so a failed rebuild leaves the old assets."""
    old = target.with_name(target.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        target.rename(old)
    new.rename(target)
    if old.exists():
        shutil.rmtree(old)


def build_report(
    out_dir: str | Path, config: ReportConfig | None = None, *, on_item: Callable[[str], None] | None = None
) -> ReportResult:
    """Write ``OUT/report.html`` and ``OUT/report_files/`` from what ``srx bench --out OUT`` saved.

    ``config`` None uses the settings saved by the last ``srx bench --report`` (or the defaults).
    """
    files = BenchFiles(Path(out_dir))
    if not files.root.is_dir():
        raise ImageReadError(f"bench output folder not found: '{files.root}'")
    config = config or load_settings(files.root)
    records = read_records(files)
    notes: list[str] = []
    protocol, scale, summary = _pick_run(records, files, notes)
    records = [r for r in records if (r.protocol, r.scale) == (protocol, scale)]
    methods = list(dict.fromkeys(r.method for r in records))
    if BASELINE in methods:  # the baseline sits next to the ground truth
        methods = [BASELINE, *(m for m in methods if m != BASELINE)]
    else:
        notes.append("bicubic was not benchmarked in this folder, so it has no crops (srx bench --report adds it)")
    items = list(dict.fromkeys(r.item for r in records))
    by_item: dict[str, dict[str, Record]] = {}
    for record in records:
        by_item.setdefault(record.item, {})[record.method] = record

    staging = files.report_assets.with_name(files.report_assets.name + ".tmp")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    sections = []
    for item in items:
        if on_item is not None:
            on_item(item)
        sections.append(_build_item(item, methods, by_item[item], files, staging, config, scale))
    page = render_page(summary, protocol, scale, methods, records, sections, notes)
    _replace_folder(staging, files.report_assets)
    from ..atomic import atomic_output

    with atomic_output(files.report) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return ReportResult(files.report, items, methods, notes)


# --- HTML ----------------------------------------------------------------------------------------------

STYLE = """
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px; color: #1d1d1f;
       background: #fafafa; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; }
h3 { font-size: 16px; margin: 0 0 8px; font-family: ui-monospace, Menlo, monospace; }
.meta { color: #555; margin: 0 0 12px; } .note { color: #8a5a00; background: #fff6e0; padding: 6px 10px;
       border-radius: 4px; margin: 4px 0; }
table { border-collapse: collapse; background: white; margin: 6px 0 12px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e3e3e3; text-align: right; white-space: nowrap; }
th:first-child, td:first-child, .text { text-align: left; }
table.sortable th { cursor: pointer; user-select: none; } table.sortable th:hover { background: #eef3ff; }
th[data-dir="asc"]::after { content: " ▲"; } th[data-dir="desc"]::after { content: " ▼"; }
td.best { font-weight: 700; }
.item { background: white; border: 1px solid #e3e3e3; border-radius: 6px; padding: 14px; margin: 14px 0; }
.row-title { color: #555; margin: 10px 0 4px; }
.strip { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-start; }
figure { margin: 0; } figcaption { font-size: 12px; max-width: 260px; }
figcaption b { font-family: ui-monospace, Menlo, monospace; font-size: 12px; word-break: break-all; }
.crop img { image-rendering: pixelated; display: block; border: 1px solid #ccc; }
.missing { display: flex; align-items: center; justify-content: center; color: #999; background: #f0f0f0;
           border: 1px dashed #bbb; font-size: 12px; }
.kernels img { max-width: 100%; display: block; }
.legend-auto { color: #e61a1a; font-weight: 600; } .legend-user { color: #1a66ff; font-weight: 600; }
"""

SORT_SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, column) {
    th.addEventListener("click", function () {
      var up = th.dataset.dir !== "asc";
      table.querySelectorAll("th").forEach(function (other) { delete other.dataset.dir; });
      th.dataset.dir = up ? "asc" : "desc";
      var key = function (row) {
        var cell = row.cells[column];
        return cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent;
      };
      var rows = Array.prototype.slice.call(table.tBodies[0].rows);
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
        var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
        return up ? order : -order;
      });
      rows.forEach(function (row) { table.tBodies[0].appendChild(row); });
    });
  });
});
"""

# (column title, Record/summary field, digits, better)
METRIC_COLUMNS = [
    ("PSNR (dB)", "psnr", 2, max),
    ("SSIM", "ssim", 4, max),
    ("LPIPS", "lpips", 4, min),
    ("s/image", "seconds", 2, None),
    ("kernel L2", "kernel_error", 4, min),
]


def _cell(value: float | None, digits: int, best: bool = False) -> str:
    sort_value = "" if value is None else ("1e308" if math.isinf(value) else repr(float(value)))
    css = ' class="best"' if best else ""
    return f'<td data-v="{sort_value}"{css}>{format_score(value, digits)}</td>'


def _means_table(methods: list[str], records: list[Record]) -> str:
    from ..bench.runner import summarise

    means = {m: summarise([r for r in records if r.method == m]) for m in methods}
    columns = [c for c in METRIC_COLUMNS if any(means[m][c[1]] is not None for m in methods)]
    best = {}
    for _, key, _, better in columns:
        values = [means[m][key] for m in methods if means[m][key] is not None]
        if better is not None and len(values) > 1:
            best[key] = better(values)
    head = "".join(f"<th>{html.escape(title)}</th>" for title, *_ in columns)
    body = []
    for m in methods:
        cells = "".join(
            _cell(means[m][key], digits, key in best and means[m][key] == best[key]) for _, key, digits, _ in columns
        )
        body.append(f'<tr><td class="text">{html.escape(m)}</td><td>{means[m]["images"]}</td>{cells}</tr>')
    return (
        f'<table class="sortable" id="means"><thead><tr><th>method</th><th>images</th>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _rows_table(methods: list[str], records: list[Record]) -> str:
    columns = [c for c in METRIC_COLUMNS if any(getattr(r, c[1]) is not None for r in records)]
    has_camera = any(r.camera for r in records)
    head = "<th>image</th>" + ('<th class="text">camera</th>' if has_camera else "") + '<th class="text">method</th>'
    head += "".join(f"<th>{html.escape(title)}</th>" for title, *_ in columns)
    body = []
    for r in records:
        cells = f'<td class="text">{html.escape(r.item)}</td>'
        cells += f'<td class="text">{html.escape(r.camera)}</td>' if has_camera else ""
        cells += f'<td class="text">{html.escape(r.method)}</td>'
        cells += "".join(_cell(getattr(r, key), digits) for _, key, digits, _ in columns)
        body.append(f"<tr>{cells}</tr>")
    return (
        f'<table class="sortable" id="per-image"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
    )


def _panel_html(panel: _Panel, crop: Crop, zoom: int) -> str:
    w, h = crop.w * zoom, crop.h * zoom
    if panel.src is None:
        picture = f'<div class="missing" style="width:{w}px;height:{h}px">no saved image</div>'
    else:
        picture = (
            f'<a href="{html.escape(panel.full or panel.src)}"><img src="{html.escape(panel.src)}" '
            f'width="{w}" height="{h}" alt="{html.escape(panel.label)}"></a>'
        )
    metrics = f"<br>{html.escape(panel.metrics)}" if panel.metrics else ""
    return f'<figure class="crop">{picture}<figcaption><b>{html.escape(panel.label)}</b>{metrics}</figcaption></figure>'


def _section_html(section: _ItemSection) -> str:
    parts = [
        f'<section class="item" id="item-{html.escape(safe_name(section.item))}">',
        f"<h3>{html.escape(section.item)}</h3>",
    ]
    parts += [f'<p class="note">{html.escape(n)}</p>' for n in section.notes]
    for index, row in enumerate(section.rows):
        legend = "legend-auto" if index == 0 else "legend-user"
        parts.append(
            f'<p class="row-title"><span class="{legend}">■</span> {html.escape(row.title)}, shown at '
            f"{row.zoom}x (nearest neighbour)</p>"
        )
        strip = []
        if index == 0 and section.thumbnail:
            strip.append(
                f'<figure><img src="{html.escape(section.thumbnail)}" alt="overview"><figcaption>'
                "<b>overview</b><br>ground truth, crops outlined</figcaption></figure>"
            )
        strip += [_panel_html(panel, row.crop, row.zoom) for panel in row.panels]
        parts.append(f'<div class="strip">{"".join(strip)}</div>')
    if section.kernels:
        parts.append('<p class="row-title">estimated blur kernels beside the true one (same colour scale)</p>')
        parts.append('<div class="strip kernels">')
        parts += [
            f'<figure><img src="{html.escape(src)}" alt="kernel {html.escape(m)}"></figure>'
            for m, src in section.kernels
        ]
        parts.append("</div>")
    parts.append("</section>")
    return "\n".join(parts)


def render_page(
    summary: dict,
    protocol: str,
    scale: int,
    methods: list[str],
    records: list[Record],
    sections: list[_ItemSection],
    notes: list[str],
) -> str:
    dataset = summary.get("dataset") or {}
    layout = dataset.get("layout", "bench")
    title = f"srx bench report: {layout} x{scale}, protocol {protocol}"
    meta = (
        f"{len(sections)} image(s), {len(methods)} method(s): {', '.join(methods)}. Metrics are whole-image "
        f"scores from results.csv (protocol {protocol}); crops are cut from the saved images. srx {__version__}."
    )
    if dataset.get("root"):
        meta = f"dataset {dataset['root']}. " + meta
    index = " · ".join(f'<a href="#item-{html.escape(safe_name(s.item))}">{html.escape(s.item)}</a>' for s in sections)
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="meta">{html.escape(meta)}</p>',
        *(f'<p class="note">{html.escape(n)}</p>' for n in notes),
        "<h2>Mean over images</h2>",
        _means_table(methods, records),
        "<h2>Per image</h2>",
        '<p class="meta">Click a column title to sort.</p>',
        _rows_table(methods, records),
        "<h2>Crops</h2>",
        f'<p class="meta">{index}</p>',
        *(_section_html(s) for s in sections),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + f"\n<script>{SORT_SCRIPT}</script>\n</body>\n</html>\n"
    )
