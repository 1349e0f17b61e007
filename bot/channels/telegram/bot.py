"""The Telegram bot: python-telegram-bot's Application dispatching webhook updates.

The Application has no updater (Telegram pushes updates to `POST /webhooks/telegram`); the route
hands each verified update to `TelegramBot.process`, which awaits its handler, so whatever the
update caused is in the database before Telegram hears "200":

- a client's message (or edit) in a private chat is journalled (kind "message") and routed by
  the worker like any channel's;
- /start, /oncall, /ack, button presses and staff replies to pages are handled here; everything
  they say back to Telegram goes through the outbox, so it is retried like any message.

Each update's key "update:<update_id>" is claimed in the inbound journal's table, so a repeated
delivery is the same update. Commands claim the key in the transaction that queues their answer
(exactly once). Acknowledging and relaying run the shared use cases, which commit on their own:
the key is claimed first, and released again if the use case fails unexpectedly, so that
Telegram's retry (we answer 5xx) runs it again; an answer the use case refused is final.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from telegram import MaybeInaccessibleMessage, Message, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from adapters.telegram import (
    ACK_PREFIX,
    TelegramAdapter,
    inbound_from_update,
    parse_ack_callback,
    provider_id,
    update_from_body,
)
from bot.config import StaffConfig
from routing.errors import DomainError
from routing.messages import Channel
from storage.inbound import inbound_payload
from storage.tables import OutboxRow

if TYPE_CHECKING:
    from bot.container import Container

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
# Outbox kinds of what the bot says back (the adapter reads the payload, not the kind).
ANSWER, EDIT, COMMAND_REPLY = "telegram.answer", "telegram.edit", "command_reply"
STARTUP_RETRY_SECONDS = (1, 2, 5, 10, 30, 60)


def update_key(update: Update) -> str:
    return f"update:{update.update_id}"


class TelegramBot:
    """The Application and its handlers, over one container."""

    def __init__(self, container: Container, adapter: TelegramAdapter) -> None:
        settings = container.settings
        assert settings.telegram_bot_token is not None
        self.container = container
        self.adapter = adapter
        self.staff_by_telegram: dict[int, StaffConfig] = {
            s.telegram: s for s in container.config.staff if s.telegram is not None
        }
        self.application: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(settings.telegram_bot_token.get_secret_value())
            .base_url(settings.telegram_api_url)
            .request(HTTPXRequest(connection_pool_size=8))
            .updater(None)
            .build()
        )
        self._failures: dict[int, BaseException] = {}
        self._ready = asyncio.Event()
        self._starting: asyncio.Task[None] | None = None
        self._add_handlers()

    # ------------------------------------------------------------------ lifecycle
    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    async def start(self) -> None:
        """Initialise (getMe) and start the Application; if Telegram cannot be reached, keep
        trying in the background instead of holding up the rest of the app."""
        try:
            await self._start_once()
        except Exception as exc:
            log.warning("Telegram bot not started (%s); trying again in the background", exc)
            self._starting = asyncio.create_task(self._keep_starting(), name="telegram-start")

    async def _start_once(self) -> None:
        await self.application.initialize()
        await self.application.start()
        self._ready.set()
        log.info("Telegram bot @%s started", self.application.bot.username)

    async def _keep_starting(self) -> None:
        for attempt in range(10_000):
            delay = STARTUP_RETRY_SECONDS[min(attempt, len(STARTUP_RETRY_SECONDS) - 1)]
            await asyncio.sleep(delay)
            try:
                await self._start_once()
                return
            except Exception as exc:
                log.warning("Telegram bot still not started: %s", exc)

    async def stop(self) -> None:
        if self._starting is not None:
            self._starting.cancel()
            await asyncio.gather(self._starting, return_exceptions=True)
        if self.application.running:
            await self.application.stop()
        if self._ready.is_set():
            await self.application.shutdown()
        self._ready.clear()

    # ------------------------------------------------------------------ updates in
    def parse(self, body: bytes) -> Update:
        """The update in a verified webhook body (MalformedPayload if it is not one, or if the
        client message in it could not be stored: checked here, at the edge, not in a handler)."""
        update = update_from_body(body, self.application.bot)
        inbound_from_update(update, self._now())
        return update

    async def process(self, update: Update) -> None:
        """Run the update through the Application; raises what its handler raised."""
        if not self.ready:
            raise RuntimeError("the Telegram bot is not started yet")
        await self.application.process_update(update)
        failure = self._failures.pop(id(update), None)
        if failure is not None:
            raise failure

    async def _on_error(self, update: object, context: Context) -> None:
        log.error("Telegram update failed", exc_info=context.error)
        if context.error is not None:
            self._failures[id(update)] = context.error

    def _add_handlers(self) -> None:
        private = filters.ChatType.PRIVATE
        fresh = filters.UpdateType.MESSAGE  # not edits: an edited command is not a new one
        staff = filters.User(user_id=list(self.staff_by_telegram), allow_empty=False)
        handlers = [
            CallbackQueryHandler(self._on_ack_button, pattern=rf"^{ACK_PREFIX}\d+$"),
            CallbackQueryHandler(self._on_other_button),
            CommandHandler("start", self._on_start, filters=private & fresh),
            CommandHandler("oncall", self._on_oncall, filters=private & fresh),
            CommandHandler("ack", self._on_ack_command, filters=private & fresh),
            MessageHandler(private & fresh & staff & filters.REPLY, self._on_staff_reply),
            MessageHandler(private & staff, self._on_staff_message),
            MessageHandler(private & filters.UpdateType.MESSAGES, self._on_client_message),
        ]
        self.application.add_handlers(handlers)
        self.application.add_error_handler(self._on_error)

    # ------------------------------------------------------------------ helpers
    @property
    def _services(self) -> Any:
        return self.container.services

    def _now(self) -> datetime:
        return self.container.clock.now()

    def _staff(self, user_id: int | None) -> StaffConfig | None:
        return self.staff_by_telegram.get(user_id) if user_id is not None else None

    async def _blocking(self, work: Callable[[], Any]) -> Any:
        return await asyncio.to_thread(work)

    def _claim(self, key: str) -> bool:
        return bool(self._services.claim_delivery(Channel.TELEGRAM, key))

    def _release(self, key: str) -> None:
        self._services.release_delivery(Channel.TELEGRAM, key)

    def _say_once(self, key: str, rows: list[tuple[str, str, dict[str, Any]]]) -> bool:
        """Claim `key` and queue what to say, (kind, chat, payload) each, in one transaction."""
        now = self._now()
        with self._services.uow() as uow:
            if not uow.router_store.claim_delivery(Channel.TELEGRAM, key, now):
                return False
            self._enqueue(uow, rows, now)
            uow.commit()
        return True

    def _say(self, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
        now = self._now()
        with self._services.uow() as uow:
            self._enqueue(uow, rows, now)
            uow.commit()

    @staticmethod
    def _enqueue(uow: Any, rows: list[tuple[str, str, dict[str, Any]]], now: datetime) -> None:
        for kind, chat, payload in rows:
            uow.outbox.enqueue(
                kind=kind, channel=Channel.TELEGRAM, recipient=chat, payload=payload, at=now
            )

    async def _run_claimed(self, key: str, work: Callable[[], Any]) -> tuple[bool, Any]:
        """(False, None) for a repeated update; else (True, result of work).

        A DomainError (nothing to acknowledge, say) is an answer for the user and is returned;
        anything else releases the claim and propagates.
        """
        if not await self._blocking(lambda: self._claim(key)):
            return False, None
        try:
            return True, await self._blocking(work)
        except DomainError as exc:
            return True, exc
        except Exception:
            await self._blocking(lambda: self._release(key))
            raise

    # ------------------------------------------------------------------ clients
    async def _on_client_message(self, update: Update, context: Context) -> None:
        msg = inbound_from_update(update, self._now())
        if msg is None:
            return
        await self.container.inbound.submit(
            channel=Channel.TELEGRAM,
            key=update_key(update),
            kind="message",
            payload=inbound_payload(msg),
            received_at=msg.received_at,
        )

    async def _on_start(self, update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None and update.effective_user is not None
        agency = self.container.config.agency.name
        staff = self._staff(update.effective_user.id)
        if staff is not None:
            text = (
                f"Hello {staff.name.split()[0]}, this is {agency}'s Partnerline bot. Pages reach "
                "you here: tap Acknowledge (or send /ack), and reply to a page to answer the "
                "client. /oncall shows who is on call."
            )
        else:
            text = f"Hello! You are writing to {agency}. Send your message here and we will reply."
        rows = [(COMMAND_REPLY, str(message.chat.id), {"text": text})]
        await self._blocking(lambda: self._say_once(update_key(update), rows))

    # ------------------------------------------------------------------ staff commands
    async def _on_oncall(self, update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None and update.effective_user is not None
        if self._staff(update.effective_user.id) is None:
            text = "/oncall is for the agency's staff."
        else:
            text = await self._blocking(self._oncall_text)
        rows = [(COMMAND_REPLY, str(message.chat.id), {"text": text})]
        await self._blocking(lambda: self._say_once(update_key(update), rows))

    def _oncall_text(self) -> str:
        answer = self.container.oncall.who()
        zone = self.container.config.zone
        lines = ["On call now:"]
        for r in answer["rotations"]:
            who = r["name"] or r["staff"] or "nobody"
            until = ""
            if r["until"]:
                local = datetime.fromisoformat(r["until"]).astimezone(zone)
                until = f", until {local:%a %d %b %H:%M %Z}"
            lines.append(f"• {r['rotation']}: {who}{until}")
        if not answer["rotations"]:
            lines.append("no rotations are configured.")
        return "\n".join(lines)

    async def _on_ack_command(self, update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None and update.effective_user is not None
        chat = str(message.chat.id)
        staff = self._staff(update.effective_user.id)
        if staff is None:
            rows = [(COMMAND_REPLY, chat, {"text": "/ack is for the agency's staff."})]
            await self._blocking(lambda: self._say_once(update_key(update), rows))
            return
        fresh, result = await self._run_claimed(
            update_key(update),
            lambda: self._services.acknowledge(None, staff.id, via="telegram"),
        )
        if not fresh:
            return
        rows: list[tuple[str, str, dict[str, Any]]] = []
        if isinstance(result, DomainError):
            text = result.user_message
        else:
            page = result  # storage.pages.PageRecord
            text = f"Acknowledged page {page.id}" + (f": {page.summary}" if page.summary else ".")
            rows = await self._blocking(lambda: self._page_edits(page.id, self._note(staff)))
        rows.insert(0, (COMMAND_REPLY, chat, {"text": text}))
        await self._blocking(lambda: self._say(rows))

    def _note(self, staff: StaffConfig) -> str:
        when = self._now().astimezone(self.container.config.zone)
        return f"✅ Acknowledged by {staff.name} at {when:%H:%M %Z}."

    def _page_edits(self, page_id: int, note: str) -> list[tuple[str, str, dict[str, Any]]]:
        """Edits that take the Acknowledge button off every Telegram message of the page."""
        with self._services.uow() as uow:
            sent = uow.session.execute(
                select(OutboxRow.recipient, OutboxRow.provider_id, OutboxRow.payload)
                .where(
                    OutboxRow.channel == Channel.TELEGRAM.value,
                    OutboxRow.kind == "page",
                    OutboxRow.provider_id.is_not(None),
                )
                .order_by(OutboxRow.id.desc())
                .limit(500)  # pages are few; the JSON page_id is compared here, portably
            ).all()
        edits = []
        for chat, pid, payload in sent:
            if not payload or payload.get("page_id") != page_id:
                continue
            message_id = int(str(pid).rsplit(":", 1)[1])
            text = f"{payload.get('text') or f'Page {page_id}'}\n\n{note}"
            edits.append((EDIT, chat, {"text": text, "edit": {"message_id": message_id}}))
        return edits

    # ------------------------------------------------------------------ buttons
    async def _on_ack_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None
        page_id = parse_ack_callback(query.data)
        staff = self._staff(query.from_user.id)
        answer_to = str(query.from_user.id)
        if staff is None or page_id is None:
            # A forwarded button, or someone who is not staff: nothing is acknowledged.
            text = "Only the agency's staff can acknowledge pages. Nothing was acknowledged."
            rows = [(ANSWER, answer_to, _answer(query.id, text, alert=True))]
            await self._blocking(lambda: self._say_once(update_key(update), rows))
            return
        fresh, result = await self._run_claimed(
            update_key(update),
            lambda: self._services.acknowledge(page_id, staff.id, via="telegram"),
        )
        if not fresh:
            return
        if isinstance(result, DomainError):
            rows = [(ANSWER, answer_to, _answer(query.id, result.user_message, alert=True))]
        else:
            note = self._note(staff)
            rows = [(ANSWER, answer_to, _answer(query.id, f"Acknowledged. {note[2:]}"))]
            edits = await self._blocking(lambda: self._page_edits(page_id, note))
            if not edits:
                edits = [e for e in [_edit_after_ack(query.message, page_id, note)] if e]
            rows.extend(edits)
        await self._blocking(lambda: self._say(rows))

    async def _on_other_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None
        rows = [
            (ANSWER, str(query.from_user.id), _answer(query.id, "This button does nothing now."))
        ]
        await self._blocking(lambda: self._say_once(update_key(update), rows))

    # ------------------------------------------------------------------ staff messages
    async def _on_staff_reply(self, update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None and message.reply_to_message is not None
        staff = self._staff(message.from_user.id if message.from_user else None)
        assert staff is not None
        chat = str(message.chat.id)
        replied = message.reply_to_message
        page_id = await self._blocking(lambda: self._page_of(chat, replied.message_id))
        text = message.text or message.caption or ""
        if page_id is None or not text.strip():
            await self._on_staff_message(update, context)
            return
        fresh, result = await self._run_claimed(
            update_key(update),
            lambda: self._services.relay(staff.id, text, page_id, via="telegram"),
        )
        if not fresh:
            return
        if isinstance(result, DomainError):
            reply = f"Not sent: {result.user_message}"
        else:
            reply = "Sent to the client as the agency's answer."
        await self._blocking(lambda: self._say([(COMMAND_REPLY, chat, {"text": reply})]))

    def _page_of(self, chat_id: str, message_id: int) -> int | None:
        """The page whose Telegram message this is: the outbox row that sent it says."""
        with self._services.uow() as uow:
            payload = uow.session.execute(
                select(OutboxRow.payload).where(
                    OutboxRow.channel == Channel.TELEGRAM.value,
                    OutboxRow.kind == "page",
                    OutboxRow.recipient == chat_id,
                    OutboxRow.provider_id == provider_id(chat_id, message_id),
                )
            ).scalar_one_or_none()
        if not payload or payload.get("page_id") is None:
            return None
        return int(payload["page_id"])

    async def _on_staff_message(self, update: Update, context: Context) -> None:
        if update.edited_message is not None:
            return  # staff edits change nothing here
        message = update.effective_message
        assert message is not None
        text = (
            "To answer a client, reply (swipe left) to the page about them. "
            "/ack acknowledges your latest page; /oncall shows who is on call."
        )
        rows = [(COMMAND_REPLY, str(message.chat.id), {"text": text})]
        await self._blocking(lambda: self._say_once(update_key(update), rows))


def _answer(query_id: str, text: str, *, alert: bool = False) -> dict[str, Any]:
    return {"text": text, "callback_query_id": query_id, "show_alert": alert}


def _edit_after_ack(
    message: MaybeInaccessibleMessage | None, page_id: int, note: str
) -> tuple[str, str, dict[str, Any]] | None:
    """Replace the page message's button with who acknowledged it."""
    if message is None:
        return None
    original = message.text if isinstance(message, Message) and message.text else f"Page {page_id}"
    payload = {"text": f"{original}\n\n{note}", "edit": {"message_id": message.message_id}}
    return (EDIT, str(message.chat.id), payload)


# ---------------------------------------------------------------------- lifespan wiring


def telegram_of(container: Container) -> TelegramBot | None:
    return getattr(container, "telegram", None)


async def start_telegram(container: Container) -> None:
    """Build and start the bot if the Telegram channel is configured; call from the lifespan."""
    adapter = container.adapters.get(Channel.TELEGRAM)
    if not isinstance(adapter, TelegramAdapter) or container.settings.telegram_bot_token is None:
        return
    bot = TelegramBot(container, adapter)
    container.telegram = bot
    await bot.start()


async def stop_telegram(container: Container) -> None:
    bot = telegram_of(container)
    if bot is not None:
        await bot.stop()
        container.telegram = None
