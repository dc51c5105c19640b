"""What schemathesis needs to make a valid submission with evidence: pictures.

The schema says a picture is a base64 PNG or JPEG (format ``image-base64``); a fuzzer
cannot invent a whole PNG, so this registers a strategy that writes small ones. Loaded by
tests/integration/test_api.py, and by the `st` command line with
``SCHEMATHESIS_HOOKS=tests.support.schemathesis_hooks`` (README.md, "HTTP API").
"""

from __future__ import annotations

import schemathesis
from hypothesis import strategies as st

from bot.service.schemas import EVIDENCE_FORMAT
from tests.support.pictures import b64, jpeg, png

_sizes = st.integers(min_value=1, max_value=64)
_colours = st.tuples(*[st.integers(0, 255)] * 3)
PICTURES = st.one_of(
    st.builds(lambda w, h, c: b64(png(w, h, rgb=c)), _sizes, _sizes, _colours),
    st.builds(lambda w, h: b64(jpeg(w, h)), _sizes, _sizes),
)
schemathesis.openapi.format(EVIDENCE_FORMAT, PICTURES)
