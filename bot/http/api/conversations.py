"""The staff API over conversations (docs/CONTRACT.md, "Staff API")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from bot.container import Container
from bot.http.api.objects import commitment_json, conversation_json, iso, message_json
from bot.http.api.responses import RowId, errors
from bot.http.deps import AuthorDep, ContainerDep
from routing.limits import PERSON_NAME, ROW_ID_MAX, checked_row_id, clean_text
from storage.conversations import ConversationFilter, ConversationView

router = APIRouter(prefix="/api/conversations", tags=["conversations"], responses=errors(401))


# The longest reply or note the API takes, in characters (README, "Staff API"). A longer text
# is a 422 of type `text_too_long`; within it, a reply is cut into as many messages as its
# channel needs (adapters/text_parts.py), sent in order.
MAX_TEXT = 10_000


class TextBody(BaseModel):
    # Checked here rather than by Field(max_length=…), for a 422 that names the limit in words
    # and its rule in `type` (the schema still shows both bounds).
    text: str = Field(json_schema_extra={"minLength": 1, "maxLength": MAX_TEXT})

    @field_validator("text")
    @classmethod
    def within_limits(cls, text: str) -> str:
        text = clean_text(text)
        if not text.strip():
            raise PydanticCustomError("text_empty", "text is empty")
        if len(text) > MAX_TEXT:
            raise PydanticCustomError(
                "text_too_long",
                "text is {length} characters; the limit is {limit} characters",
                {"length": f"{len(text):,}", "limit": f"{MAX_TEXT:,}"},
            )
        return text


class ReplyBody(TextBody):
    channel: Literal["sms", "telegram", "slack"] | None = None


class AssignBody(BaseModel):
    staff: str | None


class LinkBody(BaseModel):
    """`{"client": ID, "name": str}`: the sender becomes that client's new contact;
    `{"contact": ID}`: their address becomes another identity of that contact."""

    client: str | None = Field(default=None, min_length=1, max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=PERSON_NAME)
    contact: int | None = Field(default=None, ge=1, le=ROW_ID_MAX)


@router.get("", responses=errors(400))
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
        with container.services.reader() as uow:
            try:
                views, next_cursor = uow.conversations.listing(filters, limit, cursor, sort)
            except ValueError as exc:
                raise HTTPException(400, detail=str(exc)) from exc
            current = uow.commitments.latest_by_conversation([v.id for v in views])
            items = [conversation_json(v, current.get(v.id)) for v in views]
            return {"items": items, "next_cursor": next_cursor}

    return await run_in_threadpool(load)


# A conversation's messages come a page at a time: the newest MESSAGES_PAGE, then older ones
# by `messages_next_cursor` (thousands of notes would otherwise be megabytes on every read).
MESSAGES_PAGE = 200


@router.get("/{conversation_id}", responses=errors(400, 404))
async def get_conversation(
    conversation_id: RowId,
    container: ContainerDep,
    author: AuthorDep,
    limit: Annotated[int, Query(ge=1, le=500, description="messages per page")] = MESSAGES_PAGE,
    cursor: Annotated[
        str | None, Query(max_length=16, description="messages_next_cursor of the page before")
    ] = None,
) -> dict[str, Any]:
    before = None if cursor is None else checked_row_id(cursor, "cursor")

    def load() -> dict[str, Any]:
        with container.services.reader() as uow:
            view = uow.conversations.get(conversation_id)
            if view is None:
                raise HTTPException(404, detail=f"no conversation {conversation_id}")
            history = uow.commitments.history(view.id)
            window = uow.conversations.message_window(view.id, last=limit, before=before)
            body = conversation_json(view, history[-1][0] if history else None)
            body["messages"] = [message_json(m) for m in window.messages]
            body["messages_next_cursor"] = (
                str(window.messages[0].id) if window.earlier and window.messages else None
            )
            body["commitments"] = [commitment_json(c, events) for c, events in history]
            body["activity"] = [
                {"kind": e.kind, "by": e.actor, "assignee": e.assignee, "at": iso(e.at)}
                for e in uow.conversations.events(view.id)
            ]
            return body

    return await run_in_threadpool(load)


@router.post("/{conversation_id}/reply", status_code=202, responses=errors(400, 404, 409, 413))
async def reply(
    conversation_id: RowId, body: ReplyBody, container: ContainerDep, author: AuthorDep
) -> JSONResponse:
    """`channel` (optional): reply on another channel the contact has an address on; the
    message goes to their conversation there (found, or opened on SMS and Telegram), and this
    conversation counts as answered. Omitted: this conversation's channel."""
    message = await run_in_threadpool(
        container.services.reply_on, conversation_id, body.text, author, body.channel
    )
    return JSONResponse(message_json(message), status_code=202)


@router.post("/{conversation_id}/notes", status_code=201, responses=errors(400, 404, 413))
async def add_note(
    conversation_id: RowId, body: TextBody, container: ContainerDep, author: AuthorDep
) -> JSONResponse:
    note = await run_in_threadpool(container.services.add_note, conversation_id, body.text, author)
    return JSONResponse(message_json(note), status_code=201)


@router.post("/{conversation_id}/close", responses=errors(404))
async def close(
    conversation_id: RowId, container: ContainerDep, author: AuthorDep
) -> dict[str, Any]:
    view = await run_in_threadpool(container.services.close, conversation_id, author)
    return await _with_commitment(container, view)


@router.post("/{conversation_id}/reopen", responses=errors(404))
async def reopen(
    conversation_id: RowId, container: ContainerDep, author: AuthorDep
) -> dict[str, Any]:
    view = await run_in_threadpool(container.services.reopen, conversation_id, author)
    return await _with_commitment(container, view)


@router.post("/{conversation_id}/assign", responses=errors(400, 404, 413))
async def assign(
    conversation_id: RowId, body: AssignBody, container: ContainerDep, author: AuthorDep
) -> dict[str, Any]:
    view = await run_in_threadpool(container.services.assign, conversation_id, body.staff, author)
    return await _with_commitment(container, view)


@router.post("/{conversation_id}/link", responses=errors(400, 404, 409))
async def link(
    conversation_id: RowId, body: LinkBody, container: ContainerDep, author: AuthorDep
) -> dict[str, Any]:
    """An unknown sender's conversation moves to a client, with its messages and its open
    commitment (that client's tier, from the original message time); 409 if it is not an
    unknown sender's (a second link changes nothing)."""

    def work() -> ConversationView:
        return container.services.link(
            conversation_id, author, client_id=body.client, name=body.name, contact_id=body.contact
        )

    return await _with_commitment(container, await run_in_threadpool(work))


async def _with_commitment(container: Container, view: ConversationView) -> dict[str, Any]:
    def load() -> dict[str, Any]:
        with container.services.reader() as uow:
            return conversation_json(
                view, uow.commitments.latest_by_conversation([view.id]).get(view.id)
            )

    return await run_in_threadpool(load)
