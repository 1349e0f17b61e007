"""`author.name` in the message JSON is always a string (docs/CONTRACT.md, "message"): the contact's
name, else their address, also for unknown senders; staff and Partnerline are named too."""

from __future__ import annotations

from sqlalchemy import update

from storage.tables import ContactRow
from tests.e2e.test_sms_flow import DANA, conversation, conversations, eventually
from tests.support.app import RunningApp

STRANGER = "+13135559876"


def _messages(app: RunningApp, address: str) -> list[dict[str, object]]:
    [conv] = [c for c in conversations(app) if c["contact"]["address"] == address]
    return conversation(app, conv["id"])["messages"]  # type: ignore[no-any-return]


def test_an_unknown_senders_message_is_authored_by_their_number(app: RunningApp) -> None:
    assert app.post_sms(app.sms_form("SM" + "c" * 32, STRANGER, "who dis")).status_code == 200
    [msg] = _messages(app, STRANGER)
    author = msg["author"]
    assert isinstance(author, dict)
    assert author["type"] == "contact" and isinstance(author["id"], int)
    assert author["name"] == STRANGER


def test_a_named_contact_is_named_and_a_name_given_later_names_earlier_messages(
    app: RunningApp,
) -> None:
    assert app.post_sms(app.sms_form("SM" + "a" * 32, DANA, "Launch?")).status_code == 200
    assert app.post_sms(app.sms_form("SM" + "b" * 32, STRANGER, "hello")).status_code == 200
    [dana_msg] = _messages(app, DANA)
    assert dana_msg["author"]["name"] == "Dana Reyes"  # type: ignore[index]

    [stranger_msg] = _messages(app, STRANGER)
    contact_id = stranger_msg["author"]["id"]  # type: ignore[index]
    with app.container.db.session() as session:  # triage named them
        session.execute(update(ContactRow).where(ContactRow.id == contact_id).values(name="Sam"))
        session.commit()
    [stranger_msg] = _messages(app, STRANGER)
    assert stranger_msg["author"]["name"] == "Sam"  # type: ignore[index]


def test_staff_and_system_authors_are_named(app: RunningApp) -> None:
    assert app.post_sms(app.sms_form("SM" + "d" * 32, STRANGER, "anyone?")).status_code == 200
    [conv] = conversations(app)
    with app.api() as api:
        reply = api.post(f"/api/conversations/{conv['id']}/reply", json={"text": "Yes, here."})
        assert reply.status_code == 202, reply.text
        assert isinstance(reply.json()["author"]["name"], str)
    messages = eventually(lambda: conversation(app, conv["id"])["messages"])
    assert all(isinstance(m["author"]["name"], str) and m["author"]["name"] for m in messages)
