"""Coverage gaps of a directory (routing.coverage): the clients as coverage sees them, and the
gaps of the next 90 days. `partnerline check`, the inbox's on-call page and the simulator ask
here, so they list the same gaps."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from bot.usecases.directory import Directory
from routing.coverage import HORIZON, CoveredClient, Gap, coverage_gaps
from routing.rotations import Override


def covered_clients(directory: Directory) -> list[CoveredClient]:
    """Every client of the directory, in the configuration's order: its tier's promise and
    the escalation its pages run, as the live worker finds them (bot.usecases.decisions)."""
    return [
        CoveredClient(
            id=client.id,
            commitment=directory.commitments[directory.terms_of(client.id).tier],
            escalation=directory.escalations.get(client.id),
        )
        for client in directory.clients.values()
    ]


def gaps_ahead(
    directory: Directory,
    now: datetime,
    overrides: Sequence[Override] = (),
    horizon: timedelta = HORIZON,
) -> list[Gap]:
    """The directory's coverage gaps in [now, now + horizon), given the overrides."""
    return coverage_gaps(
        covered_clients(directory), directory.rotations, now, now + horizon, overrides
    )
