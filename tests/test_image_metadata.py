"""EXIF, ICC and resolution survive every image srx writes; float32 TIFFs stay float; stacks are refused."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms
from PIL.TiffImagePlugin import IFDRational

from dualsr_cli.errors import ImageReadError
from dualsr_cli.image_io import FLOAT_BIT_DEPTH, ImageMetadata, read_image, write_image
from tests.conftest import photo

EXIF_IFD, GPS_IFD = 0x8769, 0x8825
MAKE, MODEL, ORIENTATION = 0x010F, 0x0110, 0x0112
DATE_ORIGINAL, EXPOSURE, PIXEL_X, PIXEL_Y = 0x9003, 0x829A, 0xA002, 0xA003


@functools.cache
def icc_profile() -> bytes:
    """An sRGB profile built by LittleCMS (its header holds the creation time, so build it once)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def camera_jpeg(path: Path, *, orientation: int = 6, dpi: int = 300) -> Path:
    """A scikit-image photo saved as a camera would: EXIF (rotated 90°, GPS), an ICC profile and a DPI."""
    exif = Image.Exif()
    exif[MAKE], exif[MODEL], exif[ORIENTATION] = "Canon", "EOS R5", orientation
    exif[EXIF_IFD] = {DATE_ORIGINAL: "2024:05:01 10:20:30", EXPOSURE: IFDRational(1, 250), PIXEL_X: 60, PIXEL_Y: 40}
    exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 24.0)}
    Image.fromarray(photo("astronaut")[100:140, 200:260]).save(
        path, quality=95, exif=exif.tobytes(), icc_profile=icc_profile(), dpi=(dpi, dpi)
    )
    return path


def assert_camera_metadata_kept(path: Path, *, size: tuple[int, int], dpi: float, icc: bytes | None) -> None:
    with Image.open(path) as im:
        assert im.size == size
        exif = im.getexif()
        assert exif[MAKE] == "Canon" and exif[MODEL] == "EOS R5"
        assert exif[ORIENTATION] == 1  # srx applied it to the pixels
        sub = exif.get_ifd(EXIF_IFD)
        assert sub[DATE_ORIGINAL] == "2024:05:01 10:20:30" and float(sub[EXPOSURE]) == pytest.approx(1 / 250)
        assert (sub[PIXEL_X], sub[PIXEL_Y]) == size
        assert exif.get_ifd(GPS_IFD)[1] == "N"
        assert float(exif[0x011A]) == pytest.approx(dpi, rel=1e-4)  # EXIF XResolution follows the new pixel density
        assert im.info.get("icc_profile") == icc
        if path.suffix != ".webp":  # WebP has no resolution field besides EXIF
            assert im.info["dpi"] == pytest.approx((dpi, dpi), rel=1e-4)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif", ".webp"])
@pytest.mark.parametrize("bit_depth", [8, 16])
def test_camera_jpeg_metadata_round_trips_into_every_format(tmp_path, ext, bit_depth):
    image = read_image(camera_jpeg(tmp_path / "camera.jpg"))
    assert (image.width, image.height) == (40, 60)  # orientation 6 applied
    assert image.metadata.dpi == (300, 300) and image.metadata.icc_profile == icc_profile()
    upscaled = np.repeat(np.repeat(image.rgb_float64(), 2, axis=0), 2, axis=1)
    out = write_image(tmp_path / f"out{ext}", upscaled, bit_depth=bit_depth, metadata=image.metadata, scale=2)
    assert_camera_metadata_kept(out, size=(80, 120), dpi=600, icc=icc_profile())
    again = read_image(out)  # srx reads its own output's metadata back unchanged
    assert again.metadata.icc_profile == icc_profile() and again.metadata.dpi == pytest.approx((600, 600), rel=1e-4)


