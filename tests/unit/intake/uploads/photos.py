"""Photos and not-photos for the upload tests, made here with Pillow (no binary fixtures in the repository)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image

# Where the resident's home is, as a phone writes it into EXIF: 31°13'49"N 121°28'25"E.
HOME_GPS = {1: "N", 2: (31.0, 13.0, 49.0), 3: "E", 4: (121.0, 28.0, 25.0)}
ROTATED_90 = 6  # EXIF orientation: the camera was held upright, the sensor stored it sideways
SVG_WITH_SCRIPT = b"""<?xml version="1.0"?>
<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><script>alert(document.cookie)</script>
<rect width="40" height="40" fill="red"/></svg>"""


def jpeg_with_gps(width: int = 40, height: int = 20) -> bytes:
    """A phone photo: JPEG with the GPS position and an orientation in its EXIF."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = ROTATED_90
    exif[ExifTags.Base.Make] = "linli-test-phone"
    exif[ExifTags.IFD.GPSInfo] = HOME_GPS
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def png(width: int = 30, height: int = 30, mode: str = "RGBA") -> bytes:
    """A plain PNG."""
    out = io.BytesIO()
    Image.new(mode, (width, height), (10, 120, 200, 128) if mode == "RGBA" else (10, 120, 200)).save(out, "PNG")
    return out.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A few hundred bytes that declare a width×height PNG: decoded, it would take gigabytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 4096))
        + chunk(b"IEND", b"")
    )


def exif_of(data: bytes) -> dict[int, object]:
    """The EXIF tags of an image (with its GPS IFD under GPSInfo), empty when it carries none."""
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        tags: dict[int, object] = dict(exif)
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
        if gps:
            tags[ExifTags.IFD.GPSInfo] = gps
        return tags
