"""Hostile input on the webhooks, and what it may cost: the app on loopback with Telegram, Twilio
and Slack on, against the local stand-ins.

- Slack: an unsigned or badly signed request is 401 whatever its body, stores nothing and writes
  at most one log line; a signed body Bolt could not read is 400, never 500, and so is an
  event whose `user` is no Slack user id (it makes no contact).
- Telegram and Twilio: signed but malformed is 400.
- Bodies past their route's limit are 413, declared (Content-Length) or streamed (chunked).
- No configured secret (tokens, signing secrets, the secret key, a staff password) reaches any
  log, in process at INFO and in the stderr of real `partnerline` processes.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from adapters.standins.slack import SlackStandIn
from adapters.standins.telegram import TelegramStandIn
from adapters.standins.twilio import TwilioStandIn
from bot.http.body_limits import MB
from routing.clock import OffsetClock
from storage.tables import (
    ContactRow,
    ConversationRow,
    IdentityRow,
    InboundDeliveryRow,
    MessageRow,
)
from tests.browser.inbox_support import add_login, signed_in
from tests.e2e.conftest import MONDAY_MORNING
from tests.e2e.test_sms_flow import eventually
from tests.support.app import ADMIN_TOKEN, AUTH_TOKEN, ROOT, RunningApp, free_port, running_app
from tests.support.processes import partnerline_env, partnerline_process
from tests.support.twilio_signing import signed_form_post_headers

# Distinctive values, so that finding one in a log means it leaked.
TG_TOKEN = "987654321:HOSTILE-tg-token-Qx7Zp"
TG_SECRET = "hostile-tg-webhook-secret-Kp3"
SLACK_TOKEN = "xoxb-hostile-slack-token-Vb8"
SLACK_SECRET = "hostile-slack-signing-secret-Wm2"
SECRET_KEY = "hostile-secret-key-Jr5"
STAFF_PASSWORD = "hostile-Staff-pass-9Lq"
SECRETS = (TG_TOKEN, TG_SECRET, SLACK_TOKEN, SLACK_SECRET, SECRET_KEY, STAFF_PASSWORD)
ALL_SECRETS = (*SECRETS, AUTH_TOKEN, ADMIN_TOKEN)

SLACK = "/webhooks/slack"
TELEGRAM = "/webhooks/telegram"
SMS = "/webhooks/twilio/sms"
DANA_SMS = "+13135550142"
DANA_SLACK = "U0DANAREYS"
DANA_TG = TelegramStandIn.user(200000042, "Dana", "Reyes")
DEEP = 5000  # past Python's recursion limit: json.loads raises RecursionError


@pytest.fixture(scope="module")
def telegram_server() -> Iterator[TelegramStandIn]:
    with TelegramStandIn(TG_TOKEN) as standin:
        yield standin


@pytest.fixture(scope="module")
def slack_server() -> Iterator[SlackStandIn]:
    with SlackStandIn(SLACK_TOKEN, SLACK_SECRET) as standin:
        yield standin


@pytest.fixture
def app(
    db_url: str, twilio: TwilioStandIn, tg: TelegramStandIn, slack: SlackStandIn
) -> Iterator[RunningApp]:
    with running_app(
        db_url,
        twilio.url,
        clock=OffsetClock(MONDAY_MORNING),
        PARTNERLINE_SECRET_KEY=SECRET_KEY,
        TELEGRAM_BOT_TOKEN=TG_TOKEN,
        TELEGRAM_WEBHOOK_SECRET=TG_SECRET,
        TELEGRAM_API_URL=tg.api_url,
        SLACK_BOT_TOKEN=SLACK_TOKEN,
        SLACK_SIGNING_SECRET=SLACK_SECRET,
        SLACK_API_URL=slack.api_url,
    ) as running:
        yield running


def stored(app: RunningApp) -> tuple[int, int]:
    with app.container.db.session() as session:
        deliveries = session.scalar(select(func.count()).select_from(InboundDeliveryRow))
        messages = session.scalar(select(func.count()).select_from(MessageRow))
    return int(deliveries or 0), int(messages or 0)


def nested(depth: int) -> bytes:
    return ('{"type":"event_callback","event":' + "[" * depth + "]" * depth + "}").encode()


# The bodies of the security probe (issue 11), each with its content type.
HOSTILE: dict[str, tuple[bytes, str]] = {
    "not json": (b"{not json", "application/json"),
    "bad payload": (b"payload=%7Bbad", "application/x-www-form-urlencoded"),
    "invalid utf-8": (b'{"type":"\xff\xfe\xfa"}', "application/json"),
    "deep nesting": (nested(DEEP), "application/json"),
}


def post(app: RunningApp, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(app.url + path, content=body, headers=headers, timeout=10)


NOT_THE_REQUEST = {"uvicorn.access", "bot.jobs.worker"}


@contextlib.contextmanager
def log_lines(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    caplog.set_level(logging.INFO)
    before = len(caplog.records)
    lines: list[logging.LogRecord] = []
    yield lines
    time.sleep(0.05)  # a line written as the answer leaves
    # The test server's access log (`partnerline web` has none) and the worker's own lines
    # (it starts beside the app) are not the request's.
    lines.extend(r for r in caplog.records[before:] if r.name not in NOT_THE_REQUEST)


def test_unsigned_or_badly_signed_slack_requests_are_401_whatever_the_body(
    app: RunningApp, slack: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    stamp = str(int(time.time()))
    for name, (body, content_type) in HOSTILE.items():
        unsigned = {"Content-Type": content_type}
        forged = {
            **unsigned,
            # signed with another secret, or with the right one over a timestamp that is no number
            **slack.signed_headers(b"{}", secret="not-the-signing-secret"),
        }
        stale = {**unsigned, "X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=00"}
        wrong_body = {**unsigned, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=1"}
        for label, headers in (
            ("unsigned", unsigned),
            ("forged", forged),
            ("timestamp abc", stale),
            ("bad signature", wrong_body),
        ):
            with log_lines(caplog) as lines:
                response = post(app, SLACK, body, headers)
            assert response.status_code == 401, (name, label, response.text)
            assert len(lines) <= 1, (name, label, [r.getMessage() for r in lines])
    assert stored(app) == (0, 0)


def test_signed_but_malformed_slack_requests_are_400_with_one_log_line(
    app: RunningApp, slack: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    bodies = {
        "not json": (b"{not json", "application/json"),
        "bad payload": (b"payload=%7Bbad", "application/x-www-form-urlencoded"),
        "deep nesting": (nested(DEEP), "application/json"),
        "nested past the limit": (nested(100), "application/json"),
        "a list": (b"[1, 2]", "application/json"),
        "payload a list": (b"payload=%5B1%5D", "application/x-www-form-urlencoded"),
    }
    for name, (body, content_type) in bodies.items():
        headers = {"Content-Type": content_type, **slack.signed_headers(body)}
        with log_lines(caplog) as lines:
            response = post(app, SLACK, body, headers)
        assert response.status_code == 400, (name, response.text)
        assert len(lines) == 1, (name, [r.getMessage() for r in lines])
    assert stored(app) == (0, 0)
    # and a well-formed signed event still goes through
    event = slack.dm_event(DANA_SLACK, "still here")
    assert slack.deliver_event(app.url + SLACK, event).status_code == 200


def people(app: RunningApp) -> tuple[int, ...]:
    """Contacts, channel addresses and conversations."""
    with app.container.db.session() as session:
        return tuple(
            int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in (ContactRow, IdentityRow, ConversationRow)
        )


NOT_A_USER_ID: tuple[Any, ...] = ({"x": 1}, 42, ["U0DANAREYS"], True, 1.5, "")


def test_a_signed_slack_event_whose_user_is_no_id_is_400_and_makes_no_contact(
    app: RunningApp, slack: SlackStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    """Never a contact with the address "{'x': 1}": the author of a new message, of an edit
    (`message.user`) or of a deletion (`previous_message.user`) must be a Slack user id."""
    before = people(app)
    original = slack.dm_event(DANA_SLACK, "hello")  # never delivered: the edit would be filed
    events: list[tuple[str, dict[str, Any]]] = []
    for user in NOT_A_USER_ID:
        events.append((f"message {user!r}", {**original, "user": user}))
        edit = slack.edit_event(original, "hello again")
        edit["message"]["user"] = user
        events.append((f"edit {user!r}", edit))
        delete = slack.delete_event(original)
        delete["previous_message"]["user"] = user
        events.append((f"deletion {user!r}", delete))
        if isinstance(user, int | float):
            # An event we do not use, but Bolt reads its `user` first (a number was a 500).
            mention = {"type": "app_mention", "user": user, "channel": original["channel"]}
            events.append((f"app_mention {user!r}", mention))
    for name, event in events:
        with log_lines(caplog) as lines:
            response = slack.deliver_event(app.url + SLACK, event)
        assert response.status_code == 400, (name, response.text)
        assert len(lines) == 1, (name, [r.getMessage() for r in lines])
    assert stored(app) == (0, 0)
    assert people(app) == before
    # and the same message with a real user id is filed
    assert slack.deliver_event(app.url + SLACK, original).status_code == 200
    app.wait_routed()
    assert stored(app) == (1, 1)


def test_signed_but_malformed_telegram_updates_are_400(
    app: RunningApp, tg: TelegramStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    bodies = {
        "not json": b"{not json",
        "invalid utf-8": b'{"update_id": 1, "x": "\xff\xfe"}',
        "deep nesting": b'{"update_id": 1, "message": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        "a list": b"[1, 2]",
        "no update_id": b'{"message": {}}',
    }
    for name, body in bodies.items():
        unsigned = {"Content-Type": "application/json"}
        assert post(app, TELEGRAM, body, unsigned).status_code == 403, name
        signed = {**unsigned, "X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
        with log_lines(caplog) as lines:
            response = post(app, TELEGRAM, body, signed)
        assert response.status_code == 400, (name, response.text)
        assert len(lines) == 1, (name, [r.getMessage() for r in lines])
    assert stored(app) == (0, 0)


def test_signed_but_malformed_twilio_webhooks_are_400(
    app: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    forms: dict[str, dict[str, str]] = {
        "no From": {"MessageSid": "SM" + "1" * 32, "Body": "hi"},
        "From no number": app.sms_form("SM" + "2" * 32, "not a number", "hi"),
        "no MessageSid": {"From": DANA_SMS, "Body": "hi"},
    }
    for name, params in forms.items():
        headers, body = signed_form_post_headers(AUTH_TOKEN, app.public_url + SMS, params)
        with log_lines(caplog) as lines:
            response = post(app, SMS, body, headers)
        assert response.status_code == 400, (name, response.text)
        assert len(lines) == 1, (name, [r.getMessage() for r in lines])
    # a body that is no form cannot be signed: refused as forged
    bad = post(app, SMS, b"\xff\xfe=\xfa", {"X-Twilio-Signature": "x"})
    assert bad.status_code == 403
    assert stored(app) == (0, 0)


def chunks(size: int, piece: int = 64 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < size:
        yield b"a" * min(piece, size - sent)
        sent += piece


def test_bodies_past_the_route_limit_are_413_declared_or_streamed(app: RunningApp) -> None:
    big = 2 * MB
    with app.api() as api:
        declared = api.post("/api/conversations/1/notes", content=b"x" * big)
        assert declared.status_code == 413, declared.text
        # chunked: no Content-Length, counted as it arrives
        streamed = api.post("/api/conversations/1/notes", content=chunks(big))
        assert streamed.status_code == 413, streamed.text
    for path in (SMS, TELEGRAM, SLACK):
        assert httpx.post(app.url + path, content=b"x" * big, timeout=10).status_code == 413
        chunked = httpx.post(app.url + path, content=chunks(big), timeout=10)
        assert chunked.status_code == 413, path
    # a form route (FastAPI reads it itself): still 413, not its own 400
    login = httpx.post(
        app.url + "/login",
        content=chunks(MB),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert login.status_code == 413
    # under the limit, the routes answer as before
    assert httpx.post(app.url + SMS, content=b"x" * 1000, timeout=10).status_code == 403
    assert stored(app) == (0, 0)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_flood_of_large_unsigned_webhooks_leaves_memory_flat(
    db_url: str, twilio: TwilioStandIn, tmp_path: Path
) -> None:
    """Twenty slightly different 2 MB unsigned POSTs to a real `partnerline web`: every one
    refused, and the process holds no more memory after than before (it held 64 x 2 x the body
    size, never released, before the body limit and with the form cache)."""
    port = free_port()
    env = partnerline_env(db_url, twilio.url, f"http://localhost:{port}")
    web = partnerline_process("web", env, tmp_path, port=port).start()
    try:
        web.wait_ready()
        assert web.proc is not None
        with httpx.Client(timeout=10) as client:
            client.get(web.url + "/readyz")
            before = rss_kb(web.proc.pid)
            answers = []
            for i in range(20):
                body = f"Body={i}&".encode() + b"x" * (2 * MB)
                headers = {"Content-Type": "application/x-www-form-urlencoded"}
                headers["X-Twilio-Signature"] = "forged"
                streamed = i % 2 == 1  # half declared, half chunked
                content: Any = chunks(len(body)) if streamed else body
                answers.append(client.post(web.url + SMS, content=content, headers=headers))
            api = client.post(
                web.url + "/api/conversations/1/notes",
                content=b"x" * (2 * MB),
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
        after = rss_kb(web.proc.pid)
        assert {a.status_code for a in answers} <= {403, 413}, [a.status_code for a in answers]
        assert api.status_code == 413
        assert after - before < 30 * 1024, f"RSS {before} kB -> {after} kB"
        web.check_alive()
    finally:
        web.stop()


# ---------------------------------------------------------------------- no secret in any log


def test_no_secret_reaches_the_log_of_the_app(
    app: RunningApp,
    tg: TelegramStandIn,
    slack: SlackStandIn,
    twilio: TwilioStandIn,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The real flows with every channel on, INFO captured for every logger: a Telegram message
    (the bot answers through the Bot API), a Slack DM, an SMS, a staff sign-in and reply."""
    caplog.set_level(logging.INFO)
    tg.deliver(
        tg.message_update(DANA_TG, "hello from telegram"), url=app.url + TELEGRAM, secret=TG_SECRET
    )
    event = slack.dm_event(DANA_SLACK, "hello from slack")
    assert slack.deliver_event(app.url + SLACK, event).status_code == 200
    app.post_sms(app.sms_form("SM" + "9" * 32, DANA_SMS, "hello from sms"))
    app.wait_routed()
    add_login(app.container, "ana", "ana", password=STAFF_PASSWORD)
    with signed_in(app.url, "ana", STAFF_PASSWORD) as inbox:
        assert inbox.get("/inbox").status_code == 200
    with app.api() as api:
        rows = api.get("/api/conversations").json()["items"]
        telegram_rows = [r for r in rows if r["channel"] == "telegram"]
        assert telegram_rows, rows
        reply = api.post(
            f"/api/conversations/{telegram_rows[0]['id']}/reply", json={"text": "on it"}
        )
        assert reply.status_code in (200, 201, 202), reply.text
    eventually(lambda: any("on it" in str(m) for m in tg.sent_to(DANA_TG["id"])))
    assert tg.calls("sendMessage"), "the bot sent nothing: the grep would prove nothing"
    # uvicorn.access: the stand-ins' own access log (Telegram's side of the wire, where the
    # token is the path); `partnerline web` and `serve` run with no access log.
    text = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if r.name != "uvicorn.access"
    )
    assert "httpx" not in {r.name for r in caplog.records if r.levelno < logging.WARNING}
    for secret in ALL_SECRETS:
        assert secret not in text, f"{secret!r} is in the log"


