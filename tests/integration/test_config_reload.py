"""Reloading the configuration in a running Partnerline (bot/reloading.py), wired as
bot.bootstrap wires it, on SQLite and PostgreSQL, with a frozen clock: a page opened before a
reload keeps its escalation policy; what opens after follows the new file; a file with
problems changes nothing.

The reload here is the one a SIGHUP runs (`Reloader.reload_file`); tests/e2e/test_reload.py
sends the signal, and runs `partnerline reload`, to real processes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command

from bot.config import check_config
from bot.reloading import Reloader
from routing.messages import Channel
from storage.config_versions import VersionWatch, checksum
from storage.db import Database
from storage.migrate import alembic_config, upgrade
from storage.unit_of_work import UnitOfWork
from tests.support.schema import table_names
from tests.usecases.rig import DANA, RAJ, STORY_CONFIG, TUESDAY_EVENING, Rig, build_rig

LEE = "+13135550105"
# Lee joins the staff and the after-hours rotation, where her place makes her the one on call
# this week (the sixth: index 5 of four members); the escalation's steps now wait 30 s.
# Thames Analytics (priority: pages after hours) has a new contact in the new file only.
NINA = "+447700900124"
NEW_CONTACT = """slack = "U0GEORGEHL"

[[clients.contacts]]
name = "Nina Patel"
sms = "+447700900124"
"""
T0 = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
NEW_STAFF = """
[[staff]]
id = "lee"
name = "Lee Park"
sms = "+13135550105"
notify = ["sms"]
"""


def grown(text: str) -> str:
    """The story agency with Lee on the after-hours rotation and slower steps."""
    changed = (
        text.replace('members = ["jim", "ana", "raj"]', 'members = ["jim", "lee", "ana", "raj"]')
        .replace('wait = "3s"', 'wait = "30s"')
        .replace('slack = "U0GEORGEHL"\n', NEW_CONTACT)
        .replace(
            "# ---------------------------------------------------------------- on-call",
            NEW_STAFF + "\n# ------------------------------------------------------ on-call",
        )
    )
    assert changed.count('"lee"') == 2 and changed.count('"30s"') == 3 and NINA in changed, (
        "the story file moved"
    )
    return changed


@pytest.fixture
def rig(database: Database) -> Iterator[Rig]:
    built = build_rig(database, TUESDAY_EVENING)  # after hours: priority clients page
    yield built
    built.container.inbound.stop()


def test_an_open_page_keeps_its_policy_and_the_next_page_follows_the_new_rotation(
    rig: Rig, tmp_path: Path
) -> None:
    acme = rig.client_writes(DANA, "The robot arm stopped.")
    opened = rig.page_of(acme)
    assert opened is not None
    assert len(rig.sent.texts(Channel.SMS, RAJ)) == 1  # Raj is on call before the reload
    config = tmp_path / "agency.toml"
    config.write_text(grown(STORY_CONFIG.read_text()))

    assert Reloader(rig.container).reload_file(str(config)) == []

    assert rig.container.directory.staff["lee"].name == "Lee Park"
    still = rig.page_of(acme)
    assert still is not None and still.policy == opened.policy  # its snapshot, as it opened
    assert "lee" not in still.policy["notify"]
    # Its steps keep their 3 s wait: step 2 runs 3 s after it opened, not 30.
    rig.advance_to(TUESDAY_EVENING + timedelta(seconds=3))
    after = rig.page_of(acme)
    assert after is not None and (after.state, after.step) == ("open", 2)
    assert rig.sent.texts(Channel.SMS, LEE) == []  # the open page never pages her
    assert len(rig.sent.texts(Channel.SMS, RAJ)) == 1  # and nobody twice

    # The next page is opened under the new file: Lee is on call, and its steps wait 30 s.
    # It is from Nina, whom only the new file names: its contacts are in the database too.
    thames = rig.client_writes(NINA, "Dashboard down.")
    assert rig.conversation(thames).client_id == "thames"
    second = rig.page_of(thames)
    assert second is not None and second.id != opened.id
    assert [s["wait"] for s in second.policy["steps"]] == [30.0, 30.0, 30.0]
    [paged] = rig.sent.texts(Channel.SMS, LEE)
    assert paged.startswith(f"Page {second.id}: Nina Patel (Thames Analytics)")
    rig.advance_to(TUESDAY_EVENING + timedelta(seconds=3 + 29))
    waiting = rig.page_of(thames)
    assert waiting is not None and waiting.step == 1


def test_someone_an_open_page_never_knew_is_reached_when_on_call_at_its_next_step(
    rig: Rig, tmp_path: Path
) -> None:
    """The open page copied everyone's notify rules when it opened; Lee, added by a reload,
    is not among them. Covering leadership when its step 3 runs, she is paged the way the
    file now says, not skipped (nobody paged at that step)."""
    acme = rig.client_writes(DANA, "The robot arm stopped.")
    opened = rig.page_of(acme)
    assert opened is not None
    config = tmp_path / "agency.toml"
    config.write_text(grown(STORY_CONFIG.read_text()))
    assert Reloader(rig.container).reload_file(str(config)) == []
    assert "lee" not in opened.policy["notify"]
    with rig.services.uow() as uow:
        uow.overrides.add(
            "leadership",
            "lee",
            TUESDAY_EVENING,
            TUESDAY_EVENING + timedelta(hours=1),
            created_by="admin",
            at=TUESDAY_EVENING,
        )
        uow.commit()
    rig.advance_to(TUESDAY_EVENING + timedelta(seconds=3))  # step 2
    rig.advance_to(TUESDAY_EVENING + timedelta(seconds=6))  # step 3: leadership
    page = rig.page_of(acme)
    assert page is not None and page.step == 3
    [reached] = rig.sent.texts(Channel.SMS, LEE)
    assert reached.startswith(f"Page {opened.id}: Dana Reyes (Acme Robotics)")


def test_a_file_with_problems_changes_nothing_and_says_why(
    rig: Rig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    before = rig.container.live.current
    broken = tmp_path / "agency.toml"
    text = grown(STORY_CONFIG.read_text()).replace(
        'members = ["jim", "lee", "ana", "raj"]', 'members = ["jim", "lee", "nobody"]'
    )
    broken.write_text(text)
    line = text.splitlines().index('members = ["jim", "lee", "nobody"]') + 1

    problems = Reloader(rig.container).reload_file(str(broken))

    assert [str(p) for p in problems] == [
        f"{broken}:{line}: rotations[0].members[2]: no such staff member 'nobody'"
    ]
    assert problems == check_config(broken)  # what `partnerline check` says
    assert f"configuration not reloaded: {problems[0]}" in caplog.text
    assert rig.container.live.current is before  # nothing swapped
    assert "lee" not in rig.container.directory.staff
    with rig.services.uow() as uow:
        assert uow.config_versions.current() is None  # nothing recorded for other processes
    # Pages still open under the configuration in force: Raj is on call.
    rig.client_writes(DANA, "Still down.")
    assert len(rig.sent.texts(Channel.SMS, RAJ)) == 1


def test_the_version_row_moves_only_when_the_text_changes(database: Database) -> None:
    def record(text: str) -> tuple[int, bool]:
        with UnitOfWork(database) as uow:
            stored, new = uow.config_versions.record(path="a.toml", text=text, at=T0)
            uow.commit()
        return stored.version, new

    assert record("one") == (1, True)
    assert record("one") == (1, False)  # the same text: nothing to apply
    assert record("two") == (2, True)
    with UnitOfWork(database) as uow:
        stored = uow.config_versions.current()
    assert stored is not None and (stored.text, stored.checksum) == ("two", checksum("two"))
    assert VersionWatch(database.engine)() == 2


def test_the_migration_adds_and_removes_the_table(empty_url: str) -> None:
    upgrade(empty_url, "0014")
    assert "config_versions" not in table_names(empty_url)
    upgrade(empty_url, "0015")
    assert "config_versions" in table_names(empty_url)
    command.downgrade(alembic_config(empty_url), "0014")
    assert "config_versions" not in table_names(empty_url)
