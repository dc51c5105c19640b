"""Is this a whole PNG or JPEG, and how large? Read from its bytes, never from a name.

The bot only stores and forwards evidence pictures (README.md, "Evidence"); it never
decodes them. So the check is structural, in pure Python (no imaging library in the bot's
image): the size in the header is checked *before* anything is decompressed, so a
decompression bomb is refused by its header; then the file is walked to its end marker,
so a truncated file is refused too.

- PNG (RFC 2083 / the W3C PNG spec): the signature, IHDR first with a valid bit depth and
  colour type, every chunk's CRC-32, IDAT chunks in one run, IEND last with nothing after;
  the image data is inflated in bounded steps, counting (not keeping) the bytes, and must
  be exactly what the header's size needs: not more (a bomb), not less (truncated).
- JPEG (ITU T.81): SOI, the marker segments with their lengths, a frame header (SOFn)
  with its size before the first scan, the entropy-coded data of each scan, EOI last.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

MAX_BYTES = 1024 * 1024  # one picture
MAX_SIDE = 4096  # pixels, width or height
MAX_PIXELS = 4096 * 3072  # one picture (12 megapixels)
MAX_RATIO = 20  # a picture to look at, not a strip (chat apps refuse longer ones as photos)
MAX_RAW_BYTES = 80 * 1024 * 1024  # a PNG's image data once inflated (counted, never kept)
PNG = "image/png"
JPEG = "image/jpeg"

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# colour type → (allowed bit depths, samples per pixel)
_PNG_COLOURS = {
    0: ((1, 2, 4, 8, 16), 1),
    2: ((8, 16), 3),
    3: ((1, 2, 4, 8), 1),
    4: ((8, 16), 2),
    6: ((8, 16), 4),
}
# Adam7: (x start, y start, x step, y step) of each pass
_ADAM7: tuple[tuple[int, int, int, int], ...] = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
_INFLATE_STEP = 256 * 1024


class ImageError(ValueError):
    """What is wrong with a picture, in words for the person who sent it; ``path``: which
    one (``evidence[1].data``), when known."""

    def __init__(self, problem: str, path: str = "evidence") -> None:
        super().__init__(problem)
        self.problem = problem
        self.path = path


@dataclass(frozen=True, slots=True)
class ImageInfo:
    media_type: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def inspect(data: bytes) -> ImageInfo:
    """The picture's type and size; ``ImageError`` when it is not a whole PNG or JPEG
    within the limits."""
    if len(data) > MAX_BYTES:
        raise ImageError(f"{len(data)} bytes is more than the {MAX_BYTES} allowed")
    if data.startswith(_PNG_SIGNATURE):
        return _png(data)
    if data.startswith(b"\xff\xd8\xff"):
        return _jpeg(data)
    raise ImageError("not a PNG or JPEG image (its first bytes are neither)")


def _sized(media_type: str, width: int, height: int) -> ImageInfo:
    kind = "PNG" if media_type == PNG else "JPEG"
    if width < 1 or height < 1:
        raise ImageError(f"{kind} header gives an empty size ({width}×{height})")
    if max(width, height) > MAX_SIDE:
        raise ImageError(
            f"{kind} of {width}×{height} pixels: a side is longer than {MAX_SIDE} pixels"
        )
    if max(width, height) > MAX_RATIO * min(width, height):
        raise ImageError(f"{kind} of {width}×{height} pixels is longer than {MAX_RATIO}:1")
    if width * height > MAX_PIXELS:
        raise ImageError(f"{kind} of {width}×{height} pixels is more than {MAX_PIXELS} pixels")
    return ImageInfo(media_type, width, height)


# -- PNG -----------------------------------------------------------------------


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk up to IEND, each CRC checked."""
    out: list[tuple[bytes, bytes]] = []
    pos = len(_PNG_SIGNATURE)
    while True:
        if pos + 8 > len(data):
            raise ImageError("truncated PNG (it ends before its IEND chunk)")
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        end = pos + 8 + length
        if length > 2**31 - 1 or end + 4 > len(data):
            raise ImageError("truncated PNG (a chunk runs past the end of the file)")
        body = data[pos + 8 : end]
        crc = int.from_bytes(data[end : end + 4], "big")
        if zlib.crc32(kind + body) != crc:
            raise ImageError(f"corrupt PNG (chunk {kind!r} fails its CRC check)")
        out.append((kind, body))
        pos = end + 4
        if kind == b"IEND":
            if pos != len(data):
                raise ImageError("PNG has data after its IEND chunk")
            return out


