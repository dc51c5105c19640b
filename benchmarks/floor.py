"""Floors measured in the same run as what they are the floor of.

- ``trivial_app``: an ASGI app that answers 200 at once, under the same uvicorn settings as
  the bot: the load generator's own floor plus the HTTP server's.
"""

from __future__ import annotations

from typing import Any


def trivial_app() -> Any:
    """uvicorn --factory benchmarks.floor:trivial_app"""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:  # read the body, as any real endpoint does
            message = await receive()
            more = message.get("more_body", False)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
            }
        )
        await send({"type": "http.response.body", "body": b"ok"})

    return app
