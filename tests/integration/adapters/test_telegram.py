"""The Telegram adapter and set-up commands with the real python-telegram-bot, against the
Bot API stand-in on loopback: what the stand-in receives is what Telegram would."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from adapters.standins.telegram import TelegramStandIn
from adapters.telegram import (
    MAX_TEXT,
    TelegramAdapter,
    parse_ack_callback,
    split_text,
    utf16_len,
)
from bot.channels.telegram.cli import cmd_info, cmd_set_webhook
from bot.settings import Settings
from routing.errors import InvalidSignature, MalformedPayload, SendFailed
from routing.messages import Attachment, Channel, OutboundMessage

TOKEN = "123456:TEST-telegram-token"
SECRET = "test-telegram-secret"
NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
DANA = TelegramStandIn.user(200000042, "Dana", "Reyes")


@pytest.fixture(scope="module")
def server() -> Iterator[TelegramStandIn]:
    with TelegramStandIn(TOKEN) as standin:
        yield standin


@pytest.fixture
def tg(server: TelegramStandIn) -> TelegramStandIn:
    server.reset()
    return server


@pytest.fixture
async def adapter(tg: TelegramStandIn) -> TelegramAdapter:
    return TelegramAdapter(TOKEN, SECRET, tg.api_url, timeout=5)


def out(to: int | str, text: str, outbox_id: int | None = None, **extra: object) -> OutboundMessage:
    return OutboundMessage(
        channel=Channel.TELEGRAM, to=str(to), text=text, outbox_id=outbox_id, extra=dict(extra)
    )


def body(update: dict[str, object]) -> bytes:
    return json.dumps(update).encode()


# --- verify ------------------------------------------------------------------------------------


def test_verify_accepts_the_secret_and_refuses_a_wrong_or_missing_one(tg: TelegramStandIn) -> None:
    adapter = TelegramAdapter(TOKEN, SECRET, tg.api_url)
    raw = body(tg.message_update(DANA, "hi"))
    adapter.verify("http://x/webhooks/telegram", {"x-telegram-bot-api-secret-token": SECRET}, raw)
    for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": SECRET + "x"}, {"Other": SECRET}):
        with pytest.raises(InvalidSignature):
            adapter.verify("http://x/webhooks/telegram", headers, raw)
    unset = TelegramAdapter(TOKEN, None, tg.api_url)
    with pytest.raises(InvalidSignature):
        unset.verify("http://x/webhooks/telegram", {"X-Telegram-Bot-Api-Secret-Token": ""}, raw)


# --- parse -------------------------------------------------------------------------------------


def test_a_private_text_message_becomes_an_inbound_message(tg: TelegramStandIn) -> None:
    adapter = TelegramAdapter(TOKEN, SECRET, tg.api_url)
    update = tg.message_update(DANA, "Can we move the launch?", message_id=17)
    [msg] = adapter.parse(body(update), now=NOW)
    assert msg.channel is Channel.TELEGRAM
    assert msg.provider_id == "200000042:17"
    assert msg.address == "200000042" and msg.chat_id == "200000042"
    assert msg.text == "Can we move the launch?"
    assert msg.received_at == NOW and msg.edit_of is None and msg.attachments == ()
    assert msg.raw["update_id"] == update["update_id"]


def test_photo_document_and_voice_keep_file_ids_and_captions(tg: TelegramStandIn) -> None:
    adapter = TelegramAdapter(TOKEN, SECRET, tg.api_url)
    photo = tg.message_update(
        DANA,
        caption="The new logo",
        photo=[
            {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 90},
            {"file_id": "large", "file_unique_id": "l", "width": 1280, "height": 1280},
        ],
    )
    [msg] = adapter.parse(body(photo), now=NOW)
    assert msg.text == "The new logo"
    assert msg.attachments == (Attachment(file_id="large", content_type="image/jpeg"),)

    document = tg.message_update(
        DANA,
        caption="Brief attached",
        document={
            "file_id": "doc-1",
            "file_unique_id": "d1",
            "file_name": "brief.pdf",
            "mime_type": "application/pdf",
        },
    )
    [msg] = adapter.parse(body(document), now=NOW)
    assert msg.text == "Brief attached"
    assert msg.attachments == (
        Attachment(file_id="doc-1", content_type="application/pdf", name="brief.pdf"),
    )

    voice = tg.message_update(
        DANA,
        voice={
            "file_id": "voice-1",
            "file_unique_id": "v1",
            "duration": 7,
            "mime_type": "audio/ogg",
        },
    )
    [msg] = adapter.parse(body(voice), now=NOW)
    assert msg.text == ""
    assert msg.attachments == (Attachment(file_id="voice-1", content_type="audio/ogg"),)


def test_an_edited_message_points_at_the_original(tg: TelegramStandIn) -> None:
    adapter = TelegramAdapter(TOKEN, SECRET, tg.api_url)
    original = tg.message_update(DANA, "Launch on Tuesday", message_id=30)
    edit = tg.edit_update(original, "Launch on Wednesday")
    [msg] = adapter.parse(body(edit), now=NOW)
    assert msg.edit_of == "200000042:30"
    assert msg.provider_id != "200000042:30" and msg.provider_id.startswith("200000042:30:edit:")
    assert msg.text == "Launch on Wednesday"
    assert msg.edited_at == datetime.fromtimestamp(edit["edited_message"]["edit_date"], UTC)


def test_group_chats_and_button_presses_are_not_client_messages(tg: TelegramStandIn) -> None:
    adapter = TelegramAdapter(TOKEN, SECRET, tg.api_url)
    group = tg.message_update(DANA, "hello all")
    group["message"]["chat"] = {"id": -100123, "type": "group", "title": "Acme"}  # type: ignore[index]
    assert adapter.parse(body(group), now=NOW) == []
    callback = {
        "update_id": 5,
        "callback_query": {"id": "1", "from": DANA, "chat_instance": "1", "data": "ack:3"},
    }
    assert adapter.parse(body(callback), now=NOW) == []


@pytest.mark.parametrize(
    "raw", [b"not json", b"[1, 2]", b'{"message": {}}', b'{"update_id": "7"}', b"\xff\xfe"]
)
def test_malformed_bodies_are_refused(tg: TelegramStandIn, raw: bytes) -> None:
    adapter = TelegramAdapter(TOKEN, SECRET, tg.api_url)
    with pytest.raises(MalformedPayload):
        adapter.parse(raw, now=NOW)


def test_ack_callback_data_is_parsed_strictly() -> None:
    assert parse_ack_callback("ack:42") == 42
    for data in (None, "", "ack:", "ack:x", "ack:-1", "nack:1", "ack:1:2"):
        assert parse_ack_callback(data) is None


# --- splitting ---------------------------------------------------------------------------------


def test_split_prefers_paragraphs_then_lines_then_words() -> None:
    para = "a" * 3000
    text = f"{para}\n\n{para}\n\n{para}"
    assert split_text(text) == [para, para, para]

    lines = "\n".join(["b" * 1000] * 6)  # 6006 characters, no paragraph break
    parts = split_text(lines)
    assert [len(p) for p in parts] == [4003, 2001]  # cut at the last line break that fits
    assert all(not p.startswith("\n") and not p.endswith("\n") for p in parts)
    assert "\n".join(parts) == lines

    words = " ".join(["word"] * 2000)  # 9999 characters
    parts = split_text(words)
    assert all(utf16_len(p) <= MAX_TEXT for p in parts)
    assert " ".join(parts) == words
    assert all(p.endswith("word") and p.startswith("word") for p in parts)


def test_split_cuts_an_unbroken_run_and_counts_utf16_units() -> None:
    run = "x" * 10000
    assert [len(p) for p in split_text(run)] == [4096, 4096, 1808]
    emoji = "😀" * 3000  # two UTF-16 units each: 6000 units
    parts = split_text(emoji)
    assert [utf16_len(p) for p in parts] == [4096, 1904]
    assert "".join(parts) == emoji
    assert split_text("  short  ") == ["short"]
    assert split_text("   ") == []


# --- sending -----------------------------------------------------------------------------------


async def test_send_posts_form_fields_as_python_telegram_bot_does(
    tg: TelegramStandIn, adapter: TelegramAdapter
) -> None:
    result = await adapter.send(out(200000042, "Yes, Tuesday works."))
    [call] = tg.calls("sendMessage")
    assert call.request.method == "POST"
    assert call.request.path == f"/bot{TOKEN}/sendMessage"
    assert call.request.content_type.startswith("application/x-www-form-urlencoded")
    assert call.request.field("chat_id") == "200000042"
    assert call.request.field("text") == "Yes, Tuesday works."
    assert call.request.field("reply_markup") is None
    [sent] = tg.sent_to(200000042)
    assert result.provider_id == f"200000042:{sent['message_id']}"


async def test_a_long_reply_goes_out_in_parts_at_paragraphs(
    tg: TelegramStandIn, adapter: TelegramAdapter
) -> None:
    paragraphs = [f"Paragraph {i}. " + "lorem ipsum " * 200 for i in range(5)]  # ~2400 each
    text = "\n\n".join(paragraphs)
    assert len(text) > 2 * MAX_TEXT
    result = await adapter.send(out(200000042, text))
    texts = [c.request.field("text") or "" for c in tg.calls("sendMessage")]
    assert len(texts) == 5
    assert all(utf16_len(t) <= MAX_TEXT for t in texts)
    assert texts == [p.strip() for p in paragraphs]
    last = tg.sent_to(200000042)[-1]
    assert result.provider_id == f"200000042:{last['message_id']}"


async def test_a_page_carries_an_acknowledge_button_as_json(
    tg: TelegramStandIn, adapter: TelegramAdapter
) -> None:
    await adapter.send(out(100000002, "PAGE: Acme Robotics is waiting", page_id=42))
    [call] = tg.calls("sendMessage")
    markup = json.loads(call.request.field("reply_markup") or "")
    assert markup == {"inline_keyboard": [[{"text": "Acknowledge", "callback_data": "ack:42"}]]}
    assert len(markup["inline_keyboard"][0][0]["callback_data"].encode()) <= 64


async def test_429_is_retryable_with_telegrams_retry_after(
    tg: TelegramStandIn, adapter: TelegramAdapter
) -> None:
    tg.rate_limit(200000042, retry_after=7)
    with pytest.raises(SendFailed) as failed:
        await adapter.send(out(200000042, "hello"))
    assert failed.value.retryable and failed.value.retry_after == 7
    assert failed.value.code == "429" and not failed.value.unreachable
    await adapter.send(out(200000042, "hello"))  # the limit has passed
    assert [m["text"] for m in tg.sent_to(200000042)] == ["hello"]


async def test_a_retry_after_a_429_halfway_sends_only_the_missing_parts(
    tg: TelegramStandIn, adapter: TelegramAdapter
) -> None:
    text = "\n\n".join(["x" * 4000, "y" * 4000, "z" * 100])
    tg.rate_limit(200000042, retry_after=1, after=1)
    with pytest.raises(SendFailed) as failed:
        await adapter.send(out(200000042, text, outbox_id=9))
    assert failed.value.retryable
    await adapter.send(out(200000042, text, outbox_id=9))
    assert [m["text"][0] for m in tg.sent_to(200000042)] == ["x", "y", "z"]


async def test_a_blocked_bot_makes_the_chat_unreachable_not_retryable(
    tg: TelegramStandIn, adapter: TelegramAdapter
) -> None:
    tg.block(200000042)
    with pytest.raises(SendFailed) as failed:
        await adapter.send(out(200000042, "hello"))
    assert not failed.value.retryable and failed.value.unreachable
    assert failed.value.code == "403"


async def test_server_errors_and_network_failures_are_retryable(
    tg: TelegramStandIn, adapter: TelegramAdapter
) -> None:
    tg.fail_next(status=502, description="Bad Gateway")
    with pytest.raises(SendFailed) as failed:
        await adapter.send(out(200000042, "hello"))
    assert failed.value.retryable and not failed.value.unreachable

    nowhere = TelegramAdapter(TOKEN, SECRET, "http://127.0.0.1:9/bot", timeout=1)
    with pytest.raises(SendFailed) as failed:
        await nowhere.send(out(200000042, "hello"))
    assert failed.value.retryable


async def test_a_bad_request_fails_for_good(tg: TelegramStandIn, adapter: TelegramAdapter) -> None:
    with pytest.raises(SendFailed) as failed:
        await adapter.send(out(200000042, "   "))
    assert not failed.value.retryable
    assert tg.calls("sendMessage") == []  # refused before asking Telegram


async def test_answering_a_button_press_and_editing_the_page(
    tg: TelegramStandIn, adapter: TelegramAdapter
) -> None:
    await adapter.send(out(100000002, "PAGE: Acme", page_id=5))
    [page] = tg.sent_to(100000002)
    press = tg.press_button(TelegramStandIn.user(100000002, "Ana"), 100000002, page["message_id"])
    query_id = press["callback_query"]["id"]

    await adapter.send(out(100000002, "Acknowledged.", callback_query_id=query_id))
    assert tg.answer_of(query_id) == {"text": "Acknowledged.", "show_alert": False}
    [answer] = tg.calls("answerCallbackQuery")
    assert answer.request.field("callback_query_id") == query_id

    edit = {"message_id": page["message_id"]}
    result = await adapter.send(out(100000002, "PAGE: Acme\n\nAcknowledged by Ana", edit=edit))
    assert result.provider_id == f"100000002:{page['message_id']}"
    edited = tg.message(100000002, page["message_id"])
    assert edited["text"].endswith("Acknowledged by Ana") and "reply_markup" not in edited
    # The same edit delivered again (an outbox retry) is not an error.
    await adapter.send(out(100000002, "PAGE: Acme\n\nAcknowledged by Ana", edit=edit))

    # A second answer to the same press is refused by Telegram, and not retried.
    with pytest.raises(SendFailed) as failed:
        await adapter.send(out(100000002, "again", callback_query_id=query_id))
    assert not failed.value.retryable and not failed.value.unreachable


# --- set-up commands ---------------------------------------------------------------------------


def settings_for(tg: TelegramStandIn, **overrides: str) -> Settings:
    values = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_URL": tg.api_url,
        "PUBLIC_URL": "https://partnerline.example.com/",
        **overrides,
    }
    return Settings(**values)  # type: ignore[arg-type]


def test_set_webhook_registers_the_public_url_with_the_secret(
    tg: TelegramStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(drop_pending_updates=False)
    assert cmd_set_webhook(args, settings_for(tg)) == 0
    [call] = tg.calls("setWebhook")
    assert call.request.field("url") == "https://partnerline.example.com/webhooks/telegram"
    assert call.request.field("secret_token") == SECRET
    assert json.loads(call.request.field("allowed_updates") or "") == [
        "message",
        "edited_message",
        "callback_query",
    ]
    assert (
        "webhook set: https://partnerline.example.com/webhooks/telegram" in capsys.readouterr().out
    )

    assert cmd_info(argparse.Namespace(), settings_for(tg)) == 0
    printed = capsys.readouterr().out
    assert "url: https://partnerline.example.com/webhooks/telegram" in printed
    assert "matches PUBLIC_URL/webhooks/telegram: yes" in printed
    assert "allowed updates: message, edited_message, callback_query" in printed
    assert "last error: none" in printed


def test_set_webhook_refuses_without_a_usable_secret_or_public_url(
    tg: TelegramStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(drop_pending_updates=False)
    assert cmd_set_webhook(args, settings_for(tg, TELEGRAM_WEBHOOK_SECRET="has spaces!")) == 1
    assert "TELEGRAM_WEBHOOK_SECRET" in capsys.readouterr().err
    no_url = settings_for(tg)
    no_url.public_url = None
    assert cmd_set_webhook(args, no_url) == 1
    assert "PUBLIC_URL" in capsys.readouterr().err
    assert tg.calls("setWebhook") == []


def test_info_says_when_no_webhook_is_set(
    tg: TelegramStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cmd_info(argparse.Namespace(), settings_for(tg)) == 0
    printed = capsys.readouterr().out
    assert "url: (none: no webhook is set)" in printed
    assert "matches PUBLIC_URL/webhooks/telegram: no" in printed


def test_a_wrong_token_is_reported_plainly(
    tg: TelegramStandIn, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cmd_info(argparse.Namespace(), settings_for(tg, TELEGRAM_BOT_TOKEN="9:wrong")) == 1
    assert "Telegram refused" in capsys.readouterr().err
