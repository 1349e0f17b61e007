"""The JSON objects of docs/CONTRACT.md, rendered from storage views."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from routing import edits
from routing.commitments import Commitment, Event
from storage.contacts import ContactView
from storage.conversations import UNKNOWN_AUTHOR_NAME, ConversationView, MessageView


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def commitment_json(c: Commitment, events: list[Event] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": c.id,
        "tier": c.tier,
        "state": c.state.value,
        "after_hours": c.after_hours,
        "started_at": iso(c.started_at),
        "due_at": iso(c.due_at),
        "at_risk_at": iso(c.at_risk_at),
        "met_at": iso(c.met_at),
        "breached_at": iso(c.breached_at),
        "answered_at": iso(c.answered_at),
        "closed_at": iso(c.closed_at),
    }
    if events is not None:
        body["events"] = [{"state": str(e.state), "at": iso(e.at)} for e in events]
    return body


def conversation_json(view: ConversationView, commitment: Commitment | None) -> dict[str, Any]:
    return {
        "id": view.id,
        "status": view.status,
        "channel": view.channel,
        "client": {"id": view.client_id, "name": view.client_name},
        "contact": {"id": view.contact_id, "name": view.contact_name, "address": view.address},
        "assignee": view.assignee,
        "due_at": iso(view.due_at),
        "commitment": commitment_json(commitment) if commitment is not None else None,
        "reachable": not (view.opted_out or view.unreachable),
        "opted_out": view.opted_out,
        "followup": followup_json(view),
        "created_at": iso(view.created_at),
        "updated_at": iso(view.updated_at),
    }


def followup_json(view: ConversationView) -> dict[str, Any] | None:
    """The work after filing a message (commitment, acknowledgement, page, mirror) when it
    failed: "retrying" with backoff, or "failed" for good (staff must answer by hand)."""
    if view.followup_error is None:
        return None
    return {
        "state": "failed" if view.followup_failed_at else "retrying",
        "error": view.followup_error,
        "failed_at": iso(view.followup_failed_at),
    }


def message_json(view: MessageView) -> dict[str, Any]:
    if view.author_type == "contact":
        author: dict[str, Any] = {
            "type": "contact",
            "id": int(view.author_id or 0),
            "name": view.author_name or UNKNOWN_AUTHOR_NAME,
        }
    elif view.author_type == "staff":
        name = view.author_name or view.author_id or "Staff"
        author = {"type": "staff", "id": view.author_id, "name": name}
    else:
        author = {"type": "system", "id": None, "name": view.author_name or "Partnerline"}
    return {
        "id": view.id,
        "conversation_id": view.conversation_id,
        "direction": view.direction,
        "channel": view.channel,
        "text": view.text,
        "author": author,
        "created_at": iso(view.created_at),
        "delivery": view.delivery,
        "error": view.error if view.delivery == "failed" else None,
        # The provider messages it went as, in order: a text longer than the channel takes
        # is cut into parts, each with its own delivery (`delivery` is the least advanced).
        "parts": [
            {"delivery": p.delivery, "provider_id": p.provider_id, "error": p.error}
            for p in view.parts
        ],
        "attachments": view.attachments,
        "edit_of": view.edit_of,
        # The client's edits: every earlier text with when it was replaced, oldest first
        # (text null: that text never reached us).
        "edits": edits.public(view.edits),
        "edited_at": view.edits[-1]["at"] if view.edits else None,
    }


def contact_json(view: ContactView) -> dict[str, Any]:
    """A contact: every identity with its channel; `source` "config" (the configuration
    file's, read-only here) or "runtime" (made in the app, kept in the database)."""
    return {
        "id": view.id,
        "name": view.name,
        "client": {"id": view.client_id, "name": view.client_name} if view.client_id else None,
        "source": view.source,
        "identities": [
            {
                "channel": i.channel,
                "address": i.address,
                "source": i.source,
                "reachable": not (i.opted_out or i.unreachable),
            }
            for i in view.identities
        ],
        # Where a reply goes by default: the channel they last wrote on.
        "last_channel": view.last_channel,
        "created_at": iso(view.created_at),
    }
