"""The staff API over conversations (CONTRACT.md, "Staff API")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bot.api_json import commitment_json, conversation_json, message_json
from bot.container import Container
from bot.deps import AuthorDep, ContainerDep
from routing.errors import DomainError
from storage.conversations import ConversationFilter, ConversationView

router = APIRouter(prefix="/api/conversations", tags=["conversations"])


# The longest reply or note the API takes, in characters (README, "Staff API"). A longer text
# is answered 422 `text_too_long`; within it, a reply is cut into as many messages as its
# channel needs (adapters/text_parts.py), sent in order.
MAX_TEXT = 10_000


class TextRefused(DomainError):
    status = 422


class TextBody(BaseModel):
    # Checked by `checked`, for a 422 that names the limit (the schema still shows it).
    text: str = Field(json_schema_extra={"minLength": 1, "maxLength": MAX_TEXT})

    def checked(self) -> str:
        """The text, or a 422 that names the rule it broke."""
        if not self.text.strip():
            raise TextRefused("text_empty", "text is empty")
        if len(self.text) > MAX_TEXT:
            raise TextRefused(
                "text_too_long",
                f"text is {len(self.text):,} characters; the limit is {MAX_TEXT:,} characters",
            )
        return self.text


class AssignBody(BaseModel):
    staff: str | None


@router.get("")
async def list_conversations(
    container: ContainerDep,
    author: AuthorDep,
    status: Literal["open", "closed"] | None = None,
    state: Literal["pending", "at_risk", "met", "breached", "unanswered"] | None = None,
    sort: Literal["updated_at", "due_at"] = "updated_at",
    client: str | None = None,
    channel: Literal["sms", "telegram", "slack"] | None = None,
    assignee: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    filters = ConversationFilter(
        status=status, state=state, client=client, channel=channel, assignee=assignee, q=q
    )

    def load() -> dict[str, Any]:
        with container.services.uow() as uow:
            try:
                views, next_cursor = uow.conversations.list(filters, limit, cursor, sort)
            except ValueError as exc:
                raise HTTPException(400, detail=str(exc)) from exc
            current = uow.commitments.latest_by_conversation([v.id for v in views])
            items = [conversation_json(v, current.get(v.id)) for v in views]
            return {"items": items, "next_cursor": next_cursor}

    return await run_in_threadpool(load)


@router.get("/{conversation_id}")
async def get_conversation(
    conversation_id: int, container: ContainerDep, author: AuthorDep
) -> dict[str, Any]:
    def load() -> dict[str, Any]:
        with container.services.uow() as uow:
            view = uow.conversations.get(conversation_id)
            if view is None:
                raise HTTPException(404, detail=f"no conversation {conversation_id}")
            history = uow.commitments.history(view.id)
            body = conversation_json(view, history[-1][0] if history else None)
            body["messages"] = [message_json(m) for m in uow.conversations.messages(view.id)]
            body["commitments"] = [commitment_json(c, events) for c, events in history]
            return body

    return await run_in_threadpool(load)


@router.post("/{conversation_id}/reply", status_code=202)
async def reply(
    conversation_id: int, body: TextBody, container: ContainerDep, author: AuthorDep
) -> JSONResponse:
    text = body.checked()
    message = await run_in_threadpool(container.services.reply, conversation_id, text, author)
    return JSONResponse(message_json(message), status_code=202)


@router.post("/{conversation_id}/notes", status_code=201)
async def add_note(
    conversation_id: int, body: TextBody, container: ContainerDep, author: AuthorDep
) -> JSONResponse:
    text = body.checked()
    note = await run_in_threadpool(container.services.add_note, conversation_id, text, author)
    return JSONResponse(message_json(note), status_code=201)


@router.post("/{conversation_id}/close")
async def close(conversation_id: int, container: ContainerDep, author: AuthorDep) -> dict[str, Any]:
    view = await run_in_threadpool(container.services.close, conversation_id, author)
    return await _with_commitment(container, view)


@router.post("/{conversation_id}/reopen")
async def reopen(
    conversation_id: int, container: ContainerDep, author: AuthorDep
) -> dict[str, Any]:
    view = await run_in_threadpool(container.services.reopen, conversation_id, author)
    return await _with_commitment(container, view)


@router.post("/{conversation_id}/assign")
async def assign(
    conversation_id: int, body: AssignBody, container: ContainerDep, author: AuthorDep
) -> dict[str, Any]:
    view = await run_in_threadpool(container.services.assign, conversation_id, body.staff, author)
    return await _with_commitment(container, view)


async def _with_commitment(container: Container, view: ConversationView) -> dict[str, Any]:
    def load() -> dict[str, Any]:
        with container.services.uow() as uow:
            return conversation_json(
                view, uow.commitments.latest_by_conversation([view.id]).get(view.id)
            )

    return await run_in_threadpool(load)
