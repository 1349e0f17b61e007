"""The staff API over contacts (docs/CONTRACT.md, "Staff API"): a client's contacts with
identities on any channel, created and edited at runtime, and merged into one person.
Contacts from the configuration file are read-only here (409 saying to edit the file)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from bot.http.api.objects import contact_json
from bot.http.api.responses import RowId, errors
from bot.http.deps import AuthorDep, ContainerDep
from bot.usecases.contacts import Identity
from routing.limits import PERSON_NAME, ROW_ID_MAX

router = APIRouter(prefix="/api/contacts", tags=["contacts"], responses=errors(401))


class IdentityBody(BaseModel):
    channel: str = Field(min_length=1, max_length=16, description="sms, telegram or slack")
    address: str = Field(
        min_length=1, max_length=64, description="E.164 number, Telegram or Slack user id"
    )


class ContactBody(BaseModel):
    client: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=PERSON_NAME)
    identities: list[IdentityBody] = Field(default=[], max_length=20)


class ContactPatch(BaseModel):
    """Only what is given changes; `identities`, when given, is the whole new list."""

    client: str | None = Field(default=None, min_length=1, max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=PERSON_NAME)
    identities: list[IdentityBody] | None = Field(default=None, max_length=20)


class MergeBody(BaseModel):
    into: int = Field(ge=1, le=ROW_ID_MAX, description="the contact that remains")


def _identities(items: list[IdentityBody]) -> list[Identity]:
    return [Identity(i.channel, i.address) for i in items]


@router.get("", responses=errors(400))
async def list_contacts(
    container: ContainerDep,
    author: AuthorDep,
    client: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    views = await run_in_threadpool(container.services.contacts, client, limit)
    return {"items": [contact_json(v) for v in views], "next_cursor": None}


@router.get("/{contact_id}", responses=errors(404))
async def get_contact(contact_id: RowId, container: ContainerDep, author: AuthorDep) -> Any:
    return contact_json(await run_in_threadpool(container.services.contact, contact_id))


@router.post("", status_code=201, responses=errors(400, 409))
async def create_contact(
    body: ContactBody, container: ContainerDep, author: AuthorDep
) -> JSONResponse:
    view = await run_in_threadpool(
        container.services.create_contact,
        body.client,
        body.name,
        _identities(body.identities),
        author,
    )
    return JSONResponse(contact_json(view), status_code=201)


@router.patch("/{contact_id}", responses=errors(400, 404, 409))
async def update_contact(
    contact_id: RowId, body: ContactPatch, container: ContainerDep, author: AuthorDep
) -> Any:
    def work() -> Any:
        return container.services.update_contact(
            contact_id,
            author,
            client_id=body.client,
            name=body.name,
            identities=None if body.identities is None else _identities(body.identities),
        )

    return contact_json(await run_in_threadpool(work))


@router.post("/{contact_id}/merge", responses=errors(400, 404, 409))
async def merge_contact(
    contact_id: RowId, body: MergeBody, container: ContainerDep, author: AuthorDep
) -> Any:
    view = await run_in_threadpool(container.services.merge_contacts, contact_id, body.into, author)
    return contact_json(view)
