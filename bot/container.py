"""Everything one running Partnerline holds, built once by bot.bootstrap and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Protocol, cast

from fastapi import Depends, Request

from adapters.base import Sender
from adapters.sms import TwilioSmsAdapter
from bot.jobs.wakeup import Wakeup
from bot.jobs.worker import InboundHandler, JobHandler
from bot.settings import Settings
from bot.usecases.configured import LiveConfig
from bot.usecases.directory import Directory
from bot.usecases.oncall import OnCallService
from bot.usecases.services import Services
from routing.clock import Clock
from routing.messages import Channel
from storage.db import Database
from storage.journal import InboundJournal

if TYPE_CHECKING:
    from bot.config import AgencyConfig


class ChatApp(Protocol):
    """A chat channel's app (bot/channels), started and stopped with the web app's lifespan."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Container:
    settings: Settings
    # The parts built from the configuration file, swapped whole by a reload
    # (bot/reloading.py): `config`, `directory` and `oncall` below read the one in force.
    live: LiveConfig
    db: Database
    clock: Clock
    services: Services
    wakeup: Wakeup
    inbound: InboundJournal
    adapters: dict[Channel, Sender] = field(default_factory=dict)
    # Kinds of journalled delivery the worker can route (channels add theirs).
    inbound_handlers: dict[str, InboundHandler] = field(default_factory=dict)
    # Kinds of job the worker runs outside a transaction (the Slack mirror's syncs).
    job_handlers: dict[str, JobHandler] = field(default_factory=dict)
    # The chat apps (bot/bootstrap.py builds them; bot/channels/__init__.py says what they are).
    telegram: ChatApp | None = None
    slack: ChatApp | None = None

    @property
    def config(self) -> AgencyConfig:
        # `source` is typed `object` because the use cases know no configuration models.
        return cast("AgencyConfig", self.live.current.source)

    @property
    def directory(self) -> Directory:
        """The configuration's staff, clients, calendars, policies and rotations: everything
        that looks one up reads this (one request: read it once)."""
        return self.live.current.directory

    @property
    def oncall(self) -> OnCallService:
        return self.live.current.oncall

    @property
    def sms(self) -> TwilioSmsAdapter | None:
        sms = self.adapters.get(Channel.SMS)
        return sms if isinstance(sms, TwilioSmsAdapter) else None


async def get_container(request: Request) -> Container:
    """The running Partnerline, for a request (bot/http/app.py puts it on the app's state)."""
    # async: FastAPI would run a plain function in the thread pool, for every request.
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]
