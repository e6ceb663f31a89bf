"""Dataset layouts of the SR literature (``docs/datasets.md``): LR/HR pairs, cameras, challenge folders.

Shared by ``srx bench`` (evaluation pairs) and ``srx adapt`` (training and test sets).


Each layout is one small function that recognises its folder structure and pairs files by the layout's
own naming rule; ``detect`` tries them in a fixed order. Pairs are sorted so every run, and every rank of
a distributed run, sees the same item order.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError, ImageReadError
from .image_io import SUPPORTED_EXTENSIONS

# DRealSR/DADA file prefixes -> camera (docs/datasets.md §2); IMG_ files are Canon too.
DREALSR_CAMERAS = {
    "panasonic": "Panasonic",
    "sony": "Sony",
    "canon": "Canon",
    "img": "Canon",
    "p11": "Olympus",
    "dsc": "Nikon",
}


@dataclass(frozen=True)
class Pair:
    """One evaluation item: an LR input, its HR ground truth and what else the layout knows."""

    item: str
    lr: Path
    hr: Path
    camera: str | None = None
    kernel: Path | None = None


@dataclass
class Dataset:
    layout: str
    root: Path
    scale: int
    pairs: list[Pair]
    notes: list[str] = field(default_factory=list)
    other_scales: list[int] = field(default_factory=list)

    def cameras(self) -> Counter:
        return Counter(p.camera for p in self.pairs if p.camera)

    def describe(self) -> str:
        text = f"{LAYOUT_TITLES[self.layout]} at '{self.root}': {len(self.pairs)} pairs, scale x{self.scale}"
        if self.other_scales:
            text += f" (also available: x{', x'.join(map(str, self.other_scales))}; pick with --scale)"
        cameras = self.cameras()
        if cameras:
            text += "; cameras: " + ", ".join(f"{name} {count}" for name, count in sorted(cameras.items()))
        return text


def list_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED_EXTENSIONS)


def find_dirs(root: Path, pattern: str) -> list[Path]:
    """Folders under ``root`` (itself included) whose name matches ``pattern``, at most 4 levels deep."""
    regex = re.compile(pattern, re.IGNORECASE)
    found = [root] if regex.fullmatch(root.name) else []
    frontier = [root]
    for _ in range(4):
        frontier = sorted(child for folder in frontier for child in folder.iterdir() if child.is_dir())
        found += [d for d in frontier if regex.fullmatch(d.name)]
    return found


def _pick_scale(available: set[int], requested: int | None, layout: str) -> tuple[int, list[int]]:
    if not available:
        raise ImageReadError(f"{LAYOUT_TITLES[layout]}: no scale folders found")
    if requested is not None:
        if requested not in available:
            listed = ", ".join(f"x{s}" for s in sorted(available))
            raise ConfigError(f"{LAYOUT_TITLES[layout]} has no x{requested} data (found {listed})")
        return requested, sorted(available - {requested})
    chosen = 2 if 2 in available else min(available)
    return chosen, sorted(available - {chosen})


def _split_ok(name: str, split: str) -> bool:
    lowered = name.lower()
    return split == "all" or lowered.startswith(split)


def find_realsr(root: Path, scale: int | None, split: str) -> Dataset | None:
    """RealSR V3: ``<Camera>/<Train|Test>/<s>/<name>_HR.png`` beside ``<name>_LR<s>.png``."""
    candidates: dict[int, list[Pair]] = {}
    for scale_dir in find_dirs(root, r"\d"):
        s = int(scale_dir.name)
        split_name = scale_dir.parent.name
        if not _split_ok(split_name, split) or split_name.lower() not in ("train", "test"):
            continue
        camera = scale_dir.parent.parent.name
        for hr in list_images(scale_dir):
            match = re.fullmatch(r"(.+)_HR", hr.stem)
            if not match:
                continue
            lr = next((p for p in list_images(scale_dir) if p.stem == f"{match.group(1)}_LR{s}"), None)
            if lr is not None:
                item = match.group(1) if split != "all" else f"{split_name.lower()}_{match.group(1)}"
                candidates.setdefault(s, []).append(Pair(item, lr, hr, camera=camera))
    if not candidates:
        return None
    chosen, others = _pick_scale(set(candidates), scale, "realsr")
    return Dataset("realsr", root, chosen, candidates[chosen], other_scales=others)


def _drealsr_camera(stem: str) -> str | None:
    prefix = re.split(r"[_\d]", stem, maxsplit=1)[0].lower() or stem[:3].lower()
    if stem.lower().startswith("p11"):
        prefix = "p11"
    return DREALSR_CAMERAS.get(prefix)


def find_drealsr(root: Path, scale: int | None, split: str) -> Dataset | None:
    """DRealSR: ``<Test|Train>_x<s>/<test|train>_HR/<stem>_x<s>.png`` + ``..._LR/<stem>_x1.png``."""
    candidates: dict[int, list[Pair]] = {}
    for split_dir in find_dirs(root, r"(train|test)_x\d"):
        split_name, s = split_dir.name.lower().split("_x")
        if not _split_ok(split_name, split):
            continue
        s = int(s)
        hr_dirs = find_dirs(split_dir, rf"{split_name}_HR")
        lr_dirs = find_dirs(split_dir, rf"{split_name}_LR")
        if not hr_dirs or not lr_dirs:
            continue
        hr_files, lr_files = list_images(hr_dirs[0]), list_images(lr_dirs[0])
        lr_by_stem = {p.stem: p for p in lr_files}
        found = []
        for hr in hr_files:
            # test images: <scene>_x4 <-> <scene>_x1; training patches: <scene>_x4_<k> <-> <scene>_x1_<k>
            lr = lr_by_stem.get(re.sub(rf"_x{s}(_\d+)?$", r"_x1\1", hr.stem)) or lr_by_stem.get(hr.stem)
            if lr is not None:
                found.append((re.sub(rf"_x{s}(?=(_\d+)?$)", "", hr.stem), lr, hr))
        if not found and hr_files and len(hr_files) == len(lr_files):
            # names that follow neither rule: pair by sorted position, as the CDC/DADA loaders do
            found = [
                (re.sub(rf"_x{s}(?=(_\d+)?$)", "", hr.stem), lr, hr) for hr, lr in zip(hr_files, lr_files, strict=True)
            ]
        for base, lr, hr in found:
            item = base if split != "all" else f"{split_name}_{base}"
            candidates.setdefault(s, []).append(Pair(item, lr, hr, camera=_drealsr_camera(base)))
    if not candidates:
        return None
    for s, pairs in candidates.items():  # an unzip that doubled a level finds the same files twice
        unique = {p.hr: p for p in pairs}
        candidates[s] = sorted(unique.values(), key=lambda p: p.item)
    chosen, others = _pick_scale(set(candidates), scale, "drealsr")
    return Dataset("drealsr", root, chosen, candidates[chosen], other_scales=others)


def find_div2krk(root: Path, scale: int | None, split: str) -> Dataset | None:
    """DIV2KRK: ``gt/img_<n>_gt.png``, ``lr_x<s>/im_<n>.png``, ``gt_k_x<s>/kernel_<n>.mat``."""
    gt_dirs = find_dirs(root, "gt")
    if not gt_dirs:
        return None
    base = gt_dirs[0].parent
    gt_by_n = {m.group(1): p for p in list_images(base / "gt") if (m := re.fullmatch(r"img_(\d+)_gt", p.stem))}
    candidates: dict[int, list[Pair]] = {}
    for lr_dir in sorted(base.glob("lr_x*")):
        if not re.fullmatch(r"lr_x\d", lr_dir.name):
            continue
        s = int(lr_dir.name[-1])
        for lr in list_images(lr_dir):
            match = re.fullmatch(r"im_(\d+)", lr.stem)
            if match and match.group(1) in gt_by_n:
                n = match.group(1)
                kernel = base / f"gt_k_x{s}" / f"kernel_{n}.mat"
                candidates.setdefault(s, []).append(
                    Pair(f"im_{n}", lr, gt_by_n[n], kernel=kernel if kernel.is_file() else None)
                )
    if not candidates:
        return None
    for pairs in candidates.values():
        pairs.sort(key=lambda p: int(p.item[3:]))
    chosen, others = _pick_scale(set(candidates), scale, "div2krk")
    return Dataset("div2krk", root, chosen, candidates[chosen], other_scales=others)


def find_ntire17(root: Path, scale: int | None, split: str) -> Dataset | None:
    """NTIRE 2017 track 2 (DIV2K unknown): ``X<s>/0801x<s>.png`` with HR ``0801.png`` in an HR folder."""
    candidates: dict[int, list[Pair]] = {}
    hr_files: dict[str, Path] = {}
    for folder in [root, *find_dirs(root, r".*(hr|HR).*")]:
        for p in list_images(folder):
            if re.fullmatch(r"\d{4}", p.stem):
                hr_files.setdefault(p.stem, p)
    for lr_dir in find_dirs(root, r"X\d"):
        s = int(lr_dir.name[1:])
        for lr in list_images(lr_dir):
            match = re.fullmatch(rf"(\d{{4}})x{s}", lr.stem)
            if match and match.group(1) in hr_files:
                candidates.setdefault(s, []).append(Pair(match.group(1), lr, hr_files[match.group(1)]))
    if not candidates:
        return None
    chosen, others = _pick_scale(set(candidates), scale, "ntire17")
    return Dataset("ntire17", root, chosen, candidates[chosen], other_scales=others)


def find_edsr(root: Path, scale: int | None, split: str) -> Dataset | None:
    """EDSR "benchmark" sets: ``HR/<stem>.png`` + ``LR_bicubic/X<s>/<stem>x<s>.png``."""
    hr_dir, lr_root = root / "HR", root / "LR_bicubic"
    if not hr_dir.is_dir() or not lr_root.is_dir():
        return None
    hr_by_stem = {p.stem: p for p in list_images(hr_dir)}
    candidates: dict[int, list[Pair]] = {}
    for lr_dir in sorted(lr_root.glob("X*")):
        if not re.fullmatch(r"X\d", lr_dir.name):
            continue
        s = int(lr_dir.name[1:])
        for lr in list_images(lr_dir):
            stem = re.sub(rf"x{s}$", "", lr.stem)
            if stem in hr_by_stem:
                candidates.setdefault(s, []).append(Pair(stem, lr, hr_by_stem[stem]))
    if not candidates:
        return None
    chosen, others = _pick_scale(set(candidates), scale, "edsr")
    return Dataset("edsr", root, chosen, candidates[chosen], other_scales=others)


def find_plain(root: Path, scale: int | None, split: str) -> Dataset | None:
    """Plain ``HR/`` + ``LR/`` folders with equal file names (the scale comes from the image sizes)."""
    hr_dir, lr_dir = root / "HR", root / "LR"
    if not hr_dir.is_dir() or not lr_dir.is_dir():
        return None
    hr_by_name = {p.name: p for p in list_images(hr_dir)}
    hr_by_stem = {p.stem: p for p in list_images(hr_dir)}
    pairs = []
    for lr in list_images(lr_dir):
        hr = hr_by_name.get(lr.name) or hr_by_stem.get(lr.stem)
        if hr is not None:
            pairs.append(Pair(lr.stem, lr, hr))
    if not pairs:
        return None
    if scale is None:
        from .image_io import read_header

        lr_w, _ = read_header(pairs[0].lr)
        hr_w, _ = read_header(pairs[0].hr)
        scale = max(1, round(hr_w / lr_w))
    return Dataset("plain", root, scale, pairs)


Finder = Callable[[Path, int | None, str], Dataset | None]
LAYOUTS: dict[str, Finder] = {
    "realsr": find_realsr,
    "drealsr": find_drealsr,
    "div2krk": find_div2krk,
    "ntire17": find_ntire17,
    "edsr": find_edsr,
    "plain": find_plain,
}
PAPER_LAYOUTS = {  # (real LR domain T, clean HR, validation LR, validation HR), docs/fda.md §5, docs/datasets.md §7
    "aim2019": ("TrainingSource", "DIV2K_train_HR", "ValidationSource", "DIV2K_valid_HR"),
    "ntire2020": ("Corrupted-tr-x", "Corrupted-tr-y", "Corrupted-va-x", "DIV2K_valid_HR"),
}


def challenge_folders(root: Path, layout: str) -> tuple[list[Path], list[Path], list[Path], list[Path]]:
    """The images of a challenge layout's four folders (``PAPER_LAYOUTS``), each found up to 4 levels deep."""
    names = PAPER_LAYOUTS[layout]
    folders = []
    for name in names:
        found = find_dirs(root, re.escape(name)) if root.is_dir() else []
        if not found:
            raise ImageReadError(f"'{root}' has no '{name}' folder (the {layout} layout needs {', '.join(names)})")
        folders.append(found[0])
    target_lr, clean_hr, valid_lr, valid_hr = (list_images(folder) for folder in folders)
    return target_lr, clean_hr, valid_lr, valid_hr


