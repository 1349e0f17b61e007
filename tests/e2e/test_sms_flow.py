"""SMS end to end: a client texts, the message lands, staff reply over the API, Twilio sends.

Everything real: the app on loopback with its worker, SQLite and PostgreSQL, the `twilio`
client against the stand-in, webhooks signed as Twilio signs them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from adapters.standins.twilio import TwilioStandIn
from tests.support.app import AGENCY_NUMBER, AUTH_TOKEN, RunningApp
from tests.support.twilio_openapi import validate_captured
from tests.support.twilio_signing import signed_form_post_headers

DANA = "+13135550142"


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        else:
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
        time.sleep(0.05)


def conversations(app: RunningApp, **params: str) -> list[dict[str, Any]]:
    with app.api() as api:
        response = api.get("/api/conversations", params=params)
        assert response.status_code == 200, response.text
        return response.json()["items"]  # type: ignore[no-any-return]


def conversation(app: RunningApp, conv_id: int) -> dict[str, Any]:
    with app.api() as api:
        response = api.get(f"/api/conversations/{conv_id}")
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


def test_client_text_lands_and_staff_reply_goes_out_through_twilio(
    app: RunningApp, twilio: TwilioStandIn
) -> None:
    response = app.post_sms(app.sms_form("SM" + "a" * 32, DANA, "Can we move the launch?"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert "<Response" in response.text

    [conv] = conversations(app)
    assert conv["client"] == {"id": "acme", "name": "Acme Robotics"}
    assert conv["contact"]["name"] == "Dana Reyes" and conv["contact"]["address"] == DANA
    assert conv["channel"] == "sms" and conv["status"] == "open"

    with app.api() as api:
        reply = api.post(f"/api/conversations/{conv['id']}/reply", json={"text": "Yes, Tuesday."})
    assert reply.status_code == 202, reply.text
    assert reply.json()["direction"] == "out" and reply.json()["delivery"] == "queued"

    [sent] = twilio.wait_for(1)
    validate_captured(sent)  # what the real client sent matches Twilio's own OpenAPI
    assert sent.field("To") == DANA and sent.field("From") == AGENCY_NUMBER
    assert sent.field("Body") == "Yes, Tuesday."
    assert sent.field("StatusCallback") == app.public_url + "/webhooks/twilio/status"

    def delivered_as(state: str) -> dict[str, Any]:
        out = [m for m in conversation(app, conv["id"])["messages"] if m["direction"] == "out"]
        assert out[0]["delivery"] == state
        return out[0]

    eventually(lambda: delivered_as("sent"))
    [resource] = twilio.sent_to(DANA)
    assert twilio.deliver_status(resource["sid"], "delivered") == 204
    delivered_as("delivered")
    # A late "sent" callback never overwrites "delivered".
    assert twilio.deliver_status(resource["sid"], "sent") == 204
    delivered_as("delivered")


def test_media_urls_are_recorded(app: RunningApp) -> None:
    form = app.sms_form(
        "SM" + "m" * 32,
        DANA,
        "photo",
        NumMedia="2",
        MediaUrl0="https://api.twilio.com/media/ME1",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/media/ME2",
        MediaContentType1="image/png",
    )
    assert app.post_sms(form).status_code == 200
    [conv] = conversations(app)
    [msg] = conversation(app, conv["id"])["messages"]
    assert [a["url"] for a in msg["attachments"]] == [
        "https://api.twilio.com/media/ME1",
        "https://api.twilio.com/media/ME2",
    ]


@pytest.mark.parametrize(
    "tamper",
    ["forged", "missing", "internal_url", "other_token"],
)
def test_webhook_that_fails_verification_gets_403_and_stores_nothing(
    app: RunningApp, tamper: str
) -> None:
    form = app.sms_form("SM" + "f" * 32, DANA, "hello")
    path = "/webhooks/twilio/sms"
    if tamper == "forged":
        response = httpx.post(
            app.url + path, data=form, headers={"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}
        )
    elif tamper == "missing":
        response = httpx.post(app.url + path, data=form)
    elif tamper == "internal_url":
        # Signed over the URL the app sees, not the public one Twilio signs: a proxy mix-up.
        response = app.post_sms(form, sign_url=app.url + path)
    else:
        response = app.post_sms(form, token="someone-elses-token")
    assert response.status_code == 403
    assert "Traceback" not in response.text
    assert conversations(app) == []


def test_malformed_signed_form_gets_400_and_stores_nothing(app: RunningApp) -> None:
    form = app.sms_form("SM" + "b" * 32, DANA, "hello")
    del form["MessageSid"], form["SmsSid"]
    response = app.post_sms(form)
    assert response.status_code == 400
    assert response.json()["detail"]
    assert conversations(app) == []


def test_unknown_sender_goes_to_triage(app: RunningApp) -> None:
    assert app.post_sms(app.sms_form("SM" + "c" * 32, "+13135559876", "who dis")).status_code == 200
    [conv] = conversations(app)
    assert conv["client"] == {"id": None, "name": "Unknown senders"}
    assert conv["contact"]["address"] == "+13135559876"


def test_twenty_concurrent_retries_of_one_message_sid_make_one_message(app: RunningApp) -> None:
    form = app.sms_form("SM" + "d" * 32, DANA, "retried by Twilio")
    with httpx.Client(timeout=20) as client, ThreadPoolExecutor(20) as pool:
        statuses = list(
            pool.map(lambda _: app.post_sms(form, client=client).status_code, range(20))
        )
    assert statuses == [200] * 20
    app.wait_routed()
    [conv] = conversations(app)
    assert len(conversation(app, conv["id"])["messages"]) == 1


def test_opted_out_number_gets_no_reply_until_start(app: RunningApp, twilio: TwilioStandIn) -> None:
    app.post_sms(app.sms_form("SM" + "1" * 32, DANA, "STOP"))
    [conv] = conversations(app)
    assert conv["opted_out"] is True
    with app.api() as api:
        refused = api.post(f"/api/conversations/{conv['id']}/reply", json={"text": "hi"})
        assert refused.status_code == 409
        assert "opted out" in refused.json()["detail"]
        app.post_sms(app.sms_form("SM" + "2" * 32, DANA, "START"))
        accepted = api.post(f"/api/conversations/{conv['id']}/reply", json={"text": "welcome back"})
        assert accepted.status_code == 202
    eventually(lambda: twilio.sent_to(DANA))
    assert [m["body"] for m in twilio.sent_to(DANA)] == ["welcome back"]


def _reply_to_dana(app: RunningApp, text: str) -> int:
    app.post_sms(app.sms_form("SM" + "e" * 32, DANA, "hello"))
    [conv] = conversations(app)
    with app.api() as api:
        assert (
            api.post(f"/api/conversations/{conv['id']}/reply", json={"text": text}).status_code
            == 202
        )
    return int(conv["id"])


def test_provider_failing_twice_then_succeeding_delivers_once(
    app: RunningApp, twilio: TwilioStandIn
) -> None:
    twilio.fail_next(2, status=500)
    conv_id = _reply_to_dana(app, "third time lucky")

    def sent() -> bool:
        [out] = [m for m in conversation(app, conv_id)["messages"] if m["direction"] == "out"]
        return bool(out["delivery"] == "sent")

    eventually(sent)

    assert len(twilio.requests.all()) == 3
    assert [m["body"] for m in twilio.sent_to(DANA)] == ["third time lucky"]


def test_rate_limited_send_waits_and_goes_out(app: RunningApp, twilio: TwilioStandIn) -> None:
    twilio.rate_limit_next(1, retry_after=1)
    started = time.monotonic()
    _reply_to_dana(app, "after the 429")
    eventually(lambda: twilio.sent_to(DANA))
    assert time.monotonic() - started >= 0.9  # Retry-After was honoured
    assert len(twilio.requests.all()) == 2


@pytest.mark.parametrize("failure", ["permanent", "exhausted"])
def test_failing_for_good_marks_the_message_failed_visibly(
    app: RunningApp, twilio: TwilioStandIn, failure: str
) -> None:
    if failure == "permanent":
        twilio.fail_always(status=400, code=21211)
    else:
        twilio.fail_next(10, status=503)
    conv_id = _reply_to_dana(app, "never arrives")

    def failed() -> dict[str, Any]:
        [out] = [m for m in conversation(app, conv_id)["messages"] if m["direction"] == "out"]
        assert out["delivery"] == "failed"
        return out

    out = eventually(failed)
    if failure == "permanent":
        assert "21211" in out["error"]
        assert len(twilio.requests.all()) == 1  # a permanent error is not retried
        assert conversation(app, conv_id)["reachable"] is False
    else:
        assert len(twilio.requests.all()) == 4  # PARTNERLINE_OUTBOX_MAX_ATTEMPTS


def test_api_requires_the_admin_token(app: RunningApp) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        response = httpx.get(app.url + "/api/conversations", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"detail": "authentication required"}


def test_api_errors_are_json_4xx(app: RunningApp) -> None:
    with app.api() as api:
        assert api.get("/api/conversations/999999").status_code == 404
        assert api.get("/api/conversations", params={"cursor": "garbage!"}).status_code == 400
        assert api.get("/api/conversations", params={"limit": 501}).status_code == 422
        bad = api.post(
            "/api/conversations/1/reply",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert bad.status_code == 422 and "detail" in bad.json()


def test_notes_close_assign_and_paging(app: RunningApp) -> None:
    for i, sender in enumerate(["+13135550142", "+13135550143", "+13135550150"]):
        app.post_sms(app.sms_form(f"SM{i:032d}", sender, f"message {i}"))
    with app.api() as api:
        first = api.get("/api/conversations", params={"limit": 2}).json()
        assert len(first["items"]) == 2 and first["next_cursor"]
        rest = api.get(
            "/api/conversations", params={"limit": 2, "cursor": first["next_cursor"]}
        ).json()
        assert len(rest["items"]) == 1 and rest["next_cursor"] is None
        ids = [c["id"] for c in first["items"] + rest["items"]]
        assert len(set(ids)) == 3
        conv_id = ids[0]
        assert (
            api.post(f"/api/conversations/{conv_id}/notes", json={"text": "internal"}).status_code
            == 201
        )
        assert (
            api.post(f"/api/conversations/{conv_id}/assign", json={"staff": "ana"}).json()[
                "assignee"
            ]
            == "ana"
        )
        assert (
            api.post(f"/api/conversations/{conv_id}/assign", json={"staff": "nobody"}).status_code
            == 400
        )
        assert api.post(f"/api/conversations/{conv_id}/close").json()["status"] == "closed"
        assert [
            c["id"]
            for c in api.get("/api/conversations", params={"status": "closed"}).json()["items"]
        ] == [conv_id]
        assert len(api.get("/api/conversations", params={"q": "message 1"}).json()["items"]) == 1
        assert (
            len(api.get("/api/conversations", params={"client": "brightside"}).json()["items"]) == 1
        )
        detail = api.get(f"/api/conversations/{conv_id}").json()
        assert [m["direction"] for m in detail["messages"]] == ["in", "note"]


def test_health_ready_and_metrics(app: RunningApp) -> None:
    app.post_sms(app.sms_form("SM" + "9" * 32, DANA, "hi"))
    assert httpx.get(app.url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(app.url + "/readyz").status_code == 200
    metrics = httpx.get(app.url + "/metrics").text
    assert 'partnerline_webhooks_total{channel="sms",outcome="accepted"}' in metrics
    assert "partnerline_outbox_depth" in metrics
    assert "partnerline_webhook_seconds_bucket" in metrics


def test_status_callback_that_is_forged_or_malformed_changes_nothing(
    app: RunningApp, twilio: TwilioStandIn
) -> None:
    conv_id = _reply_to_dana(app, "watch my delivery state")
    [resource] = eventually(lambda: twilio.sent_to(DANA))

    def delivery() -> str:
        [out] = [m for m in conversation(app, conv_id)["messages"] if m["direction"] == "out"]
        return str(out["delivery"])

    eventually(lambda: delivery() == "sent")
    path = "/webhooks/twilio/status"
    forged = {"MessageSid": resource["sid"], "MessageStatus": "failed", "ErrorCode": "30008"}
    assert httpx.post(app.url + path, data=forged).status_code == 403
    headers, body = signed_form_post_headers("another-token", app.public_url + path, forged)
    assert httpx.post(app.url + path, content=body, headers=headers).status_code == 403
    headers, body = signed_form_post_headers(
        AUTH_TOKEN, app.public_url + path, {"MessageSid": resource["sid"], "MessageStatus": "??"}
    )
    bad = httpx.post(app.url + path, content=body, headers=headers)
    assert bad.status_code == 400 and "MessageStatus" in bad.json()["detail"]
    assert delivery() == "sent"  # a forged "failed" changed nothing
