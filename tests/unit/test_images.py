"""The pure-Python check of evidence pictures (bot/domain/images.py): whole PNGs and JPEGs
within the limits pass; anything else is refused naming why, a bomb by its header."""

from __future__ import annotations

import hashlib
import io
import time
import zlib

import pytest
from PIL import Image

from bot.domain import images
from bot.domain.evidence import MAX_PICTURES, pictures
from bot.domain.images import ImageError, inspect
from tests.support.pictures import bomb, chunk, jpeg, png


def _pillow(fmt: str, size: tuple[int, int], **kw) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, fmt, **kw)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "media_type", "size"),
    [
        (png(8, 6), images.PNG, (8, 6)),
        (jpeg(16, 8), images.JPEG, (16, 8)),
        (_pillow("PNG", (640, 480)), images.PNG, (640, 480)),
        (_pillow("PNG", (33, 17), optimize=True), images.PNG, (33, 17)),
        (_pillow("PNG", (50, 30), interlace=1), images.PNG, (50, 30)),
        (_pillow("JPEG", (640, 480), quality=80), images.JPEG, (640, 480)),
        (_pillow("JPEG", (123, 45), progressive=True), images.JPEG, (123, 45)),
    ],
)
def test_whole_pictures_are_recognised_by_their_bytes(data, media_type, size):
    info = inspect(data)
    assert (info.media_type, (info.width, info.height)) == (media_type, size)


def test_a_palette_png_from_pillow_passes():
    out = io.BytesIO()
    Image.new("P", (20, 10), 3).save(out, "PNG")
    assert inspect(out.getvalue()).width == 20


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"GIF89a" + b"\x00" * 20, "not a PNG or JPEG"),
        (b"%PDF-1.7", "not a PNG or JPEG"),
        (png()[:-12], "truncated PNG"),
        (png()[:40], "truncated PNG"),
        (png() + b"junk", "data after its IEND"),
        (jpeg()[:-2], "truncated JPEG"),
        (jpeg() + b"x", "data after its EOI"),
        (_pillow("JPEG", (64, 64))[:-300], "truncated JPEG"),
    ],
)
def test_what_is_not_a_whole_png_or_jpeg_is_refused(data, problem):
    with pytest.raises(ImageError, match=problem):
        inspect(data)


def test_a_png_with_a_bad_crc_is_refused():
    data = bytearray(png())
    data[20] ^= 0xFF  # inside IHDR
    with pytest.raises(ImageError, match="CRC"):
        inspect(bytes(data))


def test_a_png_whose_image_data_is_cut_short_is_refused_although_its_chunks_are_whole():
    whole = png(8, 6)
    raw = b"".join(b"\x00" + b"\x01\x02\x03" * 8 for _ in range(5))  # 5 rows of 6
    cut = whole[:33] + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    with pytest.raises(ImageError, match="ends early"):
        inspect(cut)


def test_a_bomb_is_refused_by_its_header_before_anything_is_inflated():
    data = bomb(60000, 60000)
    started = time.perf_counter()
    with pytest.raises(ImageError, match="longer than 4096"):
        inspect(data)
    assert time.perf_counter() - started < 0.05


def test_a_bomb_within_the_sides_but_over_the_pixels_is_refused_by_its_header():
    with pytest.raises(ImageError, match=f"more than {images.MAX_PIXELS} pixels"):
        inspect(bomb(4096, 4096))
    assert inspect(jpeg(4096, 3072)).pixels == images.MAX_PIXELS  # the most passes


def test_more_image_data_than_the_header_needs_is_refused_while_inflating():
    with pytest.raises(ImageError, match="more image data than its size needs"):
        inspect(bomb(100, 100))


def test_too_many_bytes_are_refused_before_looking():
    with pytest.raises(ImageError, match="bytes is more than"):
        inspect(b"\x89PNG\r\n\x1a\n" + b"\x00" * images.MAX_BYTES)


def test_pictures_are_hashed_and_counted():
    got = pictures([(png(), "one"), (jpeg(), "two")])
    assert [p.info.index for p in got] == [0, 1]
    assert got[0].info.sha256 == hashlib.sha256(png()).hexdigest()
    with pytest.raises(ImageError, match=f"the most is {MAX_PICTURES}"):
        pictures([(png(), "x")] * (MAX_PICTURES + 1))
    with pytest.raises(ImageError) as bad:
        pictures([(png(), "x"), (b"nope", "y")])
    assert bad.value.path == "evidence[1].data"


def test_the_pixels_of_a_requests_pictures_together_are_bounded():
    big = jpeg(4096, 3072)
    with pytest.raises(ImageError, match="pixels together"):
        pictures([(big, "a"), (big, "b"), (jpeg(10, 10), "c")])
