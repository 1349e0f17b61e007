"""What a provider's delivery may hold: checked at the webhook, before anything is stored.

The sizes are those of the columns the values are stored in (storage/tables.py declares those
columns with these constants), so a delivery a webhook accepts is one the database takes, on
SQLite (which enforces no lengths) as on PostgreSQL (which does, and refuses U+0000 in text).

The rule:

- Identifiers (the provider's id of the message and of the delivery, the sender's address, the
  chat, the thread, the message an edit points at) must fit their column and hold no control
  character and no lone surrogate. Otherwise the delivery is malformed: the webhook answers
  400, and the provider stops retrying. An identifier is never altered: a cut or cleaned id
  could be another message's, and the delivery would be dropped as a duplicate.
- Text a person wrote (the message, captions, names, file names, and every string of the raw
  payload kept with it) is stored cleaned: U+0000 removed, a lone surrogate (which UTF-8
  cannot encode) replaced by U+FFFD, nothing else changed. A name is also cut to its column.
- Numbers in a provider's JSON must fit in 64 bits (Telegram documents its ids to fit; a date
  of 10^20 seconds is no date) and be finite (`NaN` is not JSON); our own row ids fit 32 bits.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any

from routing.errors import MalformedPayload
from routing.messages import Attachment, InboundMessage

# Column sizes, in characters (storage/tables.py).
PROVIDER_ID = 128  # messages.provider_id, outbox.provider_id: a provider's message id
DELIVERY_KEY = 160  # inbound_deliveries.delivery_key: a provider's delivery id
ADDRESS = 64  # channel_identities.address: an E.164 number, a Telegram or Slack user id
CHAT_ID = 64  # conversations.chat_id: where replies go on the channel
PERSON_NAME = 200  # contacts.name, messages.author_name
ERROR_TEXT = 500  # messages.error: a provider's error code or text
STAFF_ID = 64  # pages.acknowledged_by: a staff id of the configuration

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_DEPTH = 32  # nesting of a provider's JSON: Slack and Telegram send a few levels
ROW_ID_MAX = 2**31 - 1  # our INTEGER primary keys (32-bit on PostgreSQL)

_UNSAFE_IN_ID = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """`text` without U+0000, with U+FFFD for each lone surrogate; otherwise unchanged."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if _SURROGATE.search(text) is not None:
        # A high and low surrogate side by side become their character; lone ones U+FFFD.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def clean_name(name: str | None) -> str | None:
    """A person's name as a provider gave it, cleaned and cut to fit; None if nothing is left."""
    if name is None:
        return None
    cleaned = clean_text(name).strip()[:PERSON_NAME].strip()
    return cleaned or None


def checked_id(value: object, limit: int, what: str) -> str:
    """`value` if it is a usable identifier of at most `limit` characters; else MalformedPayload."""
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{what} is missing")
    if len(value) > limit:
        raise MalformedPayload(f"{what} is longer than {limit} characters")
    if _UNSAFE_IN_ID.search(value) is not None:
        raise MalformedPayload(f"{what} holds a control character or an unpaired surrogate")
    return value


def checked_row_id(value: str | None, what: str) -> int:
    """One of our row ids written in decimal (a query parameter, a button's value)."""
    if not value or not value.isascii() or not value.isdigit() or len(value) > 10:
        raise MalformedPayload(f"{what} is not an id")
    number = int(value)
    if number > ROW_ID_MAX:
        raise MalformedPayload(f"{what} is not an id")
    return number


def clean_payload(value: Any, _depth: int = 0) -> Any:
    """A provider's parsed JSON (or form) with every string cleaned as `clean_text` does, keys
    included; MalformedPayload for an integer beyond 64 bits, a number that is not finite, or
    nesting deeper than MAX_DEPTH (which would otherwise end in a RecursionError)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict | list | tuple) and _depth >= MAX_DEPTH:
        raise MalformedPayload("the payload is nested too deeply")
    if isinstance(value, dict):
        return {
            (clean_text(k) if isinstance(k, str) else k): clean_payload(v, _depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [clean_payload(v, _depth + 1) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise MalformedPayload("a number in the payload does not fit in 64 bits")
        return value
    if isinstance(value, float) and not math.isfinite(value):
        raise MalformedPayload("a number in the payload is not finite")
    return value


def checked_inbound(msg: InboundMessage) -> InboundMessage:
    """`msg` as it may be stored: its identifiers checked, its text cleaned (see the rule)."""
    checked_id(msg.provider_id, PROVIDER_ID, "the message id")
    checked_id(msg.address, ADDRESS, "the sender's address")
    if msg.chat_id is not None:
        checked_id(msg.chat_id, CHAT_ID, "the chat id")
    if msg.thread_id is not None:
        checked_id(msg.thread_id, PROVIDER_ID, "the thread id")
    if msg.edit_of is not None:
        checked_id(msg.edit_of, PROVIDER_ID, "the edited message's id")
    return replace(
        msg,
        text=clean_text(msg.text),
        attachments=tuple(_clean_attachment(a) for a in msg.attachments),
        sender_name=clean_name(msg.sender_name),
        raw=clean_payload(msg.raw),
    )


def _clean_attachment(attachment: Attachment) -> Attachment:
    def clean(value: str | None) -> str | None:
        return None if value is None else clean_text(value)

    return Attachment(
        url=clean(attachment.url),
        content_type=clean(attachment.content_type),
        file_id=clean(attachment.file_id),
        name=clean(attachment.name),
    )
