"""Cutting a long message into parts a provider accepts, at the most natural break.

One splitter for every channel: `split_for(channel, text)` gives the parts of a client-bound
text, each under that provider's limit as the provider counts it. The outbox keeps one row per
part (storage/outbox.py), so a long reply leaves as several provider messages, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from routing.messages import Channel

BREAKS = ("\n\n", "\n", " ")  # paragraph, then line, then word


def _prefix_by_length(text: str, limit: int) -> int:
    return min(len(text), limit)


def split_at_breaks(
    text: str,
    limit: int,
    *,
    size: Callable[[str], int] = len,
    fitting: Callable[[str, int], int] = _prefix_by_length,
) -> list[str]:
    """Parts of at most `limit` (as `size` measures; `fitting` says how many characters fit),
    cut at a paragraph, line or word break when there is one. A part never starts or ends with
    the whitespace it was cut at; a word longer than a whole part is cut where it must be."""
    parts: list[str] = []
    rest = text.strip()
    while size(rest) > limit:
        fits = fitting(rest, limit)
        window = rest[: fits + 1]  # a break right after the last fitting character counts too
        cut = next((at for sep in BREAKS if (at := window.rfind(sep)) > 0), fits)
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


# --- how each provider counts ----------------------------------------------------------------


def _utf16_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


# Slack measures the text we send, which is escaped (adapters/slack.py `escape`): & becomes
# &amp;, < and > become &lt; and &gt;.
_SLACK_ESCAPED = {"&": 5, "<": 4, ">": 4}


def _slack_units(char: str) -> int:
    return _SLACK_ESCAPED.get(char) or _utf16_units(char)


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (Telegram's count; an emoji outside the BMP is two)."""
    return len(text.encode("utf-16-le")) // 2


def _weighted_len(weigh: Callable[[str], int]) -> Callable[[str], int]:
    return lambda text: sum(weigh(char) for char in text)


def _weighted_prefix(weigh: Callable[[str], int]) -> Callable[[str, int], int]:
    def fitting(text: str, limit: int) -> int:
        """How many characters of `text` fit in `limit` units."""
        units = 0
        for index, char in enumerate(text):
            units += weigh(char)
            if units > limit:
                return index
        return len(text)

    return fitting


prefix_within_utf16 = _weighted_prefix(_utf16_units)


@dataclass(frozen=True, slots=True)
class TextLimit:
    """What one provider message may hold: `limit` units, as `size` counts them."""

    limit: int
    size: Callable[[str], int]
    fitting: Callable[[str, int], int]

    def fits(self, text: str) -> bool:
        return self.size(text) <= self.limit

    def split(self, text: str) -> list[str]:
        return split_at_breaks(text, self.limit, size=self.size, fitting=self.fitting)


_UTF16 = (utf16_len, prefix_within_utf16)
LIMITS: Mapping[Channel, TextLimit] = {
    # Twilio refuses a Body over 1,600 characters (error 21617); counted in UTF-16 units, as
    # a UCS-2 SMS counts them, so an emoji is two and a part never comes out too long.
    Channel.SMS: TextLimit(1600, *_UTF16),
    # Telegram's MessageLimit.MAX_TEXT_LENGTH, counted in UTF-16 code units.
    Channel.TELEGRAM: TextLimit(4096, *_UTF16),
    # Slack truncates `text` beyond 40,000 characters, counted after escaping.
    Channel.SLACK: TextLimit(40_000, _weighted_len(_slack_units), _weighted_prefix(_slack_units)),
}


def split_for(channel: Channel | str, text: str) -> list[str]:
    """The parts in which `text` goes to a client on `channel`, in order, each within the
    provider's limit, cut at a paragraph, line or word break where there is one. A text that
    fits is one part, exactly as written (a blank one too: the provider's refusal then shows,
    rather than nothing at all)."""
    limit = LIMITS.get(Channel(channel))
    if limit is None or limit.fits(text):
        return [text]
    return limit.split(text) or [text]
