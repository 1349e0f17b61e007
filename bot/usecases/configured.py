"""What the configuration decides, as the application reads it, swapped whole by a reload.

`Configured` holds the parts built from one configuration file (bot/reloading.py builds
them): the directory, and the services that read it (availability and paging, on-call).
`LiveConfig` holds the one in force. A reload builds a complete new `Configured` first, then
replaces the reference: one assignment, so that a reader sees the old parts or the new, never
a mixture. A use that reads more than one part takes `current` once and reads them from it.

Pages already open keep the escalation policy they copied when they opened (storage/pages.py);
new hours, tiers and rotations apply to what is decided after the swap.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.usecases.availability import Availability
from bot.usecases.directory import Directory
from bot.usecases.oncall import OnCallService


@dataclass(frozen=True, eq=False)
class Configured:
    # The configuration model these were built from (bot.config's; the use cases never read
    # it: the layers above do, through bot.container.Container.config).
    source: object
    checksum: str  # of the file's text ("" when built in code)
    directory: Directory
    availability: Availability
    oncall: OnCallService


class LiveConfig:
    """The configuration in force; `replace` swaps it for every reader at once."""

    def __init__(self, first: Configured) -> None:
        self._current = first

    @property
    def current(self) -> Configured:
        return self._current

    def replace(self, new: Configured) -> None:
        self._current = new
