"""Image files <-> arrays: the only place where files become pixels and back.

Pixels are decoded by imageio's OpenCV plugin, because it is the one decoder here that keeps 16-bit RGB(A)
PNG/TIFF intact (Pillow reduces 16-bit RGB to 8 bits). Pillow, which reads headers lazily, supplies what
OpenCV's unchanged read drops: the EXIF orientation and whether the file is grayscale. Pillow also fully
decodes the stream once as an integrity check, since OpenCV returns truncated JPEGs as half-grey images.

Inside srx an image is float in [0, 1]; conversion to and from integer samples happens only here.
Float32 TIFFs (microscopy) are taken as they are: their samples are assumed to be in [0, 1], reach the
networks unscaled and unclipped, and are written back as float32 TIFF without clipping. A multi-page TIFF
(a stack) is refused in one line; srx processes single images.

A photo's EXIF, ICC profile and resolution travel with its pixels (``ImageMetadata``) and are written into
every output format that holds them: PNG eXIf/iCCP/pHYs, JPEG APP1/APP2/JFIF density, TIFF tags (EXIF and
GPS sub-IFDs included) and WebP EXIF/ICCP chunks. EXIF orientation is reset to 1 since srx applies it, the
pixel dimensions are updated and the resolution is multiplied by the upscaling factor, so that the print
size stays the same.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_output
from .errors import ImageReadError, ImageSizeError, ImageWriteError

SUPPORTED_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")
_EIGHT_BIT_ONLY = (".jpg", ".jpeg", ".webp")
_NO_ALPHA = (".jpg", ".jpeg")
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "La", "F"}
_TIFF = (".tif", ".tiff")
FLOAT_BIT_DEPTH = 32  # ``bit_depth`` of float32 TIFF samples
_EXIF_ORIENTATION_TAG = 0x0112
_EXIF_IFD, _GPS_IFD, _INTEROP_IFD = 0x8769, 0x8825, 0xA005
_PIXEL_X_DIMENSION, _PIXEL_Y_DIMENSION = 0xA002, 0xA003
_X_RESOLUTION, _Y_RESOLUTION, _RESOLUTION_UNIT = 0x011A, 0x011B, 0x0128
# IFD0 tags that describe the photo (not the pixel layout of the file they came from); EXIF and GPS
# sub-IFDs are kept whole except the interoperability pointer, whose offset would dangle once rewritten.
_DESCRIPTIVE_TAGS = {
    0x010E: "ImageDescription",
    0x010F: "Make",
    0x0110: "Model",
    0x0131: "Software",
    0x0132: "DateTime",
    0x013B: "Artist",
    0x013C: "HostComputer",
    0x8298: "Copyright",
}
_JPEG_MAX_EXIF = 65527  # an APP1 segment holds 65533 bytes, 6 of them the "Exif\0\0" header


@dataclass(frozen=True)
class ImageMetadata:
    """What a photo carries besides its pixels, kept on every image srx writes.

    ``exif`` is the EXIF block as TIFF bytes (descriptive IFD0 tags, EXIF and GPS sub-IFDs) with the
    orientation already reset to 1; ``icc_profile`` is the ICC profile byte for byte; ``dpi`` is the
    (x, y) resolution in pixels per inch, None when the file states none.
    """

    exif: bytes | None = None
    icc_profile: bytes | None = None
    dpi: tuple[float, float] | None = None


def import_opencv():
    # OpenCV logs decoder failures to stderr by itself; srx reports errors in one line of its own.
    os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
    import cv2

    with contextlib.suppress(AttributeError):
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    return cv2


@dataclass(frozen=True)
class ImageData:
    """Decoded image: integer samples exactly as stored, orientation already applied.

    ``color`` is (H, W, 3) for colour and (H, W, 1) for grayscale; ``alpha`` is (H, W) or None.
    """

    color: np.ndarray
    alpha: np.ndarray | None
    bit_depth: int  # 8, 16, or FLOAT_BIT_DEPTH for float32 samples taken as [0, 1]
    path: Path | None = None
    metadata: ImageMetadata = ImageMetadata()

    @property
    def height(self) -> int:
        return int(self.color.shape[0])

    @property
    def width(self) -> int:
        return int(self.color.shape[1])

    @property
    def is_gray(self) -> bool:
        return self.color.shape[2] == 1

    @property
    def max_value(self) -> float:
        return sample_max(self.bit_depth)

    def rgb_float64(self) -> np.ndarray:
        """(H, W, 3) float64 in [0, 1]; grayscale is replicated to three channels (as PIL's convert('RGB'))."""
        rgb = self.color.astype(np.float64) / float(self.max_value)
        return np.repeat(rgb, 3, axis=2) if self.is_gray else rgb

    def alpha_float64(self) -> np.ndarray | None:
        return None if self.alpha is None else self.alpha.astype(np.float64) / float(self.max_value)

    def describe(self) -> str:
        kind = "gray" if self.is_gray else "RGB"
        if self.alpha is not None:
            kind += "+alpha"
        depth = "float32" if self.bit_depth == FLOAT_BIT_DEPTH else f"{self.bit_depth}-bit"
        return f"{self.width}x{self.height} {kind} {depth}"


def sample_max(bit_depth: int) -> float:
    """The stored value of white: 255, 65535, or 1.0 for float32 samples."""
    return 1.0 if bit_depth == FLOAT_BIT_DEPTH else float((1 << bit_depth) - 1)


def _check_extension(path: Path, action: str) -> str:
    ext = path.suffix.lower()
    if ext not in SUPPORTED_EXTENSIONS:
        supported = ", ".join(SUPPORTED_EXTENSIONS)
        shown = ext or "(none)"
        raise (ImageReadError if action == "read" else ImageWriteError)(
            f"cannot {action} '{path}': unsupported file type '{shown}' (supported: {supported})"
        )
    return ext


def _apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) the way Pillow's ``ImageOps.exif_transpose`` does."""
    if orientation == 2:
        return array[:, ::-1]
    if orientation == 3:
        return array[::-1, ::-1]
    if orientation == 4:
        return array[::-1]
    if orientation == 5:
        return array.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(array, -1)
    if orientation == 7:
        return array[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(array, 1)
    return array


# Pillow refuses images above about 179 MP and warns above 89 MP (its decompression-bomb guard). srx
# refuses anything above this ceiling from the header alone, before a pixel is decoded, and commands
# pass tighter limits of their own; Pillow's guard therefore never fires and its warning never shows.
MAX_MEGAPIXELS = 89.0


def _open_header(path: Path, max_megapixels: float, what: str) -> tuple[int, int, int]:
    """(width, height, EXIF orientation) as the header declares them, refusing a size over the limit.

    Pillow's bomb guard is off while the header is read: srx checks the declared size itself, and no
    pixel is decoded here.
    """
    from PIL import Image

    guard = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                width, height = im.size
                check_pixel_limit(path, width, height, min(max_megapixels, MAX_MEGAPIXELS), what)
                # Pillow's PNG getexif decodes the whole image to look for an eXIf chunk after the pixels;
                # a header read takes the orientation from an eXIf chunk before them (the usual place).
                has_exif = im.format != "PNG" or "exif" in im.info
                orientation = int(im.getexif().get(_EXIF_ORIENTATION_TAG, 1) or 1) if has_exif else 1
    finally:
        Image.MAX_IMAGE_PIXELS = guard
    return width, height, orientation


def check_pixel_limit(path: Path, width: int, height: int, max_megapixels: float, what: str = "srx") -> None:
    """Refuse an image whose (declared) size is above ``max_megapixels``; ``what`` names who refuses."""
    megapixels = width * height / 1e6
    if megapixels > max_megapixels:
        raise ImageSizeError(
            f"'{path}' is {width}x{height} ({megapixels:.1f} MP): {what} accepts at most {max_megapixels:.0f} MP "
            "per image; crop or downscale it first"
        )


def _declared_size(path: Path, max_megapixels: float = MAX_MEGAPIXELS, what: str = "srx") -> tuple[int, int] | None:
    """(width, height) after EXIF orientation, from the header; None for a TIFF Pillow cannot parse."""
    from PIL import UnidentifiedImageError

    try:
        width, height, orientation = _open_header(path, max_megapixels, what)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        if path.suffix.lower() in _TIFF:
            return _tiff_header_size(path, max_megapixels, what)  # float32 and other TIFFs Pillow cannot parse
        raise ImageReadError(f"cannot read '{path}': not a valid image ({_short(exc)})") from None
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _tiff_header_size(path: Path, max_megapixels: float, what: str) -> tuple[int, int] | None:
    """(width, height) of a TIFF's first page as tifffile reads its tags; None if tifffile cannot either."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            width, height = int(page.imagewidth), int(page.imagelength)
            orientation = int(page.tags[274].value) if 274 in page.tags else 1
    except (tifffile.TiffFileError, OSError, ValueError, KeyError, IndexError):
        return None  # the decoder reports what is wrong
    check_pixel_limit(path, width, height, min(max_megapixels, MAX_MEGAPIXELS), what)
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def read_header(
    path: str | os.PathLike, *, max_megapixels: float = MAX_MEGAPIXELS, what: str = "srx"
) -> tuple[int, int]:
    """(width, height) from the file header; raises ImageReadError, or ImageSizeError above ``max_megapixels``."""
    path = Path(path)
    _check_file(path)
    size = _declared_size(path, max_megapixels, what)
    if size is None:
        image = _decode(path)
        return image.width, image.height
    return size


def _check_file(path: Path) -> None:
    if not path.exists():
        if path.is_symlink():
            raise ImageReadError(f"cannot read '{path}': a broken symbolic link (or a link loop)")
        raise ImageReadError(f"input not found: '{path}'")
    if path.is_dir():
        raise ImageReadError(f"'{path}' is a folder, expected an image file")
    if path.stat().st_size == 0:
        raise ImageReadError(f"cannot read '{path}': the file is empty (0 bytes)")
    _check_extension(path, "read")


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def _pillow_probe(path: Path) -> tuple[str | None, int, ImageMetadata]:
    """Return (Pillow mode, EXIF orientation, metadata) after a full decode that fails on corrupt data.

    Returns (None, orientation, metadata read by tifffile) for TIFF variants Pillow cannot open (float32,
    some 16-bit layouts); OpenCV then decodes the pixels.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                mode = im.mode
                exif = im.getexif()
                orientation = int(exif.get(_EXIF_ORIENTATION_TAG, 1) or 1)
                pages = getattr(im, "n_frames", 1) if path.suffix.lower() in _TIFF else 1
                metadata = ImageMetadata(
                    exif=_portable_exif(exif),
                    icc_profile=im.info.get("icc_profile") or None,
                    dpi=_valid_dpi(im.info.get("dpi")) or _exif_dpi(exif),
                )
                im.load()
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"cannot read '{path}': {_short(exc)}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        if path.suffix.lower() in _TIFF and isinstance(exc, UnidentifiedImageError):
            orientation, metadata, pages = _tifffile_probe(path)
            _refuse_stack(path, pages)
            return None, orientation, metadata
        reason = _short(exc)
        if "truncated" in reason.lower():
            reason = "the file is truncated"
        raise ImageReadError(f"cannot read '{path}': corrupt or not a valid image ({reason})") from None
    _refuse_stack(path, pages)
    return mode, orientation, metadata


def _refuse_stack(path: Path, pages: int) -> None:
    if pages > 1:
        raise ImageReadError(
            f"cannot read '{path}': it is a multi-page TIFF ({pages} pages); srx processes single images, "
            "so save the pages as separate files first"
        )


def _tifffile_probe(path: Path) -> tuple[int, ImageMetadata, int]:
    """(orientation, ICC profile and resolution, page count) of a TIFF that Pillow cannot open."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            tags = page.tags
            orientation = int(tags[274].value) if 274 in tags else 1
            icc = bytes(tags[34675].value) if 34675 in tags else None
            dpi = None
            if _X_RESOLUTION in tags and _Y_RESOLUTION in tags:
                unit = int(tags[_RESOLUTION_UNIT].value) if _RESOLUTION_UNIT in tags else 2
                per_inch = {2: 1.0, 3: 2.54}.get(unit)
                x, y = (tags[t].value for t in (_X_RESOLUTION, _Y_RESOLUTION))
                if per_inch is not None:
                    dpi = _valid_dpi((x[0] / x[1] * per_inch, y[0] / y[1] * per_inch))
            return orientation, ImageMetadata(icc_profile=icc, dpi=dpi), len(tif.pages)
    except (tifffile.TiffFileError, OSError, ValueError, KeyError, IndexError, ZeroDivisionError) as exc:
        raise ImageReadError(f"cannot read '{path}': corrupt or not a valid TIFF ({_short(exc)})") from None


def _valid_dpi(dpi: object) -> tuple[float, float] | None:
    try:
        x, y = (float(v) for v in dpi)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    return (x, y) if x > 0 and y > 0 and np.isfinite([x, y]).all() else None


def _exif_dpi(exif) -> tuple[float, float] | None:
    """Resolution from EXIF IFD0 (WebP has no other place for it)."""
    per_inch = {2: 1.0, 3: 2.54}.get(int(exif.get(_RESOLUTION_UNIT, 2) or 2))
    if per_inch is None or _X_RESOLUTION not in exif or _Y_RESOLUTION not in exif:
        return None
    with contextlib.suppress(TypeError, ValueError, ZeroDivisionError):
        return _valid_dpi((float(exif[_X_RESOLUTION]) * per_inch, float(exif[_Y_RESOLUTION]) * per_inch))
    return None


def _portable_exif(exif) -> bytes | None:
    """The part of a decoded EXIF (``PIL.Image.Exif``) worth carrying to a new file, as TIFF bytes.

    Metadata never stops an image from being read: an EXIF block Pillow cannot re-encode is dropped.
    """
    try:
        return _portable_exif_bytes(exif)
    except Exception:  # Pillow raises TypeError/ValueError/struct.error/OSError on malformed tag values
        return None


def _portable_exif_bytes(exif) -> bytes | None:
    from PIL import Image

    kept = Image.Exif()
    for tag in _DESCRIPTIVE_TAGS:
        if tag in exif:
            kept[tag] = exif[tag]
    for pointer in (_EXIF_IFD, _GPS_IFD):
        with contextlib.suppress(KeyError, ValueError, OSError, struct.error):
            sub = {k: v for k, v in exif.get_ifd(pointer).items() if k != _INTEROP_IFD}
            if sub:
                kept[pointer] = sub
    if not len(kept):
        return None
    kept[_EXIF_ORIENTATION_TAG] = 1
    return _exif_bytes(kept)


def _exif_bytes(exif) -> bytes:
    data = exif.tobytes()
    return data[6:] if data.startswith(b"Exif\x00\x00") else data


def read_image(path: str | os.PathLike, *, max_megapixels: float = MAX_MEGAPIXELS, what: str = "srx") -> ImageData:
    """Decode an image file (PNG 8/16-bit, JPEG, TIFF 8/16-bit/float32, WebP), applying EXIF orientation.

    The header's size is checked against ``max_megapixels`` (ImageSizeError, naming ``what``) before any
    pixel is decoded. Raises ImageReadError with a one-line reason for anything that is not a readable image.
    """
    path = Path(path)
    _check_file(path)
    _declared_size(path, max_megapixels, what)  # refuses an oversized header before any pixel is decoded
    return _decode(path)


def _decode(path: Path) -> ImageData:
    mode, orientation, metadata = _pillow_probe(path)
    cv2 = import_opencv()
    import imageio.v3 as iio

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pixels = iio.imread(path, plugin="opencv", flags=cv2.IMREAD_UNCHANGED)
    except Exception as exc:  # imageio raises OSError/ValueError/cv2.error depending on the failure
        raise ImageReadError(f"cannot read '{path}': corrupt or not a valid image ({_short(exc)})") from None
    if pixels is None or pixels.size == 0:
        raise ImageReadError(f"cannot read '{path}': the decoder returned no pixels")
    if pixels.dtype not in (np.uint8, np.uint16, np.float32):
        raise ImageReadError(
            f"cannot read '{path}': {pixels.dtype} samples are not supported "
            "(srx reads 8- and 16-bit images and float32 TIFFs)"
        )
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4):
        raise ImageReadError(f"cannot read '{path}': unsupported channel layout {pixels.shape}")

    channels = pixels.shape[2]
    alpha = pixels[:, :, -1] if channels in (2, 4) else None
    color = pixels[:, :, :1] if channels in (1, 2) else pixels[:, :, :3]
    if mode in _GRAY_MODES and color.shape[2] == 3:
        color = color[:, :, :1]  # OpenCV expands gray+alpha to BGRA; keep one channel
    color = np.ascontiguousarray(_apply_orientation(color, orientation))
    if alpha is not None:
        alpha = np.ascontiguousarray(_apply_orientation(alpha[:, :, None], orientation)[:, :, 0])
    bit_depth = {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}.get(pixels.dtype, FLOAT_BIT_DEPTH)
    return ImageData(color=color, alpha=alpha, bit_depth=bit_depth, path=path, metadata=metadata)


def quantize(values: np.ndarray, bit_depth: int) -> np.ndarray:
    """[0, 1] floats -> integers, rounding half to even and clipping (as the official DualSR code).

    float32 input is rounded in float32, like the official ``tensor2im``; other input in float64.
    ``bit_depth`` FLOAT_BIT_DEPTH returns float32 samples unclipped.
    """
    values = np.asarray(values)
    if bit_depth == FLOAT_BIT_DEPTH:
        return values.astype(np.float32)
    max_value = (1 << bit_depth) - 1
    values = values if values.dtype == np.float32 else values.astype(np.float64)
    scaled = np.clip(np.round(values * max_value), 0, max_value)
    return scaled.astype(np.uint16 if bit_depth == 16 else np.uint8)


def output_bit_depth(path: Path, bit_depth: int) -> int:
    """The bit depth an output file can hold: JPEG and WebP store 8 bits, PNG at most 16, TIFF also float32."""
    ext = path.suffix.lower()
    if ext in _EIGHT_BIT_ONLY:
        return 8
    return 16 if bit_depth == FLOAT_BIT_DEPTH and ext not in _TIFF else bit_depth


def check_output_format(path: str | os.PathLike, *, has_alpha: bool) -> None:
    """Refuse, before any work is done, an output format that cannot hold the result."""
    path = Path(path)
    ext = _check_extension(path, "write")
    if has_alpha and ext in _NO_ALPHA:
        raise ImageWriteError(
            f"cannot write '{path}': JPEG has no alpha channel and the input has one; use .png, .tif or .webp"
        )


def write_image(
    path: str | os.PathLike,
    color: np.ndarray,
    *,
    bit_depth: int = 8,
    alpha: np.ndarray | None = None,
    jpeg_quality: int = 95,
    mkdir: bool = False,
    metadata: ImageMetadata | None = None,
    scale: float = 1.0,
) -> Path:
    """Write float [0, 1] pixels ``color`` (H, W, 3) or (H, W, 1)/(H, W), plus optional alpha (H, W).

    The file appears atomically. JPEG/WebP are written with 8 bits whatever ``bit_depth`` says, PNG with
    at most 16. ``metadata`` (from the input) is written with its resolution multiplied by ``scale``, the
    factor from the input's pixels to these. ``mkdir`` creates missing parent folders.
    """
    path = Path(path)
    ext = _check_extension(path, "write")
    check_output_format(path, has_alpha=alpha is not None)
    color = np.asarray(color)
    if color.ndim == 2:
        color = color[:, :, None]
    depth = output_bit_depth(path, bit_depth)
    planes = [quantize(color, depth)]
    if alpha is not None:
        planes.append(quantize(alpha, depth)[:, :, None])
    samples = np.concatenate(planes, axis=2) if len(planes) > 1 else planes[0]
    if samples.shape[2] == 1:
        samples = samples[:, :, 0]
    tags = _OutputTags.of(metadata or ImageMetadata(), width=samples.shape[1], height=samples.shape[0], scale=scale)

    try:
        if mkdir:
            path.parent.mkdir(parents=True, exist_ok=True)
        if not path.parent.exists():
            raise FileNotFoundError(2, "No such file or directory")
        with atomic_output(path) as tmp:
            if ext in _TIFF:
                _write_tiff(tmp, samples, tags)
            elif ext == ".png":
                _write_png(tmp, samples, tags)
            else:
                _write_with_pillow(tmp, samples, tags, jpeg_quality=jpeg_quality)
    except ImageWriteError:
        raise
    except Exception as exc:
        reason = getattr(exc, "strerror", None) or _short(exc)
        raise ImageWriteError(f"cannot write '{path}': {reason}") from None
    return path


@dataclass(frozen=True)
class _OutputTags:
    """Metadata as one output file states it: EXIF with this file's size and resolution, DPI scaled."""

    exif: bytes | None
    icc_profile: bytes | None
    dpi: tuple[float, float] | None

    @classmethod
    def of(cls, metadata: ImageMetadata, *, width: int, height: int, scale: float) -> _OutputTags:
        dpi = None if metadata.dpi is None else (metadata.dpi[0] * scale, metadata.dpi[1] * scale)
        exif = None
        if metadata.exif:
            with contextlib.suppress(Exception), warnings.catch_warnings():  # bad EXIF is dropped, never fatal
                warnings.simplefilter("ignore")
                exif = _resized_exif(metadata.exif, width=width, height=height, dpi=dpi)
        return cls(exif=exif, icc_profile=metadata.icc_profile, dpi=dpi)


def _resized_exif(data: bytes, *, width: int, height: int, dpi: tuple[float, float] | None) -> bytes | None:
    """``data`` (TIFF-structured EXIF) stating this file's pixel size, orientation 1 and resolution."""
    from PIL import Image

    source = Image.Exif()
    source.load(data)
    if not len(source):
        return None
    exif = Image.Exif()
    for tag, value in source.items():
        if tag not in (_EXIF_IFD, _GPS_IFD):
            exif[tag] = value
    gps = source.get_ifd(_GPS_IFD)
    if gps:
        exif[_GPS_IFD] = dict(gps)
    exif[_EXIF_IFD] = {**source.get_ifd(_EXIF_IFD), _PIXEL_X_DIMENSION: width, _PIXEL_Y_DIMENSION: height}
    exif[_EXIF_ORIENTATION_TAG] = 1
    if dpi is not None:
        exif[_X_RESOLUTION], exif[_Y_RESOLUTION], exif[_RESOLUTION_UNIT] = dpi[0], dpi[1], 2
    return _exif_bytes(exif)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _write_png(path: Path, samples: np.ndarray, tags: _OutputTags) -> None:
    """Pixels by OpenCV (16-bit RGB(A) intact), then iCCP, pHYs and eXIf chunks inserted after IHDR."""
    if samples.ndim == 3 and samples.shape[2] == 2:
        _write_gray_alpha(path, samples)
    else:
        import imageio.v3 as iio

        import_opencv()
        iio.imwrite(path, samples, plugin="opencv")
    chunks = []
    gray = samples.ndim == 2 or samples.shape[2] == 2
    if tags.icc_profile and (tags.icc_profile[16:20] == b"GRAY") == gray:  # libpng rejects a mismatched space
        chunks.append(_png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(tags.icc_profile)))
    if tags.dpi:
        chunks.append(_png_chunk(b"pHYs", struct.pack(">IIB", *(max(1, round(d / 0.0254)) for d in tags.dpi), 1)))
    if tags.exif:
        chunks.append(_png_chunk(b"eXIf", tags.exif))
    if not chunks:
        return
    data = path.read_bytes()
    replaced = {b"iCCP", b"sRGB", b"pHYs", b"eXIf"}
    kept, position = [], 8
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        end = position + 12 + length
        if kind not in replaced:
            kept.append(data[position:end])
        position = end
    path.write_bytes(data[:8] + kept[0] + b"".join(chunks) + b"".join(kept[1:]))  # kept[0] is IHDR


