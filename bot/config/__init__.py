"""The agency's configuration file: typed models, and a loader that reports every problem."""

from bot.config.fields import Target
from bot.config.loader import check_config, check_text, load_config
from bot.config.models import (
    AgencyConfig,
    AgencySection,
    ChannelsConfig,
    ClientConfig,
    CommitmentConfig,
    ContactConfig,
    EscalationConfig,
    EscalationStep,
    HolidaysRef,
    HoursConfig,
    NotifyRule,
    RotationConfig,
    SlackChannelConfig,
    SmsChannelConfig,
    StaffConfig,
    TelegramChannelConfig,
    UnknownSendersConfig,
    Window,
)
from bot.config.problems import ConfigError, Problem

__all__ = [
    "AgencyConfig",
    "AgencySection",
    "ChannelsConfig",
    "ClientConfig",
    "CommitmentConfig",
    "ConfigError",
    "ContactConfig",
    "EscalationConfig",
    "EscalationStep",
    "HolidaysRef",
    "HoursConfig",
    "NotifyRule",
    "Problem",
    "RotationConfig",
    "SlackChannelConfig",
    "SmsChannelConfig",
    "StaffConfig",
    "Target",
    "TelegramChannelConfig",
    "UnknownSendersConfig",
    "Window",
    "check_config",
    "check_text",
    "load_config",
]
