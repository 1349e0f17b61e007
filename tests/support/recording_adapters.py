"""Channel adapters that record what the worker asks them to send, for the use-case tests
(tests/usecases): the worker's real outbox drain hands them each message, and nothing leaves
the process, so no HTTP stand-in is needed."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import ClassVar

from adapters.base import ChannelAdapter
from routing.messages import Channel, InboundMessage, OutboundMessage, SendResult


class RecordingAdapter:
    """An adapters.base.ChannelAdapter that keeps every message it is asked to send, in order,
    and answers with a fresh provider id. It only sends: webhooks are not its concern."""

    channel: ClassVar[Channel]

    def __init__(self) -> None:
        self.sent: list[OutboundMessage] = []
        self._ids = itertools.count(1)

    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        raise NotImplementedError("a recording adapter receives no webhooks")

    def parse(self, body: bytes) -> list[InboundMessage]:
        raise NotImplementedError("a recording adapter receives no webhooks")

    async def send(self, msg: OutboundMessage) -> SendResult:
        self.sent.append(msg)
        return SendResult(provider_id=f"{self.channel.value}-{next(self._ids)}")


class RecordingSms(RecordingAdapter):
    channel = Channel.SMS


class RecordingVoice(RecordingAdapter):
    channel = Channel.VOICE


class RecordingTelegram(RecordingAdapter):
    channel = Channel.TELEGRAM


class RecordingSlack(RecordingAdapter):
    channel = Channel.SLACK


class Recorders:
    """One recording adapter per channel, and what each was asked to send."""

    def __init__(self) -> None:
        self.by_channel: dict[Channel, RecordingAdapter] = {
            a.channel: a
            for a in (RecordingSms(), RecordingVoice(), RecordingTelegram(), RecordingSlack())
        }

    @property
    def adapters(self) -> dict[Channel, ChannelAdapter]:
        return dict(self.by_channel)

    def texts(self, channel: Channel, to: str) -> list[str]:
        """The texts sent to `to` on `channel`, oldest first."""
        return [m.text for m in self.by_channel[channel].sent if m.to == to]

    def all(self) -> list[OutboundMessage]:
        return [m for adapter in self.by_channel.values() for m in adapter.sent]
