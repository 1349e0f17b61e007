"""The application layer wired as bot.bootstrap wires it, on SQLite, with a frozen clock and
recording adapters: a client's message goes in through the inbound journal, and one call runs
whatever the worker has due (routing, timers, the outbox) until nothing is left."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.bootstrap import build_container, build_worker, sync_config
from bot.config import load_config
from bot.container import Container
from bot.jobs.worker import Worker
from bot.settings import Settings
from bot.usecases.services import Author, Services
from routing.clock import FrozenClock
from routing.commitments import Commitment
from routing.messages import Channel, InboundMessage
from storage.conversations import ConversationView, MessageView
from storage.db import Database
from storage.inbound import inbound_payload
from storage.pages import PageRecord
from tests.support.recording_adapters import Recorders

STORY_CONFIG = Path(__file__).resolve().parents[1] / "data" / "story_agency.toml"
DETROIT = ZoneInfo("America/Detroit")

# People of tests/data/story_agency.toml, by phone number. Dana writes for Acme Robotics
# (priority tier: 30 business minutes, 1 hour after hours, pages after hours); Lucy for
# Brightside Bakery (standard tier: 4 business hours, never pages).
DANA, LUCY = "+13135550142", "+13135550150"
JIM, ANA, RAJ, KIM = "+13135550101", "+13135550102", "+13135550103", "+13135550104"
ANA_AUTHOR = Author(id="ana", name="Ana Ortiz")

# The office (Detroit) is open 09:00-17:30 on Wednesdays.
WEDNESDAY_MORNING = datetime(2026, 12, 9, 10, 0, tzinfo=DETROIT)
# After hours. The after-hours rotation (jim, ana, raj; weekly from 2026-11-02 09:00) is in its
# sixth week: Raj is on call and Jim is next.
TUESDAY_EVENING = datetime(2026, 12, 8, 19, 5, tzinfo=DETROIT)

_provider_ids = itertools.count(1)


@dataclass
class Rig:
    container: Container
    worker: Worker
    clock: FrozenClock
    sent: Recorders

    @property
    def services(self) -> Services:
        return self.container.services

    def sms(self, sender: str, text: str) -> InboundMessage:
        return InboundMessage(
            Channel.SMS, f"SM{next(_provider_ids):032d}", sender, text, self.clock.now()
        )

    def filed_in(self, msg: InboundMessage) -> int:
        """The conversation a journalled message was filed in."""
        with self.services.uow() as uow:
            found = uow.router_store.find_message(Channel.SMS, msg.provider_id)
        assert found is not None, "the worker did not file the message"
        return found.conversation_id

    def client_writes(self, sender: str, text: str) -> int:
        """A client's SMS, journalled as the Twilio webhook journals it, then everything the
        worker has due; the id of the conversation it was filed in."""
        msg = self.sms(sender, text)
        self.journal(msg)
        return self.filed_in(msg)

    def journal(self, msg: InboundMessage) -> None:
        """Journal one delivery (as a webhook does) and run the worker until it is done."""
        self.submit(msg)
        self.run_worker()

    def submit(self, msg: InboundMessage) -> None:
        """Journal one delivery as a webhook does, and nothing more."""
        asyncio.run(
            self.container.inbound.submit(
                channel=msg.channel,
                key=msg.provider_id,
                kind="message",
                payload=inbound_payload(msg),
                received_at=msg.received_at,
            )
        )

    def run_worker(self) -> None:
        """The worker's cycle (route the journal, fire due timers, send the outbox) until a
        cycle finds nothing due at the frozen time."""

        async def settle() -> None:
            for _ in range(50):
                if not await self.worker.run_once() and not await self.worker.finish_jobs():
                    return
            raise AssertionError("the worker still found work after 50 cycles")

        asyncio.run(settle())

    def advance_to(self, at: datetime) -> None:
        self.clock.set(at)
        self.run_worker()

    # ------------------------------------------------------------------ reading back
    def conversation(self, conversation_id: int) -> ConversationView:
        with self.services.uow() as uow:
            view = uow.conversations.get(conversation_id)
        assert view is not None
        return view

    def messages(self, conversation_id: int) -> list[MessageView]:
        with self.services.uow() as uow:
            return uow.conversations.messages(conversation_id)

    def commitments(self, conversation_id: int) -> list[tuple[Commitment, list[str]]]:
        """Each commitment of the conversation with the states its events recorded."""
        with self.services.uow() as uow:
            history = uow.commitments.history(conversation_id)
        return [(c, [str(e.state) for e in events]) for c, events in history]

    def page_of(self, conversation_id: int) -> PageRecord | None:
        with self.services.uow() as uow:
            found = [p for p in uow.pages.listing(None, 50) if p.conversation_id == conversation_id]
        return found[0] if found else None


def build_rig(database: Database, start: datetime, config: Path = STORY_CONFIG) -> Rig:
    """Container and worker as bot.bootstrap builds them, on `database`, with the clock at
    `start`; the configuration's clients synced in as `partnerline` does at start-up.
    `config`: another agency than the story's (the simulator's faithfulness test)."""
    clock = FrozenClock(start)
    sent = Recorders()
    settings = Settings(database_url=database.url, public_url=None)
    container = build_container(
        settings, load_config(config), clock=clock, adapters=sent.adapters, db=database
    )
    sync_config(container)
    return Rig(container, build_worker(container), clock, sent)
