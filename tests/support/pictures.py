"""Pictures for tests, written byte by byte (the PNG spec, ITU T.81) so that each defect
is exactly the one a test means: truncated, a bomb's header, a bad CRC."""

from __future__ import annotations

import base64
import struct
import zlib


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width: int = 8, height: int = 6, *, rgb: tuple[int, int, int] = (30, 120, 200)) -> bytes:
    """A whole RGB PNG of one colour."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def bomb(width: int = 60000, height: int = 60000) -> bytes:
    """A PNG whose header claims ``width``×``height`` (a few KB inflating to gigabytes):
    its image data is a short deflate stream of zeros, as a real bomb's is."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    data = compressor.compress(b"\x00" * (1024 * 1024)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def jpeg(width: int = 16, height: int = 8) -> bytes:
    """A JPEG's structure (SOI, APP0, SOF0 with the size, SOS and scan data, EOI): what the
    bot checks. Not a decodable picture: the bot never decodes."""
    app0 = b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00"
    sos = b"\x01\x01\x00\x00\x3f\x00"

    def segment(marker: int, body: bytes) -> bytes:
        return bytes((0xFF, marker)) + struct.pack(">H", len(body) + 2) + body

    scan = b"\x12\x34\xff\x00\x56"  # a stuffed 0xFF00 in the entropy-coded data
    return (
        b"\xff\xd8"
        + segment(0xE0, app0)
        + segment(0xC0, sof)
        + segment(0xDA, sos)
        + scan
        + b"\xff\xd9"
    )


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
