"""Messages as the domain sees them, whatever channel carried them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Channel(enum.StrEnum):
    SMS = "sms"
    TELEGRAM = "telegram"
    SLACK = "slack"
    VOICE = "voice"  # outbound paging calls only; never a client channel


class Direction(enum.StrEnum):
    IN = "in"  # from the client
    OUT = "out"  # from staff
    AUTO = "auto"  # sent by Partnerline itself
    NOTE = "note"  # internal, never sent


class Delivery(enum.StrEnum):
    """Delivery state of an outgoing message; only ever moves forward (see RANK)."""

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


DELIVERY_RANK = {Delivery.QUEUED: 0, Delivery.SENT: 1, Delivery.DELIVERED: 2, Delivery.FAILED: 2}


def delivery_moves_forward(current: Delivery, new: Delivery) -> bool:
    """A late "sent" never overwrites "delivered"; terminal states stay terminal."""
    if current in (Delivery.DELIVERED, Delivery.FAILED):
        return False
    return DELIVERY_RANK[new] > DELIVERY_RANK[current]


class OptKeyword(enum.StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"


@dataclass(frozen=True, slots=True)
class Attachment:
    url: str | None = None  # where the provider serves it (Twilio MediaUrlN)
    content_type: str | None = None
    file_id: str | None = None  # provider's own handle (Telegram file_id, Slack file id)
    name: str | None = None


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message a person sent us, parsed from a provider's webhook.

    `provider_id` is the provider's own id for the message (Twilio MessageSid, Telegram
    chat:message id, Slack ts); it is unique per channel, which is what makes retries harmless.
    `address` is who sent it on that channel: an E.164 number, a Telegram user id, a Slack user id.
    """

    channel: Channel
    provider_id: str
    address: str
    text: str
    received_at: datetime
    attachments: tuple[Attachment, ...] = ()
    opt_keyword: OptKeyword | None = None
    chat_id: str | None = None  # where to answer, when that is not `address` (Slack channel)
    thread_id: str | None = None
    edit_of: str | None = None  # provider id of the message this edits
    # The provider's own time of an edit (Telegram edit_date, Slack edited.ts): it orders
    # edits of one message that reach us out of order (a retried delivery).
    edited_at: datetime | None = None
    # The sender's name as the provider told us (Slack users.info), for a contact made for them.
    sender_name: str | None = None
    raw: dict[str, object] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to send: the worker hands it to the channel's adapter."""

    channel: Channel
    to: str  # address or chat id on that channel
    text: str
    outbox_id: int | None = None
    thread_id: str | None = None
    status_callback: str | None = None  # where the provider should report delivery
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_id: str | None
    delivery: Delivery = Delivery.SENT
