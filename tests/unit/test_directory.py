"""The directory built from a configuration file: everyone found by id and by each address, one
calendar per name, and one set of rotations that every part of a built Container reads."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest

from bot.bootstrap import build_container
from bot.channels.slack.bot import SlackBot
from bot.channels.telegram.bot import TelegramBot
from bot.config import AgencyConfig, load_config
from bot.config.directory import build_directory
from bot.container import Container
from bot.settings import Settings
from routing.messages import Channel

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = [ROOT / "examples" / "agency.toml", ROOT / "tests" / "data" / "story_agency.toml"]


@pytest.fixture(params=CONFIGS, ids=lambda path: path.name)
def config(request: pytest.FixtureRequest) -> AgencyConfig:
    return load_config(request.param)


def test_every_staff_member_is_found_by_id_and_by_each_address(config: AgencyConfig) -> None:
    directory = build_directory(config)
    assert list(directory.staff) == [s.id for s in config.staff]
    for s in config.staff:
        entry = directory.staff[s.id]
        assert (entry.name, entry.sms, entry.telegram, entry.slack) == (
            s.name,
            s.sms,
            s.telegram,
            s.slack,
        )
        assert [(r.channel, r.delay) for r in entry.notify] == [
            (r.channel, r.delay) for r in s.notify
        ]
        assert directory.staff_names[s.id] == s.name
        if s.sms:
            assert directory.staff_by_sms[s.sms] is entry
        if s.telegram is not None:
            assert directory.staff_by_telegram[s.telegram] is entry
        if s.slack:
            assert directory.staff_by_slack[s.slack] is entry
    # Nobody else is found by an address.
    assert len(directory.staff_by_sms) == sum(1 for s in config.staff if s.sms)
    assert len(directory.staff_by_telegram) == sum(1 for s in config.staff if s.telegram)
    assert len(directory.staff_by_slack) == sum(1 for s in config.staff if s.slack)


def test_one_calendar_instance_per_name(config: AgencyConfig) -> None:
    directory = build_directory(config)
    assert set(directory.calendars) == set(config.hours)
    assert config.rotations and any(r.hours for r in config.rotations)  # the test has a case
    for rotation in config.rotations:
        hours = directory.rotations[rotation.id].hours
        assert hours is (directory.calendars[rotation.hours] if rotation.hours else None)
    for tier, commitment in config.commitments.items():
        assert directory.commitments[tier].calendar is directory.calendars[commitment.hours]


def test_clients_terms_and_escalations(config: AgencyConfig) -> None:
    directory = build_directory(config)
    assert list(directory.clients) == [c.id for c in config.clients]
    for client in config.clients:
        terms = directory.terms_of(client.id)
        assert terms.tier == client.commitment
        assert terms.zone == config.client_zone(client)
        assert terms.account_team == tuple(client.account_team)
        policy = directory.escalations.get(client.id)
        assert (policy.name if policy else None) == client.escalation
        for channel in client.slack_channels:
            assert directory.chat_clients[(Channel.SLACK, channel)] == client.id
        for contact in client.contacts:
            if contact.slack:
                assert (Channel.SLACK, contact.slack) in directory.contact_addresses
    unknown = directory.terms_of("no-such-client")
    assert unknown is directory.terms_of(None) is directory.unknown_senders
    assert unknown.tier == config.unknown_senders.commitment


def test_the_directory_cannot_be_changed(config: AgencyConfig) -> None:
    directory = build_directory(config)
    with pytest.raises(FrozenInstanceError):
        directory.zone = directory.zone  # type: ignore[misc]  # frozen: the point of the test
    with pytest.raises(TypeError):
        directory.staff["someone"] = directory.staff[config.staff[0].id]  # type: ignore[index]  # read-only view
    with pytest.raises(TypeError):
        del directory.rotations[config.rotations[0].id]  # type: ignore[attr-defined]  # read-only view


@pytest.fixture
def container(config: AgencyConfig, tmp_path: Path) -> Iterator[Container]:
    """A Container as bot.bootstrap builds it, with both chat apps on (nothing is started, so
    nothing is sent: the provider URLs are never used)."""
    settings = Settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'partnerline.db'}",
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET="test-signing-secret",
        SLACK_API_URL="http://127.0.0.1:9/api/",
        TELEGRAM_BOT_TOKEN="123456:test",
        TELEGRAM_API_URL="http://127.0.0.1:9/bot",
    )
    built = build_container(settings, config)
    try:
        yield built
    finally:
        built.db.dispose()


def test_a_container_reads_one_directory(config: AgencyConfig, container: Container) -> None:
    directory = container.directory
    availability = container.services.availability
    assert availability is not None and availability.paging is not None
    paging = availability.paging
    for part in (container.services, availability, paging, container.oncall):
        assert part.directory is directory
    for rotation in config.rotations:
        assert container.oncall.rotations[rotation.id] is paging.rotations[rotation.id]
        assert paging.rotations[rotation.id] is directory.rotations[rotation.id]
    assert container.services.staff_names is directory.staff_names
    assert isinstance(container.slack, SlackBot) and isinstance(container.telegram, TelegramBot)
    assert container.slack.staff_by_slack is directory.staff_by_slack
    assert container.telegram.staff_by_telegram is directory.staff_by_telegram
