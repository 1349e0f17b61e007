"""The inbound journal's group commit on real SQLite and PostgreSQL: a delivery the database
refuses fails alone, and the good ones that shared its batch are committed at once."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from routing.errors import MalformedPayload
from routing.messages import Channel
from storage.db import Database
from storage.inbound import JournalEntry, write_batch
from storage.journal import InboundJournal
from storage.tables import InboundDeliveryRow
from storage.upsert import ROWS_PER_INSERT

T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


@contextmanager
def writes_held(db: Database) -> Iterator[None]:
    """The journal's writer waits (with whatever it took first) until the block ends, so
    that everything submitted meanwhile queues up for its next batch."""
    with db.write_connection() as conn:  # on SQLite, this holds the one-writer lock
        if not db.sqlite:
            conn.execute(text("LOCK TABLE inbound_deliveries IN EXCLUSIVE MODE"))
        yield


def stored_keys(db: Database) -> set[str]:
    with db.session() as session:
        return set(session.scalars(select(InboundDeliveryRow.delivery_key)))


def bad_keys(db: Database) -> dict[int, str]:
    """Keys the database refuses, by position among 40 submissions. Both refuse a string that
    UTF-8 cannot encode; PostgreSQL also refuses one longer than the column, or with U+0000."""
    if db.sqlite:
        return {5: "SMbad\ud800one", 15: "SMbad\udfff", 25: "\ud83dSMbad", 35: "SM\udc00bad"}
    return {5: "SMbad\ud800one", 15: "SM" + "9" * 200, 25: "SMbad\x00nul", 35: "SM" + "8" * 161}


async def test_refused_deliveries_fail_alone_and_the_rest_commit_together(
    database: Database,
) -> None:
    commits: list[int] = []
    journal = InboundJournal(database, on_commit=lambda: commits.append(1))
    bad = bad_keys(database)
    keys = [bad.get(i, f"SM{i:032d}") for i in range(40)]
    try:
        with writes_held(database):
            tasks = [
                asyncio.create_task(
                    journal.submit(
                        channel=Channel.SMS,
                        key=key,
                        kind="message",
                        payload={"text": f"message {i}"},
                        received_at=T0,
                    )
                )
                for i, key in enumerate(keys)
            ]
            await asyncio.sleep(0)  # every task has queued its delivery
        results = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await asyncio.to_thread(journal.stop)

    refused = {i for i, r in enumerate(results) if isinstance(r, MalformedPayload)}
    assert refused == set(bad)
    assert all(r is None for i, r in enumerate(results) if i not in bad)
    assert stored_keys(database) == {k for i, k in enumerate(keys) if i not in bad}
    # The writer held the first delivery and took the other 39 as one batch: two commits,
    # not one per delivery.
    assert len(commits) <= 2


async def test_a_batch_of_good_deliveries_is_one_commit(database: Database) -> None:
    commits: list[int] = []
    journal = InboundJournal(database, on_commit=lambda: commits.append(1))
    try:
        with writes_held(database):
            tasks = [
                asyncio.create_task(
                    journal.submit(
                        channel=Channel.TELEGRAM,
                        key=f"update:{i}",
                        kind="message",
                        payload={"text": "hi\x00 there", "n": 2**63 - 1},
                        received_at=T0,
                    )
                )
                for i in range(10)
            ]
            await asyncio.sleep(0)
        assert await asyncio.gather(*tasks) == [None] * 10
    finally:
        await asyncio.to_thread(journal.stop)
    assert len(stored_keys(database)) == 10 and len(commits) <= 2


async def test_when_the_database_is_down_every_delivery_gets_the_error() -> None:
    db = Database("postgresql://postgres@127.0.0.1:1/none")  # nothing listens on port 1
    journal = InboundJournal(db)
    try:
        results = await asyncio.gather(
            *[
                journal.submit(
                    channel=Channel.SMS,
                    key=f"SM{i}",
                    kind="message",
                    payload={},
                    received_at=T0,
                )
                for i in range(3)
            ],
            return_exceptions=True,
        )
    finally:
        await asyncio.to_thread(journal.stop)
        db.dispose()
    # Not "malformed": the provider must deliver these again (the webhook answers 503).
    assert all(isinstance(r, Exception) and not isinstance(r, MalformedPayload) for r in results)


@pytest.mark.parametrize("key", ["SM\ud800", "SM\udfffX"])
async def test_a_lone_refused_delivery_is_malformed(database: Database, key: str) -> None:
    journal = InboundJournal(database)
    try:
        with pytest.raises(MalformedPayload):
            await journal.submit(
                channel=Channel.SMS, key=key, kind="message", payload={}, received_at=T0
            )
    finally:
        await asyncio.to_thread(journal.stop)
    assert stored_keys(database) == set()


def test_a_batch_in_one_statement_is_its_own_transaction_on_postgresql(
    database: Database,
) -> None:
    """A batch of ROWS_PER_INSERT deliveries or fewer is one INSERT, which PostgreSQL runs in
    autocommit: committed as the statement ends, with no BEGIN and COMMIT round trips. A
    larger one is one transaction, as on SQLite."""
    if database.sqlite:
        pytest.skip("PostgreSQL only: SQLite's BEGIN and COMMIT cost no round trip")
    entries = [
        JournalEntry(Channel.SMS, f"SM{n}", "message", {"n": n}, T0)
        for n in range(ROWS_PER_INSERT + 1)
    ]
    with database.write_connection(one_statement=True) as conn:
        write_batch(conn, entries[:ROWS_PER_INSERT])
        assert len(stored_keys(database)) == ROWS_PER_INSERT  # seen before the block ends
    with database.write_connection() as conn:
        write_batch(conn, entries[ROWS_PER_INSERT:])
        assert len(stored_keys(database)) == ROWS_PER_INSERT  # not before its commit
    assert len(stored_keys(database)) == ROWS_PER_INSERT + 1
