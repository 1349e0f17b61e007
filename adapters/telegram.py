"""Telegram through the Bot API: verify and parse webhook updates, send with python-telegram-bot.

Only private chats are a client channel: the contact is the Telegram user (`address` is the
user id as text), and the chat id is where answers go (the same number in a private chat).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    Update,
)
from telegram.constants import ChatType, MessageLimit
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from adapters.text_parts import prefix_within_utf16, split_at_breaks, utf16_len
from routing.errors import InvalidSignature, MalformedPayload, SendFailed
from routing.limits import checked_inbound, clean_payload
from routing.messages import Attachment, Channel, InboundMessage, OutboundMessage, SendResult

TELEGRAM_API_URL = "https://api.telegram.org/bot"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_TEXT = MessageLimit.MAX_TEXT_LENGTH  # 4096, counted in UTF-16 code units as Telegram does
MAX_CALLBACK_DATA = 64  # bytes
ACK_PREFIX = "ack:"
ACK_LABEL = "Acknowledge"
# What the webhook asks Telegram for: everything the bot handles, nothing else.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")

# Bad Request descriptions meaning the chat itself is gone for us, not just this message.
_GONE_CHAT = ("chat not found", "user not found", "peer_id_invalid")


def ack_callback_data(page_id: int) -> str:
    data = f"{ACK_PREFIX}{page_id}"
    if len(data.encode()) > MAX_CALLBACK_DATA:
        raise ValueError("callback_data is longer than Telegram's 64 bytes")
    return data


def parse_ack_callback(data: str | None) -> int | None:
    """The page id of an Acknowledge button's callback_data, or None if it is not one."""
    if not data or not data.startswith(ACK_PREFIX):
        return None
    rest = data[len(ACK_PREFIX) :]
    return int(rest) if rest.isdigit() and len(rest) <= 18 else None


def page_keyboard(page_id: int) -> InlineKeyboardMarkup:
    button = InlineKeyboardButton(ACK_LABEL, callback_data=ack_callback_data(page_id))
    return InlineKeyboardMarkup([[button]])


def provider_id(chat_id: int | str, message_id: int) -> str:
    return f"{chat_id}:{message_id}"


# --- splitting -------------------------------------------------------------------------------


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Cut `text` into parts Telegram accepts (it counts UTF-16 code units), preferring
    paragraph, then line, then word breaks."""
    return split_at_breaks(text, limit, size=utf16_len, fitting=prefix_within_utf16)


# --- inbound ---------------------------------------------------------------------------------


def _attachments(message: Message) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    if message.photo:
        largest = max(message.photo, key=lambda p: p.width * p.height)
        found.append(Attachment(file_id=largest.file_id, content_type="image/jpeg"))
    if message.document:
        doc = message.document
        found.append(
            Attachment(file_id=doc.file_id, content_type=doc.mime_type, name=doc.file_name)
        )
    if message.voice:
        found.append(
            Attachment(
                file_id=message.voice.file_id, content_type=message.voice.mime_type or "audio/ogg"
            )
        )
    if message.audio:
        audio = message.audio
        found.append(
            Attachment(file_id=audio.file_id, content_type=audio.mime_type, name=audio.file_name)
        )
    if message.video:
        video = message.video
        found.append(
            Attachment(file_id=video.file_id, content_type=video.mime_type, name=video.file_name)
        )
    if message.video_note:
        found.append(Attachment(file_id=message.video_note.file_id, content_type="video/mp4"))
    return tuple(found)


def inbound_from_update(update: Update, now: datetime) -> InboundMessage | None:
    """A client's message (or the edit of one) in a private chat; None for anything else."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    message = update.message or update.edited_message
    if message is None or message.chat.type != ChatType.PRIVATE or message.from_user is None:
        return None
    if message.from_user.is_bot:
        return None
    chat_id = message.chat.id
    original = provider_id(chat_id, message.message_id)
    edited = update.edited_message is not None
    if edited:
        # Each edit is its own record: the edit time tells successive edits apart.
        stamp = int(message.edit_date.timestamp()) if message.edit_date else update.update_id
        pid = f"{original}:edit:{stamp}"
    else:
        pid = original
    attachments = _attachments(message)
    text = message.text if message.text is not None else (message.caption or "")
    if not text and not attachments:
        return None  # stickers, locations, contacts...: nothing we can record yet
    # Checked against the columns it goes to (MalformedPayload for ids that cannot be stored).
    msg = InboundMessage(
        channel=Channel.TELEGRAM,
        provider_id=pid,
        address=str(message.from_user.id),
        text=text,
        received_at=now.astimezone(UTC),
        attachments=attachments,
        chat_id=str(chat_id),
        edit_of=original if edited else None,
        edited_at=message.edit_date if edited else None,
        raw=update.to_dict(),
    )
    return checked_inbound(msg)