def _raw_size(width: int, height: int, bits: int, interlaced: bool) -> int:
    """Bytes of filtered scanlines the header's size needs (one filter byte per line)."""

    def lines(w: int, h: int) -> int:
        return 0 if w == 0 or h == 0 else h * (1 + (w * bits + 7) // 8)

    if not interlaced:
        return lines(width, height)
    total = 0
    for x0, y0, dx, dy in _ADAM7:
        total += lines((width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy)
    return total


def _png(data: bytes) -> ImageInfo:
    chunks = _chunks(data)
    kind, ihdr = chunks[0]
    if kind != b"IHDR" or len(ihdr) != 13:
        raise ImageError("corrupt PNG (it does not start with a 13-byte IHDR chunk)")
    width, height = int.from_bytes(ihdr[0:4], "big"), int.from_bytes(ihdr[4:8], "big")
    depth, colour, compression, filtering, interlace = ihdr[8:13]
    info = _sized(PNG, width, height)  # the bomb is refused here, before inflating
    depths, samples = _PNG_COLOURS.get(colour, ((), 0))
    if depth not in depths or compression or filtering or interlace > 1:
        raise ImageError(f"corrupt PNG (IHDR: bit depth {depth}, colour type {colour})")
    names = [k for k, _ in chunks]
    if colour == 3 and b"PLTE" not in names:
        raise ImageError("corrupt PNG (a palette image without a PLTE chunk)")
    first = names.index(b"IDAT") if b"IDAT" in names else -1
    count = names.count(b"IDAT")
    if first < 0 or names[first : first + count] != [b"IDAT"] * count:
        raise ImageError("corrupt PNG (its IDAT chunks are missing or not consecutive)")
    expected = _raw_size(width, height, depth * samples, interlace == 1)
    if expected > MAX_RAW_BYTES:
        raise ImageError(
            f"PNG image data would inflate to {expected} bytes (the most is {MAX_RAW_BYTES})"
        )
    _inflate_exactly(b"".join(body for k, body in chunks if k == b"IDAT"), expected)
    return info


def _inflate_exactly(compressed: bytes, expected: int) -> None:
    """Inflate in bounded steps, counting: never more than ``expected`` bytes at once."""
    inflater = zlib.decompressobj()
    produced = 0
    pending = compressed
    try:
        while not inflater.eof:
            out = inflater.decompress(pending, _INFLATE_STEP)
            produced += len(out)
            if produced > expected:
                raise ImageError("corrupt PNG (more image data than its size needs)")
            pending = inflater.unconsumed_tail
            if not out and not pending:
                break
    except zlib.error as exc:
        raise ImageError(f"corrupt PNG (its image data does not inflate: {exc})") from None
    if not inflater.eof or produced < expected:
        raise ImageError("truncated PNG (its image data ends early)")
    if inflater.unused_data:
        raise ImageError("corrupt PNG (data after the end of its compressed image data)")


# -- JPEG ----------------------------------------------------------------------

# Frame headers (T.81 B.1.1.3): SOF0-3, 5-7, 9-11, 13-15 (C4 DHT, C8 JPG, CC DAC are not).
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0-7: no length
_TRUNCATED_JPEG = "truncated JPEG (it ends before its EOI marker)"


def _scan_end(data: bytes, pos: int) -> int:
    """Where the entropy-coded data from ``pos`` ends: at a marker other than a stuffed
    0xFF00 or a restart marker."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            raise ImageError(_TRUNCATED_JPEG)
        nxt = data[pos + 1]
        if nxt == 0x00 or 0xD0 <= nxt <= 0xD7 or nxt == 0xFF:
            pos += 1 if nxt == 0xFF else 2
            continue
        return pos


def _jpeg(data: bytes) -> ImageInfo:
    pos, info = 2, None
    while True:
        if pos + 2 > len(data):
            raise ImageError(_TRUNCATED_JPEG)
        if data[pos] != 0xFF:
            raise ImageError(f"corrupt JPEG (no marker at byte {pos})")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:  # EOI
            if info is None:
                raise ImageError("corrupt JPEG (no frame header gives its size)")
            if pos + 2 != len(data):
                raise ImageError("JPEG has data after its EOI marker")
            return info
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker in (0x00, 0xD8):
            raise ImageError(f"corrupt JPEG (marker 0x{marker:02X} at byte {pos})")
        if pos + 4 > len(data):
            raise ImageError(_TRUNCATED_JPEG)
        length = int.from_bytes(data[pos + 2 : pos + 4], "big")
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise ImageError(_TRUNCATED_JPEG)
        if marker in _SOF:
            if length < 8 or info is not None:
                raise ImageError("corrupt JPEG (a bad or second frame header)")
            height = int.from_bytes(data[pos + 5 : pos + 7], "big")
            width = int.from_bytes(data[pos + 7 : pos + 9], "big")
            info = _sized(JPEG, width, height)
        if marker == 0xDA:  # SOS: a scan's entropy-coded data follows its header
            if info is None:
                raise ImageError("corrupt JPEG (a scan before its frame header)")
            end = _scan_end(data, end)
        pos = end
