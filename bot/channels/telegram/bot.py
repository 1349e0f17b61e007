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
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

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
from routing.directory import StaffEntry
from routing.errors import DomainError
from routing.messages import Channel
from storage.inbound import inbound_payload

log = logging.getLogger(__name__)

Context = ContextTypes.DEFAULT_TYPE
# Outbox kinds of what the bot says back (the adapter reads the payload, not the kind).
ANSWER, EDIT, COMMAND_REPLY = "telegram.answer", "telegram.edit", "command_reply"
STARTUP_RETRY_SECONDS = (1, 2, 5, 10, 30, 60)


def update_key(update: Update) -> str:
    return f"update:{update.update_id}"


class TelegramBot:
    """The Application and its handlers (bot/bootstrap.py builds it; the lifespan starts it)."""

    def __init__(self, deps: ChatDeps, adapter: TelegramAdapter) -> None:
        settings = deps.settings
        assert settings.telegram_bot_token is not None
        self.deps = deps
        self.services = deps.services
        self.desk = ChatDesk(deps.services, deps.clock, Channel.TELEGRAM)
        self.adapter = adapter
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
        staff = _FromStaff(self._staff)
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
    def _now(self) -> datetime:
        return self.deps.clock.now()

    @property
    def staff_by_telegram(self) -> Mapping[int, StaffEntry]:
        """Staff by Telegram id, as the configuration in force says (a reload adds and
        removes people: nothing here is read once at start)."""
        return self.deps.directory.staff_by_telegram

    def _staff(self, user_id: int | None) -> StaffEntry | None:
        return self.staff_by_telegram.get(user_id) if user_id is not None else None

    # ------------------------------------------------------------------ clients
    async def _on_client_message(self, update: Update, context: Context) -> None:
        msg = inbound_from_update(update, self._now())
        if msg is None:
            return
        await self.deps.inbound.submit(
            channel=Channel.TELEGRAM,
            key=update_key(update),
            kind="message",
            payload=inbound_payload(msg),
            received_at=msg.received_at,
        )

    async def _on_start(self, update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None and update.effective_user is not None
        agency = self.deps.directory.agency
        staff = self._staff(update.effective_user.id)
        if staff is not None:
            text = (
                f"Hello {staff.name.split()[0]}, this is {agency}'s Partnerline bot. Pages reach "
                "you here: tap Acknowledge (or send /ack), and reply to a page to answer the "
                "client. /oncall shows who is on call."
            )
        else:
            text = f"Hello! You are writing to {agency}. Send your message here and we will reply."
        rows: list[Say] = [(COMMAND_REPLY, str(message.chat.id), {"text": text})]
        await blocking(lambda: self.desk.say_once(update_key(update), rows))

    # ------------------------------------------------------------------ staff commands
    async def _on_oncall(self, update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None and update.effective_user is not None
        if self._staff(update.effective_user.id) is None:
            text = "/oncall is for the agency's staff."
        else:
            text = await blocking(self._oncall_text)
        rows: list[Say] = [(COMMAND_REPLY, str(message.chat.id), {"text": text})]
        await blocking(lambda: self.desk.say_once(update_key(update), rows))

    def _oncall_text(self) -> str:
        lines = ["On call now:"]
        rotations = on_call_lines(self.deps.oncall, self.deps.directory.zone)
        for r in rotations:
            until = f", until {r.until}" if r.until else ""
            lines.append(f"• {r.rotation}: {r.who}{until}")
        if not rotations:
            lines.append("no rotations are configured.")
        return "\n".join(lines)

    async def _on_ack_command(self, update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None and update.effective_user is not None
        chat = str(message.chat.id)
        staff = self._staff(update.effective_user.id)
        if staff is None:
            refused: list[Say] = [
                (COMMAND_REPLY, chat, {"text": "/ack is for the agency's staff."})
            ]
            await blocking(lambda: self.desk.say_once(update_key(update), refused))
            return
        result = await self.desk.run_claimed(
            update_key(update),
            lambda: self.services.acknowledge(None, staff.id, via="telegram"),
        )
        if result is None:
            return  # a repeated update
        rows: list[Say] = []
        if isinstance(result, DomainError):
            text = result.user_message
        else:
            page = result
            text = f"Acknowledged page {page.id}" + (f": {page.summary}" if page.summary else ".")
            rows = await blocking(lambda: self._page_edits(page.id, self._note(staff)))
        rows.insert(0, (COMMAND_REPLY, chat, {"text": text}))
        await blocking(lambda: self.desk.say(rows))

    def _note(self, staff: StaffEntry) -> str:
        return ack_note(staff.name, self._now(), self.deps.directory.zone)

    def _page_edits(self, page_id: int, note: str) -> list[Say]:
        """Edits that take the Acknowledge button off every Telegram message of the page.
        A message that tells of several pages has the button of its first only: it is edited
        when that page is acknowledged."""
        edits: list[Say] = []
        for sent in self.desk.page_messages(page_id):
            if sent.page_id != page_id:
                continue
            message_id = int(sent.provider_id.rsplit(":", 1)[1])
            text = acknowledged_text(sent.text, page_id, note)
            edits.append((EDIT, sent.recipient, {"text": text, "edit": {"message_id": message_id}}))
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
            refused: list[Say] = [(ANSWER, answer_to, _answer(query.id, text, alert=True))]
            await blocking(lambda: self.desk.say_once(update_key(update), refused))
            return
        result = await self.desk.run_claimed(
            update_key(update),
            lambda: self.services.acknowledge(page_id, staff.id, via="telegram"),
        )
        if result is None:
            return  # a repeated update
        rows: list[Say]
        if isinstance(result, DomainError):
            rows = [(ANSWER, answer_to, _answer(query.id, result.user_message, alert=True))]
        else:
            note = self._note(staff)
            rows = [(ANSWER, answer_to, _answer(query.id, f"Acknowledged. {note[2:]}"))]
            edits = await blocking(lambda: self._page_edits(page_id, note))
            if not edits:  # a page message we did not send (or lost track of): edit this one
                edits = [e for e in [_edit_after_ack(query.message, page_id, note)] if e]
            rows.extend(edits)
        await blocking(lambda: self.desk.say(rows))

    async def _on_other_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None
        rows: list[Say] = [
            (ANSWER, str(query.from_user.id), _answer(query.id, "This button does nothing now."))
        ]
        await blocking(lambda: self.desk.say_once(update_key(update), rows))

    # ------------------------------------------------------------------ staff messages
    async def _on_staff_reply(self, update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None and message.reply_to_message is not None
        staff = self._staff(message.from_user.id if message.from_user else None)
        assert staff is not None
        chat = str(message.chat.id)
        replied = message.reply_to_message
        page_id = await blocking(lambda: self._page_of(chat, replied.message_id))
        text = message.text or message.caption or ""
        if page_id is None or not text.strip():
            await self._on_staff_message(update, context)
            return
        result = await self.desk.run_claimed(
            update_key(update),
            lambda: self.services.relay(staff.id, text, page_id, via="telegram"),
        )
        if result is None:
            return  # a repeated update
        if isinstance(result, DomainError):
            reply = f"Not sent: {result.user_message}"
        else:
            reply = "Sent to the client as the agency's answer."
        await blocking(lambda: self.desk.say([(COMMAND_REPLY, chat, {"text": reply})]))

    def _page_of(self, chat_id: str, message_id: int) -> int | None:
        """The page whose Telegram message this is: the outbox row that sent it says."""
        with self.services.uow() as uow:
            return uow.pages.page_of_sent_message(
                Channel.TELEGRAM, chat_id, provider_id(chat_id, message_id)
            )

    async def _on_staff_message(self, update: Update, context: Context) -> None:
        if update.edited_message is not None:
            return  # staff edits change nothing here
        message = update.effective_message
        assert message is not None
        text = (
            "To answer a client, reply (swipe left) to the page about them. "
            "/ack acknowledges your latest page; /oncall shows who is on call."
        )
        rows: list[Say] = [(COMMAND_REPLY, str(message.chat.id), {"text": text})]
        await blocking(lambda: self.desk.say_once(update_key(update), rows))


def _answer(query_id: str, text: str, *, alert: bool = False) -> dict[str, Any]:
    return {"text": text, "callback_query_id": query_id, "show_alert": alert}


def _edit_after_ack(
    message: MaybeInaccessibleMessage | None, page_id: int, note: str
) -> Say | None:
    """Replace the page message's button with who acknowledged it."""
    if message is None:
        return None
    original = message.text if isinstance(message, Message) and message.text else f"Page {page_id}"
    payload = {"text": f"{original}\n\n{note}", "edit": {"message_id": message.message_id}}
    return (EDIT, str(message.chat.id), payload)


# ---------------------------------------------------------------------- lifespan wiring


def telegram_of(apps: ChatApps) -> TelegramBot | None:
    """The Telegram app bot/bootstrap.py built, if the channel is on."""
    return apps.telegram if isinstance(apps.telegram, TelegramBot) else None


async def start_telegram(apps: ChatApps) -> None:
    """Start the bot if the Telegram channel is on; call from the lifespan."""
    bot = telegram_of(apps)
    if bot is not None:
        await bot.start()


async def stop_telegram(apps: ChatApps) -> None:
    bot = telegram_of(apps)
    if bot is not None:
        await bot.stop()


class _FromStaff(filters.MessageFilter):
    """A message from a staff member, looked up when the message comes."""

    def __init__(self, staff: Callable[[int | None], StaffEntry | None]) -> None:
        super().__init__(name="staff")
        self._staff = staff

    def filter(self, message: Message) -> bool:
        user = message.from_user
        return user is not None and self._staff(user.id) is not None
