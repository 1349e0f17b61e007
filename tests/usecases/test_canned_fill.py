"""Filling a canned reply's placeholders never fails: known ones are replaced, anything else in
braces stays as written (the composer shows it for the sender to fix)."""

from __future__ import annotations

import pytest

from bot.usecases.canned import PLACEHOLDERS, fill

VALUES = {name: f"<{name}>" for name in PLACEHOLDERS}


@pytest.mark.parametrize(
    ("text", "filled"),
    [
        ("Hi {contact_first_name}!", "Hi <contact_first_name>!"),
        ("{my_first_name}/{client_name}", "<my_first_name>/<client_name>"),
        ("Ref {tracking_no}", "Ref {tracking_no}"),
        ("{Contact_Name} {contact_name", "{Contact_Name} {contact_name"),
        ("{{contact_name}}", "{<contact_name>}"),
        ("{} { } {0} {contact_name!r}", "{} { } {0} {contact_name!r}"),
        ("due {due_time}{due_time}", "due <due_time><due_time>"),
        ("", ""),
    ],
)
def test_known_placeholders_are_filled_and_the_rest_kept(text: str, filled: str) -> None:
    assert fill(text, VALUES) == filled


def test_a_value_holding_braces_is_not_filled_again() -> None:
    assert fill("{contact_name}", {"contact_name": "{client_name}"}) == "{client_name}"
