"""Cutting a long message into parts a provider accepts, at the most natural break."""

from __future__ import annotations

from collections.abc import Callable

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
