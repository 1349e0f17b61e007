"""The worker routes journalled deliveries and fires timers a batch to a transaction, each in
a part of its own (UnitOfWork.part): one that fails after writing is undone alone, and the
others of its batch commit. A batch is first done without savepoints, and done again with a
savepoint a part only when one fails."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select

from bot.usecases.services import FOLLOWUP
from routing.messages import Channel
from storage.tables import MessageRow, OutboxRow, TimerRow
from storage.unit_of_work import UnitOfWork
from tests.usecases.rig import DANA, LUCY, TUESDAY_EVENING, Rig


class FailsForText:
    """A before-commit hook (as the Slack mirror is one) that fails for messages holding a
    text: it runs after the follow-up wrote the commitment and the acknowledgement."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.calls = 0

    def __call__(self, uow: UnitOfWork, message_ids: list[int]) -> None:
        self.calls += 1
        texts = uow.session.execute(
            select(MessageRow.text).where(MessageRow.id.in_(message_ids))
        ).scalars()
        if any(self.text in t for t in texts):
            raise RuntimeError("the hook failed")


def test_a_follow_up_that_fails_after_writing_is_undone_alone_in_its_batch(rig: Rig) -> None:
    rig.clock.set(TUESDAY_EVENING)  # after hours: each follow-up acknowledges by SMS
    hook = FailsForText("boom")
    rig.services.before_commit.append(hook)
    dana, lucy = rig.sms(DANA, "Our statement has a typo!"), rig.sms(LUCY, "boom: new menu")
    rig.submit(dana)
    rig.submit(lucy)  # journalled together: one routing batch, one batch of follow-ups

    rig.run_worker()

    assert hook.calls >= 2, "both follow-ups ran their hooks"
    # Dana's follow-up committed: its commitment, acknowledgement and page.
    [(commitment, _)] = rig.commitments(rig.filed_in(dana))
    assert commitment.after_hours
    assert len(rig.sent.texts(Channel.SMS, DANA)) == 1
    # Lucy's message is filed, and all its follow-up wrote before the hook failed is undone:
    # no commitment, no acknowledgement queued or sent; the follow-up waits for its retry.
    conv = rig.filed_in(lucy)
    assert rig.commitments(conv) == []
    assert [m.direction for m in rig.messages(conv)] == ["in"]
    assert rig.sent.texts(Channel.SMS, LUCY) == []
    with rig.services.uow() as uow:
        queued = uow.session.execute(select(OutboxRow.id).where(OutboxRow.recipient == LUCY)).all()
        followups = uow.session.execute(
            select(TimerRow.payload, TimerRow.state, TimerRow.attempts).where(
                TimerRow.kind == FOLLOWUP
            )
        ).all()
    assert queued == []
    # Dana's follow-up ran in the transaction that filed her message: no job. Lucy's failed
    # there, and again as the job it left, which now waits for its retry.
    states = {f.payload["conversation_id"]: (f.state, f.attempts) for f in followups}
    assert states == {conv: ("pending", 2)}


def test_a_batch_that_succeeds_takes_no_savepoint(rig: Rig) -> None:
    """The common case pays for no savepoint (each costs more than a follow-up's statements);
    what the batch did is committed all the same."""
    rig.clock.set(TUESDAY_EVENING)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(rig.container.db.engine, "before_cursor_execute", seen)
    try:
        dana, lucy = rig.sms(DANA, "Our statement has a typo!"), rig.sms(LUCY, "new menu")
        rig.submit(dana)
        rig.submit(lucy)
        rig.run_worker()
    finally:
        event.remove(rig.container.db.engine, "before_cursor_execute", seen)
    for msg, sender in ((dana, DANA), (lucy, LUCY)):
        [(commitment, _)] = rig.commitments(rig.filed_in(msg))
        assert commitment.after_hours
        assert len(rig.sent.texts(Channel.SMS, sender)) == 1
    assert statements, "the listener saw the worker's statements"
    assert not [s for s in statements if "SAVEPOINT" in s.upper()]
