"""Sign webhook requests exactly as Twilio does, for tests that play Twilio."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

FormParams = Mapping[str, str | Sequence[str]] | Sequence[tuple[str, str]]


class _MultiParams(dict[str, list[str]]):
    # RequestValidator reads repeated keys through `getlist`.
    def getlist(self, name: str) -> list[str]:
        return list(self[name])


def _pairs(params: FormParams) -> list[tuple[str, str]]:
    if isinstance(params, Mapping):
        pairs: list[tuple[str, str]] = []
        for name, value in params.items():
            if isinstance(value, str):
                pairs.append((name, value))
            else:
                pairs.extend((name, item) for item in value)
        return pairs
    return list(params)


def twilio_signature(auth_token: str, url: str, params: FormParams) -> str:
    """`X-Twilio-Signature` for a form POST of `params` to `url`."""
    multi = _MultiParams()
    for name, value in _pairs(params):
        multi.setdefault(name, []).append(value)
    return RequestValidator(auth_token).compute_signature(url, multi)


def signed_form_post_headers(
    auth_token: str, url: str, params: FormParams
) -> tuple[dict[str, str], bytes]:
    """Headers and urlencoded body of a form POST to `url` signed as Twilio signs it.

    `params` may be a mapping (a value may be a list, for a repeated key) or a list of pairs.
    """
    pairs = _pairs(params)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": twilio_signature(auth_token, url, pairs),
        "User-Agent": "TwilioProxy/1.1",
    }
    return headers, urlencode(pairs).encode("utf-8")
