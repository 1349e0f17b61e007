"""Who closed, reopened or assigned a conversation is kept and shown: in the API's
`activity` and as lines of the inbox timeline, whether done by token or by a signed-in person."""

from __future__ import annotations

from tests.browser.inbox_support import add_login, csrf_from, signed_in
from tests.e2e.test_outbound_order import open_conversation
from tests.support.app import RunningApp


def test_closes_reopens_and_assignments_name_who_did_them(app: RunningApp) -> None:
    conv_id = open_conversation(app)
    with app.api() as api:
        assert api.post(f"/api/conversations/{conv_id}/assign", json={"staff": "raj"}).is_success
    add_login(app.container, "ana", "ana")
    with signed_in(app.url, "ana") as browser:
        page = browser.get(f"/inbox/conversations/{conv_id}")
        token = csrf_from(page.text)
        for action in ("close", "reopen"):
            done = browser.post(
                f"/inbox/conversations/{conv_id}/{action}", data={"csrf_token": token}
            )
            assert done.status_code == 303, done.text
        timeline = browser.get(f"/inbox/conversations/{conv_id}").text
    with app.api() as api:
        activity = api.get(f"/api/conversations/{conv_id}").json()["activity"]
    assert [(a["kind"], a["by"], a["assignee"]) for a in activity] == [
        ("assigned", "admin", "raj"),
        ("closed", "ana", None),
        ("reopened", "ana", None),
    ]
    assert all(a["at"].endswith("+00:00") for a in activity)
    names = {s.id: s.name for s in app.container.config.staff}
    for line in (
        f"Assigned to {names['raj']} by the admin token",
        f"Closed by {names['ana']}",
        f"Reopened by {names['ana']}",
    ):
        assert line in timeline
