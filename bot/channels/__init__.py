"""Each channel's application code in one folder: webhook route, handlers, buttons, commands,
its CLI.

The chat apps (Slack's, Telegram's) are built by bot/bootstrap.py and held by the Container as
`ChatApp`s: the Container knows what it can do with one, never which one it is. The channels do
not import one another."""

from __future__ import annotations

from typing import Protocol

from bot.container import ChatApp


class ChatApps(Protocol):
    """Whatever holds the chat apps (the Container): what their webhooks and lifespan read."""

    telegram: ChatApp | None
    slack: ChatApp | None
