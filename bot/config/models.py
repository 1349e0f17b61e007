"""The configuration file as typed, validated, frozen models: one per section, fields named as
the TOML keys. Each model checks what it can see on its own; checks that span sections (does
that staff member exist?) live in `bot.config.references` and run over the whole document."""

from __future__ import annotations

import re
import string
import zoneinfo
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.config.fields import (
    E164,
    AfterHours,
    Duration,
    Fraction,
    Identifier,
    LocalDate,
    LocalDateTime,
    SlackChannelId,
    SlackUserId,
    Target,
    TargetText,
    Text,
    TimeZoneName,
    holiday_countries,
    problem,
    problems,
)
from bot.config.problems import Loc
from bot.config.references import reference_problems
from routing.durations import format_duration, parse_duration

# Validation context flag: the loader has run the cross-section checks on the raw document
# (so that they are reported even when some section fails), and the model need not repeat them.
REFERENCES_CHECKED = "references_checked"

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PLACEHOLDERS = ("contact_first_name", "agency", "due_local", "oncall_first_name")
NotifyChannel = Literal["sms", "voice", "telegram", "slack"]
CHANNELS: tuple[NotifyChannel, ...] = ("sms", "voice", "telegram", "slack")
ROTATION_START_MIN, ROTATION_START_END = datetime(1970, 1, 1), datetime(3000, 1, 1)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AgencySection(_Section):
    name: Text
    timezone: TimeZoneName


# -- business hours -------------------------------------------------------------------------

