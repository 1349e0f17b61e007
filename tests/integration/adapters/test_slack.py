"""The Slack adapter with the real slack_sdk against the Web API stand-in on loopback: what the
stand-in receives is what Slack would; and the parsing and signing rules it relies on."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from adapters.slack import (
    ACK_ACTION_ID,
    DELETED_TEXT,
    SlackAdapter,
    escape,
    inbound_from_event,
    is_from_bot,
    parse_ack_value,
    split_text,
    verify_signature,
)
from adapters.standins.slack import SlackStandIn
from routing.errors import InvalidSignature, MalformedPayload, SendFailed
from routing.messages import Attachment, Channel, OutboundMessage

TOKEN = "xoxb-test-slack-token"
SECRET = "test-slack-signing-secret"
NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
DANA = "U0DANAREYS"
SHARED = "C0ACMESHRD"


@pytest.fixture(scope="module")
def server() -> Iterator[SlackStandIn]:
    with SlackStandIn(TOKEN, SECRET) as standin:
        yield standin


@pytest.fixture
def slack(server: SlackStandIn) -> SlackStandIn:
    server.reset()
    return server


@pytest.fixture
def adapter(slack: SlackStandIn) -> SlackAdapter:
    return SlackAdapter(TOKEN, SECRET, slack.api_url, timeout=5)


def out(to: str, text: str, **extra: object) -> OutboundMessage:
    return OutboundMessage(channel=Channel.SLACK, to=to, text=text, outbox_id=1, extra=dict(extra))


# --- text ------------------------------------------------------------------------------------


def test_escape_neutralises_slack_control_sequences() -> None:
    assert escape("<!channel> & <@U123> <http://x|y>") == (
        "&lt;!channel&gt; &amp; &lt;@U123&gt; &lt;http://x|y&gt;"
    )
    assert escape("plain *text*") == "plain *text*"  # formatting is switched off, not escaped


def test_split_text_keeps_parts_under_the_limit_and_cuts_at_breaks() -> None:
    text = "\n\n".join("word " * 300 for _ in range(3))
    parts = split_text(text, limit=2000)
    assert all(len(p) <= 2000 for p in parts)
    assert "".join(parts).replace(" ", "") == text.replace("\n", "").replace(" ", "")
    assert split_text("x" * 25, limit=10) == ["x" * 10, "x" * 10, "x" * 5]
    assert split_text("   ") == []


def test_ack_values_are_page_ids_only() -> None:
    assert parse_ack_value("12") == 12
    for bad in (None, "", "12a", "-1", "9" * 19, 12):
        assert parse_ack_value(bad) is None


# --- verify ------------------------------------------------------------------------------------


def signed(body: bytes, stamp: int, secret: str = SECRET) -> dict[str, str]:
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(stamp), body=body)
    assert signature is not None
    return {"X-Slack-Request-Timestamp": str(stamp), "X-Slack-Signature": signature}


def test_verify_accepts_slacks_signature_and_refuses_others(adapter: SlackAdapter) -> None:
    body = b'{"type":"event_callback"}'
    now = int(time.time())
    adapter.verify("http://x/webhooks/slack", signed(body, now), body)
    with pytest.raises(InvalidSignature):
        adapter.verify("u", signed(body, now, secret="another-secret"), body)
    with pytest.raises(InvalidSignature):
        adapter.verify("u", signed(body, now), body + b" ")  # the body was changed
    with pytest.raises(InvalidSignature, match="stale"):
        adapter.verify("u", signed(body, now - 6 * 60), body)
    with pytest.raises(InvalidSignature):
        adapter.verify("u", {}, body)
    with pytest.raises(InvalidSignature):
        verify_signature(
            SECRET, {"X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": "v0="}, body
        )


def test_the_stand_in_signs_as_slack_does(slack: SlackStandIn) -> None:
    body = b'{"a": 1}'
    headers = slack.signed_headers(body)
    verify_signature(SECRET, headers, body)
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)


# --- parse -------------------------------------------------------------------------------------


def test_a_dm_becomes_an_inbound_message(slack: SlackStandIn) -> None:
    event = slack.dm_event(DANA, "Can we move the launch?")
    msg = inbound_from_event(event, NOW)
    assert msg is not None
    assert msg.channel is Channel.SLACK and msg.address == DANA
    assert msg.chat_id == SlackStandIn.dm_channel(DANA)
    assert msg.provider_id == f"{msg.chat_id}:{event['ts']}"
    assert msg.text == "Can we move the launch?" and msg.edit_of is None


def test_files_are_attachments(slack: SlackStandIn) -> None:
    files = [
        {
            "id": "F0LOGO",
            "name": "logo.png",
            "mimetype": "image/png",
            "url_private": "https://files.slack.com/logo.png",
        }
    ]
    msg = inbound_from_event(slack.message_event(DANA, SHARED, "", files=files), NOW)
    assert msg is not None and msg.text == ""
    assert msg.attachments == (
        Attachment(
            url="https://files.slack.com/logo.png",
            content_type="image/png",
            file_id="F0LOGO",
            name="logo.png",
        ),
    )


def test_edits_and_deletions_point_at_the_original(slack: SlackStandIn) -> None:
    original = slack.message_event(DANA, SHARED, "Launch Tuesday")
    edit = inbound_from_event(slack.edit_event(original, "Launch Wednesday"), NOW)
    assert edit is not None
    assert edit.edit_of == f"{SHARED}:{original['ts']}" and edit.text == "Launch Wednesday"
    assert edit.provider_id != edit.edit_of and edit.address == DANA
    # Slack's own time of the edit orders edits that reach us out of order.
    assert edit.edited_at is not None and edit.edited_at > datetime.fromtimestamp(
        float(original["ts"]), UTC
    )
    deletion = inbound_from_event(slack.delete_event(original), NOW)
    assert deletion is not None
    assert deletion.edit_of == f"{SHARED}:{original['ts']}" and deletion.text == DELETED_TEXT
    # An "edit" that changed nothing the author wrote (an unfurl) is no record at all.
    assert inbound_from_event(slack.edit_event(original, "Launch Tuesday"), NOW) is None


async def test_a_members_name_comes_from_users_info(
    slack: SlackStandIn, adapter: SlackAdapter
) -> None:
    slack.add_user("U0ACMEGUES", "Priya Shah", "Priya")
    slack.add_user("U0NODISPLY", "Sam Okafor")  # no display name set: the real name shows
    assert await adapter.user_name("U0ACMEGUES") == "Priya"
    assert await adapter.user_name("U0NODISPLY") == "Sam Okafor"
    [call, _] = slack.calls("users.info")
    assert call.params["user"] == "U0ACMEGUES"
    assert call.request.headers["authorization"] == f"Bearer {TOKEN}"
    with pytest.raises(SlackApiError) as refused:
        await adapter.user_name("U0NOBODY00")
    assert refused.value.response["error"] == "user_not_found"


def test_bot_messages_and_housekeeping_are_not_messages(slack: SlackStandIn) -> None:
    echo = slack.message_event(slack.bot_user_id, SHARED, "hi", bot_id=slack.bot_id)
    assert is_from_bot(echo, slack.bot_user_id)
    assert is_from_bot(slack.message_event("U0OTHERBOT", SHARED, "x", bot_id="B0X"), None)
    assert not is_from_bot(slack.message_event(DANA, SHARED, "x"), slack.bot_user_id)
    joined = slack.message_event(DANA, SHARED, "joined", subtype="channel_join")
    assert inbound_from_event(joined, NOW) is None
    assert inbound_from_event({"type": "message", "channel": SHARED, "text": "x"}, NOW) is None


def test_parse_reads_an_events_api_body(adapter: SlackAdapter, slack: SlackStandIn) -> None:
    body = json.dumps(slack.envelope(slack.dm_event(DANA, "hello"))).encode()
    [msg] = adapter.parse(body, now=NOW)
    assert msg.text == "hello"
    with pytest.raises(MalformedPayload):
        adapter.parse(b"{nope", now=NOW)
    with pytest.raises(MalformedPayload):
        adapter.parse(b'{"type": "url_verification"}', now=NOW)


# --- send --------------------------------------------------------------------------------------


async def test_a_reply_to_a_shared_channel_is_escaped_plain_text(
    adapter: SlackAdapter, slack: SlackStandIn
) -> None:
    result = await adapter.send(out(SHARED, "Yes <!here> & *all*"))
    [message] = slack.messages(SHARED)
    assert result.provider_id == f"{SHARED}:{message['ts']}"
    assert message["text"] == "Yes &lt;!here&gt; &amp; *all*"
    assert message["mrkdwn"] is False and message["link_names"] is False
    [call] = slack.calls("chat.postMessage")
    assert call.request.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.params["unfurl_links"] is False


async def test_a_user_id_is_reached_in_their_dm(adapter: SlackAdapter, slack: SlackStandIn) -> None:
    await adapter.send(out(DANA, "first"))
    await adapter.send(out(DANA, "second"))
    dm = SlackStandIn.dm_channel(DANA)
    assert [m["text"] for m in slack.messages(dm)] == ["first", "second"]
    assert len(slack.calls("conversations.open")) == 1  # the DM channel is remembered
    assert slack.calls("conversations.open")[0].params["users"] == DANA


async def test_a_long_message_is_split(adapter: SlackAdapter, slack: SlackStandIn) -> None:
    # 15,000 characters a point, 25,000 once escaped: two points would fit Slack's 40,000 as
    # written, but not as sent.
    text = "\n\n".join(f"Point {i}: " + "x & y " * 2500 for i in range(3))
    await adapter.send(out(SHARED, text))
    parts = [m["text"] for m in slack.messages(SHARED)]
    assert len(parts) == 3 and all(p.startswith("Point") for p in parts)
    assert all(len(p) <= 40_000 for p in parts)


async def test_a_page_has_an_acknowledge_button(adapter: SlackAdapter, slack: SlackStandIn) -> None:
    text = 'Page 7: Dana (Acme) wrote on slack: "<!channel> help"'
    result = await adapter.send(out("U0JIMMILLR", text, page_id=7, page_ids=[7]))
    dm = SlackStandIn.dm_channel("U0JIMMILLR")
    [message] = slack.messages(dm)
    assert result.provider_id == f"{dm}:{message['ts']}"
    assert "<!channel>" not in message["text"]
    shown, actions = message["blocks"]
    assert shown["type"] == "rich_text"  # literal text: nothing in it is parsed
    assert shown["elements"][0]["elements"][0]["text"] == text
    [button] = actions["elements"]
    assert button["action_id"] == ACK_ACTION_ID and button["value"] == "7"
    press = slack.block_action("U0JIMMILLR", dm, message["ts"])
    assert press["actions"][0]["value"] == "7"


async def test_coalesced_pages_get_a_button_each(
    adapter: SlackAdapter, slack: SlackStandIn
) -> None:
    await adapter.send(out("U0JIMMILLR", "Two pages", page_id=7, page_ids=[7, 8]))
    [message] = slack.messages(SlackStandIn.dm_channel("U0JIMMILLR"))
    buttons = message["blocks"][1]["elements"]
    assert [(b["action_id"], b["value"]) for b in buttons] == [("ack", "7"), ("ack_2", "8")]


async def test_update_and_ephemeral(adapter: SlackAdapter, slack: SlackStandIn) -> None:
    posted = await adapter.post(SHARED, "before")
    result = await adapter.send(
        out(SHARED, "after <b>", update={"channel": SHARED, "ts": posted.ts}, blocks=[])
    )
    assert result.provider_id == posted.provider_id
    assert slack.message(SHARED, posted.ts)["text"] == "after &lt;b&gt;"
    await adapter.send(out(SHARED, "only you", ephemeral_user="U0KIMLEE00"))
    [note] = slack.ephemeral("U0KIMLEE00")
    assert note["text"] == "only you" and note["channel"] == SHARED


async def test_429_is_retryable_with_slacks_wait(
    adapter: SlackAdapter, slack: SlackStandIn
) -> None:
    slack.rate_limit(count=1, retry_after=2, method="chat.postMessage")
    with pytest.raises(SendFailed) as refused:
        await adapter.send(out(SHARED, "hello"))
    assert refused.value.retryable and refused.value.retry_after == 2.0
    assert refused.value.code == "429" and not refused.value.unreachable
    await adapter.send(out(SHARED, "hello"))
    assert [m["text"] for m in slack.messages(SHARED)] == ["hello"]


async def test_server_errors_retry_and_refusals_do_not(
    adapter: SlackAdapter, slack: SlackStandIn
) -> None:
    slack.fail_next(1, "internal_error", 500)
    with pytest.raises(SendFailed) as transient:
        await adapter.send(out(SHARED, "x"))
    assert transient.value.retryable
    slack.fail_next(1, "channel_not_found", 200)
    with pytest.raises(SendFailed) as gone:
        await adapter.send(out(SHARED, "x"))
    assert not gone.value.retryable and gone.value.unreachable
    assert gone.value.code == "channel_not_found"


async def test_a_bad_token_is_not_retried(slack: SlackStandIn) -> None:
    wrong = SlackAdapter("xoxb-wrong", SECRET, slack.api_url, timeout=5)
    with pytest.raises(SendFailed) as refused:
        await wrong.send(out(SHARED, "x"))
    assert not refused.value.retryable and refused.value.code == "invalid_auth"


async def test_unreachable_slack_is_retryable() -> None:
    adapter = SlackAdapter(TOKEN, SECRET, "http://127.0.0.1:9/api/", timeout=2)
    with pytest.raises(SendFailed) as refused:
        await adapter.send(out(SHARED, "x"))
    assert refused.value.retryable
