"""An acknowledged page's chat messages are all edited, however old the page: the apps find
them through `page_notifications.outbox_id` (storage.pages `sent_chat_messages`), not among
the newest outbox rows.

The page here tells the client's account team (Ana and Jim) and Kim at once: two Telegram
messages (Ana's, Jim's) and two Slack messages (Jim's, Kim's). More than 500 other sent page
messages follow them before anyone acknowledges."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from adapters.standins.slack import SlackStandIn
from adapters.standins.telegram import TelegramStandIn
from adapters.standins.twilio import TwilioStandIn
from routing.clock import OffsetClock
from routing.messages import Channel
from storage.outbox import OutboxItem
from tests.e2e.test_sms_flow import eventually
from tests.support.app import EXAMPLE_CONFIG, RunningApp, running_app

TG_TOKEN = "123456:TEST-telegram-token"
TG_SECRET = "test-telegram-secret"
SLACK_TOKEN = "xoxb-test-slack-token"
SLACK_SECRET = "test-slack-signing-secret"
DANA_SMS = "+13135550142"  # Acme Robotics (priority): after hours, she pages
ANA_TG, JIM_TG = 100000002, 100000001
ANA = TelegramStandIn.user(ANA_TG, "Ana", "Ortiz")
JIM_SLACK, KIM_SLACK = "U0JIMMILLR", "U0KIMLEE00"
# Tuesday 1 December 2026, 20:00 in Detroit: after hours.
TUESDAY_EVENING = datetime(2026, 12, 1, 20, 0, tzinfo=ZoneInfo("America/Detroit"))
OTHER_PAGE = 999_999  # the filler messages tell of a page that is not this one
FILLERS = 510  # more than the 500 newest rows the apps used to look through


@pytest.fixture(scope="module")
def chat_servers() -> Iterator[tuple[TelegramStandIn, SlackStandIn]]:
    with TelegramStandIn(TG_TOKEN) as tg, SlackStandIn(SLACK_TOKEN, SLACK_SECRET) as slack:
        yield tg, slack


@pytest.fixture
def app(
    db_url: str,
    twilio: TwilioStandIn,
    chat_servers: tuple[TelegramStandIn, SlackStandIn],
    tmp_path: Path,
) -> Iterator[RunningApp]:
    tg, slack = chat_servers
    tg.reset()
    slack.reset()
    # One step that reaches four chats at once: Ana (telegram), Jim (slack and telegram), Kim
    # (slack); their SMS come minutes later, long after these tests.
    example = EXAMPLE_CONFIG.read_text()
    steps = example[example.index("steps = [") : example.index("]\nrepeat") + 1]
    config = tmp_path / "agency.toml"
    config.write_text(
        example.replace(steps, 'steps = [{ notify = ["account_team", "staff:kim"], wait = "10m" }]')
    )
    with running_app(
        db_url,
        twilio.url,
        clock=OffsetClock(TUESDAY_EVENING),
        config_path=config,
        TELEGRAM_BOT_TOKEN=TG_TOKEN,
        TELEGRAM_WEBHOOK_SECRET=TG_SECRET,
        TELEGRAM_API_URL=tg.api_url,
        SLACK_BOT_TOKEN=SLACK_TOKEN,
        SLACK_SIGNING_SECRET=SLACK_SECRET,
        SLACK_API_URL=slack.api_url,
    ) as running:
        yield running


def _paged(app: RunningApp) -> int:
    """Dana writes after hours; once her page's chat messages are sent (each recorded with
    its provider id), its id."""
    sms = app.sms_form("SM" + "7" * 32, DANA_SMS, "The press release went out with a typo!")
    assert app.post_sms(sms).status_code == 200

    def sent() -> int:
        with app.container.services.uow() as uow:
            [page] = uow.pages.listing("open", 10)
            notes = uow.pages.notifications_of([page.id])[page.id]
        chats = [n for n in notes if n.channel in ("telegram", "slack")]
        assert sorted(n.channel for n in chats) == ["slack", "slack", "telegram", "telegram"]
        assert all(n.delivery == "sent" for n in chats), chats
        return page.id

    return eventually(sent)  # type: ignore[no-any-return]


def _bury(app: RunningApp) -> None:
    """More than 500 later page messages on both channels, sent (with provider ids) and
    recorded as the worker records them: through the Outbox."""
    now = app.container.clock.now()
    with app.container.services.uow() as uow:
        for n in range(FILLERS):
            for channel, chat, provider_id in (
                (Channel.TELEGRAM, "100000099", f"100000099:{n + 1}"),
                (Channel.SLACK, "D0FILLER00", f"D0FILLER00:1700000000.{n:06d}"),
            ):
                payload: dict[str, Any] = {
                    "text": f"Page {OTHER_PAGE}: someone else wrote",
                    "page_id": OTHER_PAGE,
                    "page_ids": [OTHER_PAGE],
                }
                # Due tomorrow, so the worker never takes it; recorded as sent at once.
                row = uow.outbox.enqueue(
                    kind="page",
                    channel=channel,
                    recipient=chat,
                    payload=payload,
                    at=now + timedelta(days=1),
                )
                item = OutboxItem(row, "page", channel, chat, payload, 1, None, now)
                uow.outbox.mark_sent(item, provider_id, now)
        uow.commit()


def test_acknowledging_on_telegram_edits_every_telegram_message_of_an_old_page(
    app: RunningApp, chat_servers: tuple[TelegramStandIn, SlackStandIn]
) -> None:
    tg, _ = chat_servers
    _paged(app)
    [ana_page] = [m for m in tg.sent_to(ANA_TG) if m.get("reply_markup")]
    [jim_page] = [m for m in tg.sent_to(JIM_TG) if m.get("reply_markup")]
    _bury(app)

    press = tg.press_button(ANA, ANA_TG, ana_page["message_id"])
    response = tg.deliver(press, app.url + "/webhooks/telegram", secret=TG_SECRET)
    assert response.status_code == 200

    def edited(chat: int, message_id: int) -> dict[str, Any]:
        message = tg.message(chat, message_id)
        assert "Acknowledged by Ana Ortiz" in message["text"]
        return message

    # Both: the one pressed, and Jim's, which nobody touched.
    assert "reply_markup" not in eventually(lambda: edited(ANA_TG, ana_page["message_id"]))
    assert "reply_markup" not in eventually(lambda: edited(JIM_TG, jim_page["message_id"]))


def test_acknowledging_on_slack_edits_every_slack_message_of_an_old_page(
    app: RunningApp, chat_servers: tuple[TelegramStandIn, SlackStandIn]
) -> None:
    _, slack = chat_servers
    page_id = _paged(app)
    jim_dm, kim_dm = SlackStandIn.dm_channel(JIM_SLACK), SlackStandIn.dm_channel(KIM_SLACK)
    [jim_page] = [m for m in slack.messages(jim_dm) if m.get("blocks")]
    [kim_page] = [m for m in slack.messages(kim_dm) if m.get("blocks")]
    _bury(app)

    press = slack.block_action(JIM_SLACK, jim_dm, jim_page["ts"])
    assert slack.deliver(app.url + "/webhooks/slack", press, form=True).status_code == 200

    def updated(channel: str, ts: str) -> dict[str, Any]:
        message = slack.message(channel, ts)
        assert f"Page {page_id} acknowledged by Jim Miller" in message["text"]
        return message

    # Both: the one pressed, and Kim's, which nobody touched; neither has its button now.
    for channel, ts in ((jim_dm, jim_page["ts"]), (kim_dm, kim_page["ts"])):
        blocks = eventually(lambda c=channel, t=ts: updated(c, t)).get("blocks") or []
        assert all(b["type"] != "actions" for b in blocks)
