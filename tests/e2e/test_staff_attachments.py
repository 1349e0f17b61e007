"""Staff attachments over SMS, end to end on the real app: a file uploaded in the inbox is
stored under PARTNERLINE_ATTACHMENTS_DIR, goes out through the outbox as an MMS by the real
twilio SDK to the stand-in, and the media URL Twilio is given serves the file, signed and
expiring; bad uploads are answered plainly and send and keep nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from adapters.standins.slack import SlackStandIn
from adapters.standins.telegram import TelegramStandIn
from adapters.standins.twilio import TwilioStandIn
from bot.http.web.attachments import MEDIA_URL_LIFETIME, media_url
from routing.clock import OffsetClock
from tests.browser.inbox_support import add_login, csrf_from, inbox_app, signed_in
from tests.e2e.conftest import SLACK_SECRET, SLACK_TOKEN, TELEGRAM_SECRET, TELEGRAM_TOKEN
from tests.e2e.test_slack_flow import DANA as DANA_SLACK
from tests.e2e.test_sms_flow import eventually
from tests.e2e.test_telegram_flow import DANA as DANA_TG
from tests.e2e.test_telegram_flow import deliver
from tests.support.app import LOOPBACK_TLS, RunningApp, running_app

MONDAY_MORNING = datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("America/Detroit"))
DANA = "+13135550142"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


@pytest.fixture
def files(tmp_path: Path) -> Path:
    return tmp_path / "attachments"


@pytest.fixture
def web(db_url: str, twilio: TwilioStandIn, files: Path) -> Iterator[RunningApp]:
    with inbox_app(
        db_url,
        twilio.url,
        clock=OffsetClock(MONDAY_MORNING),
        PARTNERLINE_ATTACHMENTS_DIR=str(files),
    ) as running:
        add_login(running.container, "ana", "ana")
        yield running


def dana_conversation(web: RunningApp, sign_url: str | None = None) -> int:
    form = web.sms_form("SM" + "3" * 32, DANA, "Send the chart?")
    assert web.post_sms(form, sign_url=sign_url).status_code == 200
    with web.api() as api:
        found = eventually(lambda: api.get("/api/conversations").json()["items"])
    return int(found[0]["id"])


def media_requests(twilio: TwilioStandIn) -> list[str]:
    return [
        url
        for r in twilio.requests.all()
        if r.method == "POST" and r.path.endswith("/Messages.json")
        for url in r.fields("MediaUrl")
    ]


def upload(
    client: httpx.Client,
    conv: int,
    content: bytes,
    *,
    name: str = "chart.png",
    kind: str = "image/png",
    text: str = "",
    csrf: str | None = None,
) -> httpx.Response:
    token = csrf if csrf is not None else csrf_from(client.get(f"/inbox/conversations/{conv}").text)
    return client.post(
        f"/inbox/upload/{conv}",
        data={"csrf_token": token, "text": text},
        files={"attachment": (name, content, kind)},
    )


def test_a_file_goes_out_as_mms_and_its_signed_url_serves_it(
    web: RunningApp, twilio: TwilioStandIn, files: Path
) -> None:
    conv = dana_conversation(web)
    with signed_in(web.url, "ana") as ana:
        sent = upload(ana, conv, PNG, text="Here is the chart")
        assert sent.status_code == 303, sent.text
        messages = eventually(lambda: (m := twilio.sent_to(DANA)) and len(m) == 2 and m)
        # The text as its own SMS, then the file as an MMS, in that order.
        assert messages[0]["body"] == "Here is the chart" and messages[0]["num_media"] == "0"
        assert messages[1]["num_media"] == "1"
        [url] = media_requests(twilio)
        [stored] = list(files.iterdir())
        assert stored.read_bytes() == PNG and stored.suffix == ".png"
        assert url.startswith(web.public_url + f"/media/{stored.name}?")

        # What Twilio fetches: no session, the signature is the credential.
        local = url.replace(web.public_url, web.url)
        with httpx.Client(verify=LOOPBACK_TLS) as provider:
            got = provider.get(local)
            assert got.status_code == 200 and got.content == PNG
            assert got.headers["content-type"] == "image/png"
            query = parse_qs(urlsplit(local).query)
            path = local.split("?")[0]
            later = int(query["expires"][0]) + 1
            for bad in (
                f"{path}?expires={query['expires'][0]}&sig={'0' * 64}",  # forged
                f"{path}?expires={later}&sig={query['sig'][0]}",  # stretched
                path,  # unsigned
                f"{path}?expires=abc&sig={query['sig'][0]}",
            ):
                assert provider.get(bad).status_code == 403, bad
            expired = media_url(
                web.container.settings, stored.name, now=time.time() - MEDIA_URL_LIFETIME - 5
            )
            assert expired is not None
            assert provider.get(expired.replace(web.public_url, web.url)).status_code == 403
            other = media_url(web.container.settings, "0" * 32 + ".png")
            assert other is not None
            assert provider.get(other.replace(web.public_url, web.url)).status_code == 404
            # Staff read it through their session; nobody else does.
            anonymous = provider.get(
                web.url + f"/inbox/files/{stored.name}", follow_redirects=False
            )
            assert anonymous.status_code == 303
        assert ana.get(f"/inbox/files/{stored.name}").content == PNG
        assert ana.get("/inbox/files/..%2Fpartnerline.db").status_code == 404

        # The timeline shows the image, and the message is recorded sent once both parts are.
        page = ana.get(f"/inbox/conversations/{conv}").text
        assert f'<img src="/inbox/files/{stored.name}" alt="chart.png"' in page
        with web.api() as api:

            def reply() -> dict[str, object] | None:
                items = api.get(f"/api/conversations/{conv}").json()["messages"]
                out = [m for m in items if m["direction"] == "out"]
                return out[0] if out and out[0]["delivery"] == "sent" else None

            message = eventually(reply)
        assert message["text"] == "Here is the chart"


def test_bad_uploads_are_refused_and_leave_nothing(
    web: RunningApp, twilio: TwilioStandIn, files: Path
) -> None:
    conv = dana_conversation(web)
    eventually(lambda: twilio.sent_to(DANA) or True)
    with signed_in(web.url, "ana") as ana:
        csrf = csrf_from(ana.get(f"/inbox/conversations/{conv}").text)
        cases = [
            (PNG + b"x" * (5 * 2**20), "chart.png", "image/png", 422, "at most 5 MB"),
            (b"#!/bin/sh\nrm -rf /\n", "chart.png", "image/png", 422, "Only JPEG, PNG, GIF or PDF"),
            (b"<html><script>", "page.html", "text/html", 422, "Only JPEG, PNG, GIF or PDF"),
        ]
        for content, name, kind, status, message in cases:
            answer = upload(ana, conv, content, name=name, kind=kind, csrf=csrf)
            assert answer.status_code == status, (name, answer.status_code)
            assert message in answer.text
        huge = upload(ana, conv, PNG + b"x" * (6 * 2**20), csrf=csrf)
        assert huge.status_code == 413  # past the route's body limit: never read
        missing = ana.post(f"/inbox/upload/{conv}", data={"csrf_token": csrf, "text": "hi"})
        assert missing.status_code == 422 and "Choose a file" in missing.text
        unknown = upload(ana, 999_999, PNG, csrf=csrf)
        assert unknown.status_code == 404
        forged = upload(ana, conv, PNG, csrf="not-the-token")
        assert forged.status_code == 403
    time.sleep(0.3)  # the worker had its chance to send anything queued
    assert [m for m in twilio.sent_to(DANA) if m["num_media"] != "0"] == []
    assert not files.exists() or list(files.iterdir()) == []


def test_without_public_url_sms_files_are_refused(
    db_url: str, twilio: TwilioStandIn, files: Path
) -> None:
    with inbox_app(
        db_url,
        twilio.url,
        clock=OffsetClock(MONDAY_MORNING),
        PARTNERLINE_ATTACHMENTS_DIR=str(files),
        PUBLIC_URL=None,
    ) as web:
        add_login(web.container, "ana", "ana")
        # No PUBLIC_URL: Twilio's signature is checked over the URL the request came to.
        conv = dana_conversation(web, sign_url=web.url + "/webhooks/twilio/sms")
        with signed_in(web.url, "ana") as ana:
            answer = upload(ana, conv, PNG)
        assert answer.status_code == 422 and "needs PUBLIC_URL" in answer.text
    assert not files.exists() or list(files.iterdir()) == []


def only_conversation(web: RunningApp) -> int:
    with web.api() as api:
        found = eventually(lambda: api.get("/api/conversations").json()["items"])
    return int(found[0]["id"])


def test_a_file_goes_to_telegram_as_a_document(
    db_url: str, twilio: TwilioStandIn, tg: TelegramStandIn, files: Path
) -> None:
    clock = OffsetClock(MONDAY_MORNING)
    with running_app(
        db_url,
        twilio.url,
        clock=clock,
        TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN,
        TELEGRAM_WEBHOOK_SECRET=TELEGRAM_SECRET,
        TELEGRAM_API_URL=tg.api_url,
        PARTNERLINE_ATTACHMENTS_DIR=str(files),
    ) as web:
        add_login(web.container, "ana", "ana")
        assert deliver(tg, web, tg.message_update(DANA_TG, "The contract, please")) == 200
        conv = only_conversation(web)
        pdf = b"%PDF-1.4\n" + b"contract " * 1000
        with signed_in(web.url, "ana") as ana:
            sent = upload(
                ana, conv, pdf, name="contract.pdf", kind="application/pdf", text="Signed"
            )
        assert sent.status_code == 303, sent.text
        chat = DANA_TG["id"]
        docs = eventually(lambda: [m for m in tg.sent_to(chat) if "document" in m])
        [doc] = docs
        assert doc["document"]["file_name"] == "contract.pdf"
        assert tg.document_bytes(doc["document"]["file_id"]) == pdf
        assert [m["text"] for m in tg.sent_to(chat) if "text" in m][-1] == "Signed"


def test_a_file_goes_to_slack_with_files_upload_v2(
    db_url: str, twilio: TwilioStandIn, slack: SlackStandIn, files: Path
) -> None:
    clock = OffsetClock(MONDAY_MORNING)
    with running_app(
        db_url,
        twilio.url,
        clock=clock,
        SLACK_BOT_TOKEN=SLACK_TOKEN,
        SLACK_SIGNING_SECRET=SLACK_SECRET,
        SLACK_API_URL=slack.api_url,
        PARTNERLINE_ATTACHMENTS_DIR=str(files),
    ) as web:
        add_login(web.container, "ana", "ana")
        event = slack.dm_event(DANA_SLACK, "Screenshot of the error?")
        assert slack.deliver_event(web.url + "/webhooks/slack", event).status_code == 200
        conv = only_conversation(web)
        with signed_in(web.url, "ana") as ana:
            assert upload(ana, conv, PNG, name="error.png").status_code == 303
        dm = SlackStandIn.dm_channel(DANA_SLACK)
        shared = eventually(lambda: [m for m in slack.messages(dm) if m.get("files")])
        [message] = shared
        [file] = message["files"]
        assert file["name"] == "error.png" and slack.file_bytes(file["id"]) == PNG
        assert [c.method for c in slack.calls() if c.method.startswith("files.")] == [
            "files.getUploadURLExternal",
            "files.completeUploadExternal",
        ]
        with web.api() as api:

            def delivered() -> bool:
                messages = api.get(f"/api/conversations/{conv}").json()["messages"]
                return any(m["direction"] == "out" and m["delivery"] == "sent" for m in messages)

            eventually(delivered)


def test_a_clients_mms_image_shows_through_the_staff_only_proxy(
    web: RunningApp, twilio: TwilioStandIn
) -> None:
    media = twilio.add_media(PNG, "image/png")
    elsewhere = web.url + "/static/inbox.css"  # not Twilio's: never fetched with our credentials
    form = web.sms_form(
        "SM" + "4" * 32,
        DANA,
        "Look at this",
        NumMedia="2",
        MediaUrl0=media,
        MediaContentType0="image/png",
        MediaUrl1=elsewhere,
        MediaContentType1="image/png",
    )
    assert web.post_sms(form).status_code == 200
    conv = only_conversation(web)
    with web.api() as api:
        [message] = api.get(f"/api/conversations/{conv}").json()["messages"][:1]
    proxied = f"/inbox/media/{message['id']}/0"
    with signed_in(web.url, "ana") as ana:
        page = ana.get(f"/inbox/conversations/{conv}").text
        assert f'<img src="{proxied}"' in page
        got = ana.get(proxied)
        assert got.status_code == 200 and got.content == PNG
        assert got.headers["content-type"] == "image/png"
        assert "sandbox" in got.headers["content-security-policy"]
        before = len(twilio.requests.all())
        assert ana.get(f"/inbox/media/{message['id']}/1").status_code == 404
        assert ana.get(f"/inbox/media/{message['id']}/2").status_code == 404
        assert len(twilio.requests.all()) == before
    with httpx.Client(verify=LOOPBACK_TLS) as anonymous:
        refused = anonymous.get(web.url + proxied, follow_redirects=False)
        assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    # The stand-in, like Twilio, refuses the media to anyone without the account's credentials.
    assert httpx.get(media).status_code == 401


def test_a_clients_telegram_photo_shows_through_getfile(
    db_url: str, twilio: TwilioStandIn, tg: TelegramStandIn
) -> None:
    with running_app(
        db_url,
        twilio.url,
        clock=OffsetClock(MONDAY_MORNING),
        TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN,
        TELEGRAM_WEBHOOK_SECRET=TELEGRAM_SECRET,
        TELEGRAM_API_URL=tg.api_url,
    ) as web:
        add_login(web.container, "ana", "ana")
        file_id = tg.add_file(PNG)
        photo = [{"file_id": file_id, "file_unique_id": "p1", "width": 8, "height": 8}]
        assert deliver(tg, web, tg.message_update(DANA_TG, caption="Logo", photo=photo)) == 200
        conv = only_conversation(web)
        with web.api() as api:
            [message] = api.get(f"/api/conversations/{conv}").json()["messages"][:1]
        proxied = f"/inbox/media/{message['id']}/0"
        with signed_in(web.url, "ana") as ana:
            assert f'<img src="{proxied}"' in ana.get(f"/inbox/conversations/{conv}").text
            got = ana.get(proxied)
            assert got.status_code == 200 and got.content == PNG
            assert got.headers["content-type"] == "image/jpeg"  # Telegram photos are JPEG
        assert [c.path.rsplit("/", 1)[-1] for c in tg.requests.all()][-2:] == [
            "getFile",
            file_id,
        ]


def test_a_clients_slack_file_shows_through_url_private_with_the_token(
    db_url: str, twilio: TwilioStandIn, slack: SlackStandIn
) -> None:
    with running_app(
        db_url,
        twilio.url,
        clock=OffsetClock(MONDAY_MORNING),
        SLACK_BOT_TOKEN=SLACK_TOKEN,
        SLACK_SIGNING_SECRET=SLACK_SECRET,
        SLACK_API_URL=slack.api_url,
    ) as web:
        add_login(web.container, "ana", "ana")
        shared = slack.add_file(PNG, "screen.png", "image/png")
        outside = {
            **slack.add_file(PNG, "x.png", "image/png"),
            "url_private": "http://example.invalid/x.png",
        }
        event = slack.dm_event(DANA_SLACK, "See attached", files=[shared, outside])
        assert slack.deliver_event(web.url + "/webhooks/slack", event).status_code == 200
        conv = only_conversation(web)
        with web.api() as api:
            [message] = api.get(f"/api/conversations/{conv}").json()["messages"][:1]
        with signed_in(web.url, "ana") as ana:
            got = ana.get(f"/inbox/media/{message['id']}/0")
            assert got.status_code == 200 and got.content == PNG
            # Another host is never sent the token.
            assert ana.get(f"/inbox/media/{message['id']}/1").status_code == 404
        [fetch] = [r for r in slack.requests.all() if "/files-pri/" in r.path]
        assert fetch.headers["authorization"] == f"Bearer {SLACK_TOKEN}"
        # Without the token the stand-in, like Slack, answers with a sign-in page.
        assert "sign in" in httpx.get(shared["url_private"]).text
