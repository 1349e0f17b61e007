"""What a stand-in was sent, kept in order for tests and the sandbox to inspect."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request


@dataclass(frozen=True, slots=True)
class CapturedRequest:
    """One HTTP request as the stand-in received it.

    `headers` has lower-case names. `form` keeps every field of an urlencoded body in order,
    repeated names included; it is empty for other bodies.
    """

    method: str
    url: str  # scheme, host, port, path and query string, as the server saw them
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    form: tuple[tuple[str, str], ...] = ()
    # When it arrived, on the monotonic clock: tests compare instants the stand-in saw, not
    # when they themselves looked (which a loaded machine delays).
    received: float = dataclasses.field(default_factory=time.monotonic)

    def field(self, name: str) -> str | None:
        """The first value of form field `name`, or None."""
        return next((value for key, value in self.form if key == name), None)

    def fields(self, name: str) -> list[str]:
        """Every value of form field `name`, in order."""
        return [value for key, value in self.form if key == name]

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One API method call as a stand-in read it: method and decoded parameters."""

    method: str
    params: dict[str, Any]
    request: CapturedRequest


def decode_params(request: CapturedRequest) -> dict[str, Any]:
    """Parameters from the query string and the body (JSON or a form), as Bot API and Slack
    Web API both accept them."""
    params: dict[str, Any] = dict(parse_qsl(request.query, keep_blank_values=True))
    if request.content_type.startswith("application/json") and request.body:
        data = json.loads(request.body)
        if isinstance(data, dict):
            params.update(data)
    else:
        params.update(dict(request.form))
    return params


async def capture(request: Request) -> CapturedRequest:
    """Read a Starlette request whole and keep what tests look at."""
    body = await request.body()
    headers = {name.lower(): value for name, value in request.headers.items()}
    form: tuple[tuple[str, str], ...] = ()
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        try:
            form = tuple(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            form = ()
    return CapturedRequest(
        method=request.method,
        url=str(request.url),
        path=request.url.path,
        query=request.url.query,
        headers=headers,
        body=body,
        form=form,
    )


class RequestLog:
    """A thread-safe list of captured requests: the server thread appends, tests wait and read."""

    def __init__(self) -> None:
        self._requests: list[CapturedRequest] = []
        self._changed = threading.Condition()

    def append(self, request: CapturedRequest) -> None:
        with self._changed:
            self._requests.append(request)
            self._changed.notify_all()

    def all(self) -> list[CapturedRequest]:
        with self._changed:
            return list(self._requests)

    def clear(self) -> None:
        with self._changed:
            self._requests.clear()

    def __len__(self) -> int:
        with self._changed:
            return len(self._requests)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[CapturedRequest]:
        """Block until at least `count` requests have arrived; all of them, or TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"expected {count} requests within {timeout}s, got {len(self._requests)}"
                    )
                self._changed.wait(left)
            return list(self._requests)
