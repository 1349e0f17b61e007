"""The example agency loads, and parses into the types the rest of Partnerline uses."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import AgencyConfig, Target, check_config, load_config

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = [ROOT / "examples" / "agency.toml", ROOT.parent / "shared" / "examples" / "agency.toml"]


@pytest.fixture(scope="module")
def example() -> AgencyConfig:
    return load_config(EXAMPLES[0])


@pytest.mark.parametrize("path", EXAMPLES, ids=["main", "shared"])
def test_example_has_no_problem(path: Path) -> None:
    if not path.exists() and not os.environ.get("CI"):
        # CI lays ../shared beside the clone; a developer's own clone may not have it.
        pytest.skip(f"{path} is not here (../shared sits beside the project in CI)")
    assert path.exists(), path
    assert check_config(path) == []
    assert load_config(path).source_path == str(path)


def test_hours_parse_into_weekly_minutes(example: AgencyConfig) -> None:
    office = example.hours["office"]
    assert office.weekly() == {
        0: [(540, 720), (780, 1050)],
        1: [(540, 1050)],
        2: [(540, 1050)],
        3: [(540, 1050)],
        4: [(540, 960)],
        5: [],
        6: [],
    }
    assert office.closed == [date(2026, 12, 24), date(2026, 12, 31)]
    assert office.holidays is not None
    assert (office.holidays.country, office.holidays.subdivision) == ("US", "MI")


def test_commitments_parse_durations_and_percentages(example: AgencyConfig) -> None:
    standard, priority = example.commitments["standard"], example.commitments["priority"]
    assert standard.business == timedelta(hours=4)
    assert standard.after_hours is None and standard.next_business_day
    assert priority.business == timedelta(minutes=30)
    assert priority.after_hours == timedelta(hours=1) and not priority.next_business_day
    assert priority.at_risk == 0.75 and priority.page_oncall == "after_hours"
    assert standard.auto_reply is not None
    assert standard.auto_reply.startswith("Thanks {contact_first_name}, your message reached")


def test_staff_notify_rules_parse_channel_and_delay(example: AgencyConfig) -> None:
    jim = example.staff_by_id()["jim"]
    assert [(rule.channel, rule.delay) for rule in jim.notify] == [
        ("slack", timedelta(0)),
        ("telegram", timedelta(0)),
        ("sms", timedelta(minutes=5)),
    ]
    assert [str(rule) for rule in jim.notify] == ["slack", "telegram", "sms@5m"]
    assert jim.first_name == "Jim" and jim.telegram == 100000001


def test_rotations_keep_local_wall_time(example: AgencyConfig) -> None:
    rotation = example.rotation_by_id()["after-hours"]
    assert rotation.start == datetime(2026, 11, 2, 9, 0)
    assert rotation.start.tzinfo is None
    assert rotation.start_at(example.zone).utcoffset() == timedelta(hours=-5)
    assert rotation.shift == timedelta(weeks=1) and rotation.only == "after_hours"


def test_escalation_targets_are_typed(example: AgencyConfig) -> None:
    steps = example.escalations["default"].steps
    assert [step.targets for step in steps] == [
        [Target("rotation", "after-hours", 0)],
        [Target("rotation", "after-hours", 1), Target("account_team")],
        [Target("rotation", "leadership", 0)],
    ]
    assert [step.wait for step in steps] == [timedelta(minutes=10)] * 2 + [timedelta(minutes=15)]
    assert example.escalations["default"].repeat == 1


def test_clients_and_channels(example: AgencyConfig) -> None:
    clients = example.client_by_id()
    assert list(clients) == ["acme", "brightside", "thames"]
    assert [contact.first_name for contact in clients["acme"].contacts] == ["Dana", "Omar"]
    assert str(example.client_zone(clients["thames"])) == "Europe/London"
    assert str(example.client_zone(clients["acme"])) == "America/Detroit"
    assert example.channels.sms is not None and example.channels.sms.from_ == "+13135550100"
    assert example.channels.slack is not None
    assert example.channels.slack.staff_channel == "C0INBOX000"
    assert example.channels.telegram is not None
    assert example.unknown_senders.account_team == ["raj"]


def test_models_are_frozen(example: AgencyConfig) -> None:
    with pytest.raises(ValueError):
        example.agency.name = "Other"  # type: ignore[misc]
