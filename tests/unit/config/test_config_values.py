"""The small values of the configuration file: durations, windows, templates, targets."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from bot.config import CommitmentConfig, HoursConfig, NotifyRule, SmsChannelConfig, Target, Window
from bot.config.models import template_problem


def commitment(**fields: object) -> CommitmentConfig:
    base: dict[str, object] = {"hours": "office", "business": "4h", "after_hours": "1h"}
    return CommitmentConfig.model_validate({**base, **fields})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("45s", timedelta(seconds=45)),
        ("2d", timedelta(days=2)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert commitment(business=text).business == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0s", "a duration must be longer than zero"),
        ("10 minutes", "is not a duration"),
        ("30m1h", "units must be in order"),
        ("", "a duration is a string"),
    ],
)
def test_bad_durations_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        commitment(business=text)


def test_a_duration_must_be_a_string() -> None:
    with pytest.raises(ValidationError, match='a duration is a string such as "45s"'):
        commitment(business=240)


def test_next_business_day_is_no_wall_clock_duration() -> None:
    tier = commitment(after_hours="next_business_day")
    assert tier.after_hours is None and tier.next_business_day


@pytest.mark.parametrize(("text", "expected"), [("75%", 0.75), ("12.5%", 0.125), (0.5, 0.5)])
def test_at_risk_is_a_fraction(text: object, expected: float) -> None:
    assert commitment(at_risk=text).at_risk == expected


@pytest.mark.parametrize("text", ["0%", "100%", "75", 75, "lots"])
def test_at_risk_outside_the_window_is_refused(text: object) -> None:
    with pytest.raises(ValidationError):
        commitment(at_risk=text)


def hours(**days: list[str]) -> HoursConfig:
    return HoursConfig.model_validate({"timezone": "Europe/London", **days})


def test_whole_day_window() -> None:
    assert hours(sunday=["00:00-24:00"]).weekly()[6] == [(0, 1440)]
    assert str(hours(sunday=["00:00-24:00"]).sunday[0]) == "00:00-24:00"


def test_windows_are_sorted_in_the_weekly_view() -> None:
    assert hours(monday=["13:00-17:00", "09:00-12:00"]).weekly()[0] == [(540, 720), (780, 1020)]


def test_touching_windows_do_not_overlap() -> None:
    assert hours(monday=["09:00-12:00", "12:00-17:00"]).weekly()[0] == [(540, 720), (720, 1020)]


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ("17:00-09:00", "ends before it starts"),
        ("09:00-09:00", "ends before it starts"),
        ("24:00-24:00", "times run from 00:00 to 24:00"),
        ("09:00-24:30", "times run from 00:00 to 24:00"),
        ("9-17", "is not a time window"),
    ],
)
def test_bad_windows_are_refused(window: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        hours(monday=[window])


def test_overlapping_windows_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"10:00-11:00 overlaps friday\[0\] \(09:00-12:00\)"):
        hours(friday=["09:00-12:00", "10:00-11:00"])


def test_a_window_built_in_code_is_checked_too() -> None:
    with pytest.raises(ValidationError):
        Window(start=600, end=540)


def test_known_placeholders_are_accepted() -> None:
    text = "Hi {contact_first_name}, {agency} replies by {due_local}; {{braces}} are literal."
    assert template_problem(text) is None
    assert template_problem("{oncall_first_name} is on call") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Hi {name}", "unknown placeholder {name}"),
        ("Hi {}", "unknown placeholder {}"),
        ("Hi {contact.first}", "unknown placeholder {contact.first}"),
        ("Hi {agency!r}", "placeholder {agency} takes no format or conversion"),
        ("By {due_local:%H}", "placeholder {due_local} takes no format or conversion"),
        ("Hi {agency", "malformed placeholder"),
        ("Hi agency}", "malformed placeholder"),
    ],
)
def test_bad_placeholders_are_refused(text: str, message: str) -> None:
    found = template_problem(text)
    assert found is not None and found.startswith(message)


def test_on_call_placeholder_needs_a_tier_that_pages() -> None:
    assert commitment(page_oncall="always", auto_reply="{oncall_first_name}").auto_reply
    with pytest.raises(ValidationError, match="nobody is on call for this tier"):
        commitment(page_oncall="never", auto_reply="{oncall_first_name}")


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("rotation:after-hours", Target("rotation", "after-hours", 0)),
        ("rotation:after-hours+2", Target("rotation", "after-hours", 2)),
        ("staff:jim", Target("staff", "jim")),
        ("account_team", Target("account_team")),
    ],
)
def test_targets_parse_and_print_back(text: str, target: Target) -> None:
    assert Target.parse(text) == target
    assert str(target) == text


@pytest.mark.parametrize("text", ["rotation:", "rotation:a+0", "staff", "team", "staff:a b"])
def test_bad_targets_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a target"):
        Target.parse(text)


def test_notify_rules_need_a_known_channel() -> None:
    assert NotifyRule(channel="voice", delay=timedelta(minutes=2)).__str__() == "voice@2m"
    with pytest.raises(ValidationError):
        NotifyRule.model_validate({"channel": "pager"})


def test_sms_channel_takes_from_by_its_toml_name_or_field_name() -> None:
    assert SmsChannelConfig.model_validate({"from": "+13135550100"}).from_ == "+13135550100"
    assert SmsChannelConfig(from_="+13135550100").from_ == "+13135550100"


def test_an_escaped_on_call_placeholder_is_only_text() -> None:
    assert commitment(page_oncall="never", auto_reply="{{oncall_first_name}}").auto_reply