def _write_with_pillow(path: Path, samples: np.ndarray, tags: _OutputTags, *, jpeg_quality: int) -> None:
    """JPEG (APP1 EXIF, APP2 ICC, JFIF density) and lossless WebP (EXIF and ICCP chunks); 8-bit only."""
    from PIL import Image

    image = Image.fromarray(samples)
    options: dict[str, object] = {}
    if tags.icc_profile:
        options["icc_profile"] = tags.icc_profile
    if tags.exif and not (path.suffix.lower() != ".webp" and len(tags.exif) > _JPEG_MAX_EXIF):
        options["exif"] = b"Exif\x00\x00" + tags.exif
    if path.suffix.lower() == ".webp":
        image.save(path, "WEBP", lossless=True, exact=True, **options)
        return
    if tags.dpi:
        options["dpi"] = tuple(max(1, round(d)) for d in tags.dpi)
    image.save(path, "JPEG", quality=int(jpeg_quality), **options)


def _write_tiff(path: Path, samples: np.ndarray, tags: _OutputTags) -> None:
    """tifffile writes the pixels (8/16-bit, float32) with ICC, resolution and IFD0 EXIF tags as TIFF tags.

    tifffile does not write EXIF/GPS sub-IFD pointers itself, so they are written under placeholder tag
    numbers that sort where the real ones do (34664, 34852), and after writing each placeholder is renamed
    and pointed at its sub-IFD, appended by Pillow's IFD encoder.
    """
    import tifffile

    if samples.ndim == 3 and samples.shape[2] == 2:  # OpenCV drops the alpha of 2-channel TIFFs: store RGBA
        samples = np.concatenate([samples[:, :, :1]] * 3 + [samples[:, :, 1:]], axis=2)
    channels = 1 if samples.ndim == 2 else samples.shape[2]
    extratags: list[tuple] = []
    sub_ifds: dict[int, dict] = {}
    if tags.exif:
        from PIL import Image

        exif = Image.Exif()
        exif.load(tags.exif)
        for tag in _DESCRIPTIVE_TAGS:
            if isinstance(exif.get(tag), str) and exif[tag]:
                extratags.append((tag, "s", 0, exif[tag], True))
        extratags.append((_EXIF_ORIENTATION_TAG, "H", 1, 1, True))
        for pointer in (_EXIF_IFD, _GPS_IFD):
            sub = exif.get_ifd(pointer)
            if sub:
                sub_ifds[pointer] = dict(sub)
                extratags.append((pointer - 1, "I", 1, 0, True))
    options: dict[str, object] = {}
    if tags.dpi:
        options.update(resolution=tags.dpi, resolutionunit="INCH")
    if tags.icc_profile:
        options["iccprofile"] = tags.icc_profile
    tifffile.imwrite(
        path,
        samples,
        photometric="minisblack" if channels in (1, 2) else "rgb",
        extrasamples=("unassalpha",) if channels in (2, 4) else None,
        compression="zlib",
        metadata=None,
        software=False,
        extratags=extratags,
        **options,
    )
    if sub_ifds:
        _attach_sub_ifds(path, sub_ifds)


