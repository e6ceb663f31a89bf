"""Render ``srx bench --report`` as a person sees it: a tiny DIV2KRK run, then a headless Chromium screenshot.

Builds a DIV2KRK-layout set from scikit-image's real photos (one random anisotropic Gaussian kernel per
image, ``tests.synthetic.make_div2krk``), runs ``srx bench -m dualsr:iters=N --report`` on it
(bicubic is added by --report), checks that every file the page links exists, and screenshots
``report.html`` with Debian's ``chromium`` (no network: the page loads only its own files). Look at the
PNG it prints. Figures printed: seconds per stage, page size, links, missing links.

    python benchmarks/report_screenshot.py [--iters 10] [--images 3] [--out DIR] [--height 2000]

Needs ``chromium`` on PATH (``apt-get install -y chromium``); without it the report is still built and
checked, and the screenshot is skipped with a message.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root: tests.synthetic

from tests.synthetic import make_div2krk

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def screenshot(page: Path, target: Path, width: int, height: int) -> float:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("chromium not found: skipping the screenshot (apt-get install -y chromium)")
        return 0.0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={target}",
                f"--window-size={width},{height}",
                page.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=10, help="DualSR iterations per image")
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--size", type=int, default=192, help="HR side in pixels")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "srx_report_screenshot")
    parser.add_argument("--width", type=int, default=1400)
    parser.add_argument("--height", type=int, default=2000)
    parser.add_argument("--crop", default="40,40,48,48", help="--report-crop for the run")
    args = parser.parse_args()

    if args.out.exists():
        shutil.rmtree(args.out)
    start = time.perf_counter()
    data = make_div2krk(args.out / "DIV2KRK", images=args.images, hr_size=args.size)
    run = args.out / "run"
    command = [
        sys.executable,
        "-m",
        "dualsr_cli",
        "bench",
        str(data),
        "-m",
        f"dualsr:iters={args.iters}",
        "--out",
        str(run),
        "--report",
        "--report-crop",
        args.crop,
        "--no-lpips",
        "--device",
        "cpu",
        "-q",
    ]
    built = time.perf_counter()
    subprocess.run(command, check=True)
    benched = time.perf_counter()

    html = (run / "report.html").read_text(encoding="utf-8")
    links = re.findall(r'(?:src|href)="([^"#][^"]*)"', html)
    missing = [link for link in links if not (run / link).is_file()]
    external = [link for link in links if re.match(r"[a-z]+:|//", link)]
    shot = args.out / "report.png"
    shot_seconds = screenshot(run / "report.html", shot, args.width, args.height)
    print(
        f"dataset_seconds={built - start:.1f} bench_seconds={benched - built:.1f} screenshot_seconds={shot_seconds:.1f}"
    )
    print(f"page_bytes={len(html.encode())} links={len(links)} missing={len(missing)} external={len(external)}")
    if shot.exists():
        print(f"screenshot: {shot}")
    print(f"report: {run / 'report.html'}")
    if missing or external:
        raise SystemExit(f"bad links: {missing + external}")


if __name__ == "__main__":
    main()
