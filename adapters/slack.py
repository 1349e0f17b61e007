"""Slack through the Web API (slack_sdk's AsyncWebClient): events parsed, messages sent.

Bolt (bot/channels/slack/bot.py) verifies and dispatches what Slack sends us; this module
holds what is Slack's own and needs no application: reading message events into
InboundMessage, escaping text, building the page message's Acknowledge button, and sending.

Everything Partnerline writes into Slack on someone else's behalf (client text, names, page
summaries) is rendered so that it cannot act as Slack markup: `&`, `<` and `>` escaped as
Slack documents in every text Slack parses (so `<!channel>`, `<@U…>` and `<http://x|y>` stay
literal), `mrkdwn` off (no *bold* or _italic_), no `link_names`, no unfurling; blocks carry
such text in `rich_text` elements, which Slack never parses.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from adapters.text_parts import LIMITS, split_at_breaks
from routing.errors import InvalidSignature, MalformedPayload, SendFailed
from routing.limits import ADDRESS, checked_id, checked_inbound
from routing.messages import Attachment, Channel, InboundMessage, OutboundMessage, SendResult

SLACK_API_URL = "https://slack.com/api/"
ACK_ACTION_ID = "ack"  # the Acknowledge button of a page; its value is the page id
ACK_LABEL = "Acknowledge"
MAX_PART = 3500  # characters of our text per block of the staff mirror and of pages
MAX_PAGE_BUTTONS = 5
SIGNATURE_MAX_AGE = 60 * 5  # seconds, as Slack documents and Bolt checks
DELETED_TEXT = "(message deleted)"
# Connections kept open to the Web API a loop (aiohttp's default too; Slack's limits bind first).
HTTP_CONNECTIONS = 100

# Message subtypes that carry something a person wrote; the rest (joins, topic changes, bot
# messages...) are not messages to the agency.
PERSON_SUBTYPES = frozenset({None, "file_share", "thread_broadcast", "me_message"})
# Errors meaning the recipient cannot be reached there at all (not merely a bad request).
_GONE = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "user_not_found",
        "users_not_found",
        "user_disabled",
        "account_inactive",
        "cannot_dm_bot",
        "messages_tab_disabled",
    }
)
_TRANSIENT = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"}
)


# --- text ------------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Slack's own escaping: the three control characters as HTML entities, nothing else."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def split_text(text: str, limit: int = MAX_PART) -> list[str]:
    """Cut `text` into parts of at most `limit` characters, at a paragraph, line or word
    break when there is one."""
    return split_at_breaks(text, limit)


def literal(text: str, *, bold: bool = False) -> dict[str, Any]:
    """A rich_text element showing `text` exactly as it is."""
    element: dict[str, Any] = {"type": "text", "text": text}
    if bold:
        element["style"] = {"bold": True}
    return element


def rich_text(*lines: list[dict[str, Any]]) -> dict[str, Any]:
    """A rich_text block of sections, one per line of literal elements."""
    sections = []
    for index, elements in enumerate(lines):
        if index:
            elements = [literal("\n"), *elements]
        sections.extend(elements)
    return {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": sections}]}


def page_blocks(text: str, page_ids: list[int], footer: str | None = None) -> list[dict[str, Any]]:
    """A page message: its text shown literally, an Acknowledge button per open page."""
    blocks: list[dict[str, Any]] = [rich_text([literal(text[:MAX_PART])])]
    buttons = []
    for index, page_id in enumerate(page_ids[:MAX_PAGE_BUTTONS]):
        label = ACK_LABEL if len(page_ids) == 1 else f"{ACK_LABEL} page {page_id}"
        buttons.append(
            {
                "type": "button",
                "action_id": ack_action_id(index),
                "text": {"type": "plain_text", "text": label},
                "style": "primary",
                "value": str(page_id),
            }
        )
    if buttons:
        blocks.append({"type": "actions", "block_id": "page_actions", "elements": buttons})
    if footer:
        blocks.append(rich_text([literal(footer)]))
    return blocks


def ack_action_id(index: int) -> str:
    # action_ids must be unique within a message: "ack", "ack_2", "ack_3"...
    return ACK_ACTION_ID if index == 0 else f"{ACK_ACTION_ID}_{index + 1}"


def parse_ack_value(value: object) -> int | None:
    """The page id an Acknowledge button carries, or None for anything else."""
    if not isinstance(value, str) or not value.isdigit() or len(value) > 18:
        return None
    return int(value)


def provider_id(channel: str, ts: str) -> str:
    return f"{channel}:{ts}"


def split_provider_id(value: str) -> tuple[str, str]:
    channel, _, ts = value.partition(":")
    return channel, ts


def ts_time(ts: object) -> datetime | None:
    """A Slack timestamp ("1733600000.000100", seconds since the epoch) as a time, if it is one."""
    try:
        return datetime.fromtimestamp(float(str(ts)), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def display_name(user: Mapping[str, Any]) -> str | None:
    """The name Slack shows for a users.info `user`: display name, else real name, else handle."""
    found = user.get("profile")
    profile: Mapping[str, Any] = found if isinstance(found, dict) else {}
    for value in (
        profile.get("display_name"),
        profile.get("real_name"),
        user.get("real_name"),
        user.get("name"),
    ):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def is_user_id(recipient: str) -> bool:
    """A Slack user id (U…/W…), which needs a DM channel opened before posting."""
    return recipient[:1] in ("U", "W")


# --- inbound ---------------------------------------------------------------------------------


def attachments_of(files: object) -> tuple[Attachment, ...]:
    if not isinstance(files, list):
        return ()
    found = []
    for f in files:
        if isinstance(f, dict) and f.get("id"):
            found.append(
                Attachment(
                    url=f.get("url_private"),
                    content_type=f.get("mimetype"),
                    file_id=str(f["id"]),
                    name=f.get("name"),
                )
            )
    return tuple(found)


def is_from_bot(event: Mapping[str, Any], bot_user_id: str | None) -> bool:
    """Whether a message event (or the message it edits) is a bot's, ours included."""
    inner: Mapping[str, Any] = event["message"] if isinstance(event.get("message"), dict) else {}
    previous: Mapping[str, Any] = (
        event["previous_message"] if isinstance(event.get("previous_message"), dict) else {}
    )
    for part in (event, inner, previous):
        if part.get("bot_id") or part.get("subtype") == "bot_message":
            return True
        if bot_user_id and part.get("user") == bot_user_id:
            return True
    return False