def _attach_sub_ifds(path: Path, sub_ifds: dict[int, dict]) -> None:
    import tifffile
    from PIL import TiffImagePlugin

    with tifffile.TiffFile(path) as tif:
        order = tif.byteorder
        slots = {pointer: tif.pages[0].tags[pointer - 1].valueoffset for pointer in sub_ifds}
    header = (b"II*\x00" if order == "<" else b"MM\x00*") + b"\x00" * 4
    with open(path, "r+b") as fh:
        for pointer, values in sub_ifds.items():
            end = fh.seek(0, io.SEEK_END)
            if end % 2:
                fh.write(b"\x00")
                end += 1
            ifd = TiffImagePlugin.ImageFileDirectory_v2(ifh=header, group=pointer)
            for tag, value in values.items():
                with contextlib.suppress(TypeError, ValueError):
                    ifd[tag] = value
            try:
                data = ifd.tobytes(end)
            except (TypeError, ValueError, struct.error):
                continue  # the placeholder stays an unknown private tag; the sub-IFD is dropped
            fh.write(data)
            fh.seek(slots[pointer] - 8)  # the 12-byte entry: tag, type, count, value
            fh.write(struct.pack(f"{order}H", pointer))
            fh.seek(slots[pointer])
            fh.write(struct.pack(f"{order}I", end))


def _write_gray_alpha(path: Path, samples: np.ndarray) -> None:
    """OpenCV cannot encode 2-channel images; Pillow writes 8-bit gray+alpha, 16-bit falls back to RGBA."""
    if samples.dtype == np.uint8:
        from PIL import Image

        Image.fromarray(samples).save(path, format="PNG")  # (H, W, 2) uint8 is mode "LA"
        return
    import imageio.v3 as iio

    gray, alpha = samples[:, :, :1], samples[:, :, 1:]
    iio.imwrite(path, np.concatenate([gray, gray, gray, alpha], axis=2), plugin="opencv")
