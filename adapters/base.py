"""What every channel adapter offers the application."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar, Protocol, runtime_checkable

from routing.messages import Channel, InboundMessage, OutboundMessage, SendResult


class Sender(Protocol):
    """What the worker needs of a channel: sending. Voice calls are only sent."""

    channel: ClassVar[Channel]

    async def send(self, msg: OutboundMessage) -> SendResult:
        """Hand one message to the provider; raise routing.errors.SendFailed when it refuses."""
        ...


@runtime_checkable
class FindsSent(Protocol):
    """A channel whose provider can say whether it already took a message (Twilio's message
    and call lists), so a send a crash interrupted is not repeated."""

    async def find_sent(self, msg: OutboundMessage, since: datetime) -> str | None:
        """The provider's id of a message it took for `msg` since `since`, else None."""
        ...


@runtime_checkable
class HoldsConnections(Protocol):
    """A channel that keeps connections to its provider open between sends (per loop)."""

    async def aclose(self) -> None:
        """Close the running loop's connections."""
        ...


class ChannelAdapter(Sender, Protocol):
    """A channel clients write on: its webhooks are verified and parsed, and it sends."""

    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        """Raise routing.errors.InvalidSignature unless the provider sent this request."""
        ...

    def parse(self, body: bytes) -> list[InboundMessage]:
        """Turn a verified webhook body into messages; raise MalformedPayload if it is not one."""
        ...
