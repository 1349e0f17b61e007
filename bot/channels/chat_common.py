"""What the Slack and Telegram apps share: what they are built with, the claim-run-release of
work done inside a webhook, saying things back through the outbox, an acknowledged page's
messages, and who is on call. No SDK here: each app words and shapes its own messages."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from bot.config import AgencyConfig
from bot.settings import Settings
from bot.usecases.configured import LiveConfig
from bot.usecases.directory import Directory
from bot.usecases.oncall import OnCallService
from bot.usecases.services import Services
from routing.clock import Clock
from routing.errors import DomainError
from routing.messages import Channel
from storage.journal import InboundJournal
from storage.pages import SentPageMessage

T = TypeVar("T")
# Something a chat app says back: (outbox kind, recipient, payload). The adapter reads the
# payload; the kind only names it in the outbox.
Say = tuple[str, str, dict[str, Any]]
TIME = "%H:%M %Z"
DAY_AND_TIME = "%a %d %b %H:%M %Z"


@dataclass(frozen=True, slots=True)
class ChatDeps:
    """What a chat app is built with (bot/bootstrap.py hands it over)."""

    settings: Settings
    # The configuration in force: `config`, `directory` and `oncall` read it as they are
    # used, so that a reload reaches the chat apps too (bot/reloading.py).
    live: LiveConfig
    services: Services
    clock: Clock
    inbound: InboundJournal

    @property
    def config(self) -> AgencyConfig:
        """For the channels' own sections (read at start: they apply at the next start)."""
        return cast(AgencyConfig, self.live.current.source)

    @property
    def directory(self) -> Directory:
        return self.live.current.directory

    @property
    def oncall(self) -> OnCallService:
        return self.live.current.oncall


async def blocking(work: Callable[[], T]) -> T:
    """Database work, off the event loop."""
    return await asyncio.to_thread(work)


class ChatDesk:
    """One channel's claims on provider deliveries, and what it says back through the outbox
    (retried like any message)."""

    def __init__(self, services: Services, clock: Clock, channel: Channel) -> None:
        self.services = services
        self.clock = clock
        self.channel = channel

    def say(self, rows: Sequence[Say]) -> None:
        now = self.clock.now()
        with self.services.uow() as uow:
            for kind, recipient, payload in rows:
                uow.outbox.enqueue(
                    kind=kind, channel=self.channel, recipient=recipient, payload=payload, at=now
                )
            uow.commit()

    def say_once(self, key: str, rows: Sequence[Say]) -> bool:
        """Claim `key` and queue what to say, in one transaction (exactly once); False if the
        delivery was seen before."""
        now = self.clock.now()
        with self.services.uow() as uow:
            if not uow.router_store.claim_delivery(self.channel, key, now):
                return False
            for kind, recipient, payload in rows:
                uow.outbox.enqueue(
                    kind=kind, channel=self.channel, recipient=recipient, payload=payload, at=now
                )
            uow.commit()
        return True

    def claim(self, key: str) -> bool:
        return self.services.claim_delivery(self.channel, key)

    def release(self, key: str) -> None:
        self.services.release_delivery(self.channel, key)

    async def run_claimed(self, key: str, work: Callable[[], T]) -> T | DomainError | None:
        """For a use case that commits on its own (`work`, which returns something): claim
        the delivery `key`, then run it. None for a delivery seen before (nothing is run).

        A DomainError (nothing to acknowledge, say) is an answer for the user and is returned;
        anything else releases the claim, so that the provider's retry runs it again, and
        propagates."""
        if not await blocking(lambda: self.claim(key)):
            return None
        try:
            return await blocking(work)
        except DomainError as exc:
            return exc
        except Exception:
            await blocking(lambda: self.release(key))
            raise

    def page_messages(self, page_id: int) -> Sequence[SentPageMessage]:
        """Every message of the page this channel accepted, newest first, however old."""
        with self.services.uow() as uow:
            return uow.pages.sent_chat_messages(page_id, self.channel)


def ack_note(staff_name: str, at: datetime, zone: ZoneInfo, page_id: int | None = None) -> str:
    """The line an acknowledged page's messages end with."""
    what = f"Page {page_id} acknowledged" if page_id is not None else "Acknowledged"
    return f"✅ {what} by {staff_name} at {at.astimezone(zone):{TIME}}."


def acknowledged_text(text: str | None, page_id: int, note: str) -> str:
    """A page message's text once acknowledged: as sent, then who acknowledged."""
    return f"{text or f'Page {page_id}'}\n\n{note}"


@dataclass(frozen=True, slots=True)
class OnCallLine:
    rotation: str
    who: str  # the name, else the staff id, else "nobody"
    until: str | None  # local day and time the answer holds until, if it changes
    next: str | None  # who follows, if that is someone else


def on_call_lines(oncall: OnCallService, zone: ZoneInfo) -> list[OnCallLine]:
    """Who is on call now on each rotation (`OnCallService.who`), for a chat answer."""
    lines = []
    for r in oncall.who()["rotations"]:
        until = None
        if r["until"]:
            until = f"{datetime.fromisoformat(r['until']).astimezone(zone):{DAY_AND_TIME}}"
        following = r.get("next_name") or r.get("next")
        changes = r.get("next") and r.get("next") != r.get("staff")
        lines.append(
            OnCallLine(
                rotation=str(r["rotation"]),
                who=str(r["name"] or r["staff"] or "nobody"),
                until=until,
                next=str(following) if following and changes else None,
            )
        )
    return lines