def update_from_body(body: bytes, bot: Bot | None = None) -> Update:
    """The Update in a webhook body; MalformedPayload unless it is a JSON object with update_id."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # nested past the stack
        raise MalformedPayload("the body is not JSON") from exc
    if not isinstance(data, dict):
        raise MalformedPayload("the body is not a JSON object")
    # Every handler sees the update with its text cleaned and its numbers within 64 bits.
    data = clean_payload(data)
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise MalformedPayload("update_id is missing")
    try:
        return Update.de_json(data, bot)
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError, OSError) as exc:
        # OverflowError, OSError: a date the platform cannot represent
        raise MalformedPayload("the body is not a Telegram update") from exc


# --- the adapter -----------------------------------------------------------------------------


def _seconds(value: int | float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _retry_after(exc: RetryAfter) -> float:
    # python-telegram-bot warns that the attribute will become a timedelta; accept either.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return _seconds(exc.retry_after)


def _failure(exc: TelegramError, *, may_be_unreachable: bool) -> SendFailed:
    if isinstance(exc, RetryAfter):
        return SendFailed(
            "Telegram asks us to slow down",
            retryable=True,
            code="429",
            retry_after=_retry_after(exc),
        )
    if isinstance(exc, Forbidden):
        # Blocked by the user, deactivated account, or a user who never started the bot.
        return SendFailed(
            f"Telegram refused: {exc.message}",
            retryable=False,
            code="403",
            unreachable=may_be_unreachable,
        )
    if isinstance(exc, InvalidToken):
        return SendFailed(f"Telegram rejected the bot token: {exc.message}", retryable=False)
    if isinstance(exc, BadRequest):
        gone = any(marker in exc.message.lower() for marker in _GONE_CHAT)
        return SendFailed(
            f"Telegram refused the message: {exc.message}",
            retryable=False,
            code="400",
            unreachable=gone and may_be_unreachable,
        )
    if isinstance(exc, ChatMigrated):
        return SendFailed("the chat became a supergroup", retryable=False, code="400")
    if isinstance(exc, TimedOut):
        return SendFailed("Telegram did not answer in time", retryable=True)
    if isinstance(exc, NetworkError):  # also 5xx answers
        return SendFailed(f"could not reach Telegram: {exc.message}", retryable=True)
    return SendFailed(f"Telegram error: {exc.message}", retryable=False)


class TelegramAdapter:
    """The Telegram channel: webhook updates in, Bot API calls out.

    `api_url` is python-telegram-bot's `base_url` (the token is appended); `timeout` bounds each
    socket operation of a call. What `send` does depends on the outbox payload (`msg.extra`):
    - `page_id`: the message gets an Acknowledge button;
    - `edit` `{"message_id": N}`: edit that message's text instead (its buttons go);
    - `callback_query_id`: answer that button press (`text`, optional `show_alert`);
    - otherwise a plain message, split at Telegram's 4096-character limit.
    """

    channel: ClassVar[Channel] = Channel.TELEGRAM

    def __init__(
        self,
        token: str,
        webhook_secret: str | None,
        api_url: str = TELEGRAM_API_URL,
        *,
        timeout: float = 10.0,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._secret = webhook_secret.encode() if webhook_secret else None
        self._request = HTTPXRequest(
            connection_pool_size=32,
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
            pool_timeout=timeout,
        )
        # Never initialize()d: that would call getMe, and sending needs no bot profile.
        self.bot = Bot(
            token, base_url=api_url, base_file_url=_file_url(api_url), request=self._request
        )
        # Parts of a split message already sent, by outbox id: a retry after a failure halfway
        # sends only the rest (in this process; a restart may repeat parts, at least once).
        self._sent_parts: OrderedDict[int, list[int]] = OrderedDict()

    # --- inbound -----------------------------------------------------------------------------

    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        """Compare `X-Telegram-Bot-Api-Secret-Token` with the webhook secret, in constant time."""
        if self._secret is None:
            raise InvalidSignature("TELEGRAM_WEBHOOK_SECRET is not set; nothing can be verified")
        wanted = SECRET_HEADER.lower()
        given = next((v for k, v in headers.items() if k.lower() == wanted), None)
        if given is None:
            raise InvalidSignature("no secret token header")
        if not hmac.compare_digest(given.encode(), self._secret):
            raise InvalidSignature("the secret token does not match")

    def parse(self, body: bytes, *, now: datetime | None = None) -> list[InboundMessage]:
        """The client message in one update, if it holds one (commands and buttons do not)."""
        if now is None or now.tzinfo is None:
            raise ValueError("parse needs the receiving time as an aware datetime (now=...)")
        msg = inbound_from_update(update_from_body(body), now)
        return [msg] if msg is not None else []

    # --- outbound ----------------------------------------------------------------------------

    async def send(self, msg: OutboundMessage) -> SendResult:
        if msg.channel is not Channel.TELEGRAM:
            raise ValueError(f"the Telegram adapter cannot send on {msg.channel}")
        extra: dict[str, Any] = dict(msg.extra)
        try:
            if extra.get("callback_query_id"):
                await self.bot.answer_callback_query(
                    str(extra["callback_query_id"]),
                    text=msg.text[:200] or None,
                    show_alert=bool(extra.get("show_alert", False)),
                )
                return SendResult(provider_id=None)
            edit = extra.get("edit")
            if isinstance(edit, dict) and edit.get("message_id") is not None:
                return await self._edit(msg.to, int(edit["message_id"]), msg.text)
        except TelegramError as exc:
            raise _failure(exc, may_be_unreachable=False) from exc
        attachment = extra.get("attachment")
        if isinstance(attachment, dict):
            return await self._send_document(msg, attachment)
        page_id = extra.get("page_id")
        markup = page_keyboard(int(page_id)) if page_id is not None else None
        return await self._send_parts(msg, markup)

    async def fetch_media_async(
        self, attachment: dict[str, Any], max_bytes: int
    ) -> tuple[bytes, str] | None:
        """A client's file (its `file_id`), through getFile and the Bot API's file download,
        for the inbox to show. None if Telegram does not have it or it is over `max_bytes`."""
        file_id = attachment.get("file_id")
        if not isinstance(file_id, str) or not file_id:
            return None
        try:
            found = await self.bot.get_file(file_id)
            if found.file_size is not None and found.file_size > max_bytes:
                return None
            data = bytes(await found.download_as_bytearray())
        except TelegramError:
            return None
        if len(data) > max_bytes:
            return None
        return data, str(attachment.get("content_type") or "application/octet-stream")

    async def _send_document(self, msg: OutboundMessage, attachment: dict[str, Any]) -> SendResult:
        """A file staff attached (bot/usecases/attachments.py), read from its local path."""
        data = await asyncio.to_thread(_read_file, str(attachment.get("path") or ""))
        name = str(attachment.get("name") or "file")
        try:
            sent = await self.bot.send_document(
                msg.to,
                InputFile(data, filename=name),
                caption=msg.text[: MessageLimit.CAPTION_LENGTH] or None,
            )
        except TelegramError as exc:
            raise _failure(exc, may_be_unreachable=True) from exc
        return SendResult(provider_id=provider_id(msg.to, sent.message_id))

    async def _edit(self, chat_id: str, message_id: int, text: str) -> SendResult:
        parts = split_text(text)
        if not parts:
            raise SendFailed("an empty text cannot replace a message", retryable=False)
        try:
            await self.bot.edit_message_text(parts[0], chat_id=chat_id, message_id=message_id)
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():  # the same edit, delivered twice
                raise
        return SendResult(provider_id=provider_id(chat_id, message_id))

    async def _send_parts(
        self, msg: OutboundMessage, markup: InlineKeyboardMarkup | None
    ) -> SendResult:
        parts = split_text(msg.text)
        if not parts:
            raise SendFailed("an empty message cannot be sent on Telegram", retryable=False)
        done = self._sent_parts.get(msg.outbox_id, []) if msg.outbox_id is not None else []
        sent_ids = list(done)
        for index in range(len(sent_ids), len(parts)):
            last = index == len(parts) - 1
            try:
                sent = await self.bot.send_message(
                    msg.to,
                    parts[index],
                    reply_markup=markup if last else None,  # the button under the whole text
                )
            except TelegramError as exc:
                if msg.outbox_id is not None and sent_ids:
                    self._remember(msg.outbox_id, sent_ids)
                raise _failure(exc, may_be_unreachable=True) from exc
            sent_ids.append(sent.message_id)
        if msg.outbox_id is not None:
            self._sent_parts.pop(msg.outbox_id, None)
        # The last part is the one carrying a page's button, and the one staff reply to.
        return SendResult(provider_id=provider_id(msg.to, sent_ids[-1]))

    def _remember(self, outbox_id: int, sent_ids: list[int]) -> None:
        self._sent_parts[outbox_id] = sent_ids
        self._sent_parts.move_to_end(outbox_id)
        while len(self._sent_parts) > 1000:
            self._sent_parts.popitem(last=False)

    async def close(self) -> None:
        """Close the HTTP connections; the adapter cannot send afterwards."""
        await self._request.shutdown()


def _read_file(path: str) -> bytes:
    """A staff attachment's bytes; gone from disk, it can never be sent."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise SendFailed(f"the attached file is missing ({exc.strerror})", retryable=False) from exc


def _file_url(api_url: str) -> str:
    """Where the Bot API serves files, beside its methods: `…/bot` becomes `…/file/bot`."""
    base = api_url.rstrip("/")
    if base.endswith("/bot"):
        return base[: -len("bot")] + "file/bot"
    return base + "/file/bot"
