"""One splitter for every channel: each part within the provider's limit, as it counts."""

from __future__ import annotations

import pytest

from adapters.slack import escape
from adapters.text_parts import LIMITS, split_for, utf16_len
from routing.messages import Channel


def test_a_text_that_fits_is_one_part_exactly_as_written() -> None:
    for channel in (Channel.SMS, Channel.TELEGRAM, Channel.SLACK):
        assert split_for(channel, "  Yes, Tuesday.\n") == ["  Yes, Tuesday.\n"]
        assert split_for(channel, "x" * LIMITS[channel].limit) == ["x" * LIMITS[channel].limit]
    assert split_for("sms", " ") == [" "]  # refused by the provider, visibly, not dropped


@pytest.mark.parametrize(
    ("channel", "limit"), [(Channel.SMS, 1600), (Channel.TELEGRAM, 4096), (Channel.SLACK, 40_000)]
)
def test_long_texts_are_cut_at_word_breaks_under_each_limit(channel: Channel, limit: int) -> None:
    words = " ".join(f"word{i}" for i in range(limit // 2))  # about three limits long
    parts = split_for(channel, words)
    assert len(parts) >= 3
    assert all(utf16_len(p) <= limit for p in parts)
    assert " ".join(parts) == words  # nothing lost, nothing added, in order
    assert all(p.startswith("word") and p[-1].isdigit() for p in parts)  # no word cut


def test_sms_parts_count_an_emoji_as_two() -> None:
    text = "😀 " * 1000  # 3,000 UTF-16 units
    parts = split_for(Channel.SMS, text)
    assert all(utf16_len(p) <= 1600 for p in parts)
    assert "".join(parts).replace(" ", "") == "😀" * 1000


def test_slack_parts_are_measured_as_sent_escaped() -> None:
    text = "a < b & c > d " * 3000  # 42,000 characters; 60,000 once escaped
    parts = split_for(Channel.SLACK, text)
    assert len(parts) == 2
    assert all(len(escape(p)) <= 40_000 for p in parts)
    assert " ".join(parts) == text.strip()
