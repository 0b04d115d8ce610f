"""Photos checked by their content: only raster JPEG/PNG/WebP/HEIC within the limits pass, and they come out upright
without EXIF; links to them are signed and expire."""

from __future__ import annotations

import io

import pytest
from PIL import ExifTags, Image

from linli.errors import PermissionDenied
from services.intake.uploads.errors import PayloadTooLarge, UnsupportedMediaType
from services.intake.uploads.images import ImageLimits, clean_photo
from services.intake.uploads.storage import LinkSigner
from tests.unit.intake.uploads.photos import SVG_WITH_SCRIPT, exif_of, jpeg_with_gps, png, png_declaring

LIMITS = ImageLimits(max_bytes=1024 * 1024, max_pixels=4_000_000, thumbnail_pixels=16)


def test_a_phone_photo_loses_its_gps_and_stands_upright() -> None:
    original = jpeg_with_gps(40, 20)
    assert ExifTags.IFD.GPSInfo in exif_of(original)  # the test photo does carry a position

    photo = clean_photo(original, LIMITS)

    assert exif_of(photo.data) == {}
    assert exif_of(photo.thumbnail) == {}
    assert b"Exif" not in photo.data
    assert b"Exif" not in photo.thumbnail
    # Orientation 6 was applied before EXIF went: the 40×20 sensor image is a 20×40 photo.
    assert (photo.width, photo.height, photo.content_type) == (20, 40, "image/jpeg")
    with Image.open(io.BytesIO(photo.thumbnail)) as thumbnail:
        assert thumbnail.format == "JPEG"
        assert max(thumbnail.size) == 16


def test_png_stays_png_and_keeps_transparency() -> None:
    photo = clean_photo(png(30, 30), LIMITS)
    with Image.open(io.BytesIO(photo.data)) as image:
        assert (image.format, image.mode, photo.extension) == ("PNG", "RGBA", "png")


def test_webp_is_taken() -> None:
    out = io.BytesIO()
    Image.new("RGB", (24, 24), (1, 2, 3)).save(out, "WEBP")
    assert clean_photo(out.getvalue(), LIMITS).content_type == "image/webp"


def test_heic_is_stored_as_jpeg() -> None:
    out = io.BytesIO()
    Image.new("RGB", (24, 24), (1, 2, 3)).save(out, "HEIF")
    photo = clean_photo(out.getvalue(), LIMITS)
    assert (photo.content_type, photo.extension) == ("image/jpeg", "jpg")


@pytest.mark.parametrize(
    "content",
    [b"this is not a photo, whatever its name says", SVG_WITH_SCRIPT, b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", b""],
    ids=["text", "svg-with-script", "pdf", "empty"],
)
def test_what_is_no_raster_photo_is_refused(content: bytes) -> None:
    with pytest.raises(UnsupportedMediaType, match="不是照片"):
        clean_photo(content, LIMITS)


def test_a_gif_is_refused_though_pillow_reads_it() -> None:
    out = io.BytesIO()
    Image.new("P", (8, 8)).save(out, "GIF")
    with pytest.raises(UnsupportedMediaType):
        clean_photo(out.getvalue(), LIMITS)


def test_a_truncated_photo_is_refused() -> None:
    out = io.BytesIO()
    Image.effect_noise((300, 200), 80).convert("RGB").save(out, "JPEG")
    noise_jpeg = out.getvalue()
    with pytest.raises(UnsupportedMediaType, match="损坏"):
        clean_photo(noise_jpeg[: len(noise_jpeg) * 2 // 3], LIMITS)


@pytest.mark.parametrize(("width", "height"), [(30000, 30000), (2500, 2000)], ids=["bomb", "over-the-setting"])
def test_too_many_pixels_are_refused_before_decoding(width: int, height: int) -> None:
    with pytest.raises(PayloadTooLarge, match="像素"):
        clean_photo(png_declaring(width, height), LIMITS)


def test_too_many_bytes_are_refused() -> None:
    with pytest.raises(PayloadTooLarge, match="1 MB"):
        clean_photo(b"\xff\xd8" + b"\0" * LIMITS.max_bytes, LIMITS)


def test_a_signed_link_works_until_it_expires() -> None:
    now = [1_000_000.0]
    signer = LinkSigner([b"k" * 32], clock=lambda: now[0])
    link = signer.sign("/files/a", 60)
    path, query = link.split("?")
    params = dict(part.split("=") for part in query.split("&"))
    signer.verify(path, int(params["exp"]), params["sig"])
    with pytest.raises(PermissionDenied, match="失效"):
        signer.verify("/files/b", int(params["exp"]), params["sig"])  # another path
    with pytest.raises(PermissionDenied):
        signer.verify(path, int(params["exp"]) + 3600, params["sig"])  # a later expiry
    now[0] += 61
    with pytest.raises(PermissionDenied):
        signer.verify(path, int(params["exp"]), params["sig"])


def test_a_link_signed_before_a_key_rotation_still_verifies() -> None:
    old = LinkSigner([b"o" * 32])
    rotated = LinkSigner([b"n" * 32, b"o" * 32])
    path, query = old.sign("/files/a", 60).split("?")
    params = dict(part.split("=") for part in query.split("&"))
    rotated.verify(path, int(params["exp"]), params["sig"])
