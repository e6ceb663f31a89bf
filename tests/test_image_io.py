"""Image files in and out: bit depths, alpha, gray, EXIF orientation, atomic writes, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageOps

from dualsr_cli.atomic import ensure_writable_dir
from dualsr_cli.errors import ImageReadError, ImageWriteError
from dualsr_cli.image_io import check_output_format, quantize, read_image, write_image
from tests.conftest import photo


@pytest.fixture
def rgb() -> np.ndarray:
    return photo("astronaut")[100:140, 200:250] / 255.0


@pytest.mark.parametrize("ext", [".png", ".tif", ".webp"])
def test_lossless_8bit_rgb_roundtrip(tmp_path, rgb, ext):
    path = write_image(tmp_path / f"a{ext}", rgb)
    image = read_image(path)
    assert image.bit_depth == 8 and not image.is_gray and image.alpha is None
    np.testing.assert_array_equal(image.color, quantize(rgb, 8))


def test_jpeg_is_read_as_8bit_rgb(tmp_path, rgb):
    image = read_image(write_image(tmp_path / "a.jpg", rgb))
    assert image.color.shape == (40, 50, 3)
    assert np.abs(image.rgb_float64() - rgb).mean() < 0.03


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16bit_rgb_and_gray_keep_16_bits(tmp_path, rgb, ext):
    values = rgb * 0.999 + 1e-4  # values that need more than 8 bits
    image = read_image(write_image(tmp_path / f"rgb16{ext}", values, bit_depth=16))
    assert image.bit_depth == 16 and image.color.dtype == np.uint16
    np.testing.assert_array_equal(image.color, quantize(values, 16))
    gray = read_image(write_image(tmp_path / f"g16{ext}", values[:, :, :1], bit_depth=16))
    assert gray.is_gray and gray.bit_depth == 16


def test_alpha_and_gray_alpha_roundtrip(tmp_path, rgb):
    alpha = np.linspace(0, 1, rgb.shape[0] * rgb.shape[1]).reshape(rgb.shape[:2])
    image = read_image(write_image(tmp_path / "rgba.png", rgb, alpha=alpha))
    np.testing.assert_array_equal(image.alpha, quantize(alpha, 8))
    gray = read_image(write_image(tmp_path / "la.png", rgb[:, :, :1], alpha=alpha))
    assert gray.is_gray and gray.alpha is not None
    assert Image.open(tmp_path / "la.png").mode == "LA"


def test_palette_png_with_transparency_reads_as_rgba(tmp_path):
    pal = Image.fromarray(photo("chelsea")[:30, :30]).convert("P")
    pal.save(tmp_path / "p.png", transparency=0)
    image = read_image(tmp_path / "p.png")
    assert image.alpha is not None and not image.is_gray


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied_like_pillow(tmp_path, orientation):
    raw = Image.fromarray(photo("coffee")[:40, :60])
    exif = raw.getexif()
    exif[0x0112] = orientation
    raw.save(tmp_path / "o.png", exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "o.png")))
    np.testing.assert_array_equal(read_image(tmp_path / "o.png").color, expected)


def test_quantize_rounds_half_to_even_and_clips():
    values = np.array([0.5 / 255, 1.5 / 255, -0.1, 1.2])
    np.testing.assert_array_equal(quantize(values, 8), [0, 2, 0, 255])


@pytest.mark.parametrize(
    ("content", "name", "fragment"),
    [
        (None, "missing.png", "not found"),
        (b"", "empty.png", "empty"),
        (b"this is text, not an image\n", "text.png", "not a valid image"),
        (b"GIF89a", "anim.gif", "unsupported file type"),
    ],
)
def test_unreadable_inputs_raise_one_clear_error(tmp_path, content, name, fragment):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageReadError, match=fragment):
        read_image(path)


def test_truncated_png_and_jpeg_are_rejected(tmp_path, rgb):
    for ext in (".png", ".jpg"):
        data = write_image(tmp_path / f"full{ext}", rgb).read_bytes()
        cut = tmp_path / f"cut{ext}"
        cut.write_bytes(data[: len(data) * 2 // 3])
        with pytest.raises(ImageReadError, match="cannot read"):
            read_image(cut)


def test_writes_are_atomic_and_refuse_impossible_formats(tmp_path, rgb):
    with pytest.raises(ImageWriteError, match="alpha"):
        check_output_format(tmp_path / "x.jpg", has_alpha=True)
    with pytest.raises(ImageWriteError, match="unsupported"):
        write_image(tmp_path / "x.bmp", rgb)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ImageWriteError, match="not writable"):
        ensure_writable_dir(blocker / "sub")
    with pytest.raises(ImageWriteError):
        write_image(blocker / "x.png", rgb)
    write_image(tmp_path / "ok.png", rgb)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "ok.png"]  # no temporary files left


def test_float32_tiff_header_is_checked_against_the_pixel_limit_before_decoding(tmp_path, monkeypatch):
    """Pillow cannot parse float32 RGB TIFFs; their size must still be refused from the tags alone."""
    import tifffile

    from dualsr_cli import image_io
    from dualsr_cli.errors import ImageSizeError

    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, np.random.default_rng(0).random((120, 100, 3), dtype=np.float32), photometric="rgb")
    decoded = []
    monkeypatch.setattr(image_io, "_decode", lambda p: decoded.append(p))
    with pytest.raises(ImageSizeError, match="100x120"):
        read_image(path, max_megapixels=0.01)
    assert decoded == []
    assert image_io.read_header(path) == (100, 120)
