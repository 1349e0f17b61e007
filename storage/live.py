"""What the web inbox's live updates watch: a cheap fingerprint of everything it shows.

Every open inbox page asks for it once a second (bot/http/web/live.py), so it is one statement
over indexed maxima, plus, for a conversation page, its messages' delivery states. The value
changes whenever a message arrives, a conversation changes, a promise moves or a page is
opened, stepped, acknowledged or resolved.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.tables import CommitmentEventRow, ConversationRow, MessageRow, PageRow


def _latest(column: Any, *where: Any) -> Any:
    return select(func.max(column)).where(*where).scalar_subquery()


# One statement, built once.
_INBOX_STATE = select(
    _latest(MessageRow.id),
    _latest(ConversationRow.updated_at, ConversationRow.status == "open"),
    _latest(ConversationRow.updated_at, ConversationRow.status == "closed"),
    _latest(CommitmentEventRow.id),
    _latest(PageRow.id),
    _latest(PageRow.acknowledged_at),
    _latest(PageRow.resolved_at),
    _latest(PageRow.step),
)


class LiveState:
    def __init__(self, session: Session) -> None:
        self.session = session

    def fingerprint(self, conversation_id: int | None = None) -> str:
        """20 hex digits that change when what the inbox shows changes; with a conversation,
        also when one of its sent messages' delivery state does."""
        parts: list[object] = list(self.session.execute(_INBOX_STATE).one())
        if conversation_id is not None:
            parts.extend(
                self.session.execute(
                    select(MessageRow.id, MessageRow.delivery)
                    .where(
                        MessageRow.conversation_id == conversation_id,
                        MessageRow.delivery.is_not(None),
                    )
                    .order_by(MessageRow.id)
                ).all()
            )
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:20]
