"""What a tier of client is promised: when a reply is due, when it is at risk, and who is paged.

Inside business hours the promise is `business` of business time. After hours it is either a
wall-clock `after_hours` duration from the message, or (`after_hours=None`, the configuration's
"next_business_day") `business` of business time counted from the next opening.

A calendar with no open windows is closed all the time, so every message is after hours. With
"next_business_day" there is no next business day: the promise falls back to `business` of
wall-clock time from the message, so that it stays finite and visible instead of never falling
due. The same holds for a calendar whose windows are all on closed days for the next
`HORIZON_YEARS` years.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from routing.business_hours import BusinessCalendar

PageOncall = Literal["never", "after_hours", "always"]
PAGE_ONCALL_CHOICES: tuple[str, ...] = ("never", "after_hours", "always")


@dataclass(frozen=True)
class CommitmentPolicy:
    business: timedelta
    after_hours: timedelta | None  # None: "next_business_day"
    at_risk: float  # share of the window after which the commitment is at risk, 0 < x <= 1
    page_oncall: PageOncall
    calendar: BusinessCalendar
    # Plain seconds for the hot path of due_epoch.
    _business_s: float = field(init=False, repr=False, compare=False)
    _after_hours_s: float | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.business <= timedelta(0):
            raise ValueError("business must be longer than zero")
        if self.after_hours is not None and self.after_hours <= timedelta(0):
            raise ValueError("after_hours must be longer than zero (or None: next business day)")
        if not 0 < self.at_risk <= 1:
            raise ValueError(f"at_risk is a share of the window, 0 < x <= 1, not {self.at_risk!r}")
        if self.page_oncall not in PAGE_ONCALL_CHOICES:
            raise ValueError(f"page_oncall must be one of {', '.join(PAGE_ONCALL_CHOICES)}")
        after = None if self.after_hours is None else self.after_hours.total_seconds()
        object.__setattr__(self, "_business_s", self.business.total_seconds())
        object.__setattr__(self, "_after_hours_s", after)


@dataclass(frozen=True)
class DueTimes:
    after_hours: bool
    due_at: datetime
    at_risk_at: datetime


def due_for(policy: CommitmentPolicy, t: datetime) -> DueTimes:
    """The due and at-risk instants (UTC) of a message that arrived at `t`."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{t!r} is naive: a message time must be timezone-aware")
    calendar = policy.calendar
    t = t.astimezone(UTC)
    if calendar.has_any_window and calendar.is_open(t):
        return DueTimes(
            after_hours=False,
            due_at=calendar.add(t, policy.business),
            at_risk_at=calendar.add(t, policy.business * policy.at_risk),
        )
    if policy.after_hours is not None:
        return DueTimes(
            after_hours=True,
            due_at=t + policy.after_hours,
            at_risk_at=t + policy.after_hours * policy.at_risk,
        )
    if not calendar.has_any_window:  # never open: wall-clock `business`, see the module text
        return DueTimes(
            after_hours=True,
            due_at=t + policy.business,
            at_risk_at=t + policy.business * policy.at_risk,
        )
    try:
        opens = calendar.next_open(t)
    except ValueError:  # windows, but none on an open day within the horizon
        return DueTimes(
            after_hours=True,
            due_at=t + policy.business,
            at_risk_at=t + policy.business * policy.at_risk,
        )
    return DueTimes(
        after_hours=True,
        due_at=calendar.add(opens, policy.business),
        at_risk_at=calendar.add(opens, policy.business * policy.at_risk),
    )


def should_page(policy: CommitmentPolicy, after_hours: bool) -> bool:
    """Whether a commitment of this policy pages the on-call person."""
    if policy.page_oncall == "always":
        return True
    if policy.page_oncall == "after_hours":
        return after_hours
    return False


def due_epoch(policy: CommitmentPolicy, ts: float) -> float:
    """due_for(policy, t).due_at as POSIX seconds, for replays and the benchmark."""
    calendar = policy.calendar
    after = policy._after_hours_s
    if not calendar.has_any_window:
        return ts + (policy._business_s if after is None else after)
    if after is None:
        # Open: `business` from ts; closed: from the next opening, where counting starts anyway.
        try:
            return calendar.add_epoch(ts, policy._business_s)
        except ValueError:  # no opening within the horizon: as if never open
            return ts + policy._business_s
    due = calendar.open_add_epoch(ts, policy._business_s)
    return ts + after if due is None else due
