"""Reloading the configuration of real `partnerline` processes: SIGHUP to `serve` (SQLite);
`partnerline reload`, then SIGHUP to one worker, reaching two workers and a web process on
PostgreSQL; a file with problems changes nothing and says why (bot/reloading.py).

What a process runs shows in its log ("configuration: version N applied") and, for the web
half, in /api/oncall: the reloaded file puts Lee on the after-hours rotation, and on call on
the Tuesday evening asked about."""

from __future__ import annotations

import functools
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.config import check_config
from storage.db import Database
from storage.unit_of_work import UnitOfWork
from tests.e2e.test_sms_flow import eventually
from tests.integration.test_config_reload import grown
from tests.support.app import ADMIN_TOKEN, ROOT
from tests.support.processes import Partnerline, partnerline_env, partnerline_process
from tests.usecases.rig import STORY_CONFIG

pytestmark = pytest.mark.slow

TUESDAY_EVENING = "2026-12-08T19:05:00-05:00"  # the after-hours rotation's sixth week
NOWHERE = "http://127.0.0.1:9"  # no provider is called in these stories


def on_call(process: Partnerline) -> str | None:
    """Who the web half says holds the after-hours rotation on the Tuesday evening."""
    answer: dict[str, Any] = httpx.get(
        f"{process.url}/api/oncall",
        params={"at": TUESDAY_EVENING},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    ).json()
    [rotation] = [r for r in answer["rotations"] if r["rotation"] == "after-hours"]
    staff: str | None = rotation["staff"]
    return staff


def reload(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "reload", "--config", str(config)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def broken(config: Path) -> Path:
    """A copy of the grown file naming a staff member nobody defined."""
    bad = config.with_name("broken.toml")
    bad.write_text(
        grown(STORY_CONFIG.read_text()).replace('"jim", "lee", "ana"', '"jim", "lee", "nobody"')
    )
    return bad


def stored_version(db_url: str) -> int | None:
    db = Database(db_url)
    try:
        with UnitOfWork(db) as uow:
            stored = uow.config_versions.current()
        return stored.version if stored is not None else None
    finally:
        db.dispose()


def logged(process: Partnerline, text: str) -> bool:
    process.check_alive()
    return text in process.log_tail(100_000)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sighup_to_serve_applies_a_changed_file_and_a_broken_one_changes_nothing(
    db_url: str, tmp_path: Path, started: list[Partnerline]
) -> None:
    config = tmp_path / "agency.toml"
    config.write_text(STORY_CONFIG.read_text())
    env = partnerline_env(db_url, NOWHERE, NOWHERE, PARTNERLINE_CONFIG=str(config))
    serve = partnerline_process("serve", env, tmp_path)
    started.append(serve.start())
    serve.wait_ready()
    assert serve.proc is not None
    assert on_call(serve) == "raj"

    # `partnerline reload` with a broken file: the check's lines, exit 1, nothing recorded.
    bad = broken(config)
    refused = reload(bad, env)
    assert refused.returncode == 1
    expected = [str(p) for p in check_config(bad)]
    assert refused.stdout.splitlines() == expected and "nothing changed" in refused.stderr
    assert stored_version(db_url) is None

    # SIGHUP with the broken file in place: each problem logged, the old file still runs.
    config.write_text(bad.read_text())
    [problem] = check_config(config)
    serve.proc.send_signal(signal.SIGHUP)
    eventually(lambda: logged(serve, f"configuration not reloaded: {problem}"))
    assert on_call(serve) == "raj" and stored_version(db_url) is None

    # SIGHUP with a good file: applied in this process, and recorded for any other.
    config.write_text(grown(STORY_CONFIG.read_text()))
    serve.proc.send_signal(signal.SIGHUP)
    eventually(lambda: logged(serve, "configuration: version 1 applied"))
    assert on_call(serve) == "lee"
    assert stored_version(db_url) == 1
    serve.check_alive()


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_a_reload_reaches_two_workers_and_the_web_on_postgresql(
    db_url: str, tmp_path: Path, started: list[Partnerline]
) -> None:
    config = tmp_path / "agency.toml"
    config.write_text(STORY_CONFIG.read_text())
    env = partnerline_env(db_url, NOWHERE, NOWHERE, PARTNERLINE_CONFIG=str(config))
    web = partnerline_process("web", env, tmp_path)
    workers = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        workers.append(partnerline_process("worker", env, tmp_path / name))
    for process in (web, *workers):
        started.append(process.start())
    for process in (web, *workers):
        process.wait_ready()
    assert on_call(web) == "raj"

    refused = reload(broken(config), env)
    assert refused.returncode == 1 and stored_version(db_url) is None

    config.write_text(grown(STORY_CONFIG.read_text()))
    done = reload(config, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "recorded as configuration version 1" in done.stdout

    for process in (web, *workers):
        applied = functools.partial(logged, process, "configuration: version 1 applied")
        eventually(applied)
    assert on_call(web) == "lee"
    again = reload(config, env)
    assert again.returncode == 0 and "unchanged, configuration version 1" in again.stdout

    # SIGHUP to one worker: it reloads its file, and the others follow the version it stored.
    config.write_text(STORY_CONFIG.read_text())
    assert workers[0].proc is not None
    workers[0].proc.send_signal(signal.SIGHUP)
    for process in (web, *workers):
        applied = functools.partial(logged, process, "configuration: version 2 applied")
        eventually(applied)
    assert on_call(web) == "raj"
