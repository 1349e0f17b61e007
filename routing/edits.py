"""A client's edits of their own message: the message shows its latest text and keeps every
earlier text as its history, oldest first.

The history is a list of plain dicts (it is stored as JSON with the message), one per earlier
text: `text` (None when we never received that text: an edit reached us, its original not),
`at` (ISO time we recorded the edit that replaced it), `edit` (that edit's provider id, so a
redelivered edit is recorded once) and `edited_at` (the provider's own time of that edit, or
None). Edits are ordered by the provider's time when it gives one, so an older edit that
reaches us late (a retried delivery) takes its place in the history instead of replacing a
newer text; without it, in the order they reach us.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Edit:
    provider_id: str  # the edit's own id (e.g. "chat:message:edit:stamp")
    text: str
    at: datetime  # when we received it
    edited_at: datetime | None = None  # the provider's time of the edit


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _later(entry: Mapping[str, Any], edited_at: datetime | None) -> bool:
    """Whether the edit that replaced `entry`'s text was made after an edit at `edited_at`."""
    if edited_at is None or entry.get("edited_at") is None:
        return False
    return datetime.fromisoformat(str(entry["edited_at"])) > edited_at


def recorded(history: Sequence[Mapping[str, Any]], edit_id: str) -> bool:
    return any(entry.get("edit") == edit_id for entry in history)


def apply_edit(
    text: str, history: Sequence[Mapping[str, Any]], edit: Edit
) -> tuple[str, list[dict[str, Any]]] | None:
    """The message's text and history once `edit` is recorded; None if it was already."""
    if recorded(history, edit.provider_id):
        return None
    entries = [dict(entry) for entry in history]
    later = [i for i, entry in enumerate(entries) if _later(entry, edit.edited_at)]
    if not later:  # the newest edit: its text is the message's now
        entries.append(
            {
                "text": text,
                "at": _iso(edit.at),
                "edit": edit.provider_id,
                "edited_at": _iso(edit.edited_at),
            }
        )
        return edit.text, entries
    # An older edit, late: the text it replaced was in fact replaced by it, and its own text
    # by the edit recorded as replacing that one. The current text stays.
    k = later[0]
    replaced = entries[k]
    entries[k : k + 1] = [
        {
            "text": replaced["text"],
            "at": replaced["at"],
            "edit": edit.provider_id,
            "edited_at": _iso(edit.edited_at),
        },
        {
            "text": edit.text,
            "at": replaced["at"],
            "edit": replaced["edit"],
            "edited_at": replaced["edited_at"],
        },
    ]
    return text, entries


def unknown_original(edit: Edit) -> list[dict[str, Any]]:
    """The history of a message filed from an edit whose original never reached us."""
    return [
        {
            "text": None,
            "at": _iso(edit.at),
            "edit": edit.provider_id,
            "edited_at": _iso(edit.edited_at),
        }
    ]


def fill_original(history: Sequence[Mapping[str, Any]], text: str) -> list[dict[str, Any]] | None:
    """The history once the original text, received after its edit, takes its place; None if
    the original text is known already (the message is a plain duplicate)."""
    if not history or history[0].get("text") is not None:
        return None
    entries = [dict(entry) for entry in history]
    entries[0]["text"] = text
    return entries


def public(history: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """The history as the API shows it: `{"text", "at"}` per earlier text, oldest first."""
    return [{"text": entry.get("text"), "at": entry.get("at")} for entry in history or ()]