def author_of(event: Mapping[str, Any]) -> str | None:
    """Who wrote the message an event is about (the original's author for edits); None if the
    event names nobody. A `user` that is there but no usable id (an object, a number, a list)
    is MalformedPayload: never turned into an address such as "{'x': 1}"."""
    if event.get("subtype") in ("message_changed", "message_deleted"):
        for key in ("message", "previous_message"):
            part = event.get(key)
            if isinstance(part, dict) and part.get("user") is not None:
                return _user_id(part["user"], f"{key}.user")
        return None
    user = event.get("user")
    return None if user is None else _user_id(user, "user")


def _user_id(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise MalformedPayload(f"{what} is not a Slack user id")
    return checked_id(value, ADDRESS, what)


def inbound_from_event(event: Mapping[str, Any], now: datetime) -> InboundMessage | None:
    """A person's message, edit or deletion in a message event; None for anything else.

    `address` is the author's user id and `chat_id` the channel (a DM's D… id, or a shared
    channel's C… id). An edit is its own record pointing at the original (`edit_of`); so is a
    deletion, with the text "(message deleted)".
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if event.get("type") != "message":
        return None
    user = author_of(event)  # first: a `user` that is no id is refused whatever else is there
    channel = event.get("channel")
    if user is None or not isinstance(channel, str):
        return None
    subtype = event.get("subtype")
    received = now.astimezone(UTC)
    if subtype == "message_changed":
        message = event.get("message") or {}
        previous = event.get("previous_message") or {}
        ts = message.get("ts")
        if not ts:
            return None
        text = str(message.get("text") or "")
        files = attachments_of(message.get("files"))
        if text == (previous.get("text") or "") and len(files) == len(
            attachments_of(previous.get("files"))
        ):
            return None  # an unfurl or a reaction changed it, not its author
        edited = (message.get("edited") or {}).get("ts") or event.get("event_ts") or event["ts"]
        original = provider_id(channel, str(ts))
        return InboundMessage(
            channel=Channel.SLACK,
            provider_id=f"{original}:edit:{edited}",
            address=user,
            text=text,
            received_at=received,
            attachments=files,
            chat_id=channel,
            thread_id=message.get("thread_ts"),
            edit_of=original,
            edited_at=ts_time(edited),
            raw=dict(event),
        )
    if subtype == "message_deleted":
        deleted = event.get("deleted_ts")
        if not deleted:
            return None
        original = provider_id(channel, str(deleted))
        return InboundMessage(
            channel=Channel.SLACK,
            provider_id=f"{original}:deleted",
            address=user,
            text=DELETED_TEXT,
            received_at=received,
            chat_id=channel,
            edit_of=original,
            edited_at=ts_time(event.get("event_ts") or event.get("ts")),
            raw=dict(event),
        )
    if subtype not in PERSON_SUBTYPES or not event.get("ts"):
        return None
    files = attachments_of(event.get("files"))
    text = str(event.get("text") or "")
    if not text and not files:
        return None
    return InboundMessage(
        channel=Channel.SLACK,
        provider_id=provider_id(channel, str(event["ts"])),
        address=user,
        text=text,
        received_at=received,
        attachments=files,
        chat_id=channel,
        thread_id=event.get("thread_ts"),
        raw=dict(event),
    )


def verify_signature(
    signing_secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
) -> None:
    """Slack's v0 scheme: HMAC-SHA256 of "v0:{timestamp}:{body}", fresh within five minutes."""
    lowered = {k.lower(): v for k, v in headers.items()}
    timestamp = lowered.get("x-slack-request-timestamp", "")
    signature = lowered.get("x-slack-signature", "")
    if not timestamp.isdigit() or not signature:
        raise InvalidSignature("no Slack signature")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > SIGNATURE_MAX_AGE:
        raise InvalidSignature("the signature is stale")
    base = b"v0:" + timestamp.encode() + b":" + body
    wanted = "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(wanted, signature):
        raise InvalidSignature("the signature does not match")


# --- outbound --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Posted:
    channel: str
    ts: str

    @property
    def provider_id(self) -> str:
        return provider_id(self.channel, self.ts)


def failure(exc: Exception, *, may_be_unreachable: bool) -> SendFailed:
    """What a Slack refusal means for the outbox: retry (429 with its wait, 5xx), or not."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = int(getattr(response, "status_code", 0) or 0)
        error = str((response.data or {}).get("error") if isinstance(response.data, dict) else "")
        if status == 429 or error == "ratelimited":
            headers = {k.lower(): v for k, v in (response.headers or {}).items()}
            raw = headers.get("retry-after")
            value = raw[0] if isinstance(raw, list) else raw
            try:
                wait = float(value) if value is not None else None
            except ValueError:
                wait = None
            return SendFailed(
                "Slack asks us to slow down", retryable=True, code="429", retry_after=wait
            )
        if status >= 500 or error in _TRANSIENT:
            return SendFailed(f"Slack failed: {error or status}", retryable=True, code=str(status))
        return SendFailed(
            f"Slack refused: {error or status}",
            retryable=False,
            code=error or str(status),
            unreachable=may_be_unreachable and error in _GONE,
        )
    if isinstance(exc, (aiohttp.ClientError, asyncio.TimeoutError, SlackClientError)):
        return SendFailed(f"could not reach Slack: {type(exc).__name__}: {exc}", retryable=True)
    return SendFailed(f"Slack error: {type(exc).__name__}: {exc}", retryable=True)


def _sdk_logger() -> logging.Logger:
    """slack_sdk's logger, with a level of its own. slack_sdk formats a debug line of every
    request and response (payload and headers) whenever its logger's own level is unset: it
    tests `logger.level <= DEBUG`, not whether DEBUG is enabled (3-5% of `serve`'s CPU under
    load). The level set is the one in effect, so a DEBUG configuration still logs them."""
    logger = logging.getLogger("slack_sdk.web.async_base_client")
    if logger.level == logging.NOTSET:
        logger.setLevel(logger.getEffectiveLevel())
    return logger


class SlackAdapter:
    """The Slack channel: message events in, Web API calls out.

    What `send` does depends on the outbox payload (`msg.extra`):
    - `update` `{"channel", "ts"}`: chat.update that message (`blocks` optional);
    - `ephemeral_user`: chat.postEphemeral to that user in channel `to`;
    - `page_id` (`page_ids`): a page with its Acknowledge button(s);
    - otherwise a plain message, split into parts Slack shows whole.
    A recipient that is a user id (U…) is reached in the DM channel conversations.open gives.
    """

    channel: ClassVar[Channel] = Channel.SLACK

    def __init__(
        self,
        token: str,
        signing_secret: str | None = None,
        api_url: str = SLACK_API_URL,
        *,
        timeout: float = 10.0,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self._signing_secret = signing_secret
        self._token, self._api_url, self._timeout = token, api_url, int(max(1, timeout))
        # One client a loop, each on a pooled aiohttp session: without one, slack_sdk opens a
        # session, and a TCP (TLS) connection, per call. A session belongs to its loop.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncWebClient] = (
            weakref.WeakKeyDictionary()
        )
        # Where a client's files may be fetched with the token (fetch_media_async).
        self._file_hosts = frozenset({"files.slack.com", urlsplit(api_url).netloc})
        self._dm_channels: dict[str, str] = {}

    @property
    def client(self) -> AsyncWebClient:
        """The Web API client of the running loop (made on first use)."""
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.session is None or client.session.closed:
            session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                connector=aiohttp.TCPConnector(limit=HTTP_CONNECTIONS),
            )
            client = AsyncWebClient(
                token=self._token,
                base_url=self._api_url,
                timeout=self._timeout,
                session=session,
                logger=_sdk_logger(),
            )
            self._clients[loop] = client
        return client

    async def aclose(self) -> None:
        """Close the running loop's pooled session (at shutdown)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None and client.session is not None:
            await client.session.close()

    # --- inbound (Bolt does this in the running app; kept for the shared protocol) ------------

    def verify(self, url: str, headers: Mapping[str, str], body: bytes) -> None:
        if not self._signing_secret:
            raise InvalidSignature("SLACK_SIGNING_SECRET is not set; nothing can be verified")
        verify_signature(self._signing_secret, headers, body)

    def parse(self, body: bytes, *, now: datetime | None = None) -> list[InboundMessage]:
        """The person's message in an Events API body, if it holds one."""
        if now is None or now.tzinfo is None:
            raise ValueError("parse needs the receiving time as an aware datetime (now=...)")
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedPayload("the body is not JSON") from exc
        if not isinstance(data, dict) or not isinstance(data.get("event"), dict):
            raise MalformedPayload("the body is not an Events API callback")
        msg = inbound_from_event(data["event"], now)
        return [checked_inbound(msg)] if msg is not None else []

    # --- outbound ----------------------------------------------------------------------------

    async def send(self, msg: OutboundMessage) -> SendResult:
        if msg.channel is not Channel.SLACK:
            raise ValueError(f"the Slack adapter cannot send on {msg.channel}")
        extra: dict[str, Any] = dict(msg.extra)
        try:
            update = extra.get("update")
            if isinstance(update, dict) and update.get("ts"):
                posted = await self.update(
                    str(update["channel"]), str(update["ts"]), msg.text, extra.get("blocks")
                )
                return SendResult(provider_id=posted.provider_id)
            if extra.get("ephemeral_user"):
                await self.client.chat_postEphemeral(
                    channel=await self.open(msg.to),
                    user=str(extra["ephemeral_user"]),
                    text=escape(msg.text),
                    mrkdwn=False,
                )
                return SendResult(provider_id=None)
        except SendFailed:
            raise
        except Exception as exc:
            raise failure(exc, may_be_unreachable=False) from exc
        if extra.get("page_id") is not None:
            ids = extra.get("page_ids") or [extra["page_id"]]
            page_ids = [int(i) for i in ids]
            try:
                posted = await self.post(msg.to, msg.text, blocks=page_blocks(msg.text, page_ids))
            except Exception as exc:
                raise failure(exc, may_be_unreachable=False) from exc
            return SendResult(provider_id=posted.provider_id)
        attachment = extra.get("attachment")
        if isinstance(attachment, dict):
            try:
                return await self._send_file(msg, attachment)
            except SendFailed:
                raise
            except Exception as exc:
                raise failure(exc, may_be_unreachable=True) from exc
        # Within Slack's limit for `text`: the outbox already cut longer texts into rows.
        parts = LIMITS[Channel.SLACK].split(msg.text)
        if not parts:
            raise SendFailed("an empty message cannot be sent on Slack", retryable=False)
        last: Posted | None = None
        for part in parts:
            try:
                last = await self.post(msg.to, part, thread_ts=msg.thread_id)
            except Exception as exc:
                raise failure(exc, may_be_unreachable=True) from exc
        assert last is not None
        return SendResult(provider_id=last.provider_id)

    async def _send_file(self, msg: OutboundMessage, attachment: dict[str, Any]) -> SendResult:
        """A file staff attached (bot/usecases/attachments.py), uploaded from its local path
        with files_upload_v2 (getUploadURLExternal, the bytes, completeUploadExternal)."""
        path = str(attachment.get("path") or "")
        try:
            data = await asyncio.to_thread(Path(path).read_bytes)
        except OSError as exc:
            raise SendFailed("the attached file is missing", retryable=False) from exc
        name = str(attachment.get("name") or "file")
        channel = await self.open(msg.to)
        response = await self.client.files_upload_v2(
            channel=channel,
            file=data,
            filename=name,
            title=name,
            initial_comment=escape(msg.text) if msg.text else None,
            thread_ts=msg.thread_id,
        )
        files = response.get("files") or []
        first = files[0] if files and isinstance(files[0], dict) else {}
        shared = [
            share.get("ts")
            for shares in ((first.get("shares") or {}).get("public") or {}).values()
            for share in shares
        ] + [
            share.get("ts")
            for shares in ((first.get("shares") or {}).get("private") or {}).values()
            for share in shares
        ]
        ts = next((str(t) for t in shared if t), None)
        # Slack may share a file a moment after answering: then its id stands for it.
        return SendResult(provider_id=provider_id(channel, ts) if ts else f"file:{first.get('id')}")

    async def fetch_media_async(
        self, attachment: dict[str, Any], max_bytes: int
    ) -> tuple[bytes, str] | None:
        """A file a client shared (its `url_private`), fetched with the bot token for the
        inbox to show. Only from files.slack.com or the configured API's host: the token never
        goes anywhere else, and no redirect is followed with it. None if refused or missing."""
        url = attachment.get("url")
        if not isinstance(url, str) or urlsplit(url).netloc not in self._file_hosts:
            return None
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
                session.get(url, headers=headers, allow_redirects=False) as got,
            ):
                kind = got.headers.get("content-type", "application/octet-stream")
                # Slack answers a bad token with its sign-in page: HTML is never the file.
                if got.status != 200 or kind.startswith("text/html"):
                    return None
                data = await got.content.read(max_bytes + 1)
        except (aiohttp.ClientError, TimeoutError):
            return None
        return (data, kind) if len(data) <= max_bytes else None

    async def open(self, recipient: str) -> str:
        """The channel to post in: a DM channel opened for a user id, else `recipient`."""
        if not is_user_id(recipient):
            return recipient
        known = self._dm_channels.get(recipient)
        if known is not None:
            return known
        response = await self.client.conversations_open(users=recipient)
        channel = str((response.get("channel") or {})["id"])
        self._dm_channels[recipient] = channel
        return channel

    async def post(
        self,
        recipient: str,
        text: str,
        *,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> Posted:
        """chat.postMessage of our plain text (escaped, no mrkdwn, no unfurls); raises
        slack_sdk's errors."""
        channel = await self.open(recipient)
        response = await self.client.chat_postMessage(
            channel=channel,
            text=escape(text),
            blocks=blocks,
            thread_ts=thread_ts,
            mrkdwn=False,
            link_names=False,
            unfurl_links=False,
            unfurl_media=False,
        )
        return Posted(str(response.get("channel") or channel), str(response["ts"]))

    async def update(
        self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None
    ) -> Posted:
        """chat.update a message we posted; raises slack_sdk's errors."""
        response = await self.client.chat_update(
            channel=channel, ts=ts, text=escape(text), blocks=blocks if blocks is not None else []
        )
        return Posted(str(response.get("channel") or channel), str(response.get("ts") or ts))

    async def user_name(self, user_id: str) -> str | None:
        """The user's name as Slack shows it (users.info); raises slack_sdk's errors."""
        response = await self.client.users_info(user=user_id)
        user = response.get("user")
        return display_name(user) if isinstance(user, dict) else None

    async def auth_test(self) -> dict[str, Any]:
        response = await self.client.auth_test()
        return dict(response.data) if isinstance(response.data, dict) else {}
