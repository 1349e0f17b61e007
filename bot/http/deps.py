"""Request dependencies: the container, and who is calling."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.container import Container, ContainerDep
from bot.http.sessions import api_csrf_problem, staff_from_session
from bot.usecases.services import ADMIN, Author
from routing.errors import MalformedPayload
from routing.limits import clean_text

# Declared so that OpenAPI names the scheme (Swagger's "Authorize"); the check is ours, below.
_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="AdminToken",
    description="PARTNERLINE_ADMIN_TOKEN. A signed-in inbox session (cookie and X-CSRF-Token "
    "header on writes) is also accepted.",
)


def current_author(
    request: Request,
    container: ContainerDep,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
) -> Author:
    """The bearer token of PARTNERLINE_ADMIN_TOKEN acts as `admin`; an inbox session acts as
    its staff member (a write needs the session's X-CSRF-Token header too). Anything else is
    401 (docs/CONTRACT.md), with a detail that says which of them was missing."""
    if _bearer_is_admin(request, container):
        request.state.is_admin = True
        return ADMIN
    staff = staff_from_session(request, container)
    if staff is not None:
        problem = api_csrf_problem(request, staff)
        if problem is not None:
            raise HTTPException(status_code=401, detail=problem)
        request.state.is_admin = staff.is_admin
        return staff.author
    raise HTTPException(
        status_code=401,
        detail="authentication required",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _bearer_is_admin(request: Request, container: Container) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    expected = container.settings.admin_token
    return bool(
        expected is not None
        and scheme.lower() == "bearer"
        and token
        and hmac.compare_digest(token.encode(), expected.get_secret_value().encode())
    )


AuthorDep = Annotated[Author, Depends(current_author)]


def current_admin(request: Request, author: AuthorDep) -> Author:
    """Like current_author, but 403 unless the caller has admin rights."""
    if not getattr(request.state, "is_admin", False):
        raise HTTPException(status_code=403, detail="admin rights required")
    return author


AdminDep = Annotated[Author, Depends(current_admin)]


async def plain_query(request: Request) -> None:
    """No query parameter holds a NUL: PostgreSQL cannot compare text with one (a search for
    it would be a 500), and no value we give out contains one."""
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            raise MalformedPayload(f"query parameter {clean_text(name)!r} holds a NUL character")
