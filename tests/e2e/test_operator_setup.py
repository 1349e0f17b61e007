"""The operator's first hour: the Slack app manifest in deploy/ asks for what the code uses.

Its URLs are answered by the running app as Slack checks them (a signed url_verification, a
signed `/oncall`); its scopes cover every Web API method the code calls (found in the source,
so a new call without its scope fails here); its slash commands and events are the ones Bolt
listens for (bot/channels/slack/bot.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from adapters.standins.slack import SlackStandIn
from adapters.standins.twilio import TwilioStandIn
from routing.clock import OffsetClock
from tests.e2e.conftest import MONDAY_MORNING
from tests.e2e.test_slack_flow import JIM, slack_app
from tests.support.app import ROOT, RunningApp

MANIFEST = ROOT / "deploy" / "slack-app-manifest.yml"
PLACEHOLDER = "https://partnerline.example.com"  # what the README says to replace by PUBLIC_URL
SLACK_CODE = [ROOT / "adapters" / "slack.py", *sorted((ROOT / "bot/channels/slack").glob("*.py"))]

# Web API method -> the bot scopes, any one of which allows it (api.slack.com/methods).
METHOD_SCOPES: dict[str, set[str]] = {
    "auth.test": set(),  # no scope needed
    "chat.postMessage": {"chat:write"},
    "chat.update": {"chat:write"},
    "chat.postEphemeral": {"chat:write"},
    "conversations.open": {"im:write", "mpim:write", "channels:manage", "groups:write"},
    "users.info": {"users:read"},
    # slack_sdk's files_upload_v2: files.getUploadURLExternal, files.completeUploadExternal
    "files.upload_v2": {"files:write"},
}
# A `message` listener hears what its subscriptions deliver: a DM, a public channel (a shared
# Slack Connect channel or the staff channel), a private one; each needs its history scope.
MESSAGE_EVENTS = {
    "message.im": "im:history",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
}


def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def bot_scopes() -> set[str]:
    return set(manifest()["oauth_config"]["scopes"]["bot"])


def manifest_urls() -> dict[str, str]:
    data = manifest()
    urls = {
        "events": data["settings"]["event_subscriptions"]["request_url"],
        "interactivity": data["settings"]["interactivity"]["request_url"],
    }
    for command in data["features"]["slash_commands"]:
        urls[command["command"]] = command["url"]
    return urls


def source() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in SLACK_CODE)


def called_methods() -> set[str]:
    """Web API methods the code calls through slack_sdk (`client.chat_postMessage(` is
    chat.postMessage; `api_call("x.y")` is x.y), and auth.test, which Bolt calls itself."""
    text = source()
    methods = {
        name.replace("_", ".", 1) for name in re.findall(r"\bclient\.([a-z]+_[A-Za-z]+)\(", text)
    }
    methods |= set(re.findall(r"api_call\(\s*[\"']([a-z]+\.[A-Za-z.]+)[\"']", text))
    return methods | {"auth.test"}


@pytest.fixture
def app(db_url: str, twilio: TwilioStandIn, slack: SlackStandIn) -> Iterator[RunningApp]:
    with slack_app(db_url, twilio, slack, OffsetClock(MONDAY_MORNING)) as running:
        yield running


def test_every_web_api_method_the_code_calls_has_its_scope_in_the_manifest() -> None:
    methods = called_methods()
    # The scan finds what is there today: it cannot pass by finding nothing.
    assert {"chat.postMessage", "chat.update", "conversations.open", "users.info"} <= methods
    unknown = methods - METHOD_SCOPES.keys()
    assert not unknown, f"add the scope of {sorted(unknown)} to METHOD_SCOPES and the manifest"
    scopes = bot_scopes()
    missing = {m: s for m, s in METHOD_SCOPES.items() if m in methods and s and not s & scopes}
    assert not missing, f"the manifest lacks a scope for {missing}"


def test_the_manifest_subscribes_to_the_events_and_commands_bolt_listens_for() -> None:
    text = (ROOT / "bot/channels/slack/bot.py").read_text(encoding="utf-8")
    events = set(re.findall(r"app\.event\(\"([a-z_]+)\"\)", text))
    commands = set(re.findall(r"app\.command\(\"(/[a-z_-]+)\"\)", text))
    assert events == {"message"}, f"a new event listener {events}: subscribe to it here"
    data = manifest()
    subscribed = set(data["settings"]["event_subscriptions"]["bot_events"])
    assert subscribed == set(MESSAGE_EVENTS)
    assert set(MESSAGE_EVENTS.values()) <= bot_scopes()
    assert {c["command"] for c in data["features"]["slash_commands"]} == commands
    assert "commands" in bot_scopes()
    assert "app.action(" in text and data["settings"]["interactivity"]["is_enabled"] is True
    assert data["features"]["app_home"]["messages_tab_enabled"] is True  # clients DM the bot
    assert data["settings"]["socket_mode_enabled"] is False  # requests come over HTTP


def test_every_manifest_url_is_answered_by_the_app_as_slack_checks_it(
    app: RunningApp, slack: SlackStandIn
) -> None:
    urls = manifest_urls()
    assert set(urls) == {"events", "interactivity", "/oncall"}
    for what, url in urls.items():
        assert url.startswith(PLACEHOLDER + "/"), (what, url)
        path = urlsplit(url).path
        # Slack's own check of a request URL: a signed url_verification, answered in kind.
        answer = slack.deliver(app.url + path, slack.url_verification(f"check-{what}"))
        assert answer.status_code == 200, (what, answer.text)
        assert answer.json() == {"challenge": f"check-{what}"}, what
    command = slack.deliver(
        app.url + urlsplit(urls["/oncall"]).path,
        slack.slash_command("/oncall", JIM, "D0JIMDIRECT"),
        form=True,
    )
    assert command.status_code == 200, command.text
    assert "On call now" in command.text


def test_the_manifest_is_where_the_readme_says() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert str(MANIFEST.relative_to(ROOT)) in readme
    assert PLACEHOLDER in readme
