"""`partnerline serve --sandbox`: the providers' stand-ins on loopback, and `/sandbox`.

`Sandbox` starts the Twilio, Telegram and Slack stand-ins, gives the settings that point the
channels at them, and plays a contact: what the person "sends" is posted to our own webhooks
exactly as the provider would (signed), and what the agency sent them is read back from the
stand-in. Nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from adapters.standins.slack import SlackStandIn
from adapters.standins.telegram import TelegramStandIn
from adapters.standins.twilio import TwilioStandIn
from bot.config import AgencyConfig
from bot.container import Container
from bot.http.web.guard import FormDep, StaffDep
from bot.http.web.templating import render
from bot.usecases.accounts import StaffAccounts
from storage.accounts import StaffAccountRepository

router = APIRouter(include_in_schema=False)

SANDBOX_SID = "AC" + "5a" * 16
SANDBOX_NUMBER = "+13135550100"


# Addresses that match no contact and no staff member (checked in `personas`): the sandbox's
# unknown sender, whose messages land with the configuration's [unknown_senders].
UNKNOWN_ADDRESSES = {"sms": "+13135550177", "telegram": "299999977", "slack": "U0UNKNOWN77"}
UNKNOWN_NAME = "Unknown sender"


@dataclass(frozen=True, slots=True)
class Persona:
    """One person to play on one channel: a contact of the configuration, a sender the
    configuration does not know, or a staff member (whose phone shows the pages they get)."""

    key: str  # "sms:+13135550142"
    channel: str
    address: str
    name: str
    client: str  # the client's name; for the others, what they are
    role: str = "client"  # client | unknown | staff


@dataclass
class _Sent:
    at: datetime
    text: str


@dataclass
class Sandbox:
    config: AgencyConfig
    twilio: TwilioStandIn = field(init=False)
    telegram: TelegramStandIn = field(init=False)
    slack: SlackStandIn = field(init=False)
    app_url: str = ""
    _sent: dict[str, list[_Sent]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.twilio_token = secrets.token_hex(16)
        self.telegram_token = f"123456:{secrets.token_urlsafe(24)}"
        self.telegram_secret = secrets.token_urlsafe(24)
        self.slack_token = f"xoxb-sandbox-{secrets.token_hex(12)}"
        self.slack_secret = secrets.token_hex(16)
        self.twilio = TwilioStandIn(SANDBOX_SID, self.twilio_token)
        self.telegram = TelegramStandIn(self.telegram_token)
        self.slack = SlackStandIn(self.slack_token, self.slack_secret)

    def start(self) -> Sandbox:
        self.twilio.start()
        self.telegram.start()
        self.slack.start()
        return self

    def stop(self) -> None:
        self.slack.stop()
        self.telegram.stop()
        self.twilio.stop()

    def settings_overrides(self, app_url: str) -> dict[str, Any]:
        """Environment values that point every channel at the stand-ins."""
        self.app_url = app_url.rstrip("/")
        return {
            "TWILIO_ACCOUNT_SID": SANDBOX_SID,
            "TWILIO_AUTH_TOKEN": self.twilio_token,
            "TWILIO_API_URL": self.twilio.url,
            "TELEGRAM_BOT_TOKEN": self.telegram_token,
            "TELEGRAM_WEBHOOK_SECRET": self.telegram_secret,
            "TELEGRAM_API_URL": self.telegram.api_url,
            "SLACK_BOT_TOKEN": self.slack_token,
            "SLACK_SIGNING_SECRET": self.slack_secret,
            "SLACK_API_URL": self.slack.api_url,
            "PUBLIC_URL": self.app_url,
        }

    # ------------------------------------------------------------------ people to play
    def personas(self) -> list[Persona]:
        """The clients' contacts, then an unknown sender, then the staff, each per channel."""
        people: list[Persona] = []

        def add(channel: str, address: object, name: str, what: str, role: str) -> None:
            if address is not None and address != "":
                key = f"{channel}:{address}"
                people.append(Persona(key, channel, str(address), name, what, role))

        for client in self.config.clients:
            for contact in client.contacts:
                add("sms", contact.sms, contact.name, client.name, "client")
                add("slack", contact.slack, contact.name, client.name, "client")
                add("telegram", contact.telegram, contact.name, client.name, "client")
        known = {p.key for p in people} | {
            f"{channel}:{address}"
            for staff in self.config.staff
            for channel, address in (
                ("sms", staff.sms),
                ("slack", staff.slack),
                ("telegram", staff.telegram),
            )
        }
        for channel, address in UNKNOWN_ADDRESSES.items():
            if f"{channel}:{address}" not in known:
                add(channel, address, UNKNOWN_NAME, "no client", "unknown")
        for staff in self.config.staff:
            add("sms", staff.sms, staff.name, "staff", "staff")
            add("slack", staff.slack, staff.name, "staff", "staff")
            add("telegram", staff.telegram, staff.name, "staff", "staff")
        return people

    def persona(self, key: str | None) -> Persona | None:
        return next((p for p in self.personas() if p.key == key), None)

    def groups(self) -> list[tuple[str, list[Persona]]]:
        """The personas under a heading each, for the picker."""
        headings = {
            "client": "Clients",
            "unknown": "A sender no configuration knows",
            "staff": "Staff: what their phone receives (pages); answer ACK",
        }
        people = self.personas()
        return [
            (heading, [p for p in people if p.role == role])
            for role, heading in headings.items()
            if any(p.role == role for p in people)
        ]

    # ------------------------------------------------------------------ playing one
    def send(self, persona: Persona, text: str) -> int:
        """Post `text` from the persona to our webhook as the provider would; its HTTP status."""
        with self._lock:
            self._sent.setdefault(persona.key, []).append(_Sent(datetime.now(UTC), text))
        if persona.channel == "sms":
            sid = f"SM{secrets.token_hex(16)}"
            params = {
                "MessageSid": sid,
                "SmsSid": sid,
                "AccountSid": SANDBOX_SID,
                "From": persona.address,
                "To": self._sms_from(),
                "Body": text,
                "NumMedia": "0",
                "ApiVersion": "2010-04-01",
            }
            return self.twilio.post_signed(self.app_url + "/webhooks/twilio/sms", params)
        if persona.channel == "slack":  # a DM to the bot
            event = self.slack.dm_event(persona.address, text)
            return self.slack.deliver_event(self.app_url + "/webhooks/slack", event).status_code
        first, _, last = persona.name.partition(" ")
        user = TelegramStandIn.user(int(persona.address), first, last or None)
        update = self.telegram.message_update(user, text)
        response = self.telegram.deliver(
            update, self.app_url + "/webhooks/telegram", secret=self.telegram_secret
        )
        return response.status_code

    def _sms_from(self) -> str:
        sms = self.config.channels.sms
        return sms.from_ if sms and sms.from_ else SANDBOX_NUMBER

    def thread(self, persona: Persona) -> list[dict[str, Any]]:
        """What the person sent and what reached them, oldest first."""
        with self._lock:
            items: list[dict[str, Any]] = [
                {"at": s.at, "text": s.text, "mine": True} for s in self._sent.get(persona.key, [])
            ]
        if persona.channel == "sms":
            for m in self.twilio.sent_to(persona.address):
                items.append({"at": _twilio_time(m), "text": m.get("body", ""), "mine": False})
        elif persona.channel == "slack":
            for m in self.slack.messages(SlackStandIn.dm_channel(persona.address)):
                at = datetime.fromtimestamp(float(m.get("ts", 0)), UTC)
                items.append({"at": at, "text": m.get("text", ""), "mine": False})
        else:
            for m in self.telegram.sent_to(persona.address):
                at = datetime.fromtimestamp(int(m.get("date", 0)), UTC)
                items.append({"at": at, "text": m.get("text", ""), "mine": False})
        # The stand-ins stamp what they carry to the whole second, and the acknowledgement
        # follows the client's message within it: compare at that grain, and within one second
        # the person's own message first (a stable sort keeps each side's own order).
        items.sort(key=lambda i: (i["at"].replace(microsecond=0), not i["mine"]))
        return items


