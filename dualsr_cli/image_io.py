"""Image files <-> arrays: the only place where files become pixels and back.

Pixels are decoded by imageio's OpenCV plugin, because it is the one decoder here that keeps 16-bit RGB(A)
PNG/TIFF intact (Pillow reduces 16-bit RGB to 8 bits). Pillow, which reads headers lazily, supplies what
OpenCV's unchanged read drops: the EXIF orientation and whether the file is grayscale. Pillow also fully
decodes the stream once as an integrity check, since OpenCV returns truncated JPEGs as half-grey images.

Inside srx an image is float in [0, 1]; conversion to and from integer samples happens only here.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ImageReadError, ImageSizeError, ImageWriteError

SUPPORTED_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")
_EIGHT_BIT_ONLY = (".jpg", ".jpeg", ".webp")
_NO_ALPHA = (".jpg", ".jpeg")
_GRAY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "La"}
_EXIF_ORIENTATION_TAG = 0x0112


def _cv2():
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
    bit_depth: int
    path: Path | None = None

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
    def max_value(self) -> int:
        return (1 << self.bit_depth) - 1

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
        return f"{self.width}x{self.height} {kind} {self.bit_depth}-bit"


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
        if path.suffix.lower() in (".tif", ".tiff"):
            return None  # OpenCV/libtiff decides, within its own pixel limit
        raise ImageReadError(f"cannot read '{path}': not a valid image ({_short(exc)})") from None
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


def _pillow_probe(path: Path) -> tuple[str | None, int]:
    """Return (Pillow mode, EXIF orientation) after a full decode that fails on truncated/corrupt data.

    Returns (None, 1) for TIFF variants Pillow cannot open; OpenCV/libtiff then decides.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                mode = im.mode
                orientation = int(im.getexif().get(_EXIF_ORIENTATION_TAG, 1) or 1)
                im.load()
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"cannot read '{path}': {_short(exc)}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        if path.suffix.lower() in (".tif", ".tiff") and isinstance(exc, UnidentifiedImageError):
            return None, 1
        reason = _short(exc)
        if "truncated" in reason.lower():
            reason = "the file is truncated"
        raise ImageReadError(f"cannot read '{path}': corrupt or not a valid image ({reason})") from None
    return mode, orientation


def read_image(path: str | os.PathLike, *, max_megapixels: float = MAX_MEGAPIXELS, what: str = "srx") -> ImageData:
    """Decode an image file (PNG 8/16-bit, JPEG, TIFF, WebP), applying EXIF orientation.

    The header's size is checked against ``max_megapixels`` (ImageSizeError, naming ``what``) before any
    pixel is decoded. Raises ImageReadError with a one-line reason for anything that is not a readable image.
    """
    path = Path(path)
    _check_file(path)
    _declared_size(path, max_megapixels, what)  # refuses an oversized header before any pixel is decoded
    return _decode(path)


def _decode(path: Path) -> ImageData:
    mode, orientation = _pillow_probe(path)
    cv2 = _cv2()
    import imageio.v3 as iio

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pixels = iio.imread(path, plugin="opencv", flags=cv2.IMREAD_UNCHANGED)
    except Exception as exc:  # imageio raises OSError/ValueError/cv2.error depending on the failure
        raise ImageReadError(f"cannot read '{path}': corrupt or not a valid image ({_short(exc)})") from None
    if pixels is None or pixels.size == 0:
        raise ImageReadError(f"cannot read '{path}': the decoder returned no pixels")
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ImageReadError(
            f"cannot read '{path}': {pixels.dtype} samples are not supported (srx reads 8- and 16-bit images)"
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
    bit_depth = 16 if pixels.dtype == np.uint16 else 8
    return ImageData(color=color, alpha=alpha, bit_depth=bit_depth, path=path)


def quantize(values: np.ndarray, bit_depth: int) -> np.ndarray:
    """[0, 1] floats -> integers, rounding half to even and clipping (as the official DualSR code).

    float32 input is rounded in float32, like the official ``tensor2im``; other input in float64.
    """
    max_value = (1 << bit_depth) - 1
    values = np.asarray(values)
    values = values if values.dtype == np.float32 else values.astype(np.float64)
    scaled = np.clip(np.round(values * max_value), 0, max_value)
    return scaled.astype(np.uint16 if bit_depth == 16 else np.uint8)


def output_bit_depth(path: Path, bit_depth: int) -> int:
    """The bit depth an output file can hold: JPEG and WebP store 8 bits only."""
    return 8 if path.suffix.lower() in _EIGHT_BIT_ONLY else bit_depth


def check_output_format(path: str | os.PathLike, *, has_alpha: bool) -> None:
    """Refuse, before any work is done, an output format that cannot hold the result."""
    path = Path(path)
    ext = _check_extension(path, "write")
    if has_alpha and ext in _NO_ALPHA:
        raise ImageWriteError(
            f"cannot write '{path}': JPEG has no alpha channel and the input has one; use .png, .tif or .webp"
        )


def ensure_writable_dir(folder: str | os.PathLike) -> Path:
    """Create ``folder`` if needed and prove a file can be created in it; raises ImageWriteError."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".srx-write-test-"):
            pass
    except OSError as exc:
        reason = exc.strerror or _short(exc)
        raise ImageWriteError(f"output folder '{folder}' is not writable ({reason})") from None
    return folder


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    A crash or interrupt therefore never leaves a partial file under the final name.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".srx-tmp{path.suffix}")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; outputs get the usual permissions
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_image(
    path: str | os.PathLike,
    color: np.ndarray,
    *,
    bit_depth: int = 8,
    alpha: np.ndarray | None = None,
    jpeg_quality: int = 95,
    mkdir: bool = False,
) -> Path:
    """Write float [0, 1] pixels ``color`` (H, W, 3) or (H, W, 1)/(H, W), plus optional alpha (H, W).

    The file appears atomically. JPEG/WebP are written with 8 bits whatever ``bit_depth`` says.
    ``mkdir`` creates missing parent folders.
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

    cv2 = _cv2()
    import imageio.v3 as iio

    params: list[int] = []
    if ext in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]
    try:
        if mkdir:
            path.parent.mkdir(parents=True, exist_ok=True)
        if not path.parent.exists():
            raise FileNotFoundError(2, "No such file or directory")
        with atomic_output(path) as tmp:
            if samples.ndim == 3 and samples.shape[2] == 2:
                _write_gray_alpha(tmp, samples)
            else:
                iio.imwrite(tmp, samples, plugin="opencv", params=params)
    except ImageWriteError:
        raise
    except Exception as exc:
        reason = getattr(exc, "strerror", None) or _short(exc)
        raise ImageWriteError(f"cannot write '{path}': {reason}") from None
    return path


def _write_gray_alpha(path: Path, samples: np.ndarray) -> None:
    """OpenCV cannot encode 2-channel images; Pillow writes 8-bit gray+alpha, 16-bit falls back to RGBA."""
    if samples.dtype == np.uint8 and path.suffix.lower() in (".png", ".webp", ".tif", ".tiff"):
        from PIL import Image

        Image.fromarray(samples).save(path)  # (H, W, 2) uint8 is mode "LA"
        return
    import imageio.v3 as iio

    gray, alpha = samples[:, :, :1], samples[:, :, 1:]
    iio.imwrite(path, np.concatenate([gray, gray, gray, alpha], axis=2), plugin="opencv")