_WINDOW = re.compile(r"\s*(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})\s*")


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class Window(_Section):
    """An opening window of one day, in minutes since midnight; `end` may be 1440 (24:00)."""

    start: int = Field(ge=0, lt=1440)
    end: int = Field(gt=0, le=1440)

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start >= self.end:
            problem(f"{self} ends before it starts")
        return self

    def __str__(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"


def _window(value: Any) -> Any:
    if isinstance(value, Window):
        return value
    match = _WINDOW.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        problem(f'{value!r} is not a time window such as "09:00-17:30"')
    start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
    if start_h > 23 or start_m > 59 or end_m > 59 or end_h > 24 or (end_h == 24 and end_m):
        problem(f"{value!r} is not a time window: times run from 00:00 to 24:00")
    start, end = start_h * 60 + start_m, end_h * 60 + end_m
    if start >= end:
        problem(
            f"{value!r} ends before it starts; a window over midnight is two windows,"
            " one ending at 24:00 and one the next day from 00:00"
        )
    return Window(start=start, end=end)


WindowText = Annotated[Window, BeforeValidator(_window)]


class HolidaysRef(_Section):
    """Public holidays from the `holidays` package: a country code and, if any, a subdivision."""

    country: str
    subdivision: str | None = None

    @model_validator(mode="after")
    def _known(self) -> HolidaysRef:
        countries = holiday_countries()
        if self.country not in countries:
            problem(f"unknown holiday country {self.country!r}", "country")
        if self.subdivision is not None and self.subdivision not in countries[self.country]:
            codes = countries[self.country]
            known = ", ".join(codes[:12]) + (", ..." if len(codes) > 12 else "") or "none"
            problem(
                f"unknown subdivision {self.subdivision!r} of {self.country} (known: {known})",
                "subdivision",
            )
        return self


class HoursConfig(_Section):
    """A named business-hours calendar. A weekday that is not listed is closed all day."""

    timezone: TimeZoneName
    monday: list[WindowText] = []
    tuesday: list[WindowText] = []
    wednesday: list[WindowText] = []
    thursday: list[WindowText] = []
    friday: list[WindowText] = []
    saturday: list[WindowText] = []
    sunday: list[WindowText] = []
    holidays: HolidaysRef | None = None
    closed: list[LocalDate] = []

    @field_validator(*DAYS)
    @classmethod
    def _no_overlap(cls, windows: list[Window], info: ValidationInfo) -> list[Window]:
        found: list[tuple[Loc, str]] = []
        for index, window in enumerate(windows):
            for earlier_index, earlier in enumerate(windows[:index]):
                if window.start < earlier.end and earlier.start < window.end:
                    found.append(
                        (
                            (index,),
                            f"{window} overlaps {info.field_name}[{earlier_index}] ({earlier})",
                        )
                    )
                    break
        if found:
            problems(found)
        return windows

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def weekly(self) -> dict[int, list[tuple[int, int]]]:
        """Open windows by weekday (0 = Monday), each day's sorted, as (start, end) minutes."""
        return {
            day: sorted((window.start, window.end) for window in getattr(self, name))
            for day, name in enumerate(DAYS)
        }

    def closed_dates(self) -> frozenset[date]:
        return frozenset(self.closed)


# -- commitments ----------------------------------------------------------------------------


def template_problem(template: str) -> str | None:
    """Why an auto-reply template cannot be filled in, or None when it can."""
    try:
        fields = [
            (name, spec, conversion)
            for _, name, spec, conversion in string.Formatter().parse(template)
            if name is not None
        ]
    except ValueError as error:  # an unmatched "{" or "}"
        return f"malformed placeholder: {error} (write a literal brace as {{{{ or }}}})"
    allowed = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
    for name, spec, conversion in fields:
        if name not in PLACEHOLDERS:
            return f"unknown placeholder {{{name}}}; the placeholders are {allowed}"
        if spec or conversion:
            return f"placeholder {{{name}}} takes no format or conversion"
    return None


def _placeholders(template: str | None) -> set[str]:
    """The placeholder names of a template that `template_problem` has accepted."""
    if not template:
        return set()
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _auto_reply(value: str) -> str:
    message = template_problem(value)
    if message:
        problem(message)
    return value


AutoReply = Annotated[str, AfterValidator(_auto_reply)]


class CommitmentConfig(_Section):
    """A tier of promise: reply within `business` time of `hours`, and after hours within
    `after_hours` of wall-clock time or by the next business day."""

    hours: str
    business: Duration
    after_hours: AfterHours
    page_oncall: Literal["never", "after_hours", "always"] = "never"
    at_risk: Fraction = 0.75
    auto_reply: AutoReply | None = None

    @model_validator(mode="after")
    def _oncall_named_only_when_paged(self) -> CommitmentConfig:
        if self.page_oncall == "never" and "oncall_first_name" in _placeholders(self.auto_reply):
            problem(
                'uses {oncall_first_name}, but page_oncall is "never": nobody is on call for'
                " this tier",
                "auto_reply",
            )
        return self

    @property
    def next_business_day(self) -> bool:
        """After hours the reply is due on the next business day, not after a fixed duration."""
        return self.after_hours is None


# -- people ---------------------------------------------------------------------------------

_ADDRESS_FOR = {"sms": "sms", "voice": "sms", "telegram": "telegram", "slack": "slack"}
_ADDRESS_NAME = {"sms": "sms number", "telegram": "telegram id", "slack": "slack id"}


class NotifyRule(_Section):
    """Alert on `channel` once a page has gone `delay` unacknowledged ("sms@5m")."""

    channel: NotifyChannel
    delay: timedelta = timedelta(0)

    def __str__(self) -> str:
        return f"{self.channel}@{format_duration(self.delay)}" if self.delay else self.channel


def _notify_rule(value: Any) -> Any:
    if isinstance(value, NotifyRule):
        return value
    if not isinstance(value, str):
        problem(f'{value!r} is not a notify rule such as "slack" or "sms@5m"')
    name, at, delay = (part.strip() for part in value.partition("@"))
    channel = next((c for c in CHANNELS if c == name), None)
    if channel is None:
        problem(f"unknown channel {name!r} in {value!r}: use sms, voice, telegram or slack")
    if not at:
        return NotifyRule(channel=channel)
    try:
        return NotifyRule(channel=channel, delay=parse_duration(delay))
    except ValueError as error:
        problem(f"{value!r}: {error}")


NotifyRuleText = Annotated[NotifyRule, BeforeValidator(_notify_rule)]


class StaffConfig(_Section):
    id: Identifier
    name: Text
    sms: E164 | None = None
    telegram: StrictInt | None = None
    slack: SlackUserId | None = None
    notify: list[NotifyRuleText] = []

    @model_validator(mode="after")
    def _reachable(self) -> StaffConfig:
        found: list[tuple[Loc, str]] = []
        for index, rule in enumerate(self.notify):
            needs = _ADDRESS_FOR[rule.channel]
            if getattr(self, needs) is None:
                label = _ADDRESS_NAME[needs]
                found.append(((("notify", index)), f"{str(rule)!r} needs this person's {label}"))
        if found:
            problems(found)
        return self

    @property
    def first_name(self) -> str:
        return self.name.split()[0]


class RotationConfig(_Section):
    """Members take `shift`-long turns in order from `start` (wall time in the agency's zone)."""

    id: Identifier
    members: list[str] = Field(min_length=1)
    start: LocalDateTime
    shift: Duration
    hours: str | None = None
    only: Literal["always", "after_hours"] = "always"

    @field_validator("start")
    @classmethod
    def _start_in_range(cls, start: datetime) -> datetime:
        # Handoffs are computed as start + k * shift; far from the present that leaves the
        # range of dates a time zone (and Python) can hold.
        if not ROTATION_START_MIN <= start < ROTATION_START_END:
            problem(f"{start.isoformat(timespec='minutes')} is not between 1970 and 2999")
        return start

    @model_validator(mode="after")
    def _after_hours_needs_calendar(self) -> RotationConfig:
        if self.only == "after_hours" and self.hours is None:
            problem('only = "after_hours" needs `hours`, the calendar it covers', "only")
        return self

    def start_at(self, zone: zoneinfo.ZoneInfo) -> datetime:
        """`start` as an aware datetime in `zone` (the agency's)."""
        return self.start.replace(tzinfo=zone)


class EscalationStep(_Section):
    notify: list[TargetText] = Field(min_length=1)
    wait: Duration

    @property
    def targets(self) -> list[Target]:
        return [Target.parse(text) for text in self.notify]


class EscalationConfig(_Section):
    """Steps run in order, each notifying its targets and then waiting; the whole chain runs
    `repeat` more times while nobody acknowledges."""

    steps: list[EscalationStep] = Field(min_length=1)
    repeat: StrictInt = Field(default=0, ge=0)


class ContactConfig(_Section):
    name: Text
    sms: E164 | None = None
    telegram: StrictInt | None = None
    slack: SlackUserId | None = None

    @model_validator(mode="after")
    def _addressed(self) -> ContactConfig:
        if self.sms is None and self.telegram is None and self.slack is None:
            problem("a contact needs at least one of sms, telegram or slack")
        return self

    @property
    def first_name(self) -> str:
        return self.name.split()[0]


class ClientConfig(_Section):
    id: Identifier
    name: Text
    commitment: str
    escalation: str | None = None
    account_team: list[str]
    slack_channels: list[SlackChannelId] = []
    timezone: TimeZoneName | None = None
    contacts: list[ContactConfig] = []

    @model_validator(mode="after")
    def _recognisable(self) -> ClientConfig:
        if not self.contacts and not self.slack_channels:
            problem("a client needs a contact or a slack channel, or no message can reach it")
        return self


class UnknownSendersConfig(_Section):
    """Where messages from addresses that match no contact land, for triage."""

    commitment: str
    account_team: list[str] = []


# -- channels -------------------------------------------------------------------------------


class SlackChannelConfig(_Section):
    staff_channel: SlackChannelId | None = None


class TelegramChannelConfig(_Section):
    pass


class SmsChannelConfig(_Section):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True)

    from_: E164 = Field(alias="from")