LAYOUT_TITLES = {
    "realsr": "RealSR V3 (<Camera>/Test/<s>/*_HR.png + *_LR<s>.png)",
    "drealsr": "DRealSR (Test_x<s>/test_HR + test_LR, *_x<s> / *_x1)",
    "div2krk": "DIV2KRK (gt/, lr_x<s>/, gt_k_x<s>/)",
    "ntire17": "NTIRE 2017 track 2 (X<s>/0801x<s>.png + HR 0801.png)",
    "edsr": "EDSR benchmark (HR/ + LR_bicubic/X<s>/<stem>x<s>.png)",
    "plain": "plain HR/ + LR/ folders with equal names",
}


def detect(
    root: str | Path,
    *,
    scale: int | None = None,
    layout: str | None = None,
    camera: str | None = None,
    split: str = "test",
) -> Dataset:
    """Recognise ``root``'s layout (or use ``layout``), pair LR/HR files and filter by camera."""
    root = Path(root)
    if not root.exists():
        raise ImageReadError(f"dataset folder not found: '{root}'")
    if not root.is_dir():
        raise ImageReadError(f"'{root}' is not a folder; srx bench takes a dataset folder")
    if split not in ("test", "train", "all"):
        raise ConfigError(f"unknown split '{split}' (use test, train or all)")
    if layout is not None and layout not in LAYOUTS:
        raise ConfigError(f"unknown layout '{layout}' (known: {', '.join(LAYOUTS)})")
    finders = {layout: LAYOUTS[layout]} if layout else LAYOUTS
    dataset = None
    for finder in finders.values():
        dataset = finder(root, scale, split)
        if dataset is not None:
            break
    if dataset is None:
        looked = "; ".join(LAYOUT_TITLES[name] for name in finders)
        raise ImageReadError(f"no LR/HR pairs found in '{root}' (looked for: {looked})")
    if camera is not None:
        known = sorted(dataset.cameras())
        if not known:
            raise ConfigError(f"--camera needs a dataset with cameras (RealSR, DRealSR); '{root}' has none")
        wanted = camera.lower()
        dataset.pairs = [p for p in dataset.pairs if (p.camera or "").lower() == wanted]
        if not dataset.pairs:
            raise ConfigError(f"no pairs for camera '{camera}' (cameras here: {', '.join(known)})")
    return dataset
