"""Request dependencies: the container, and who is calling."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from bot.container import Container
from bot.services import ADMIN, Author


def get_container(request: Request) -> Container:
    return request.app.state.container  # type: ignore[no-any-return]


ContainerDep = Annotated[Container, Depends(get_container)]


def current_author(request: Request, container: ContainerDep) -> Author:
    """The bearer token of PARTNERLINE_ADMIN_TOKEN acts as `admin`; anything else is 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    expected = container.settings.admin_token
    if (
        expected is not None
        and scheme.lower() == "bearer"
        and token
        and hmac.compare_digest(token.encode(), expected.get_secret_value().encode())
    ):
        return ADMIN
    raise HTTPException(
        status_code=401,
        detail="authentication required",
        headers={"WWW-Authenticate": "Bearer"},
    )


AuthorDep = Annotated[Author, Depends(current_author)]


def public_url_for(request: Request, container: Container) -> str:
    """The URL the provider signed: PUBLIC_URL + path behind a proxy, else what we received."""
    base = container.settings.public_url
    if not base:
        return str(request.url)
    url = base.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    return url
