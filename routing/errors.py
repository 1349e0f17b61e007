"""Errors that carry a text safe to show a user; raw details go only to logs."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused something. `status` is the HTTP status it maps to."""

    status = 400

    def __init__(self, code: str, user_message: str) -> None:
        super().__init__(user_message)
        self.code = code
        self.user_message = user_message


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class InvalidSignature(Exception):
    """The request did not come from the provider it claims; answered with no detail."""


class MalformedPayload(Exception):
    """The request was verified but could not be parsed; answered 400."""


class SendFailed(Exception):
    """A provider refused or could not take a message.

    `retryable` says whether trying again later can help (5xx, 429, network), and
    `retry_after` carries the provider's own wait in seconds when it gave one.
    """

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool,
        code: str | None = None,
        retry_after: float | None = None,
        unreachable: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.code = code
        self.retry_after = retry_after
        self.unreachable = unreachable  # the recipient cannot be reached on this channel at all
