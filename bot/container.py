"""Everything one running Partnerline holds, built once by bot.bootstrap and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from adapters.base import ChannelAdapter
from bot.jobs.journal import InboundJournal
from bot.jobs.wakeup import Wakeup
from bot.jobs.worker import InboundHandler
from bot.settings import Settings
from bot.usecases.oncall import OnCallService
from bot.usecases.services import Services
from routing.clock import Clock
from routing.messages import Channel
from storage.db import Database

if TYPE_CHECKING:
    from adapters.sms import TwilioSmsAdapter
    from bot.channels.slack.bot import SlackBot
    from bot.channels.telegram.bot import TelegramBot
    from bot.config import AgencyConfig


@dataclass
class Container:
    settings: Settings
    config: AgencyConfig
    db: Database
    clock: Clock
    services: Services
    wakeup: Wakeup
    inbound: InboundJournal
    oncall: OnCallService
    adapters: dict[Channel, ChannelAdapter] = field(default_factory=dict)
    # Kinds of journalled delivery the worker can route (channels add theirs).
    inbound_handlers: dict[str, InboundHandler] = field(default_factory=dict)
    telegram: TelegramBot | None = None
    slack: SlackBot | None = None

    @property
    def sms(self) -> TwilioSmsAdapter | None:
        return self.adapters.get(Channel.SMS)  # type: ignore[return-value]
