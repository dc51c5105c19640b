"""The toy channel: its stage in the outbox, and a route where its clicks arrive."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from bot.adapters.plugin import ChannelBase, Wiring
from bot.domain.model import ApprovalRequest
from bot.service.chat.interactions import Interactions
from bot.service.chat.publisher import Publisher
from tests.toy import SPEC
from tests.toy.markup import ToyMarkup
from tests.toy.transport import ToyTransport


class Click:
    """A click, answered in the HTTP response."""

    budget = 5.0

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.said: list[Any] = []

    async def answer(self, rendered: Any, *, alert: bool = False, keep: bool = False) -> None:
        self.said.append(rendered)

    async def tell(self, rendered: Any) -> None:
        self.said.append(rendered)

    async def prompt_reason(self, request: ApprovalRequest) -> None:
        self.said.append({"text": f"why reject {request.id}?"})


class ToyChannel(ChannelBase):
    name = SPEC.name

    def __init__(self, wiring: Wiring) -> None:
        markup = ToyMarkup()
        services = wiring.services
        self.stage = Publisher(SPEC.name, markup, ToyTransport(), services.uow)
        self.chat = Interactions(services, channel=SPEC.name, markup=markup)

    def mount(self, app: Any) -> None:
        async def events(request: Request) -> JSONResponse:
            body = await request.json()
            click = Click(str(body["user"]))
            if body["action"] == "approve":
                await self.chat.approve(click, str(body["request"]))
            else:
                await self.chat.reject(click, str(body["request"]), body.get("reason"))
            return JSONResponse({"said": click.said})

        app.add_api_route("/toy/events", events, methods=["POST"], include_in_schema=False)


def wire(wiring: Wiring) -> None:
    wiring.add_channel(ToyChannel(wiring))
