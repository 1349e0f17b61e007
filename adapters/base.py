"""What every channel adapter offers the application."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Protocol

from routing.messages import Channel, InboundMessage, OutboundMessage, SendResult


class ChannelAdapter(Protocol):
    channel: ClassVar[Channel]

    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        """Raise routing.errors.InvalidSignature unless the provider sent this request."""
        ...

    def parse(self, body: bytes) -> list[InboundMessage]:
        """Turn a verified webhook body into messages; raise MalformedPayload if it is not one."""
        ...

    async def send(self, msg: OutboundMessage) -> SendResult:
        """Hand one message to the provider; raise routing.errors.SendFailed when it refuses."""
        ...
