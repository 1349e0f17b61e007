"""Due times as a client reads them, in the client's own zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from routing.plain_time import due_in_words

DETROIT, LONDON, KOLKATA = (
    ZoneInfo("America/Detroit"),
    ZoneInfo("Europe/London"),
    ZoneInfo("Asia/Kolkata"),
)
NOW = datetime(2026, 12, 11, 16, 55, tzinfo=DETROIT)  # a Friday afternoon


@pytest.mark.parametrize(
    ("due", "zone", "words"),
    [
        (datetime(2026, 12, 11, 20, 40, tzinfo=DETROIT), DETROIT, "8:40 PM"),
        (datetime(2026, 12, 11, 0, 5, tzinfo=DETROIT), DETROIT, "12:05 AM"),
        (datetime(2026, 12, 11, 12, 0, tzinfo=DETROIT), DETROIT, "12:00 PM"),
        (datetime(2026, 12, 14, 9, 30, tzinfo=DETROIT), DETROIT, "Monday 9:30 AM"),
        # 20:40 in Detroit is 01:40 on Saturday in London: another day there.
        (datetime(2026, 12, 11, 20, 40, tzinfo=DETROIT), LONDON, "Saturday 1:40 AM"),
        # In Kolkata it is Saturday already (03:25): the same day, so the time alone.
        (datetime(2026, 12, 11, 20, 40, tzinfo=DETROIT), KOLKATA, "7:10 AM"),
        (datetime(2026, 12, 28, 9, 0, tzinfo=DETROIT), DETROIT, "Monday, December 28, 9:00 AM"),
    ],
)
def test_due_time_in_plain_words(due: datetime, zone: ZoneInfo, words: str) -> None:
    assert due_in_words(due, NOW, zone) == words
