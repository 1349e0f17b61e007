"""Check what the `twilio` client sent to the stand-in against Twilio's own OpenAPI description."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

from adapters.standins.recording import CapturedRequest

SPEC_PATH = Path(__file__).resolve().parents[1] / "data" / "twilio" / "twilio_api_v2010_subset.json"
# The description names this server; the stand-in's loopback host is swapped for it.
TWILIO_HOST_URL = "https://api.twilio.com"


@cache
def twilio_openapi() -> OpenAPI:
    return OpenAPI.from_dict(json.loads(SPEC_PATH.read_text(encoding="utf-8")))


@dataclass(frozen=True)
class OpenAPIRequest:
    """A captured request in the shape openapi-core's request protocol reads."""

    host_url: str
    path: str
    method: str
    body: bytes
    content_type: str
    parameters: RequestParameters = field(default_factory=RequestParameters)


def as_openapi_request(request: CapturedRequest) -> OpenAPIRequest:
    return OpenAPIRequest(
        host_url=TWILIO_HOST_URL,
        path=request.path,
        method=request.method.lower(),
        body=request.body,
        content_type=request.content_type,
        parameters=RequestParameters(
            query=ImmutableMultiDict(parse_qsl(request.query, keep_blank_values=True)),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        ),
    )


def validate_captured(request: CapturedRequest) -> None:
    """Raise openapi-core's validation error unless Twilio's description allows `request`.

    Checked: the operation exists for that method and path, path parameters (AccountSid's
    pattern), the form body against the operation's schema (required fields, types, enums), and
    that HTTP Basic credentials were sent.
    """
    twilio_openapi().validate_request(as_openapi_request(request))


@dataclass(frozen=True)
class OpenAPIResponse:
    """An HTTP response in the shape openapi-core's response protocol reads."""

    status_code: int
    content_type: str
    data: bytes
    headers: Headers = field(default_factory=Headers)


def validate_answer(
    request: CapturedRequest, status: int, headers: dict[str, str], body: bytes
) -> None:
    """Raise unless Twilio's description allows this answer (the stand-in's) to `request`."""
    response = OpenAPIResponse(
        status_code=status,
        content_type=headers.get("content-type", ""),
        data=body,
        headers=Headers(list(headers.items())),
    )
    twilio_openapi().validate_response(as_openapi_request(request), response)
