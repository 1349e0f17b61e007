"""Escalation: what a page does at each step, and what a paged person's SMS means.

A page carries a snapshot of its policy (steps, repeat, the account team, each person's notify
rules) taken when it opened, so a configuration reload never rewrites a running page. Steps
run in order, each notifying its targets and then waiting; after the last step the chain runs
`repeat` more times; acknowledging stops everything still to come.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from routing.rotations import Override, Rotation, offset_on_call, on_call

# Several pages for one person on one channel within this window go out as one message.
COALESCE_WINDOW = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class Step:
    targets: tuple[str, ...]  # "rotation:ID", "rotation:ID+N", "staff:ID", "account_team"
    wait: timedelta


@dataclass(frozen=True, slots=True)
class NotifyRule:
    channel: str  # sms | voice | telegram | slack
    delay: timedelta


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    steps: tuple[Step, ...]
    repeat: int
    account_team: tuple[str, ...]
    notify: Mapping[str, tuple[NotifyRule, ...]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "steps": [
                {"targets": list(s.targets), "wait": s.wait.total_seconds()} for s in self.steps
            ],
            "repeat": self.repeat,
            "account_team": list(self.account_team),
            "notify": {
                staff: [[r.channel, r.delay.total_seconds()] for r in rules]
                for staff, rules in self.notify.items()
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Policy:
        return cls(
            name=str(data["name"]),
            steps=tuple(
                Step(tuple(s["targets"]), timedelta(seconds=float(s["wait"])))
                for s in data["steps"]
            ),
            repeat=int(data["repeat"]),
            account_team=tuple(data.get("account_team", ())),
            notify={
                staff: tuple(NotifyRule(c, timedelta(seconds=float(d))) for c, d in rules)
                for staff, rules in data.get("notify", {}).items()
            },
        )


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page is in its chain: step 1.. of round 0..repeat."""

    step: int
    round: int


def next_position(policy: Policy, at: Position) -> Position | None:
    """The step after `at`, or None when the chain (and its repeats) is done."""
    if at.step < len(policy.steps):
        return Position(at.step + 1, at.round)
    if at.round < policy.repeat:
        return Position(1, at.round + 1)
    return None


_TARGET = re.compile(r"rotation:(?P<rotation>[^+]+)(?:\+(?P<offset>\d+))?")


def resolve_targets(
    targets: Sequence[str],
    account_team: Sequence[str],
    on_call: Callable[[str, int], str | None],
) -> list[str]:
    """Staff ids for a step's targets, in order, each once. `on_call(rotation, offset)` says
    who holds a rotation now (offset 0) or N places after (None: nobody)."""
    people: list[str] = []
    for target in targets:
        found: list[str | None]
        if target == "account_team":
            found = list(account_team)
        elif target.startswith("staff:"):
            found = [target.removeprefix("staff:")]
        elif match := _TARGET.fullmatch(target):
            found = [on_call(match["rotation"], int(match["offset"] or 0))]
        else:
            raise ValueError(f"unknown escalation target {target!r}")
        people.extend(p for p in found if p is not None and p not in people)
    return people


def on_call_lookup(
    rotations: Mapping[str, Rotation], now: datetime, overrides: Sequence[Override] = ()
) -> Callable[[str, int], str | None]:
    """The `on_call(rotation, offset)` that `resolve_targets` takes, at `now`: who holds a
    rotation (offset 0) or N shifts after; None for nobody, or a rotation not configured.
    The live worker (bot.usecases.paging) and coverage (routing.coverage) both ask this."""

    def who(rotation_id: str, offset: int) -> str | None:
        rotation = rotations.get(rotation_id)
        if rotation is None:
            return None
        if offset == 0:
            return on_call(rotation, now, overrides).staff
        return offset_on_call(rotation, now, offset, overrides)

    return who


@dataclass(frozen=True, slots=True)
class StaffCommand:
    """What a paged person's text means: acknowledge, or an answer to relay to the client."""

    kind: str  # "ack" | "relay"
    page_id: int | None  # None: their latest page
    text: str = ""


_ACK = re.compile(r"\s*ack(?:nowledge)?\s*(?:#?(?P<page>\d+))?\s*[.!]?\s*", re.IGNORECASE)
_NUMBERED = re.compile(r"\s*#?(?P<page>\d+)\s+(?P<text>\S.*)", re.DOTALL)


def parse_staff_text(text: str) -> StaffCommand:
    """`ACK`, `ACK 12`: acknowledge. `12 your text`: relay to page 12's client. Anything
    else: relay to the client of the person's latest page."""
    if match := _ACK.fullmatch(text):
        return StaffCommand("ack", int(match["page"]) if match["page"] else None)
    if match := _NUMBERED.fullmatch(text):
        return StaffCommand("relay", int(match["page"]), match["text"].strip())
    return StaffCommand("relay", None, text.strip())


def coalesce_until(
    last_sent: datetime | None, now: datetime, window: timedelta = COALESCE_WINDOW
) -> datetime | None:
    """When a notification for someone who was just notified on the same channel may go out
    (None: now), so that pages within `window` share one message."""
    if last_sent is None or now - last_sent >= window:
        return None
    return last_sent + window
