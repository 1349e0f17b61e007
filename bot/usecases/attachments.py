"""Files staff send with a reply: what the use cases record and queue for one.

The web layer checks and stores the upload (bot/http/web/attachments.py) and hands the reply
an `OutgoingFile`. The message records what staff see (`as_recorded`: name, type, size, key);
each file goes out as one more outbox row after the text's parts, with what the adapters need
(`as_payload`): the local path (Telegram and Slack upload the bytes) and a signed, expiring
public URL (Twilio fetches MMS media itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from routing.messages import Channel, Delivery
from storage.outbox import MessagePart
from storage.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class OutgoingFile:
    key: str  # storage/files.py
    name: str  # as staff uploaded it, for the client and the timeline
    content_type: str
    size: int
    path: str  # where the worker reads it
    url: str | None  # signed and expiring under PUBLIC_URL; None without PUBLIC_URL

    def as_recorded(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "content_type": self.content_type,
            "size": self.size,
            "staff_upload": True,
        }

    def as_payload(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "content_type": self.content_type,
            "path": self.path,
            "url": self.url,
        }


def enqueue_files(
    uow: UnitOfWork,
    files: Sequence[OutgoingFile],
    *,
    channel: Channel,
    recipient: str,
    payload: dict[str, object],
    first_part: int,
    at: datetime,
    message_id: int,
) -> tuple[MessagePart, ...]:
    """One outbox row per file, as parts `first_part`, `first_part + 1`... of the message,
    sent after its text, in order."""
    parts = []
    for index, file in enumerate(files, start=first_part):
        uow.outbox.enqueue(
            kind="reply",
            channel=channel,
            recipient=recipient,
            payload={**payload, "text": "", "attachment": file.as_payload()},
            at=at,
            message_id=message_id,
            part=index,
        )
        parts.append(MessagePart(index, Delivery.QUEUED.value))
    return tuple(parts)
