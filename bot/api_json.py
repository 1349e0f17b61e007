"""The JSON objects of CONTRACT.md, rendered from storage views."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.conversations import ConversationView, MessageView


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def conversation_json(view: ConversationView) -> dict[str, Any]:
    return {
        "id": view.id,
        "status": view.status,
        "channel": view.channel,
        "client": {"id": view.client_id, "name": view.client_name},
        "contact": {"id": view.contact_id, "name": view.contact_name, "address": view.address},
        "assignee": view.assignee,
        "due_at": None,
        "commitment": None,
        "reachable": not (view.opted_out or view.unreachable),
        "opted_out": view.opted_out,
        "created_at": iso(view.created_at),
        "updated_at": iso(view.updated_at),
    }


def message_json(view: MessageView) -> dict[str, Any]:
    if view.author_type == "contact":
        author: dict[str, Any] = {"type": "contact", "id": int(view.author_id or 0),
                                  "name": view.author_name}
    elif view.author_type == "staff":
        author = {"type": "staff", "id": view.author_id, "name": view.author_name}
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
        "attachments": view.attachments,
        "edit_of": view.edit_of,
    }
