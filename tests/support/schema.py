"""What a migrated database holds, read with SQLAlchemy's inspector: for migration tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from storage.db import normalise_url


@contextmanager
def inspector(url: str) -> Iterator[sa.Inspector]:
    engine = sa.create_engine(normalise_url(url))
    try:
        yield sa.inspect(engine)
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    with inspector(url) as found:
        return set(found.get_table_names())


def column_names(url: str, table: str) -> set[str]:
    with inspector(url) as found:
        return {c["name"] for c in found.get_columns(table)}
