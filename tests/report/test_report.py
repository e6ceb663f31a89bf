"""srx bench --report / srx report: the page lists every image and method and links only files that exist;
the kernel figure and the crop choice on their own."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dualsr_cli.cli import app
from dualsr_cli.errors import ConfigError
from dualsr_cli.image_io import read_image
from dualsr_cli.ops.kernels import anisotropic_gaussian_kernel
from dualsr_cli.report import Crop, kernel_figure, most_different_crop, parse_crop
from tests.conftest import CliResult, assert_one_line_error, photo


class _Page(HTMLParser):
    """Every linked file, every table (as lists of cell texts) and every section title of a report."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self.sections: list[str] = []
        self.captions: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.links.append(attrs["src"])
        if tag == "a" and not attrs.get("href", "#").startswith("#"):
            self.links.append(attrs["href"])
        if tag == "table":
            self._table = attrs.get("id")
            self.tables[self._table] = []
        if tag == "tr" and self._table:
            self.tables[self._table].append([])
        if tag in ("td", "th", "h3", "figcaption"):
            self._cell = []
        self._in.append(tag)

    def handle_endtag(self, tag):
        text = "".join(self._cell or []).strip()
        if tag in ("td", "th") and self._table:
            self.tables[self._table][-1].append(text)
        if tag == "h3":
            self.sections.append(text)
        if tag == "figcaption":
            self.captions.append(text)
        if tag == "table":
            self._table = None
        if self._in:
            self._in.pop()

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def read_page(out: Path) -> _Page:
    page = _Page()
    page.feed((out / "report.html").read_text(encoding="utf-8"))
    return page


