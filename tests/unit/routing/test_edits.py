"""A message's edit history (routing.edits): pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from routing.edits import Edit, apply_edit, fill_original, public, unknown_original

T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def edit(n: int, text: str, *, stamped: bool = True) -> Edit:
    at = T0 + timedelta(minutes=n)
    return Edit(f"42:7:edit:{n}", text, at, at - timedelta(seconds=1) if stamped else None)


def test_an_edit_replaces_the_text_and_keeps_the_earlier_one() -> None:
    changed = apply_edit("Launch Tuesday", [], edit(1, "Launch Wednesday"))
    assert changed is not None
    text, history = changed
    assert text == "Launch Wednesday"
    assert public(history) == [
        {"text": "Launch Tuesday", "at": (T0 + timedelta(minutes=1)).isoformat()}
    ]


def test_edits_of_an_edit_keep_every_earlier_text_oldest_first() -> None:
    text, history = "A", []
    for n, new in enumerate(("B", "C", "D"), start=1):
        changed = apply_edit(text, history, edit(n, new))
        assert changed is not None
        text, history = changed
    assert text == "D"
    assert [e["text"] for e in public(history)] == ["A", "B", "C"]


def test_the_same_edit_twice_is_recorded_once() -> None:
    changed = apply_edit("A", [], edit(1, "B"))
    assert changed is not None
    assert apply_edit(changed[0], changed[1], edit(1, "B")) is None


def test_an_older_edit_arriving_late_takes_its_place_and_leaves_the_newest_text() -> None:
    # B (edit 1) and C (edit 2) were made in that order; C reached us first.
    text, history = apply_edit("A", [], edit(2, "C"))  # type: ignore[misc]
    changed = apply_edit(text, history, edit(1, "B"))
    assert changed is not None
    text, history = changed
    assert text == "C"
    assert [e["text"] for e in history] == ["A", "B"]
    assert [e["edit"] for e in history] == ["42:7:edit:1", "42:7:edit:2"]


def test_without_the_providers_time_edits_apply_in_the_order_they_arrive() -> None:
    text, history = apply_edit("A", [], edit(2, "C", stamped=False))  # type: ignore[misc]
    changed = apply_edit(text, history, edit(1, "B", stamped=False))
    assert changed is not None and changed[0] == "B"
    assert [e["text"] for e in changed[1]] == ["A", "C"]


def test_an_original_that_arrives_after_its_edit_fills_the_gap_once() -> None:
    history = unknown_original(edit(1, "B"))
    assert public(history)[0]["text"] is None
    filled = fill_original(history, "A")
    assert filled is not None and [e["text"] for e in filled] == ["A"]
    assert fill_original(filled, "A") is None  # known now: a plain duplicate
    assert fill_original([], "A") is None  # never edited: a plain duplicate
