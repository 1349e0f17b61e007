"""routing.limits: identifiers refused, text cleaned, numbers bounded (the edge's one rule)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing.errors import MalformedPayload
from routing.limits import (
    ADDRESS,
    PERSON_NAME,
    PROVIDER_ID,
    checked_id,
    checked_inbound,
    checked_row_id,
    clean_name,
    clean_payload,
    clean_text,
)
from routing.messages import Attachment, Channel, InboundMessage

T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


def test_clean_text_drops_nul_and_replaces_lone_surrogates_only() -> None:
    assert clean_text("a\x00b\x00") == "ab"
    assert clean_text("x\ud800y") == "x\ufffdy"
    assert clean_text("\udfff") == "\ufffd"
    assert clean_text("\ud83d\ude00") == "😀"  # a pair written as two code points is kept
    assert clean_text("tab\tnew\nline \x07 é 😀") == "tab\tnew\nline \x07 é 😀"


@given(st.text())
def test_clean_text_is_storable_and_idempotent(text: str) -> None:
    cleaned = clean_text(text)
    assert "\x00" not in cleaned
    cleaned.encode("utf-8")  # what both databases need
    assert clean_text(cleaned) == cleaned


def test_identifiers_are_refused_not_altered() -> None:
    assert checked_id("SM" + "a" * 32, PROVIDER_ID, "MessageSid") == "SM" + "a" * 32
    assert checked_id("x" * PROVIDER_ID, PROVIDER_ID, "id") == "x" * PROVIDER_ID
    for bad in ("", None, 42, "x" * (PROVIDER_ID + 1), "SM\x00", "SM\ud800", "a\nb", "\x85"):
        with pytest.raises(MalformedPayload):
            checked_id(bad, PROVIDER_ID, "id")


def test_row_ids_are_decimal_and_32_bit() -> None:
    assert checked_row_id("2147483647", "page") == 2**31 - 1
    for bad in (None, "", "2147483648", "1" * 70, "-1", "²", "1.0", " 1"):
        with pytest.raises(MalformedPayload):
            checked_row_id(bad, "page")


def test_payload_strings_are_cleaned_and_numbers_bounded() -> None:
    payload = {"text\x00": ["a\x00", {"n": 2**63 - 1, "m": -(2**63), "f": 1.5, "b": True}]}
    assert clean_payload(payload) == {
        "text": ["a", {"n": 2**63 - 1, "m": -(2**63), "f": 1.5, "b": True}]
    }
    for bad in (2**63, -(2**63) - 1, 10**70, float("nan"), float("inf")):
        with pytest.raises(MalformedPayload):
            clean_payload({"deep": [{"id": bad}]})


def test_names_are_cleaned_and_cut_to_their_column() -> None:
    assert clean_name("  Dana\x00 Reyes ") == "Dana Reyes"
    assert clean_name("x" * 500) == "x" * PERSON_NAME
    assert clean_name("\x00 ") is None and clean_name(None) is None


def test_an_inbound_message_is_checked_and_cleaned() -> None:
    msg = InboundMessage(
        Channel.TELEGRAM,
        "42:7",
        "42",
        "hello\x00 there\ud800",
        T0,
        attachments=(Attachment(file_id="f\x00", name="a\x00.pdf"),),
        chat_id="42",
        raw={"text": "hello\x00"},
    )
    cleaned = checked_inbound(msg)
    assert cleaned.text == "hello there\ufffd"
    assert cleaned.attachments == (Attachment(file_id="f", name="a.pdf"),)
    assert cleaned.raw == {"text": "hello"}
    assert cleaned.provider_id == "42:7" and cleaned.address == "42"
    for field, value in (
        ("provider_id", "x" * (PROVIDER_ID + 1)),
        ("address", "1" * (ADDRESS + 1)),
        ("chat_id", "1" * 65),
        ("thread_id", "t\x00"),
        ("edit_of", "e\ud800"),
    ):
        bad = InboundMessage(**{**_fields(msg), field: value})
        with pytest.raises(MalformedPayload):
            checked_inbound(bad)


def _fields(msg: InboundMessage) -> dict[str, object]:
    return {name: getattr(msg, name) for name in msg.__dataclass_fields__}
