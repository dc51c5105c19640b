"""Evidence: the pictures a request was submitted with (README.md, "Evidence").

A picture is stored with the request, shown by every channel, and its SHA-256 goes into
the request's ``submitted`` event, so the audit log shows what the approvers saw.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.domain.images import MAX_PIXELS, ImageError, inspect

MAX_PICTURES = 4  # per request
MAX_TOTAL_PIXELS = 2 * MAX_PIXELS  # of a request's pictures together
MAX_ALT = 500  # characters of a picture's alt text (one sentence that states the numbers)


@dataclass(frozen=True, slots=True)
class EvidenceInfo:
    """What is known of a stored picture without its bytes."""

    index: int
    media_type: str
    width: int
    height: int
    size: int
    sha256: str
    alt: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "media_type": self.media_type,
            "width": self.width,
            "height": self.height,
            "size": self.size,
            "sha256": self.sha256,
            "alt": self.alt,
        }


@dataclass(frozen=True, slots=True)
class Picture:
    info: EvidenceInfo
    data: bytes


def pictures(items: Sequence[tuple[bytes, str]]) -> tuple[Picture, ...]:
    """Checked pictures from (bytes, alt text); ``ImageError`` naming the picture
    (``evidence[1].data``) when one is not a whole PNG or JPEG, or they are too many."""
    if len(items) > MAX_PICTURES:
        raise ImageError(f"{len(items)} pictures, the most is {MAX_PICTURES}")
    out: list[Picture] = []
    total = 0
    for i, (data, alt) in enumerate(items):
        try:
            image = inspect(data)
        except ImageError as exc:
            raise ImageError(exc.problem, f"evidence[{i}].data") from None
        total += image.pixels
        if total > MAX_TOTAL_PIXELS:
            raise ImageError(f"the pictures have more than {MAX_TOTAL_PIXELS} pixels together")
        digest = hashlib.sha256(data).hexdigest()
        info = EvidenceInfo(i, image.media_type, image.width, image.height, len(data), digest, alt)
        out.append(Picture(info, data))
    return tuple(out)