def srx(*args, ok: bool = True) -> CliResult:
    """The srx command in-process (typer's runner keeps stdout and stderr apart)."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, result.output
    return CliResult(result.exit_code, result.stdout, result.stderr)


def assert_every_link_exists(out: Path, page: _Page) -> None:
    assert page.links
    for link in page.links:
        assert not link.startswith(("http:", "https:", "//", "/")), link  # relative, nothing from the network
        assert (out / link).is_file(), link


def test_report_shows_every_image_and_method_with_kernels_and_rebuilds_identically(dataset_factory, tmp_path):
    root = dataset_factory("div2krk")
    out = tmp_path / "run"
    srx(
        "bench",
        root,
        "-m",
        "dualsr:iters=2",
        "--limit",
        "2",
        "--no-lpips",
        "--device",
        "cpu",
        "--out",
        out,
        "--report-crop",
        "10,20,40,30",
        "-q",
    )
    page = read_page(out)
    assert_every_link_exists(out, page)
    methods = ["bicubic", "dualsr:iters=2"]  # --report adds the bicubic baseline
    assert [row[0] for row in page.tables["means"][1:]] == methods
    assert sorted((row[0], row[1]) for row in page.tables["per-image"][1:]) == [
        (item, m) for item in ("im_1", "im_2") for m in methods
    ]
    assert page.sections == ["im_1", "im_2"]
    for item in ("im_1", "im_2"):
        files = {link.rsplit("/", 1)[-1] for link in page.links if link.startswith(f"report_files/{item}/")}
        assert len([f for f in files if f.startswith("crop0_")]) == 3  # GT, bicubic, dualsr at the automatic crop
        assert len([f for f in files if f.startswith("crop1_")]) == 3  # and at the chosen crop
        assert "kernel_dualsr_iters=2.png" in files and "overview.png" in files
        user_crop = read_image(out / "report_files" / item / "crop1_00_ground_truth.png")
        assert (user_crop.width, user_crop.height) == (40, 30)
    assert any("PSNR" in c and "SSIM" in c and "LPIPS" in c and "kernel L2" in c for c in page.captions)
    assert "<script src" not in (out / "report.html").read_text()

    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    srx("report", out, "-q")  # from the folder alone, keeping the saved --report-crop
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before


def _rows_without_seconds(page: _Page) -> list[list[str]]:
    header = page.tables["per-image"][0]
    keep = [i for i, name in enumerate(header) if name != "s/image"]
    return [[row[i] for i in keep] for row in page.tables["per-image"]]


def test_a_resumed_run_gives_the_same_report_as_one_run(dataset_factory, tmp_path):
    root = dataset_factory("plain")
    srx("bench", root, "--no-lpips", "--out", tmp_path / "once", "--report", "-q")
    srx("bench", root, "--no-lpips", "--out", tmp_path / "resumed", "--report", "--limit", "1", "-q")
    srx("bench", root, "--no-lpips", "--out", tmp_path / "resumed", "--report", "-q")
    once, resumed = read_page(tmp_path / "once"), read_page(tmp_path / "resumed")
    assert once.links == resumed.links and once.sections == resumed.sections == ["astronaut", "chelsea", "coffee"]
    for link in once.links:
        assert (tmp_path / "once" / link).read_bytes() == (tmp_path / "resumed" / link).read_bytes(), link
    assert _rows_without_seconds(once) == _rows_without_seconds(resumed)


def test_results_without_saved_images_show_a_placeholder(dataset_factory, tmp_path):
    root = dataset_factory("plain")
    out = tmp_path / "run"
    srx("bench", root, "--no-lpips", "--out", out, "--limit", "1", "-q")  # no --report: nothing saved
    resumed = srx("bench", root, "--no-lpips", "--out", out, "--report", "-q")
    assert "1 result(s) finished earlier were run without saving images" in resumed.stderr
    page = read_page(out)
    assert_every_link_exists(out, page)
    html = (out / "report.html").read_text()
    assert "no saved image for bicubic" in html
    assert page.sections == ["astronaut", "chelsea", "coffee"]
    crops = {item: [x for x in page.links if x.startswith(f"report_files/{item}/crop")] for item in page.sections}
    assert not crops["astronaut"] and len(crops["chelsea"]) == len(crops["coffee"]) == 2


def test_report_errors_are_one_line(dataset_factory, tmp_path):
    assert_one_line_error(srx("report", tmp_path / "missing", ok=False), "not found")
    assert_one_line_error(srx("report", tmp_path, ok=False), "no results.csv")
    root = dataset_factory("plain")
    assert_one_line_error(srx("bench", root, "--report", ok=False), "--report needs --out")
    bad = srx("bench", root, "--report-crop", "1,2,3", "--out", tmp_path / "out", "--no-lpips", ok=False)
    assert_one_line_error(bad, "x,y,w,h")
    assert not (tmp_path / "out").exists()  # checked before any work


def test_parse_crop():
    assert parse_crop(" 4, 5,60,70") == Crop(4, 5, 60, 70)
    for text in ("4,5,60", "a,b,c,d", "1,2,0,4", "-1,0,5,5"):
        with pytest.raises(ConfigError):
            parse_crop(text)
    assert Crop(100, 10, 50, 50).clipped(40, 120) == Crop(100, 10, 20, 30)
    assert Crop(130, 0, 5, 5).clipped(40, 120) is None


def test_most_different_crop_lands_where_outputs_disagree():
    base = photo("astronaut")[:96, :128] / 255.0
    other = base.copy()
    other[40:56, 70:86] = 1 - other[40:56, 70:86]
    crop = most_different_crop([base, other], None, 32)
    assert crop.w == crop.h == 32
    assert crop.x <= 70 and crop.x + 32 >= 86 and crop.y <= 40 and crop.y + 32 >= 56
    alone = most_different_crop([other], base, 16)  # one output: where it is furthest from the GT
    assert (alone.x, alone.y, alone.w) == (70, 40, 16)
    assert most_different_crop([base], base, 500) == Crop(0, 0, 128, 96)  # small images: the whole image


@pytest.mark.parametrize(("size", "true_size", "scale"), [(13, None, 2), (13, 11, 2), (25, 21, 4)])
def test_kernel_figure_for_any_kernel_size(tmp_path, size, true_size, scale):
    rng = np.random.default_rng(size)
    estimated = np.pad(anisotropic_gaussian_kernel(rng, size=size - 2, scale=scale), 1) * 1.1
    truth = anisotropic_gaussian_kernel(rng, size=true_size, scale=scale) if true_size else None
    picture = read_image(kernel_figure(tmp_path / "k.png", estimated, truth, scale=scale, title="t"))
    assert picture.width > (900 if truth is not None else 300) and picture.height > 300
    pixels = picture.color.reshape(-1, picture.color.shape[-1])
    assert len(np.unique(pixels, axis=0)) > 200  # a colour map with a bar, not a blank or grey square
