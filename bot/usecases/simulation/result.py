"""What a what-if simulation found: one configuration's outcome, and two side by side.

Everything here is a frozen value: the simulator (bot/usecases/simulation/engine.py) builds
it, `partnerline simulate` prints it (text, `--json`) and the HTML report renders it
(bot/http/web/simulation_report.py). Instants are aware datetimes in UTC; `to_json()` writes
them as ISO 8601 strings with offset, durations as seconds, dates as "YYYY-MM-DD".

`Comparison` (the whole answer of `partnerline simulate`)
    period_from, period_to  the dates replayed, inclusive, in the agency's zone (`zone`).
    zone                    the proposed configuration's agency time zone (IANA name): weeks,
                            nights and local times in the report are read in it.
    traffic                 where the messages came from, in words ("database", "file
                            traffic.csv", "synthetic 40/day, seed 17").
    messages                how many client messages were replayed (each side replays them all).
    current                 `Outcome` under the configuration in force (`--against`).
    proposed                `Outcome` under the proposed configuration (`--config`).
    differences             `Difference`s, each a kind of change with a count and examples;
                            empty when both configurations decide everything alike.
    coverage_gaps           intervals of the next 90 days in which a client whose commitment
                            pages after hours has nobody to page, under the PROPOSED
                            configuration (routing.coverage.Gap: start, end, reason,
                            escalation, rotations, clients; in JSON field by field).

`Outcome` (one configuration, the whole period)
    label          "current" or "proposed".
    config         the configuration file's path as given ("" when built in code).
    commitments    one `CommitmentResult` per commitment started, in message order.
    acknowledgements  one `AckResult` per after-hours acknowledgement that would be sent.
    pages          one `PageResult` per page opened, in order.
    people         one `PersonLoad` per staff member notified at least once, by id.
    weeks          one `WeekCount` per week of the period (Monday to Sunday, agency zone),
                   weeks with nothing included, in order.
    Totals (properties, also in the JSON): commitments_started, breaches, acknowledgements_sent,
    pages_opened, notifications_sent, nights_woken (summed over people).

`CommitmentResult` (one promise)
    message_at   when the client message that started it arrived.
    client       client id; None for an unknown sender.
    contact      who wrote (contact name, else the address).
    channel      "sms", "telegram", "slack", "voice".
    tier         the commitment tier it was started under.
    after_hours  True if the message came while the tier's calendar was closed.
    due_at, at_risk_at  the promised reply time and the at-risk instant.
    answered_at  the recorded answer time replayed (message_at + the recorded delay: the same
                 delay under either configuration); None: no recorded answer.
    breached     True if the recorded answer came after `due_at`, or never came and `due_at`
                 falls within the replayed period.
    paged        True if the tier pages for it (a page opened, or one was open already).
    messages     how many client messages it covers (the first, and those that joined it).
    conversation the conversation's key in the traffic (the same on both sides: commitments,
                 acknowledgements and pages of the two outcomes match by it and message_at).

`AckResult` (an after-hours acknowledgement that would be sent)
    message_at, client, contact, channel  as in CommitmentResult.
    promised_at  the due time the text promises.
    oncall_name  the first name put in `{oncall_first_name}` ("our on-call lead" when nobody).
    text         the full text that would be sent.
    conversation as in CommitmentResult.

`PageResult` (one page)
    message_at, client, contact  the message that opened it.
    opened_at    when it opened (the message's time).
    notifications  `Notification`s sent for it, in time order.
    steps_reached  the highest step number that ran (1-based; 0 if none ran).
    ended        "acknowledged" (at the recorded acknowledgement delay), "answered" (the
                 recorded answer resolved it), or "exhausted" (every step and repeat ran
                 and it stayed open until the end of the replay).
    ended_at     when it was acknowledged or answered; None when exhausted.
    nobody_paged True if the whole chain notified nobody.
    conversation as in CommitmentResult.

`Notification` (one message to one person; several pages coalesced into one message count once
per page here, with `coalesced` True on all but the first)
    staff        staff id.   name: their name.
    step, round  the step (1-based) and round (0-based) that caused it; `breach` True for the
                 repeat notice of the last step when the commitment fell due while paging.
    channel      "sms", "voice", "telegram", "slack".
    at           when it goes out (after the rule's delay and any coalescing hold).
    night        True if `at` is between 22:00 and 07:00 in the person's zone (the zone of
                 their inbox login, as the promise reports read it, with database traffic;
                 else the agency's).
    coalesced    True if it went out in the same message as another page's notification.

`PersonLoad` (one staff member over the period)
    staff, name  id and name.
    notifications  messages that reached them (each coalesced group once).
    pages          distinct pages they were notified of.
    by_step        ((step, pages notified of at that step), ...) in step order.
    nights_woken   distinct nights (named by the date the night starts, 22:00 local) with at
                   least one notification between 22:00 and 07:00.
    nights         those nights, as dates.

`WeekCount`
    week_start  the Monday (agency zone) the week starts.
    messages, commitments, pages, breaches, notifications, night_notifications  counts of what
                happened that week (by the message's time; notifications by their own time).

`Difference` (one kind of change between the two outcomes)
    kind      "tier", "due_at", "acknowledgement", "promised_at", "paged", "paged_people",
              "steps", "breach", "nights", "notifications".
    summary   one line in words ("12 commitments fall due later (median +45 min)").
    count     how many messages (or people, for "nights" and "notifications") it concerns.
    examples  up to five `Example`s.

`Example`
    message_at, client, contact  the message concerned (for a person-level difference:
                                 message_at None, client None, contact the staff id).
    current, proposed            what each side decided, in words.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any

from routing.coverage import Gap


@dataclass(frozen=True, slots=True)
class CommitmentResult:
    message_at: datetime
    client: str | None
    contact: str
    channel: str
    tier: str
    after_hours: bool
    due_at: datetime
    at_risk_at: datetime
    answered_at: datetime | None
    breached: bool
    paged: bool
    messages: int = 1
    conversation: str = ""


@dataclass(frozen=True, slots=True)
class AckResult:
    message_at: datetime
    client: str | None
    contact: str
    channel: str
    promised_at: datetime
    oncall_name: str
    text: str
    conversation: str = ""


@dataclass(frozen=True, slots=True)
class Notification:
    staff: str
    name: str
    step: int
    round: int
    channel: str
    at: datetime
    night: bool
    breach: bool = False
    coalesced: bool = False


@dataclass(frozen=True, slots=True)
class PageResult:
    message_at: datetime
    client: str | None
    contact: str
    opened_at: datetime
    notifications: tuple[Notification, ...]
    steps_reached: int
    ended: str  # "acknowledged" | "answered" | "exhausted"
    ended_at: datetime | None
    nobody_paged: bool
    conversation: str = ""


@dataclass(frozen=True, slots=True)
class PersonLoad:
    staff: str
    name: str
    notifications: int
    pages: int
    by_step: tuple[tuple[int, int], ...]
    nights_woken: int
    nights: tuple[date, ...] = ()


@dataclass(frozen=True, slots=True)
class WeekCount:
    week_start: date
    messages: int
    commitments: int
    pages: int
    breaches: int
    notifications: int
    night_notifications: int


@dataclass(frozen=True, slots=True)
class Outcome:
    label: str
    config: str
    commitments: tuple[CommitmentResult, ...]
    acknowledgements: tuple[AckResult, ...]
    pages: tuple[PageResult, ...]
    people: tuple[PersonLoad, ...]
    weeks: tuple[WeekCount, ...]

    @property
    def commitments_started(self) -> int:
        return len(self.commitments)

    @property
    def breaches(self) -> int:
        return sum(1 for c in self.commitments if c.breached)

    @property
    def acknowledgements_sent(self) -> int:
        return len(self.acknowledgements)

    @property
    def pages_opened(self) -> int:
        return len(self.pages)

    @property
    def notifications_sent(self) -> int:
        return sum(p.notifications for p in self.people)

    @property
    def nights_woken(self) -> int:
        return sum(p.nights_woken for p in self.people)

    def totals(self) -> dict[str, int]:
        return {
            "commitments_started": self.commitments_started,
            "breaches": self.breaches,
            "acknowledgements_sent": self.acknowledgements_sent,
            "pages_opened": self.pages_opened,
            "notifications_sent": self.notifications_sent,
            "nights_woken": self.nights_woken,
        }

    def to_json(self) -> dict[str, Any]:
        data = _plain(self)
        assert isinstance(data, dict)
        data["totals"] = self.totals()
        return data


@dataclass(frozen=True, slots=True)
class Example:
    message_at: datetime | None
    client: str | None
    contact: str
    current: str
    proposed: str


@dataclass(frozen=True, slots=True)
class Difference:
    kind: str
    summary: str
    count: int
    examples: tuple[Example, ...] = ()


@dataclass(frozen=True, slots=True)
class Comparison:
    period_from: date
    period_to: date
    zone: str
    traffic: str
    messages: int
    current: Outcome
    proposed: Outcome
    differences: tuple[Difference, ...]
    coverage_gaps: tuple[Gap, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (dicts, lists, strings, numbers, booleans, None)."""
        return {
            "period_from": self.period_from.isoformat(),
            "period_to": self.period_to.isoformat(),
            "zone": self.zone,
            "traffic": self.traffic,
            "messages": self.messages,
            "current": self.current.to_json(),
            "proposed": self.proposed.to_json(),
            "differences": _plain(self.differences),
            "coverage_gaps": [_plain(gap) for gap in self.coverage_gaps],
        }


def _plain(value: Any) -> Any:
    """`value` as plain JSON: dataclasses field by field, instants and dates in ISO 8601,
    durations in seconds, enums by value, tuples as lists."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return _plain(value.value)
    to_json = getattr(value, "to_json", None)
    if callable(to_json) and not isinstance(value, Outcome):
        return to_json()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return str(value)
