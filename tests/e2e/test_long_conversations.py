"""A conversation of hundreds of messages is read a page at a time, in the API and the inbox:
the newest page first, every message exactly once going back, in the order shown."""

from __future__ import annotations

import re

from bot.usecases.services import Author
from tests.browser.inbox_support import add_login, signed_in
from tests.e2e.test_outbound_order import open_conversation
from tests.support.app import RunningApp

NOTES = 449  # with the client's first message: 450, two full pages of 200 and one of 50


def _long_conversation(app: RunningApp) -> int:
    conv_id = open_conversation(app)
    kim = Author("kim", "Kim")
    for n in range(NOTES):
        app.container.services.add_note(conv_id, f"note {n}", kim)
    return conv_id


def test_the_api_pages_a_conversations_messages_newest_page_first(app: RunningApp) -> None:
    conv_id = _long_conversation(app)
    pages, cursor = [], None
    with app.api() as api:
        while True:
            params = {"cursor": cursor} if cursor else {}
            body = api.get(f"/api/conversations/{conv_id}", params=params).json()
            pages.append([m["text"] for m in body["messages"]])
            cursor = body["messages_next_cursor"]
            if cursor is None:
                break
        small = api.get(f"/api/conversations/{conv_id}", params={"limit": 3}).json()
        bad = api.get(f"/api/conversations/{conv_id}", params={"cursor": "²"})
    assert [len(p) for p in pages] == [200, 200, 50]
    # Each page oldest first; read back to front they are the whole conversation, once.
    everything = [text for page in reversed(pages) for text in page]
    assert everything == ["Where are we?"] + [f"note {n}" for n in range(NOTES)]
    assert [m["text"] for m in small["messages"]] == ["note 446", "note 447", "note 448"]
    assert bad.status_code == 400


def test_the_inbox_shows_the_newest_messages_and_links_to_earlier_ones(app: RunningApp) -> None:
    conv_id = _long_conversation(app)
    add_login(app.container, "kim", "kim")
    with signed_in(app.url, "kim") as browser:
        latest = browser.get(f"/inbox/conversations/{conv_id}").text
        shown = re.findall(r'data-message="(\d+)"', latest)
        assert len(shown) == 200
        assert "note 448" in latest and "note 249" in latest and "note 248" not in latest
        [earlier] = re.findall(r'href="(/inbox/conversations/\d+\?before=\d+)"', latest)
        assert "Latest messages" not in latest

        older = browser.get(earlier).text
        assert len(re.findall(r'data-message="(\d+)"', older)) == 200
        assert "note 248" in older and "note 49" in older and "note 249" not in older
        assert "Latest messages" in older
        # The live refresh of an earlier page keeps to that page.
        timeline = earlier.replace("?before", "/timeline?before")
        assert f'hx-get="{timeline}"' in older

        # A `before` that is not ours shows the latest page rather than an error.
        assert browser.get(f"/inbox/conversations/{conv_id}?before=%C2%B2").status_code == 200