def test_bot_api_urls_are_redacted_even_when_httpx_logs_them(
    app: RunningApp, tg: TelegramStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    """Someone turns httpx up to INFO to debug: the URL is logged, the token is not."""
    httpx_log = logging.getLogger("httpx")
    level = httpx_log.level
    httpx_log.setLevel(logging.INFO)
    caplog.set_level(logging.INFO)
    try:
        tg.deliver(tg.message_update(DANA_TG, "hello"), url=app.url + TELEGRAM, secret=TG_SECRET)
        app.wait_routed()
        with app.api() as api:
            rows = api.get("/api/conversations").json()["items"]
            reply = api.post(f"/api/conversations/{rows[0]['id']}/reply", json={"text": "hi"})
            assert reply.status_code == 202, reply.text
        # httpx's own line of the send (the stand-in's access log has it a moment earlier).
        eventually(
            lambda: any(
                r.name == "httpx" and "sendMessage" in r.getMessage() for r in caplog.records
            ),
            timeout=10,
        )
    finally:
        httpx_log.setLevel(level)
    lines = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert any("/bot<redacted>/" in line for line in lines), lines
    assert not any(TG_TOKEN in line for line in lines), lines


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_no_secret_reaches_the_log_of_partnerline_processes(
    db_url: str,
    twilio: TwilioStandIn,
    tg: TelegramStandIn,
    slack: SlackStandIn,
    tmp_path: Path,
) -> None:
    """`partnerline telegram set-webhook` and `info`, then `partnerline serve` with every channel
    on taking a Telegram message and answering it: their stderr holds no secret."""
    port = free_port()
    env = partnerline_env(
        db_url,
        twilio.url,
        f"http://localhost:{port}",
        PARTNERLINE_SECRET_KEY=SECRET_KEY,
        TELEGRAM_BOT_TOKEN=TG_TOKEN,
        TELEGRAM_WEBHOOK_SECRET=TG_SECRET,
        TELEGRAM_API_URL=tg.api_url,
        SLACK_BOT_TOKEN=SLACK_TOKEN,
        SLACK_SIGNING_SECRET=SLACK_SECRET,
        SLACK_API_URL=slack.api_url,
    )
    logs = []
    for args in (["telegram", "set-webhook"], ["telegram", "info"]):
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        logs.append(done.stdout + done.stderr)
    assert tg.webhook.get("url"), "set-webhook registered nothing"
    serve = partnerline_process("serve", env, tmp_path, port=port).start()
    try:
        serve.wait_ready()
        response = tg.deliver(
            tg.message_update(DANA_TG, "after hours?"), url=serve.url + TELEGRAM, secret=TG_SECRET
        )
        assert response.status_code == 200, response.text
        with httpx.Client(
            base_url=serve.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10
        ) as api:
            eventually(lambda: bool(api.get("/api/conversations").json()["items"]))
            conversation = api.get("/api/conversations").json()["items"][0]
            reply = api.post(
                f"/api/conversations/{conversation['id']}/reply", json={"text": "on it"}
            )
            assert reply.status_code in (200, 201, 202), reply.text
        eventually(lambda: any("on it" in str(m) for m in tg.sent_to(DANA_TG["id"])))
    finally:
        serve.stop()
    logs.append(serve.log.read_text(errors="replace"))
    assert "Application started" in logs[-1] or "started" in logs[-1], logs[-1][-2000:]
    for log in logs:
        for secret in ALL_SECRETS:
            assert secret not in log, f"{secret!r} is in a partnerline log:\n{log[-3000:]}"
