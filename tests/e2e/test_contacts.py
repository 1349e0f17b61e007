"""Contacts at runtime, end to end: triage of an unknown sender to a client (its commitment
retiered, the new tier's acknowledgement and page once), one person across SMS and Telegram
by a merge, the file's contacts read-only, bad input refused with nothing changed, and the
export pasted back into the configuration through the real loader.

The app runs with its worker on loopback, signed Twilio webhooks and the Telegram stand-in,
a frozen clock in Detroit; each test runs on SQLite and PostgreSQL (`db_url`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from adapters.standins.telegram import TelegramStandIn
from adapters.standins.twilio import TwilioStandIn
from bot.cli import main as cli_main
from bot.cli.contacts import contacts_toml
from bot.config import check_config, check_text, load_config
from bot.config.directory import build_directory
from routing.clock import FrozenClock
from storage.directory import sync_directory
from storage.tables import IdentityRow, MessageRow
from tests.browser.inbox_support import add_login, csrf_from, signed_in
from tests.e2e.test_sms_flow import conversation, conversations, eventually
from tests.e2e.test_telegram_flow import deliver, telegram_app
from tests.support.app import EXAMPLE_CONFIG, RunningApp

DETROIT = ZoneInfo("America/Detroit")
NEWCOMER = "+13135550177"  # Acme's new marketing lead, in no configuration
DANA = "+13135550142"  # Acme Robotics' contact in the file
RAJ = "+13135550103"  # on call after hours this week (rotation "after-hours")
MAYA_TG = TelegramStandIn.user(300000077, "Maya", "Brooks")
STRANGER = TelegramStandIn.user(300000099, "Sam", "Stranger")


def local(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=DETROIT)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(local(2026, 12, 7, 10, 0))


@pytest.fixture
def app(
    db_url: str, twilio: TwilioStandIn, tg: TelegramStandIn, clock: FrozenClock
) -> Iterator[RunningApp]:
    with telegram_app(db_url, twilio, tg, clock) as running:
        yield running


_sid = iter(range(10**6))


def text_in(app: RunningApp, sender: str, body: str = "Hello") -> dict[str, Any]:
    sid = f"SM{next(_sid):032d}"
    assert app.post_sms(app.sms_form(sid, sender, body)).status_code == 200
    [conv] = [c for c in conversations(app) if c["contact"]["address"] == sender]
    return conv


def telegram_in(app: RunningApp, tg: TelegramStandIn, user: dict[str, Any], text: str) -> None:
    assert deliver(tg, app, tg.message_update(user, text)) == 200
    app.wait_routed()


def settled(app: RunningApp) -> None:
    """The worker has sent what is due (a second send, if any, would be there by now)."""
    app.container.wakeup.notify()
    app.wait_routed()
    time.sleep(0.3)


def post(app: RunningApp, path: str, body: dict[str, Any]) -> httpx.Response:
    with app.api() as api:
        return api.post(path, json=body)


def contact(app: RunningApp, contact_id: int) -> httpx.Response:
    with app.api() as api:
        return api.get(f"/api/contacts/{contact_id}")


def pages(app: RunningApp) -> list[dict[str, Any]]:
    with app.api() as api:
        return list(api.get("/api/pages").json()["items"])


# --- triage ----------------------------------------------------------------------------------


def test_an_unknown_sender_linked_to_a_priority_client_after_hours_gets_its_promise_once(
    app: RunningApp, clock: FrozenClock, twilio: TwilioStandIn
) -> None:
    clock.set(local(2026, 12, 8, 19, 5))  # a Tuesday evening: the office closed at 17:30
    conv = text_in(app, NEWCOMER, "It's Maya, Acme's new marketing lead. Call me?")
    assert conv["client"]["id"] is None
    # The unknown senders' tier: standard, the next business day, no page.
    assert conv["commitment"]["tier"] == "standard"
    assert datetime.fromisoformat(conv["due_at"]) == local(2026, 12, 9, 13, 0)
    [standard_ack] = eventually(lambda: twilio.sent_to(NEWCOMER))
    assert "you'll hear from us by Wednesday" in standard_ack["body"]
    assert pages(app) == []

    clock.set(local(2026, 12, 8, 19, 20))  # Raj reads it a quarter of an hour later
    link = {"client": "acme", "name": "Maya Brooks"}
    response = post(app, f"/api/conversations/{conv['id']}/link", link)
    assert response.status_code == 200, response.text
    linked = response.json()
    assert linked["client"] == {"id": "acme", "name": "Acme Robotics"}
    assert linked["contact"]["name"] == "Maya Brooks"
    # The priority promise, counted from when she wrote (19:05), not from the link.
    promise = linked["commitment"]
    assert promise["tier"] == "priority" and promise["state"] == "pending"
    assert promise["after_hours"] is True and promise["id"] == conv["commitment"]["id"]
    assert datetime.fromisoformat(promise["started_at"]) == local(2026, 12, 8, 19, 5)
    assert datetime.fromisoformat(promise["due_at"]) == local(2026, 12, 8, 20, 5)
    assert datetime.fromisoformat(linked["due_at"]) == local(2026, 12, 8, 20, 5)

    # The priority acknowledgement, once; the on-call person is paged.
    eventually(lambda: len(twilio.sent_to(NEWCOMER)) == 2)
    priority_ack = twilio.sent_to(NEWCOMER)[1]["body"]
    assert priority_ack.startswith("Thanks Maya. It's after hours at Lakeshore Communications")
    assert priority_ack.endswith("you'll hear back by 8:05 PM EST.")
    [page] = eventually(lambda: pages(app))
    assert page["conversation_id"] == conv["id"] and page["state"] == "open"
    [paged] = eventually(lambda: twilio.sent_to(RAJ))
    assert "Maya Brooks (Acme Robotics)" in paged["body"]

    # Linking again, either way, or the same request retried: 409, and nothing more is sent.
    again = post(app, f"/api/conversations/{conv['id']}/link", link)
    assert again.status_code == 409 and "only an unknown sender" in again.json()["detail"]
    assert post(app, f"/api/conversations/{conv['id']}/link", {"contact": 1}).status_code == 409
    settled(app)
    assert len(twilio.sent_to(NEWCOMER)) == 2 and len(twilio.sent_to(RAJ)) == 1
    assert len(pages(app)) == 1

    detail = conversation(app, conv["id"])
    assert [m["author"]["name"] for m in detail["messages"] if m["direction"] == "in"] == [
        "Maya Brooks"
    ]
    assert [(a["kind"], a["by"]) for a in detail["activity"]] == [("linked", "admin")]
    assert len(detail["commitments"]) == 1
    # Her next text is Acme's, in the same conversation, under the same promise.
    clock.advance(timedelta(minutes=1))
    again_conv = text_in(app, NEWCOMER, "Also: the press kit")
    assert again_conv["id"] == conv["id"] and again_conv["client"]["id"] == "acme"
    settled(app)
    assert len(twilio.sent_to(NEWCOMER)) == 2
    # Her contact is a runtime one of Acme's, with the number as its identity.
    maya = contact(app, linked["contact"]["id"]).json()
    assert maya["source"] == "runtime" and maya["client"]["id"] == "acme"
    assert maya["identities"] == [
        {"channel": "sms", "address": NEWCOMER, "source": "runtime", "reachable": True}
    ]


def test_a_link_after_the_new_due_time_breaches_at_once_and_promises_nothing_past(
    app: RunningApp, clock: FrozenClock, twilio: TwilioStandIn
) -> None:
    clock.set(local(2026, 12, 8, 19, 5))
    conv = text_in(app, NEWCOMER, "Anyone there?")
    eventually(lambda: twilio.sent_to(NEWCOMER))  # the unknown senders' acknowledgement
    clock.set(local(2026, 12, 8, 20, 30))  # past 20:05, when a priority answer was due
    link = {"client": "acme", "name": "Maya Brooks"}
    assert post(app, f"/api/conversations/{conv['id']}/link", link).status_code == 200
    app.container.wakeup.notify()
    breached = eventually(
        lambda: (c := conversation(app, conv["id"])["commitment"])["state"] == "breached" and c
    )
    assert datetime.fromisoformat(breached["due_at"]) == local(2026, 12, 8, 20, 5)
    eventually(lambda: twilio.sent_to(RAJ))  # paged all the same
    settled(app)
    assert len(twilio.sent_to(NEWCOMER)) == 1  # no "you'll hear back by 8:05 PM" at 8:30


def test_linking_to_an_existing_contact_adds_the_address_as_theirs(
    app: RunningApp, tg: TelegramStandIn
) -> None:
    maya = post(
        app,
        "/api/contacts",
        {
            "client": "acme",
            "name": "Maya Brooks",
            "identities": [{"channel": "sms", "address": NEWCOMER}],
        },
    ).json()
    telegram_in(app, tg, MAYA_TG, "Maya here, on Telegram now")
    [triage] = [c for c in conversations(app) if c["channel"] == "telegram"]
    assert triage["client"]["id"] is None
    response = post(app, f"/api/conversations/{triage['id']}/link", {"contact": maya["id"]})
    assert response.status_code == 200, response.text
    moved = response.json()
    assert moved["contact"]["id"] == maya["id"] and moved["client"]["id"] == "acme"
    assert moved["commitment"]["tier"] == "priority"
    assert [
        (i["channel"], i["address"]) for i in contact(app, maya["id"]).json()["identities"]
    ] == [
        ("sms", NEWCOMER),
        ("telegram", "300000077"),
    ]
    # Her next Telegram message goes straight to her conversation.
    telegram_in(app, tg, MAYA_TG, "and another thing")
    detail = conversation(app, triage["id"])
    assert [m["text"] for m in detail["messages"] if m["direction"] == "in"] == [
        "Maya here, on Telegram now",
        "and another thing",
    ]
    assert {m["author"]["id"] for m in detail["messages"] if m["direction"] == "in"} == {maya["id"]}


# --- one person, many channels ------------------------------------------------------------


def test_merging_an_sms_and_a_telegram_contact_keeps_both_histories_in_one_person(
    app: RunningApp, tg: TelegramStandIn
) -> None:
    sms = post(
        app,
        "/api/contacts",
        {
            "client": "acme",
            "name": "Maya Brooks",
            "identities": [{"channel": "sms", "address": NEWCOMER}],
        },
    )
    assert sms.status_code == 201, sms.text
    on_tg = post(
        app,
        "/api/contacts",
        {
            "client": "acme",
            "name": "Maya B.",
            "identities": [{"channel": "telegram", "address": "300000077"}],
        },
    )
    assert on_tg.status_code == 201, on_tg.text
    into, gone = sms.json()["id"], on_tg.json()["id"]
    text_in(app, NEWCOMER, "By SMS: the launch date?")
    text_in(app, NEWCOMER, "By SMS: and the venue")
    telegram_in(app, tg, MAYA_TG, "On Telegram: photos attached soon")
    before = {c["channel"]: c for c in conversations(app)}
    assert before["telegram"]["contact"]["id"] == gone

    response = post(app, f"/api/contacts/{gone}/merge", {"into": into})
    assert response.status_code == 200, response.text
    person = response.json()
    assert person["id"] == into and person["name"] == "Maya Brooks"
    assert [(i["channel"], i["address"]) for i in person["identities"]] == [
        ("sms", NEWCOMER),
        ("telegram", "300000077"),
    ]
    assert person["last_channel"] == "telegram"
    assert contact(app, gone).status_code == 404

    after = {c["channel"]: c for c in conversations(app)}
    assert {c["contact"]["id"] for c in after.values()} == {into}
    assert after["telegram"]["id"] == before["telegram"]["id"]
    texts = {
        channel: [
            m["text"] for m in conversation(app, c["id"])["messages"] if m["direction"] == "in"
        ]
        for channel, c in after.items()
    }
    assert texts == {
        "sms": ["By SMS: the launch date?", "By SMS: and the venue"],
        "telegram": ["On Telegram: photos attached soon"],
    }
    with app.container.services.uow() as uow:
        authors = set(
            uow.session.execute(
                select(MessageRow.author_id).where(MessageRow.author_type == "contact")
            ).scalars()
        )
    assert authors == {str(into)}  # no message is left naming the merged contact
    # What they write next, on either channel, joins the one person's conversations.
    telegram_in(app, tg, MAYA_TG, "On Telegram again")
    assert {c["id"] for c in conversations(app)} == {c["id"] for c in after.values()}


# --- the file's contacts, and bad input --------------------------------------------------


def _state(app: RunningApp) -> Any:
    with app.api() as api:
        listed = api.get("/api/contacts", params={"limit": 500}).json()["items"]
        convs = api.get("/api/conversations").json()["items"]
    return listed, [(c["id"], c["client"], c["contact"]) for c in convs]


def test_bad_input_gets_a_clear_4xx_and_changes_nothing(app: RunningApp) -> None:
    dana_conv = text_in(app, DANA, "Hi from Dana")
    stranger = text_in(app, NEWCOMER, "Who is this?")
    dana_id = dana_conv["contact"]["id"]
    dana = contact(app, dana_id).json()
    assert dana["source"] == "config"
    assert {i["source"] for i in dana["identities"]} == {"config"}
    runtime = post(
        app,
        "/api/contacts",
        {
            "client": "acme",
            "name": "Rita",
            "identities": [{"channel": "sms", "address": "+13135550188"}],
        },
    ).json()
    before = _state(app)

    def refused(method: str, path: str, body: dict[str, Any], status: int, words: str) -> None:
        with app.api() as api:
            response = api.request(method, path, json=body)
        assert response.status_code == status, (path, body, response.text)
        assert words in str(response.json()["detail"]), response.text

    sms = [{"channel": "sms", "address": "+13135550199"}]
    refused(
        "POST",
        "/api/contacts",
        {"client": "nope", "name": "X", "identities": sms},
        400,
        "no client 'nope'",
    )
    refused(
        "POST",
        "/api/contacts",
        {"client": "acme", "name": "X", "identities": [{"channel": "sms", "address": DANA}]},
        409,
        f"sms {DANA} is already contact {dana_id}'s address",
    )
    refused(
        "POST",
        "/api/contacts",
        {"client": "acme", "name": "X", "identities": [{"channel": "sms", "address": NEWCOMER}]},
        409,
        "an unknown sender's",
    )
    refused(
        "POST",
        "/api/contacts",
        {"client": "acme", "name": "X", "identities": []},
        400,
        "at least one",
    )
    refused(
        "POST",
        "/api/contacts",
        {"client": "acme", "name": "X", "identities": [{"channel": "fax", "address": "1"}]},
        400,
        "unknown channel 'fax'",
    )
    refused(
        "POST",
        "/api/contacts",
        {"client": "acme", "name": "X", "identities": [{"channel": "sms", "address": "12"}]},
        400,
        "not an E.164",
    )
    # The file's contacts are edited in the file.
    refused("PATCH", f"/api/contacts/{dana_id}", {"name": "Dana R."}, 409, "edit it there")
    refused(
        "POST", f"/api/contacts/{dana_id}/merge", {"into": runtime["id"]}, 409, "configuration file"
    )
    refused("POST", f"/api/contacts/{runtime['id']}/merge", {"into": runtime["id"]}, 400, "itself")
    refused(
        "POST", f"/api/contacts/{runtime['id']}/merge", {"into": 999999}, 404, "no contact 999999"
    )
    refused(
        "PATCH",
        f"/api/contacts/{runtime['id']}",
        {"identities": [{"channel": "sms", "address": DANA}]},
        409,
        "already",
    )
    refused("PATCH", f"/api/contacts/{runtime['id']}", {"client": "nope"}, 400, "no client")
    # A client's conversation is nobody's to triage; a link needs a known client or contact.
    refused(
        "POST",
        f"/api/conversations/{dana_conv['id']}/link",
        {"client": "acme", "name": "D"},
        409,
        "only an unknown sender",
    )
    refused(
        "POST",
        f"/api/conversations/{stranger['id']}/link",
        {"client": "nope", "name": "S"},
        400,
        "no client",
    )
    refused(
        "POST", f"/api/conversations/{stranger['id']}/link", {"client": "acme"}, 400, "needs a name"
    )
    refused(
        "POST",
        f"/api/conversations/{stranger['id']}/link",
        {"client": "acme", "name": "S", "contact": runtime["id"]},
        400,
        "not both",
    )
    refused(
        "POST", f"/api/conversations/{stranger['id']}/link", {"contact": 999999}, 404, "no contact"
    )
    refused(
        "POST",
        "/api/conversations/999999/link",
        {"client": "acme", "name": "S"},
        404,
        "no conversation",
    )
    assert _state(app) == before


def test_a_runtime_contact_is_edited_and_its_addresses_outlive_a_restart(
    app: RunningApp, tg: TelegramStandIn
) -> None:
    created = post(
        app,
        "/api/contacts",
        {
            "client": "brightside",
            "name": "Tom",
            "identities": [{"channel": "sms", "address": NEWCOMER}],
        },
    ).json()
    with app.api() as api:
        response = api.patch(
            f"/api/contacts/{created['id']}",
            json={
                "name": "Tom Baker",
                "identities": [
                    {"channel": "sms", "address": NEWCOMER},
                    {"channel": "telegram", "address": "300000099"},
                ],
            },
        )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Tom Baker"
    # A Telegram stranger linked to Dana, a contact of the file: a runtime identity of hers.
    telegram_in(app, tg, TelegramStandIn.user(300000055, "D", "R"), "Dana on her other phone")
    [triage] = [c for c in conversations(app) if c["client"]["id"] is None]
    dana_id = text_in(app, DANA)["contact"]["id"]
    assert (
        post(app, f"/api/conversations/{triage['id']}/link", {"contact": dana_id}).status_code
        == 200
    )
    # The start-up sync (here: the file without Omar Haddad) deletes none of it.
    config = load_config(EXAMPLE_CONFIG)
    directory = build_directory(config)
    with app.container.services.uow() as uow:
        sync_directory(uow.session, tuple(directory.clients.values()), app.container.clock.now())
        uow.commit()
    tom = contact(app, created["id"]).json()
    assert [(i["channel"], i["address"]) for i in tom["identities"]] == [
        ("sms", NEWCOMER),
        ("telegram", "300000099"),
    ]
    dana = contact(app, dana_id).json()
    assert ("telegram", "300000055", "runtime") in {
        (i["channel"], i["address"], i["source"]) for i in dana["identities"]
    }


def test_a_contact_removed_from_the_file_keeps_its_history(app: RunningApp) -> None:
    conv = text_in(app, DANA, "Before I leave Acme")
    text = EXAMPLE_CONFIG.read_text()
    without_dana = text.replace(
        'name = "Dana Reyes"\nsms = "+13135550142"\ntelegram = 200000042\nslack = "U0DANAREYS"\n',
        'name = "Omar Haddad II"\nsms = "+13135550144"\n',
    )
    assert without_dana != text
    config, problems = check_text(without_dana, "agency.toml")
    assert problems == [] and config is not None
    with app.container.services.uow() as uow:
        sync_directory(
            uow.session,
            tuple(build_directory(config).clients.values()),
            app.container.clock.now(),
        )
        uow.commit()
    detail = conversation(app, conv["id"])
    assert [m["text"] for m in detail["messages"]] == ["Before I leave Acme"]
    assert detail["client"]["id"] == "acme" and detail["contact"]["name"] == "Dana Reyes"
    with app.container.services.uow() as uow:
        left = uow.session.execute(
            select(IdentityRow).where(IdentityRow.address == DANA)
        ).scalar_one_or_none()
    assert left is None  # her number goes back to triage


# --- export ----------------------------------------------------------------------------------


def test_export_prints_runtime_contacts_that_check_accepts_pasted_into_the_file(
    app: RunningApp,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for body in (
        {
            "client": "acme",
            "name": 'Maya "MB" Brooks',
            "identities": [
                {"channel": "sms", "address": NEWCOMER},
                {"channel": "telegram", "address": "300000077"},
                {"channel": "slack", "address": "U0MAYABRKS"},
            ],
        },
        {
            "client": "brightside",
            "name": "Tom Baker",
            "identities": [{"channel": "sms", "address": "+13135550188"}],
        },
    ):
        assert post(app, "/api/contacts", body).status_code == 201
    monkeypatch.setenv("DATABASE_URL", app.container.settings.database_url)
    assert cli_main(["contacts", "export", "--format", "toml"]) == 0
    exported = capsys.readouterr().out
    assert "Dana Reyes" not in exported  # the file's contacts are the file's already
    with app.container.services.reader() as uow:
        assert exported == contacts_toml(uow.contacts.runtime())

    # Paste each client's part below its [[clients]] table, as the comment says.
    acme, brightside = exported.split("\n# Brightside Bakery")
    brightside = "# Brightside Bakery" + brightside
    text = EXAMPLE_CONFIG.read_text()
    text = text.replace(
        '\n[[clients]]\nid = "brightside"', "\n" + acme + '\n[[clients]]\nid = "brightside"'
    )
    text = text.replace(
        '\n[[clients]]\nid = "thames"', "\n" + brightside + '\n[[clients]]\nid = "thames"'
    )
    pasted = tmp_path / "agency.toml"
    pasted.write_text(text)
    assert check_config(pasted) == []
    assert cli_main(["check", "--config", str(pasted)]) == 0
    clients = build_directory(load_config(pasted)).clients
    [maya] = [c for c in clients["acme"].contacts if c.name == 'Maya "MB" Brooks']
    assert {(ch.value, a) for ch, a in maya.addresses} == {
        ("sms", NEWCOMER),
        ("telegram", "300000077"),
        ("slack", "U0MAYABRKS"),
    }
    assert [c.name for c in clients["brightside"].contacts] == ["Lucy Chen", "Tom Baker"]
    # Started with that file, the runtime contact becomes the file's, history and all.
    with app.container.services.uow() as uow:
        sync_directory(uow.session, tuple(clients.values()), app.container.clock.now())
        uow.commit()
    with app.container.services.reader() as uow:
        assert uow.contacts.runtime() == []


# --- roles -------------------------------------------------------------------------------------


def test_any_signed_in_staff_member_may_triage_and_is_named_in_the_timeline(
    app: RunningApp,
) -> None:
    stranger = text_in(app, NEWCOMER, "Hello?")
    add_login(app.container, "ana", "ana")  # not an admin
    with signed_in(app.url, "ana") as ana:
        token = csrf_from(ana.get("/inbox/oncall").text)
        body = {"client": "brightside", "name": "Tom Baker"}
        url = f"/api/conversations/{stranger['id']}/link"
        assert ana.post(url, json=body).status_code == 401  # no CSRF header: 401
        response = ana.post(url, json=body, headers={"X-CSRF-Token": token})
        assert response.status_code == 200, response.text
        page = ana.get(f"/inbox/conversations/{stranger['id']}").text
    assert "Linked to a client by Ana Ortiz" in page
    assert [a["by"] for a in conversation(app, stranger["id"])["activity"]] == ["ana"]


def test_a_reply_goes_on_any_channel_the_contact_can_be_reached_on(
    app: RunningApp, tg: TelegramStandIn, twilio: TwilioStandIn
) -> None:
    maya = post(
        app,
        "/api/contacts",
        {
            "client": "acme",
            "name": "Maya Brooks",
            "identities": [
                {"channel": "sms", "address": NEWCOMER},
                {"channel": "telegram", "address": "300000077"},
            ],
        },
    ).json()
    by_sms = text_in(app, NEWCOMER, "Can you send it on Telegram?")
    assert by_sms["commitment"]["state"] == "pending"
    assert contact(app, maya["id"]).json()["last_channel"] == "sms"
    url = f"/api/conversations/{by_sms['id']}/reply"
    with app.api() as api:
        # No Slack address: refused, nothing sent; a channel that is none: 422.
        refused = api.post(url, json={"text": "On Slack", "channel": "slack"})
        assert refused.status_code == 409 and "no slack address" in refused.json()["detail"]
        assert api.post(url, json={"text": "x", "channel": "fax"}).status_code == 422
        response = api.post(url, json={"text": "Here it is", "channel": "telegram"})
    assert response.status_code == 202, response.text
    sent = response.json()
    assert sent["channel"] == "telegram" and sent["conversation_id"] != by_sms["id"]
    eventually(lambda: [m["text"] for m in tg.sent_to(300000077)] == ["Here it is"])
    # Their Telegram conversation holds the reply; the SMS one counts as answered.
    on_tg = conversation(app, sent["conversation_id"])
    assert on_tg["contact"]["id"] == maya["id"] and on_tg["client"]["id"] == "acme"
    assert [m["text"] for m in on_tg["messages"]] == ["Here it is"]
    assert conversation(app, by_sms["id"])["commitment"]["state"] == "met"
    # Her answer on Telegram joins that conversation; the default channel is the one asked.
    telegram_in(app, tg, MAYA_TG, "Got it, thanks")
    assert [m["text"] for m in conversation(app, on_tg["id"])["messages"]] == [
        "Here it is",
        "Got it, thanks",
    ]
    assert contact(app, maya["id"]).json()["last_channel"] == "telegram"
    with app.api() as api:
        plain = api.post(url, json={"text": "And by SMS"})
    assert plain.status_code == 202 and plain.json()["conversation_id"] == by_sms["id"]
    eventually(lambda: [m["body"] for m in twilio.sent_to(NEWCOMER)] == ["And by SMS"])
