"""What a tier of client is promised: when a reply is due, when it is at risk, and who is paged.

Inside business hours the promise is `business` of business time. After hours it is either a
wall-clock `after_hours` duration from the message, or (`after_hours=None`, the configuration's
"next_business_day") `business` of business time counted from the next opening.

Every message gets a finite due time, whatever the calendar:
- A calendar with no open windows is closed all the time, so every message is after hours and
  gets the after-hours promise. With "next_business_day" there is no next business day: the
  promise falls back to `business` of wall-clock time from the message, so that it stays
  finite and visible instead of never falling due.
- Whenever `business` of business time would not elapse within the calendar's horizon
  (routing.business_hours.HORIZON_YEARS; for instance every later window falls on a closed
  day), the due time falls back to the tier's wall-clock promise: `after_hours` from the
  message when the tier has one, else `business` from the message.
- An always-open calendar (00:00-24:00 every day) is never after hours: `business` counts as
  wall-clock time.
The at-risk instant is always the tier's share of the same window.
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
    """The due and at-risk instants (UTC) of a message that arrived at `t`; never None."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{t!r} is naive: a message time must be timezone-aware")
    calendar = policy.calendar
    t = t.astimezone(UTC)
    open_now = calendar.is_open(t)
    if not open_now and policy.after_hours is not None:
        return DueTimes(
            after_hours=True,
            due_at=t + policy.after_hours,
            at_risk_at=t + policy.after_hours * policy.at_risk,
        )
    # Open: `business` from t. Closed with "next_business_day": from the next opening, where
    # `add` starts counting anyway.
    due_at = calendar.add(t, policy.business)
    at_risk_at = calendar.add(t, policy.business * policy.at_risk)
    if due_at is None or at_risk_at is None:  # never elapses: the wall-clock promise
        window = policy.after_hours if policy.after_hours is not None else policy.business
        due_at, at_risk_at = t + window, t + window * policy.at_risk
    return DueTimes(after_hours=not open_now, due_at=due_at, at_risk_at=at_risk_at)


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
    if after is None:
        # Open: `business` from ts; closed: from the next opening, where counting starts anyway.
        due = calendar.add_epoch(ts, policy._business_s)
        return ts + policy._business_s if due is None else due
    due = calendar.open_add_epoch(ts, policy._business_s)
    # Closed, or open but never accruing `business`: the wall-clock after-hours promise.
    return ts + after if due is None else due