class ChannelsConfig(_Section):
    slack: SlackChannelConfig | None = None
    telegram: TelegramChannelConfig | None = None
    sms: SmsChannelConfig | None = None


# -- the whole file -------------------------------------------------------------------------


class AgencyConfig(_Section):
    agency: AgencySection
    hours: dict[str, HoursConfig]
    commitments: dict[str, CommitmentConfig]
    staff: list[StaffConfig]
    rotations: list[RotationConfig] = []
    escalations: dict[str, EscalationConfig] = {}
    clients: list[ClientConfig] = []
    unknown_senders: UnknownSendersConfig
    channels: ChannelsConfig = ChannelsConfig()

    _source_path: str = PrivateAttr(default="")

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> AgencyConfig:
        if not (info.context or {}).get(REFERENCES_CHECKED):
            found = reference_problems(self.model_dump(by_alias=True))
            if found:
                problems(found)
        return self

    @property
    def source_path(self) -> str:
        """The file this configuration was loaded from ("" when built in code)."""
        return self._source_path

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.agency.timezone)

    def staff_by_id(self) -> dict[str, StaffConfig]:
        return {member.id: member for member in self.staff}

    def client_by_id(self) -> dict[str, ClientConfig]:
        return {client.id: client for client in self.clients}

    def rotation_by_id(self) -> dict[str, RotationConfig]:
        return {rotation.id: rotation for rotation in self.rotations}

    def client_zone(self, client: ClientConfig) -> zoneinfo.ZoneInfo:
        """The zone a client's promises are written in: its own, else the agency's."""
        return zoneinfo.ZoneInfo(client.timezone or self.agency.timezone)