def test_metadata_of_gray_alpha_and_16bit_outputs(tmp_path):
    metadata = read_image(camera_jpeg(tmp_path / "camera.jpg")).metadata
    gray = photo("camera")[:30, :20, :1] / 255.0
    alpha = np.linspace(0, 1, 600).reshape(30, 20)
    for name, kwargs in [
        ("la.png", {"alpha": alpha}),
        ("la16.png", {"alpha": alpha, "bit_depth": 16}),
        ("la.tif", {"alpha": alpha}),
        ("g16.tif", {"bit_depth": 16}),
        ("rgba.webp", {}),
    ]:
        pixels = np.repeat(gray, 3, axis=2) if name.endswith("webp") else gray
        if name.endswith("webp"):
            kwargs = {"alpha": alpha}
        out = write_image(tmp_path / name, pixels, metadata=metadata, scale=0.5, **kwargs)
        # PNG refuses an RGB profile on gray pixels (libpng would warn on every read); other formats keep it
        icc = None if name.startswith("la") and name.endswith(".png") else icc_profile()
        assert_camera_metadata_kept(out, size=(20, 30), dpi=150, icc=icc)
        assert (read_image(out).alpha is not None) == (name != "g16.tif")


def test_no_metadata_writes_none(tmp_path):
    rgb = photo("chelsea")[:20, :30] / 255.0
    for ext in (".png", ".jpg", ".tif", ".webp"):
        out = write_image(tmp_path / f"plain{ext}", rgb, metadata=ImageMetadata(), scale=4)
        with Image.open(out) as im:
            assert "icc_profile" not in im.info or not im.info["icc_profile"]
            assert EXIF_IFD not in im.getexif()
        assert not read_image(out).metadata.exif


def test_float32_tiff_is_read_and_written_as_float32_without_clipping(tmp_path):
    import tifffile

    values = np.linspace(-0.25, 1.5, 24 * 32 * 3, dtype=np.float32).reshape(24, 32, 3)
    tifffile.imwrite(
        tmp_path / "cells.tif", values, photometric="rgb", resolution=(2000, 2000), resolutionunit="CENTIMETER"
    )
    image = read_image(tmp_path / "cells.tif")
    assert image.bit_depth == FLOAT_BIT_DEPTH and image.color.dtype == np.float32
    assert "float32" in image.describe()
    np.testing.assert_array_equal(image.color, values)
    np.testing.assert_allclose(image.rgb_float64(), values)  # the networks see the samples unscaled
    assert image.metadata.dpi == pytest.approx((5080, 5080))
    out = write_image(tmp_path / "out.tif", image.rgb_float64(), bit_depth=image.bit_depth, metadata=image.metadata)
    stored = tifffile.imread(out)
    assert stored.dtype == np.float32 and stored.min() == pytest.approx(-0.25) and stored.max() == pytest.approx(1.5)
    gray = read_image(write_image(tmp_path / "gray.tif", values[:, :, :1], bit_depth=FLOAT_BIT_DEPTH))
    assert gray.is_gray and gray.bit_depth == FLOAT_BIT_DEPTH
    as_png = read_image(write_image(tmp_path / "out.png", image.rgb_float64(), bit_depth=image.bit_depth))
    assert as_png.bit_depth == 16 and as_png.color.max() == 65535  # PNG holds 16 bits: clipped to [0, 1]


def test_multi_page_tiff_is_refused_in_one_line(tmp_path):
    import tifffile

    stack = (np.random.default_rng(0).random((3, 16, 16)) * 255).astype(np.uint8)
    tifffile.imwrite(tmp_path / "stack.tif", stack, photometric="minisblack")
    with pytest.raises(ImageReadError, match=r"multi-page TIFF \(3 pages\)") as info:
        read_image(tmp_path / "stack.tif")
    assert "\n" not in str(info.value)
    float_stack = stack.astype(np.float32)[:, :, :, None].repeat(3, axis=3) / 255
    tifffile.imwrite(tmp_path / "fstack.tif", float_stack, photometric="rgb")
    with pytest.raises(ImageReadError, match="multi-page"):
        read_image(tmp_path / "fstack.tif")


def test_unreadable_exif_is_dropped_not_fatal(tmp_path):
    rgb = photo("chelsea")[:20, :30] / 255.0
    metadata = ImageMetadata(exif=b"MM\x00*garbage", dpi=(72.0, 72.0))
    for ext in (".png", ".jpg", ".tif", ".webp"):
        out = write_image(tmp_path / f"bad{ext}", rgb, metadata=metadata, scale=2)
        with Image.open(out) as im:
            assert EXIF_IFD not in im.getexif() and MAKE not in im.getexif()
            if ext != ".webp":
                assert im.info["dpi"] == pytest.approx((144, 144), rel=1e-4)
