"""What the staff API answers besides success, for the OpenAPI document, and the one type of an
id in a path.

Every error is JSON `{"detail": …}` (docs/CONTRACT.md): a sentence for 4xx answers the app raises,
plus a machine-readable `code` where the domain refused; a list of problems (each with `loc`,
`msg` and `type`) for 422, as FastAPI documents it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel

from routing.limits import ROW_ID_MAX


class ErrorBody(BaseModel):
    detail: str
    code: str | None = None


_WHY = {
    400: "Malformed or refused: a body that is not JSON, a cursor, time or id that is not one "
    "the API gave out, or a rule of the domain (`code` names it).",
    401: "No valid bearer token or inbox session; or a write with an inbox session lacks its "
    "X-CSRF-Token header (the detail says which).",
    403: "Needs an admin, or a valid feed token.",
    404: "No such object (an id out of range is simply not found).",
    409: "Conflicts with the object's state: a reply to a contact who cannot be reached on the "
    "conversation's channel (opted out, blocked), an acknowledgement of a page no longer open.",
    413: "The body is larger than this route takes.",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route or router: each status with the error body and why."""
    return {status: {"model": ErrorBody, "description": _WHY[status]} for status in statuses}


# Our primary keys are 32-bit on PostgreSQL: a larger id cannot exist, and is a 404 (see
# `invalid_request` in bot/http/app.py) before any query could overflow.
RowId = Annotated[int, Path(ge=1, le=ROW_ID_MAX)]
