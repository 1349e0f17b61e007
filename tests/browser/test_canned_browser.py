"""The composer in a real browser. The `/` picker: an admin keeps a canned reply at
/inbox/canned, a staff member types `/` in Dana's conversation, filters by title, enter
inserts the reply with Dana's first name filled in, and the sent SMS reaches the Twilio
stand-in as written. A file sent from the conversation shows in the timeline and goes by MMS."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from adapters.standins.twilio import TwilioStandIn
from routing.clock import OffsetClock
from tests.browser.inbox_support import PASSWORD, add_login, inbox_app
from tests.e2e.test_sms_flow import eventually
from tests.support.app import RunningApp

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MONDAY_MORNING = datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("America/Detroit"))
DANA = "+13135550142"


@pytest.fixture
def web(db_url: str, twilio: TwilioStandIn, tmp_path: Path) -> Iterator[RunningApp]:
    with inbox_app(
        db_url,
        twilio.url,
        clock=OffsetClock(MONDAY_MORNING),
        PARTNERLINE_ATTACHMENTS_DIR=str(tmp_path / "attachments"),
    ) as running:
        add_login(running.container, "jim", "jim", admin=True)
        add_login(running.container, "ana", "ana")
        yield running


def sign_in(page: Any, web: RunningApp, login: str) -> None:
    page.goto(web.url + "/inbox")
    page.get_by_label("Login").fill(login)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(web.url + "/inbox")


def test_slash_inserts_a_canned_reply_with_the_contacts_first_name(
    web: RunningApp, twilio: TwilioStandIn, context: Any
) -> None:
    admin = context.new_page()
    sign_in(admin, web, "jim")
    admin.goto(web.url + "/inbox/canned")
    admin.get_by_label("Title").fill("Looking into it")
    admin.get_by_label("Text").fill(
        "Hi {contact_first_name}, {my_first_name} here: I'm on it <now>."
    )
    admin.get_by_role("button", name="Add canned reply").click()
    admin.get_by_label("Title").first.wait_for()
    assert admin.locator("#canned-title-1, [id^=canned-title-]").first.input_value() == (
        "Looking into it"
    )
    admin.get_by_label("Title").last.fill("Closing")
    admin.get_by_label("Text").last.fill("Glad it works, {contact_first_name}. Bye!")
    admin.get_by_role("button", name="Add canned reply").click()
    admin.locator("[id^=canned-title-]").nth(1).wait_for()
    context.clear_cookies()

    sid = "SM" + "7" * 32
    assert web.post_sms(web.sms_form(sid, DANA, "The dashboard shows no data")).status_code == 200
    staff = context.new_page()
    sign_in(staff, web, "ana")
    staff.locator("#rows li.row", has_text="Dana Reyes").click()
    staff.wait_for_url("**/inbox/conversations/*")
    box = staff.get_by_label("Reply to Dana Reyes on SMS")
    box.click()
    box.press("/")
    picker = staff.get_by_role("listbox", name="Canned replies")
    picker.wait_for()
    assert picker.get_by_role("option").count() == 2  # both, by title
    box.type("look")
    options = picker.get_by_role("option")
    eventually(lambda: options.count() == 1)
    assert "Looking into it" in options.first.inner_text()
    box.press("Enter")
    assert picker.is_hidden()
    assert box.input_value() == "Hi Dana, Ana here: I'm on it <now>."

    staff.get_by_role("button", name="Send reply").click()
    staff.locator("#timeline .msg.dir-out", has_text="Hi Dana, Ana here").wait_for()
    sent = eventually(lambda: twilio.sent_to(DANA))
    assert sent[-1]["body"] == "Hi Dana, Ana here: I'm on it <now>."

    # Escape closes the picker and leaves what was typed; a filter that matches nothing says so.
    box.press("/")
    box.type("zzz")
    picker.get_by_text("No canned reply matches.").wait_for()
    box.press("Escape")
    assert picker.is_hidden() and box.input_value() == "/zzz"


def tiny_png() -> bytes:
    """A real 2x1 PNG, so that the browser can decode what the inbox serves."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 2, 1, 8, 2, 0, 0, 0)  # 2x1, 8-bit RGB
    pixels = zlib.compress(b"\x00" + b"\xff\x00\x00" + b"\x00\x00\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_a_file_sent_from_the_conversation_shows_in_the_timeline_and_goes_by_mms(
    web: RunningApp, twilio: TwilioStandIn, context: Any
) -> None:
    sid = "SM" + "8" * 32
    assert web.post_sms(web.sms_form(sid, DANA, "Can I see the chart?")).status_code == 200
    page = context.new_page()
    sign_in(page, web, "ana")
    page.locator("#rows li.row", has_text="Dana Reyes").click()
    page.wait_for_url("**/inbox/conversations/*")
    page.get_by_label("Send a file to Dana Reyes").set_input_files(
        files=[{"name": "chart.png", "mimeType": "image/png", "buffer": tiny_png()}]
    )
    page.get_by_label("With a message (optional)").fill("The chart")
    page.get_by_role("button", name="Send file").click()
    image = page.locator("#timeline .msg.dir-out .attachment img[alt='chart.png']")
    image.wait_for()
    # The browser decoded it: the staff-only route served the real bytes as an image.
    eventually(lambda: image.evaluate("img => img.complete && img.naturalWidth") == 2)
    sent = eventually(lambda: (m := twilio.sent_to(DANA)) and len(m) == 2 and m)
    assert sent[0]["body"] == "The chart" and sent[1]["num_media"] == "1"

    # A file of another type is refused with a plain answer, and nothing more is sent.
    page.get_by_label("Send a file to Dana Reyes").set_input_files(
        files=[{"name": "notes.png", "mimeType": "image/png", "buffer": b"not an image"}]
    )
    page.get_by_role("button", name="Send file").click()
    page.get_by_text("Only JPEG, PNG, GIF or PDF files can be sent.").wait_for()
    assert len(twilio.sent_to(DANA)) == 2