def _twilio_time(message: dict[str, Any]) -> datetime:
    try:
        return parsedate_to_datetime(message["date_created"])
    except (KeyError, TypeError, ValueError):
        return datetime.now(UTC)


# ---------------------------------------------------------------------- the page


def _sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


def _context(sandbox: Sandbox, key: str | None) -> dict[str, Any]:
    personas = sandbox.personas()
    persona = sandbox.persona(key) or (personas[0] if personas else None)
    return {
        "section": "sandbox",
        "personas": personas,
        "groups": sandbox.groups(),
        "persona": persona,
        "thread": sandbox.thread(persona) if persona else [],
    }


@router.get("/sandbox")
async def sandbox_page(request: Request, staff: StaffDep, who: str | None = None) -> Response:
    context = await asyncio.to_thread(_context, _sandbox(request), who)
    return render(request, "sandbox.html", staff, context)


@router.get("/sandbox/thread")
async def sandbox_thread(request: Request, staff: StaffDep, who: str | None = None) -> Response:
    context = await asyncio.to_thread(_context, _sandbox(request), who)
    return render(request, "_sandbox_thread.html", staff, context)


@router.post("/sandbox/send")
async def sandbox_send(request: Request, staff: StaffDep, form: FormDep) -> Response:
    sandbox = _sandbox(request)
    who, text = form.get("who"), form.get("text")
    persona = sandbox.persona(who if isinstance(who, str) else None)
    if persona is None or not isinstance(text, str) or not text.strip():
        return render(request, "_flash.html", staff, {"error": "Pick a contact and write."}, 422)
    status = await asyncio.to_thread(sandbox.send, persona, text.strip())
    if status >= 300:
        error = f"the {persona.channel} webhook answered {status}"
        return render(request, "_flash.html", staff, {"error": error}, 502)
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Trigger": "pl:changed"})
    return Response(status_code=303, headers={"Location": f"/sandbox?who={persona.key}"})


def ensure_sandbox_login(container: Container) -> tuple[str, str] | None:
    """A first login for a fresh sandbox, so that it needs no set-up: (login, password), or
    None when logins exist already. An admin account for the configuration's first staff."""
    if not container.config.staff:
        return None
    with container.db.session() as session:
        if StaffAccountRepository(session).count():
            return None
        password = secrets.token_urlsafe(12)
        StaffAccounts(StaffAccountRepository(session)).add(
            "sandbox",
            container.config.staff[0].id,
            password,
            is_admin=True,
            now=container.clock.now(),
        )
        session.commit()
    return "sandbox", password
