"""New work told across processes on PostgreSQL (storage/work_signal.py): a `web` process's
NOTIFY reaches each listening worker at once, and a listener whose connection is cut
connects again and hears the next one."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import text

from storage import work_signal
from storage.db import Database
from storage.work_signal import WorkSignal, start_listening

WAIT_S = 5.0  # far above the milliseconds it takes: a failure, not a slow machine


@pytest.fixture
def postgres(database: Database) -> Database:
    if database.sqlite:
        pytest.skip("PostgreSQL only: on SQLite the worker runs in `serve`'s own process")
    return database


def _listening(database: Database) -> list[int]:
    with database.engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query = :q"
                ),
                {"q": f"LISTEN {work_signal.CHANNEL}"},
            ).scalars()
        )


def _wait_for(predicate: Callable[[], bool], timeout: float = WAIT_S) -> bool:
    done = threading.Event()
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return True
        done.wait(0.05)
    return False


def test_a_signal_wakes_every_listener_and_survives_a_lost_connection(
    postgres: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(work_signal, "RETRY_S", 0.1)
    heard = [threading.Event(), threading.Event()]
    stops = [start_listening(postgres.url, event.set) for event in heard]
    signal = WorkSignal(postgres.url)
    try:
        assert _wait_for(lambda: len(_listening(postgres)) == 2)
        for event in heard:
            event.clear()  # each listener signals once as it starts
        signal.send()
        assert all(event.wait(WAIT_S) for event in heard)

        # Cut one listener's connection: it connects again and hears the next signal.
        [first, *_] = _listening(postgres)
        with postgres.engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            conn.commit()
        assert _wait_for(
            lambda: len(_listening(postgres)) == 2 and first not in _listening(postgres)
        )
        for event in heard:
            event.clear()
        signal.send()
        assert all(event.wait(WAIT_S) for event in heard)
    finally:
        signal.stop()
        for stop in stops:
            stop()
