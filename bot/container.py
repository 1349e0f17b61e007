"""Everything one running Partnerline holds, built once by bot.bootstrap and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from adapters.base import ChannelAdapter
from bot.inbound import InboundJournal
from bot.oncall import OnCallService
from bot.services import Services
from bot.settings import Settings
from bot.wakeup import Wakeup
from bot.worker import InboundHandler
from routing.clock import Clock
from routing.messages import Channel
from storage.db import Database

if TYPE_CHECKING:
    from adapters.sms import TwilioSmsAdapter
    from bot.config import AgencyConfig
    from bot.slack_app import SlackBot
    from bot.telegram_app import TelegramBot


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
