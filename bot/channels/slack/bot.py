"""The Slack app: slack-bolt's AsyncApp in HTTP mode, behind `POST /webhooks/slack`.

Bolt verifies every request (its RequestVerification middleware: a bad or stale signature is
401 and reaches no listener), answers url_verification, runs auth.test once to learn the bot's
own user and bot ids (IgnoringSelfEvents then drops the bot's own messages; we check again),
and, with process_before_response=True, answers only once its listener is done. Listeners do
only what must be durable before Slack hears "200" (journal the event, or commit a thread
reply): milliseconds, well inside Slack's three seconds; the routing and sending that follow
are the worker's. A database that refuses the write fails the request, and Slack retries.

- A client's message (a DM from a contact's Slack id, or a non-staff member's message in one
  of a client's `slack_channels`) is journalled, kind "slack.message", key "event:<event_id>",
  so a retried event is the same delivery; the worker routes it (`route_message`). A shared
  channel is one conversation of its client (routing.router): a member who is no configured
  contact is journalled with their Slack name (users.info, looked up once per process and
  within `NAME_TIMEOUT`; a failed lookup journals the message without it, and their next
  message tries again), and becomes a contact of that client. A retry
  Slack sends because our answer was slow (`X-Slack-Retry-Reason: http_timeout`) is answered
  at once and ignored: the first delivery is being written, and its key keeps it once.
  Other retries (our answer was an error) are processed, and the journal key keeps them once.
- A staff member's own message in a client's shared channel is the agency's reply: it is
  recorded as an `out` message (already in Slack, so sent nowhere) in the channel's
  conversation and meets its commitment (`record_channel_reply`).
- Edits (`message_changed`) and deletions of a client's message are journalled like messages;
  the router records them on the original (its text, and the earlier text in its history).
- A staff reply in a conversation's thread of the staff channel goes to the client on the
  client's own channel (`Services.reply`); one starting with `note:` is an internal note.
- The Acknowledge button of a page acknowledges it once (`Services.acknowledge`); the page's
  Slack messages are then updated to say who acknowledged; a second press is told "already
  acknowledged". `/oncall` answers who is on call now and next.

Everything said back to Slack goes through the outbox (retried like any message); only the
slash command answers in its HTTP response, as Slack expects.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from slack_bolt.adapter.starlette.async_handler import (
    AsyncSlackRequestHandler,
    to_async_bolt_request,
    to_starlette_response,
)
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.request.internals import parse_body
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from adapters.slack import (
    SlackAdapter,
    attachments_of,
    author_of,
    escape,
    inbound_from_event,
    is_from_bot,
    page_blocks,
    parse_ack_value,
    split_provider_id,
)
from bot.channels import ChatApps
from bot.channels.chat_common import (
    ChatDeps,
    ChatDesk,
    Say,
    ack_note,
    acknowledged_text,
    blocking,
    on_call_lines,
)
from bot.channels.slack.inbox_mirror import SlackInbox, written_in_slack
from bot.usecases.services import Author
from routing.directory import StaffEntry
from routing.errors import DomainError, MalformedPayload
from routing.limits import DELIVERY_KEY, checked_id, checked_inbound, clean_name, clean_payload
from routing.messages import Channel
from storage.channel_refs import SlackThread
from storage.conversations import MessageView
from storage.inbound import inbound_payload, message_from_payload
from storage.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

SLACK_MESSAGE = "slack.message"  # journal kind of a client's Slack message
# Outbox kinds of what the app says back (the adapter reads the payload, not the kind).
UPDATE, EPHEMERAL, COMMAND_REPLY = "slack.update", "slack.ephemeral", "command_reply"
ACK_ACTIONS = re.compile(r"^ack(_\d+)?$")
NAME_TIMEOUT = 1.5  # seconds a users.info lookup may add to Slack's three
NAMES_KEPT = 10_000
NOTE_PREFIX = re.compile(r"^\s*note:\s*", re.IGNORECASE)
FRESH_SUBTYPES = (None, "file_share", "thread_broadcast", "me_message")


def event_key(body: dict[str, Any]) -> str | None:
    event_id = body.get("event_id")
    return f"event:{event_id}" if event_id else None


def _header(request: AsyncBoltRequest, name: str) -> str | None:
    values = request.headers.get(name.lower())
    return values[0] if values else None


class SlackBot:
    """The Bolt app and its listeners. bot/bootstrap.py builds it and registers what it adds:
    `route_message` for the journal kind SLACK_MESSAGE, and, when there is a staff inbox
    channel, `inbox.before_commit` (a Services hook) and `inbox.job_handlers()` (the
    worker's job kinds that sync the staff threads)."""

    def __init__(self, deps: ChatDeps, adapter: SlackAdapter) -> None:
        settings = deps.settings
        assert settings.slack_bot_token is not None and settings.slack_signing_secret is not None
        self.deps = deps
        self.services = deps.services
        self.desk = ChatDesk(deps.services, deps.clock, Channel.SLACK)
        self.adapter = adapter
        self._names: dict[str, str] = {}  # Slack names found with users.info
        slack = deps.config.channels.slack
        self.staff_channel: str | None = slack.staff_channel if slack else None
        self.inbox: SlackInbox | None = None
        if self.staff_channel:
            self.inbox = SlackInbox(
                deps.services,
                deps.clock,
                adapter,
                self.staff_channel,
                deps.directory.zone,
                public_url=settings.public_url,
            )
        client = AsyncWebClient(
            token=settings.slack_bot_token.get_secret_value(),
            base_url=settings.slack_api_url,
            timeout=int(max(1, settings.send_timeout_seconds)),
        )
        self.app = AsyncApp(
            client=client,
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            # Answer after the listener: what it journals is on disk before Slack hears "200".
            process_before_response=True,
            request_verification_enabled=True,  # Bolt's own signature and freshness check
            ignoring_self_events_enabled=True,
            name="partnerline",
        )
        self.handler = EdgeCheckedHandler(self.app, self._now)
        # Checked by bot/channels/slack/webhook.py over the raw body before Bolt reads it.
        self.verifier = SignatureVerifier(settings.slack_signing_secret.get_secret_value())
        self._add_listeners()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Check the token once as the app starts (Bolt itself calls auth.test on first use)."""
        try:
            who = await self.adapter.auth_test()
            log.info("Slack app started as %s in %s", who.get("user"), who.get("team"))
        except Exception as exc:  # Slack may be unreachable now; Bolt tries again per request
            log.warning("Slack auth.test failed at start-up: %s", exc)

    async def stop(self) -> None:
        """Nothing is held open: slack_sdk opens an HTTP session per call."""
        return None

    @property
    def staff_by_slack(self) -> Mapping[str, StaffEntry]:
        """Staff by Slack id, as the configuration in force says (a reload changes it)."""
        return self.deps.directory.staff_by_slack

    def _add_listeners(self) -> None:
        app = self.app
        app.middleware(self._skip_slow_retries)
        app.middleware(self._refuse_bad_input)
        app.event("message")(self._on_message)
        app.event(re.compile(".*"))(self._on_other_event)
        app.action(ACK_ACTIONS)(self._on_ack)
        app.action(re.compile(".*"))(self._on_other_action)
        app.command("/oncall")(self._on_oncall)
        app.command(re.compile(".*"))(self._on_other_command)

    async def _skip_slow_retries(
        self, req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse:
        """A retry sent because we were slow: the first delivery is already in hand."""
        if _header(req, "x-slack-retry-num") and _header(req, "x-slack-retry-reason") == (
            "http_timeout"
        ):
            return BoltResponse(status=200, body="")
        return await next()

    async def _refuse_bad_input(
        self, req: AsyncBoltRequest, resp: BoltResponse, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse:
        """Bad input is answered here, at the edge (400: Slack stops retrying), never in the
        worker: every string of the body cleaned, a message event's ids checked against the
        columns they go to (routing.limits). Bolt has verified the signature already."""
        try:
            check_message_event(req.body, self._now())  # ids as sent: refused, never altered
            req.body = clean_payload(req.body)
        except MalformedPayload as exc:
            log.info("Slack request refused as malformed: %s", exc)
            detail = json.dumps({"detail": str(exc)})
            return BoltResponse(
                status=400, body=detail, headers={"Content-Type": "application/json"}
            )
        return await next()

    # ------------------------------------------------------------------ helpers
    def _now(self) -> datetime:
        return self.deps.clock.now()

    # ------------------------------------------------------------------ message events
    async def _on_message(self, body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        if is_from_bot(event, context.bot_user_id):
            return  # our own posts (and other bots') echo back as events
        key = event_key(body)
        channel = event.get("channel")
        user = author_of(event)
        if key is None or not isinstance(channel, str) or user is None:
            return
        staff = self.staff_by_slack.get(user)
        subtype = event.get("subtype")
        if channel == self.staff_channel:
            thread_ts = event.get("thread_ts")
            in_thread = bool(thread_ts) and thread_ts != event.get("ts")
            if staff is not None and subtype in FRESH_SUBTYPES and in_thread:
                await self._on_thread_reply(key, staff, event)
            return  # anything else in the staff channel is the staff's own talk
        if event.get("channel_type") == "im":
            if staff is None:
                await self._journal(key, event, client_id=None)
            elif subtype is None:
                await blocking(lambda: self._staff_dm(key, channel))
            return
        client_id = self.deps.directory.chat_clients.get((Channel.SLACK, channel))
        if client_id is None:
            return  # a channel that is no client's
        if staff is None:
            await self._journal(key, event, client_id=client_id)
        elif subtype in FRESH_SUBTYPES:
            await blocking(lambda: self.record_channel_reply(key, staff, event))

    async def _on_other_event(self) -> None:
        return None  # acknowledged, so that Slack does not retry what we do not use

    async def _journal(self, key: str, event: dict[str, Any], client_id: str | None) -> None:
        msg = inbound_from_event(event, self._now())
        if msg is None:
            return
        known = (Channel.SLACK, msg.address) in self.deps.directory.contact_addresses
        if client_id is not None and not known:
            name = await self.member_name(msg.address)
            if name is not None:
                msg = replace(msg, sender_name=clean_name(name))  # cut to fit contacts.name
        await self.deps.inbound.submit(
            channel=Channel.SLACK,
            key=key,
            kind=SLACK_MESSAGE,
            payload={"message": inbound_payload(msg), "client_id": client_id},
            received_at=msg.received_at,
        )

    async def member_name(self, user_id: str) -> str | None:
        """A shared channel member's Slack name, or None if Slack does not tell us in time."""
        known = self._names.get(user_id)
        if known is not None:
            return known
        try:
            name = await asyncio.wait_for(self.adapter.user_name(user_id), NAME_TIMEOUT)
        except Exception as exc:  # the message is journalled without it; the next one retries
            log.info("users.info for %s failed: %s", user_id, exc)
            return None
        if name is not None:
            if len(self._names) >= NAMES_KEPT:
                self._names.clear()
            self._names[user_id] = name
        return name

    def route_message(self, uow: UnitOfWork, payload: dict[str, Any], now: datetime) -> None:
        """Route one journalled Slack message (the worker's inbound handler). The router knows
        a client's shared channel by its contact (synced from the configuration)."""
        message = payload["message"]
        msg = message_from_payload(message)
        deletion = msg.edit_of is not None and msg.raw.get("subtype") == "message_deleted"
        if deletion and uow.router_store.find_message_id(Channel.SLACK, str(msg.edit_of)) is None:
            return  # the deletion of something we never held
        self.services.route_journalled(uow, message, now)

    def _staff_dm(self, key: str, channel: str) -> None:
        text = (
            "Pages reach you here, with an Acknowledge button. Answer clients in their threads "
            "of the staff inbox channel; /oncall shows who is on call."
        )
        self.desk.say_once(key, [(COMMAND_REPLY, channel, {"text": text})])

    def record_channel_reply(self, key: str, staff: StaffEntry, event: dict[str, Any]) -> None:
        """A staff member's message in a client's shared channel: the agency's answer there.

        It answers the conversation of the message it is a thread reply to, else the
        channel's own conversation (or, for a channel no longer configured, the one that
        last heard from a client). It is recorded as sent (it is in Slack already) and meets
        that conversation's commitment. Before any client message there was filed, there is
        nothing to answer and nothing is recorded.
        """
        channel = str(event["channel"])
        ts = str(event.get("ts") or "")
        text = str(event.get("text") or "")
        now = self._now()
        with self.services.uow() as uow:
            if not uow.router_store.claim_delivery(Channel.SLACK, key, now):
                return
            conversation_id = self._channel_conversation(uow, channel, event.get("thread_ts"))
            if conversation_id is not None and (text or event.get("files")):
                files = [
                    {k: v for k, v in asdict(a).items() if v is not None}
                    for a in attachments_of(event.get("files"))
                ]
                self.services.record_answer_sent(
                    uow,
                    conversation_id,
                    text,
                    Author(staff.id, staff.name),
                    now,
                    provider_id=f"{channel}:{ts}",
                    attachments=files,
                )
            uow.commit()

    @staticmethod
    def _channel_conversation(uow: UnitOfWork, channel: str, thread_ts: object) -> int | None:
        if thread_ts:
            parent = uow.router_store.find_message(Channel.SLACK, f"{channel}:{thread_ts}")
            if parent is not None:
                return parent.conversation_id
        # The shared channel's one conversation, if the channel is a contact (routing.router).
        chat = uow.router_store.find_contact(Channel.SLACK, channel)
        return uow.conversations.latest_on_chat(
            Channel.SLACK, channel, chat.id if chat is not None else None
        )

    # ------------------------------------------------------------------ the staff inbox
    async def _on_thread_reply(self, key: str, staff: StaffEntry, event: dict[str, Any]) -> None:
        assert self.inbox is not None
        inbox = self.inbox
        channel, thread_ts = str(event["channel"]), str(event["thread_ts"])
        conversation_id = await blocking(
            lambda: inbox.conversation_of_thread(SlackThread(channel, thread_ts))
        )
        text = str(event.get("text") or "")
        if conversation_id is None or not text.strip():
            return  # a thread that is no conversation's, or a file alone
        author = Author(id=staff.id, name=staff.name)
        note = NOTE_PREFIX.match(text)

        def work() -> MessageView:
            with written_in_slack():
                if note is not None:
                    return self.services.add_note(conversation_id, text[note.end() :], author)
                return self.services.reply(conversation_id, text, author)

        result = await self.desk.run_claimed(key, work)
        if isinstance(result, DomainError):
            rows: list[Say] = [
                (
                    EPHEMERAL,
                    channel,
                    {"text": f"Not sent: {result.user_message}", "ephemeral_user": staff.slack},
                )
            ]
            await blocking(lambda: self.desk.say(rows))

    # ------------------------------------------------------------------ pages
    async def _on_ack(self, ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()  # within Slack's three seconds; the work follows
        user = str((body.get("user") or {}).get("id") or "")
        channel = str((body.get("channel") or {}).get("id") or "")
        staff = self.staff_by_slack.get(user)
        page_id = parse_ack_value(action.get("value"))
        if staff is None or page_id is None:
            text = "Only the agency's staff can acknowledge pages. Nothing was acknowledged."
            refused: list[Say] = [(EPHEMERAL, channel, {"text": text, "ephemeral_user": user})]
            await blocking(lambda: self.desk.say(refused))
            return
        try:
            await blocking(lambda: self.services.acknowledge(page_id, staff.id, via="slack"))
        except DomainError as exc:
            told: list[Say] = [
                (EPHEMERAL, channel, {"text": exc.user_message, "ephemeral_user": user})
            ]
            await blocking(lambda: self.desk.say(told))
            return
        note = ack_note(staff.name, self._now(), self.deps.directory.zone, page_id)
        edits = await blocking(lambda: self._page_edits(page_id, note))
        if not edits:  # a page message we did not send (or lost track of): edit this one
            message = body.get("message") or {}
            container_ = body.get("container") or {}
            ts = str(container_.get("message_ts") or message.get("ts") or "")
            if ts:
                text = acknowledged_text(message.get("text"), page_id, note)
                edits = [(UPDATE, channel, _update_payload(channel, ts, text, []))]
        await blocking(lambda: self.desk.say(edits))

    def _page_edits(self, page_id: int, note: str) -> list[Say]:
        """Updates of every Slack message of the page: who acknowledged, its button gone (a
        message that tells of several pages keeps the buttons of those still open)."""
        edits: list[Say] = []
        with self.services.uow() as uow:
            for sent in uow.pages.sent_chat_messages(page_id, Channel.SLACK):
                still_open = [
                    i
                    for i in sent.page_ids
                    if (p := uow.pages.get(i)) is not None and p.state == "open"
                ]
                channel, ts = split_provider_id(sent.provider_id)
                text = acknowledged_text(sent.text, page_id, note)
                blocks = page_blocks(sent.text, still_open, footer=note)
                edits.append((UPDATE, channel, _update_payload(channel, ts, text, blocks)))
        return edits

    async def _on_other_action(self, ack: Any) -> None:
        await ack()

    # ------------------------------------------------------------------ slash commands
    async def _on_oncall(self, ack: Any, command: dict[str, Any]) -> None:
        if str(command.get("user_id") or "") not in self.staff_by_slack:
            await ack(text="/oncall is for the agency's staff.")
            return
        await ack(text=await blocking(self._oncall_text))

    def _oncall_text(self) -> str:
        lines = ["*On call now:*"]
        rotations = on_call_lines(self.deps.oncall, self.deps.directory.zone)
        for r in rotations:
            until = f" until {r.until}" if r.until else ""
            after = f"; next: {escape(r.next)}" if r.next else ""
            lines.append(f"• {escape(r.rotation)}: {escape(r.who)}{until}{after}")
        if not rotations:
            lines.append("no rotations are configured.")
        return "\n".join(lines)

    async def _on_other_command(self, ack: Any, command: dict[str, Any]) -> None:
        await ack(text=f"Partnerline does not know {escape(str(command.get('command')))}.")


class EdgeCheckedHandler(AsyncSlackRequestHandler):
    """Bolt's Starlette handler, checking a signed body before Bolt builds its request from it.

    Bolt reads who, which team and which channel out of the body before any of its middleware
    runs, and raises TypeError on a `user` or `channel` that is a number: a 500. So a message
    event's ids are checked here (check_message_event: a `user` that is no Slack user id is
    refused), and a body Bolt cannot build its request from is refused too: 400, one log line.
    """

    def __init__(self, app: AsyncApp, now: Callable[[], datetime]) -> None:
        super().__init__(app)
        self._now = now

    async def handle(
        self, req: Request, addition_context_properties: dict[str, Any] | None = None
    ) -> Response:
        if req.method != "POST":
            return await super().handle(req, addition_context_properties)
        body = await req.body()
        try:
            check_message_event(
                parse_body(body.decode("utf-8"), req.headers.get("content-type")), self._now()
            )
            bolt_request = to_async_bolt_request(req, body, addition_context_properties)
        except MalformedPayload as exc:
            return _refused(str(exc))
        except (TypeError, AttributeError, KeyError, ValueError):  # Bolt could not read it
            return _refused("the body is not a Slack payload")
        return to_starlette_response(await self.app.async_dispatch(bolt_request))


def _refused(detail: str) -> Response:
    log.info("Slack request refused as malformed: %s", detail)
    return JSONResponse({"detail": detail}, 400)


def check_message_event(body: dict[str, Any], now: datetime) -> None:
    """MalformedPayload unless the event's delivery key and the message it holds (if any) fit
    the columns they are stored in."""
    if body.get("type") != "event_callback":
        return
    key = event_key(body)
    if key is not None:
        checked_id(key, DELIVERY_KEY, "event_id")
    event = body.get("event")
    if not isinstance(event, dict) or event.get("type") != "message":
        return
    try:
        msg = inbound_from_event(event, now)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedPayload("the message event cannot be read") from exc
    if msg is not None:
        checked_inbound(msg)


def _update_payload(
    channel: str, ts: str, text: str, blocks: list[dict[str, Any]]
) -> dict[str, Any]:
    return {"text": text, "update": {"channel": channel, "ts": ts}, "blocks": blocks}


# ---------------------------------------------------------------------- wiring


def slack_of(apps: ChatApps) -> SlackBot | None:
    """The Slack app bot/bootstrap.py built, if the channel is on."""
    return apps.slack if isinstance(apps.slack, SlackBot) else None


async def start_slack(apps: ChatApps) -> None:
    bot = slack_of(apps)
    if bot is not None:
        await bot.start()


async def stop_slack(apps: ChatApps) -> None:
    bot = slack_of(apps)
    if bot is not None:
        await bot.stop()
