"""The value types of the configuration file: each parses the text people write and says plainly
what is wrong with it. Errors are raised as `problem(...)` so that the loader can place them."""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal, NoReturn

import holidays
import phonenumbers
from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

from bot.config.problems import Loc
from routing.durations import parse_duration

PROBLEM = "partnerline"  # the pydantic error type of the problems raised here


def problem(message: str, *at: str | int) -> NoReturn:
    """Fail validation with `message`, placed at `at` below the value being validated."""
    raise PydanticCustomError(PROBLEM, "{message}", {"message": message, "at": at})


def problems(found: Sequence[tuple[Loc, str]]) -> NoReturn:
    """Fail validation with several problems at once, each at its own place below the value."""
    joined = "; ".join(message for _, message in found)
    raise PydanticCustomError(PROBLEM, "{message}", {"message": joined, "problems": list(found)})


# -- names and ids --------------------------------------------------------------------------

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _identifier(value: str) -> str:
    # Ids appear inside targets such as "rotation:ID+1", so they keep to a plain alphabet.
    if not _ID.fullmatch(value):
        problem(f"{value!r} is not an id: use letters, digits, '-', '_' or '.'")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        problem("must not be empty")
    return value


Identifier = Annotated[str, AfterValidator(_identifier)]
Text = Annotated[str, AfterValidator(_not_blank)]


# -- time zones, durations, dates -------------------------------------------------------------


def zone_problem(name: str) -> str | None:
    """Why `name` is not an IANA time zone, or None when it is one."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown time zone {name!r}"
    return None


def _time_zone(value: str) -> str:
    message = zone_problem(value)
    if message:
        problem(message)
    return value


TimeZoneName = Annotated[str, AfterValidator(_time_zone)]


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        problem('a duration is a string such as "45s", "10m", "1h30m" or "2d"')
    try:
        return parse_duration(value)
    except ValueError as error:
        problem(str(error))


Duration = Annotated[timedelta, BeforeValidator(_duration)]


def _after_hours(value: Any) -> timedelta | None:
    if value is None or value == "next_business_day":
        return None
    return _duration(value)


AfterHours = Annotated[timedelta | None, BeforeValidator(_after_hours)]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_LOCAL_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?")


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        problem(f"{value.isoformat()} is a date and time; write the date alone, e.g. 2026-12-24")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            problem(f"{value!r} is not a date of the calendar")
    problem(f"{value!r} is not a date such as 2026-12-24")


LocalDate = Annotated[date, BeforeValidator(_date)]


def _local_datetime(value: Any) -> datetime:
    if isinstance(value, str) and _ISO_LOCAL_DATETIME.fullmatch(value):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            problem(f"{value!r} is not a date and time of the calendar")
    if not isinstance(value, datetime):
        problem(f"{value!r} is not a local date and time such as 2026-11-02T09:00")
    if value.tzinfo is not None:
        problem("write the local wall time without an offset (it is read in the agency's zone)")
    return value


LocalDateTime = Annotated[datetime, BeforeValidator(_local_datetime)]


def _fraction(value: Any) -> float:
    """ "75%" -> 0.75; a fraction such as 0.75 is accepted as it is."""
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", value)
        if match is None:
            problem(f'{value!r} is not a percentage such as "75%"')
        value = float(match.group(1)) / 100
    elif isinstance(value, bool) or not isinstance(value, float):
        problem(f'{value!r} is not a percentage such as "75%"')
    if not 0 < value < 1:
        problem("must be more than 0% and less than 100%")
    return value


Fraction = Annotated[float, BeforeValidator(_fraction)]


# -- addresses ------------------------------------------------------------------------------


def _e164(value: str) -> str:
    # Possible rather than valid: phonenumbers' is_valid_number refuses ranges reserved for
    # fiction (+44 7700 900xxx, used by the example) and ranges newer than its metadata, while
    # the typos worth catching here (digits missing or extra, no country code) are all impossible.
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        problem("not an E.164 number")
    if not phonenumbers.is_possible_number(number):
        problem("not an E.164 number")
    canonical = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if canonical != value:
        problem(f"not an E.164 number (write it as {canonical!r})")
    return value


def _slack_user(value: str) -> str:
    if not re.fullmatch(r"[UW][A-Z0-9]{2,}", value):
        problem(f"{value!r} is not a Slack user id (U... or W...)")
    return value


def _slack_channel(value: str) -> str:
    if not re.fullmatch(r"[CG][A-Z0-9]{2,}", value):
        problem(f"{value!r} is not a Slack channel id (C... or G...)")
    return value


E164 = Annotated[str, AfterValidator(_e164)]
SlackUserId = Annotated[str, AfterValidator(_slack_user)]
SlackChannelId = Annotated[str, AfterValidator(_slack_channel)]


# -- holidays -------------------------------------------------------------------------------


@functools.cache
def holiday_countries() -> dict[str, list[str]]:
    """Country codes the holidays package knows, each with its subdivision codes."""
    return holidays.list_supported_countries()


# -- escalation targets ---------------------------------------------------------------------

_TARGET = re.compile(
    r"(?P<kind>rotation):(?P<rotation>[A-Za-z0-9][A-Za-z0-9_.-]*)(?:\+(?P<offset>[1-9]\d*))?"
    r"|(?P<staff_kind>staff):(?P<staff>[A-Za-z0-9][A-Za-z0-9_.-]*)"
    r"|(?P<team>account_team)"
)


@dataclass(frozen=True)
class Target:
    """Who an escalation step notifies: whoever is on call in a rotation (or `offset` places
    after them), one staff member, or the account team of the client who wrote."""

    kind: Literal["rotation", "staff", "account_team"]
    ref: str | None = None
    offset: int = 0

    @classmethod
    def parse(cls, text: str) -> Target:
        match = _TARGET.fullmatch(text)
        if match is None:
            raise ValueError(
                f'{text!r} is not a target: use "rotation:ID", "rotation:ID+1", "staff:ID"'
                ' or "account_team"'
            )
        if match["kind"]:
            return cls("rotation", match["rotation"], int(match["offset"] or 0))
        if match["staff_kind"]:
            return cls("staff", match["staff"])
        return cls("account_team")

    def __str__(self) -> str:
        if self.kind == "account_team":
            return "account_team"
        suffix = f"+{self.offset}" if self.offset else ""
        return f"{self.kind}:{self.ref}{suffix}"


def _target(value: str) -> str:
    try:
        Target.parse(value)
    except ValueError as error:
        problem(str(error))
    return value


TargetText = Annotated[str, AfterValidator(_target)]
