"""The database schema as SQLAlchemy 2 typed models. Migrations in storage/migrations mirror it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from routing import limits
from storage.types import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}  # noqa: RUF012


class ClientRow(Base):
    """A client of the agency, as the configuration names it (synced at start-up)."""

    __tablename__ = "clients"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    commitment: Mapped[str] = mapped_column(String(64))
    escalation: Mapped[str | None] = mapped_column(String(64))
    timezone: Mapped[str | None] = mapped_column(String(64))
    account_team: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ContactRow(Base):
    """A person who writes to the agency. `client_id` NULL: an unknown sender, for triage."""

    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str | None] = mapped_column(ForeignKey("clients.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(limits.PERSON_NAME))
    # "client-id/Contact Name" for contacts from the configuration; NULL for unknown senders.
    config_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime]


class IdentityRow(Base):
    """One address of a contact on one channel: an E.164 number, a Telegram or Slack user id."""

    __tablename__ = "channel_identities"
    __table_args__ = (UniqueConstraint("channel", "address"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(limits.ADDRESS))
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out_at: Mapped[datetime | None]
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)
    unreachable_reason: Mapped[str | None] = mapped_column(String(200))
    # "config": the configuration's (the start-up sync owns it); "runtime": added in the app,
    # never deleted by the sync (migration 0014).
    source: Mapped[str] = mapped_column(String(16), default="runtime", server_default="runtime")


class ConversationRow(Base):
    """All that one contact wrote on one channel and chat, and the agency's answers.

    There is one per (contact, channel, chat): closing ends it for now, the next message
    reopens it, so the history stays in one place and racing messages cannot fork it.
    """

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("contact_id", "channel", "chat_id"),
        Index("ix_conversations_status_updated", "status", "updated_at"),
        Index("ix_conversations_state_due", "commitment_state", "due_at"),
        # The inbox: open conversations, soonest due first.
        Index("ix_conversations_status_due", "status", "due_at", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    client_id: Mapped[str | None] = mapped_column(ForeignKey("clients.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(limits.CHAT_ID))  # where replies go on that channel
    status: Mapped[str] = mapped_column(String(16), default="open")
    assignee: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    last_message_at: Mapped[datetime | None]
    # The current commitment, mirrored here so the inbox can filter and sort by it cheaply.
    # (No foreign key: commitments point at conversations, and the cycle helps nobody.)
    commitment_id: Mapped[int | None] = mapped_column(Integer)
    commitment_state: Mapped[str | None] = mapped_column(String(16))
    due_at: Mapped[datetime | None]
    # Follow-up work for a message here (commitment, acknowledgement, page, mirror) that
    # failed for good: shown to staff beside the message, which was filed regardless.
    followup_error: Mapped[str | None] = mapped_column(String(500))
    followup_failed_at: Mapped[datetime | None]


class ConversationEventRow(Base):
    """Who closed, reopened or assigned a conversation, and when: the inbox's activity lines.
    (A client's message reopening a conversation is its own record, the message.)"""

    __tablename__ = "conversation_events"
    __table_args__ = (Index("ix_conversation_events_conversation", "conversation_id", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    kind: Mapped[str] = mapped_column(String(16))  # closed, reopened, assigned
    actor: Mapped[str] = mapped_column(String(limits.STAFF_ID))  # a staff id, or "admin"
    assignee: Mapped[str | None] = mapped_column(String(limits.STAFF_ID))  # for "assigned"
    at: Mapped[datetime]


class MessageRow(Base):
    __tablename__ = "messages"
    # A provider's id is unique per channel: a retried webhook can never make a second message.
    __table_args__ = (
        UniqueConstraint("channel", "provider_id"),
        Index("ix_messages_conversation_created", "conversation_id", "created_at"),
        # Reports: the after-hours acknowledgements of a period (storage/reports.py).
        Index(
            "ix_messages_auto_created",
            "created_at",
            sqlite_where=text("direction = 'auto'"),
            postgresql_where=text("direction = 'auto'"),
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    direction: Mapped[str] = mapped_column(String(8))  # in | out | auto | note
    channel: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text, default="")
    author_type: Mapped[str] = mapped_column(String(16))  # contact | staff | system
    author_id: Mapped[str | None] = mapped_column(String(64))
    author_name: Mapped[str | None] = mapped_column(String(limits.PERSON_NAME))
    provider_id: Mapped[str | None] = mapped_column(String(limits.PROVIDER_ID))
    delivery: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(String(limits.ERROR_TEXT))
    attachments: Mapped[list[Any]] = mapped_column(default=list)
    edit_of: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))  # before 0006 only
    # The client's edits: every earlier text, oldest first (routing.edits); NULL if never edited.
    edits: Mapped[list[Any] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime]


class InboundDeliveryRow(Base):
    """Every provider delivery seen once: the dedupe record behind idempotent webhooks.

    Webhooks journal what they received here (`payload`, state "pending") and answer at once;
    the worker routes pending rows. The router's own claim on a delivery sets "routed".
    """

    __tablename__ = "inbound_deliveries"
    __table_args__ = (
        UniqueConstraint("channel", "delivery_key"),
        Index("ix_inbound_deliveries_state_received", "state", "received_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    delivery_key: Mapped[str] = mapped_column(String(limits.DELIVERY_KEY))
    received_at: Mapped[datetime]
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    kind: Mapped[str] = mapped_column(String(32), default="message")
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="routed")  # pending|routed|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    # After a failed filing attempt, the delivery waits until then (exponential backoff).
    next_attempt_at: Mapped[datetime | None]


class OutboxRow(Base):
    """A message to hand to a provider, written in the same transaction as what caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_state_next", "state", "next_attempt_at"),
        # The order rule (storage/outbox.py): is an earlier row to this recipient unfinished?
        Index("ix_outbox_recipient_order", "channel", "recipient", "state", "created_at"),
        # A provider's status callback finds the part it is about.
        Index("ix_outbox_channel_provider", "channel", "provider_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    # Which part of its message this row carries (0 for the first, or the whole).
    part: Mapped[int] = mapped_column(Integer, default=0)
    # False: leaves whenever due, neither waiting for nor holding back other rows.
    ordered: Mapped[bool] = mapped_column(Boolean, default=True)
    # The part's delivery (queued|sent|delivered|failed), for rows of a message.
    delivery: Mapped[str | None] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))  # reply | auto_reply | page | notice
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    provider_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class TimerRow(Base):
    """A durable timer: something the worker must do at `due_at`, whatever restarts between.

    `key` makes scheduling idempotent (one breach timer per commitment, one step per page).
    A row of a job kind (storage/timers.py, "Jobs") runs outside a transaction, leased.
    """

    __tablename__ = "timers"
    __table_args__ = (
        Index("ix_timers_state_due", "state", "due_at"),
        # When each kind is next due, a probe a kind (storage/schedule.py).
        Index("ix_timers_state_kind_due", "state", "kind", "due_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    due_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|done|cancelled
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]
    # Jobs only: the lease of the worker running it (due_at moves with it), and how many
    # times it was asked for, so that a run that began before the last ask is not its last.
    locked_until: Mapped[datetime | None]
    requests: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class CommitmentRow(Base):
    """One response-time promise on a conversation (see routing.commitments)."""

    __tablename__ = "commitments"
    __table_args__ = (
        Index("ix_commitments_state_due", "state", "due_at"),
        # Reports: the commitments started in a period, and whether each is its
        # conversation's first (storage/reports.py).
        Index("ix_commitments_started", "started_at"),
        Index("ix_commitments_conversation_started", "conversation_id", "started_at"),
        # At most one commitment per conversation waits for a reply: racing messages share it.
        Index(
            "uq_commitments_awaiting",
            "conversation_id",
            unique=True,
            sqlite_where=text("awaiting = 1"),
            postgresql_where=text("awaiting"),
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    tier: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    awaiting: Mapped[bool] = mapped_column(Boolean)
    after_hours: Mapped[bool] = mapped_column(Boolean)
    started_at: Mapped[datetime]
    due_at: Mapped[datetime]
    at_risk_at: Mapped[datetime]
    met_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    trigger_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    # What the reports read, kept as the commitment is started and answered (migration
    # 0016): no earlier commitment on its conversation; who wrote the first answer; the open
    # seconds of its tier's calendar from its start to that answer (None: not answered, or
    # answered before 0016 and not backfilled).
    first_of_conversation: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=true()
    )
    answered_by: Mapped[str | None] = mapped_column(String(64))
    business_seconds: Mapped[float | None] = mapped_column(Float)


class CommitmentEventRow(Base):
    __tablename__ = "commitment_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commitment_id: Mapped[int] = mapped_column(ForeignKey("commitments.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]


class OverrideRow(Base):
    """One person covering a range of one rotation, whatever its schedule says.

    Rows are never edited: a correction is a new override (the newest wins an overlap), and a
    mistake is deleted.
    """

    __tablename__ = "oncall_overrides"
    __table_args__ = (Index("ix_oncall_overrides_rotation_end", "rotation", "end"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rotation: Mapped[str] = mapped_column(String(64))
    staff: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime]
    end: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(64))


class SlackThreadRow(Base):
    """A conversation's thread in the Slack staff inbox (bot/channels/slack/inbox_mirror.py):
    its root, Slack's (channel, ts), and how far the mirror is. Written whole when the root is
    posted, so progress never exists without a root."""

    __tablename__ = "slack_threads"
    __table_args__ = (UniqueConstraint("channel", "ts"),)  # a reply in Slack finds its thread
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id"), primary_key=True, autoincrement=False
    )
    channel: Mapped[str] = mapped_column(String(limits.CHAT_ID))
    ts: Mapped[str] = mapped_column(String(64))
    # The last message mirrored into the thread (0: none yet); it never goes back.
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    root_text: Mapped[str | None] = mapped_column(Text)  # the root as shown; NULL: unknown
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SlackEchoRow(Base):
    """A message that is in Slack (typed there, or posted by the mirror): version 0 as first
    written, n its text after the n-th edit. Not to be posted (again)."""

    __tablename__ = "slack_echoes"
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id"), primary_key=True, autoincrement=False
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime]


class StaffAccountRow(Base):
    """A web-inbox login for a staff member of the configuration."""

    __tablename__ = "staff_accounts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    login: Mapped[str] = mapped_column(String(100), unique=True)
    staff_id: Mapped[str] = mapped_column(String(64), index=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # The IANA zone the inbox shows this login's times in; None: the agency's (migration 0010).
    timezone: Mapped[str | None] = mapped_column(String(64))


class StaffSessionRow(Base):
    """A signed-in browser: the cookie holds a random token, this row only its SHA-256."""

    __tablename__ = "staff_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("staff_accounts.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class PageRow(Base):
    """An escalation page for one conversation, running the policy it opened with."""

    __tablename__ = "pages"
    __table_args__ = (
        Index("ix_pages_state", "state", "opened_at"),
        Index("ix_pages_opened", "opened_at"),  # reports: the pages opened in a period
        Index(
            "uq_pages_open_conversation",
            "conversation_id",
            unique=True,
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    commitment_id: Mapped[int | None] = mapped_column(ForeignKey("commitments.id"))
    client_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # open | acknowledged | resolved
    step: Mapped[int] = mapped_column(Integer, default=0)  # 1-based, the last step run
    round: Mapped[int] = mapped_column(Integer, default=0)  # 0, then 1.. for each repeat
    policy: Mapped[dict[str, Any]] = mapped_column(default=dict)  # snapshot at opening
    summary: Mapped[str] = mapped_column(Text, default="")
    opened_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(limits.STAFF_ID))
    resolved_at: Mapped[datetime | None]


class PageNotificationRow(Base):
    """One person told of one page on one channel, at one step: scheduled, then sent."""

    __tablename__ = "page_notifications"
    # Reports: who was told of a page in a period (storage/reports.py).
    __table_args__ = (Index("ix_page_notifications_sent", "sent_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("pages.id"), index=True)
    staff_id: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    step: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16))  # scheduled | sent | cancelled
    sent_at: Mapped[datetime | None]
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))


class ReadMarkerRow(Base):
    """How far one staff member has read one conversation: unread while a client message is
    newer than `last_read_message_id` (storage/read_markers.py). It only moves forward."""

    __tablename__ = "read_markers"
    staff_id: Mapped[str] = mapped_column(String(limits.STAFF_ID), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id"), primary_key=True, autoincrement=False, index=True
    )
    # No foreign key: a message id as a watermark, compared, never joined.
    last_read_message_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]


class CannedReplyRow(Base):
    """A reply staff insert with `/` in the composer; admins keep the list (/inbox/canned).
    `text` may hold placeholders (bot/usecases/canned.py), filled per conversation."""

    __tablename__ = "canned_replies"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(100), unique=True)
    text: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(limits.STAFF_ID))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ConfigVersionRow(Base):
    """The configuration every running process applies: one row (id 1), replaced by
    `partnerline reload` or a SIGHUP (bot/reloading.py). `version` counts the replacements;
    `text` is the file's text as validated, `checksum` its SHA-256."""

    __tablename__ = "config_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer)
    checksum: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime]
