"""A photo checked by its content, not its name or declared type: decoded with Pillow, refused unless a JPEG, PNG,
WebP or HEIC within the size and pixel limits, turned upright and re-encoded without EXIF (a phone photo carries the
GPS position of the resident's home), with a thumbnail."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from services.intake.uploads.errors import PayloadTooLarge, UnsupportedMediaType

register_heif_opener()

# What Pillow names the formats we take, and the format each is stored as (HEIC becomes JPEG: browsers show it).
STORED_FORMAT = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "HEIF": "JPEG"}
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
JPEG_QUALITY = 85
THUMBNAIL_QUALITY = 80
NOT_A_PHOTO = "这个文件不是照片:请上传 JPEG、PNG、WebP 或 HEIC 格式的照片"


@dataclass(frozen=True)
class ImageLimits:
    """How large a photo may be, in bytes and in pixels, and the thumbnail's longest side."""

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000
    thumbnail_pixels: int = 320


@dataclass(frozen=True)
class CleanPhoto:
    """A photo re-encoded without metadata, and its JPEG thumbnail."""

    data: bytes
    content_type: str
    extension: str
    width: int
    height: int
    thumbnail: bytes


def check_size(size: int, limits: ImageLimits) -> None:
    """Raises PayloadTooLarge for a photo over the byte limit."""
    if size > limits.max_bytes:
        raise PayloadTooLarge(f"照片太大:每张不能超过 {limits.max_bytes // (1024 * 1024)} MB")


def clean_photo(data: bytes, limits: ImageLimits) -> CleanPhoto:
    """The photo upright, re-encoded without EXIF, XMP or comments, and its thumbnail; raises PayloadTooLarge or
    UnsupportedMediaType for anything else."""
    check_size(len(data), limits)
    image = _open(data, limits)
    with image:
        upright = ImageOps.exif_transpose(image)
    stored_format = STORED_FORMAT[str(image.format)]
    clean = _without_metadata(upright, stored_format)
    return CleanPhoto(
        data=_encode(clean, stored_format),
        content_type=CONTENT_TYPES[stored_format],
        extension=EXTENSIONS[stored_format],
        width=clean.width,
        height=clean.height,
        thumbnail=_thumbnail(clean, limits.thumbnail_pixels),
    )


def _open(data: bytes, limits: ImageLimits) -> Image.Image:
    """The decoded image, its header checked before its pixels are decoded (a small file may declare a huge image)."""
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as error:
        raise PayloadTooLarge(_too_many_pixels(limits)) from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        # SVG, PDF, text renamed .jpg, ...: Pillow recognises no raster image in it.
        raise UnsupportedMediaType(NOT_A_PHOTO) from error
    if image.format not in STORED_FORMAT:
        image.close()
        raise UnsupportedMediaType(NOT_A_PHOTO)
    if image.width * image.height > limits.max_pixels:
        image.close()
        raise PayloadTooLarge(_too_many_pixels(limits))
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        image.close()
        raise UnsupportedMediaType("照片文件已损坏,无法读取,请重新拍摄或选择") from error
    return image


def _too_many_pixels(limits: ImageLimits) -> str:
    return f"照片像素太多:不能超过 {limits.max_pixels // 1_000_000} 百万像素"


def _without_metadata(image: Image.Image, stored_format: str) -> Image.Image:
    """A copy of the pixels only: no EXIF (GPS, camera, time), XMP, ICC or comments survive."""
    keeps_alpha = stored_format != "JPEG" and image.mode in ("RGBA", "LA", "PA", "P")
    mode = "RGBA" if keeps_alpha else "RGB"
    pixels = image.convert(mode) if image.mode != mode else image
    return Image.frombytes(mode, pixels.size, pixels.tobytes())


def _encode(image: Image.Image, stored_format: str) -> bytes:
    out = io.BytesIO()
    if stored_format == "JPEG":
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif stored_format == "WEBP":
        image.save(out, "WEBP", quality=JPEG_QUALITY)
    else:
        image.save(out, "PNG", optimize=True)
    return out.getvalue()


def _thumbnail(image: Image.Image, longest_side: int) -> bytes:
    """A JPEG no larger than `longest_side` either way; transparency goes white."""
    small = image.copy()
    small.thumbnail((longest_side, longest_side))
    if small.mode == "RGBA":
        background = Image.new("RGB", small.size, (255, 255, 255))
        background.paste(small, mask=small.getchannel("A"))
        small = background
    out = io.BytesIO()
    small.save(out, "JPEG", quality=THUMBNAIL_QUALITY)
    return out.getvalue()
