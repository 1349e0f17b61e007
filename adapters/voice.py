"""Paging calls through Twilio: the call reads the page and pressing 4 acknowledges.

The call's TwiML comes from our own signed webhook (`/webhooks/twilio/voice`), so what is
read is the page as it stands when the person picks up.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from urllib.parse import urlencode

from twilio.twiml.voice_response import Gather, VoiceResponse

from adapters.sms import TwilioSmsAdapter
from routing.errors import SendFailed
from routing.messages import Channel, OutboundMessage, SendResult

ACK_DIGIT = "4"


class TwilioVoiceAdapter:
    channel: ClassVar[Channel] = Channel.VOICE

    def __init__(self, sms: TwilioSmsAdapter, public_url: str) -> None:
        self._twilio = sms
        self._webhook = public_url.rstrip("/") + "/webhooks/twilio/voice"

    def twiml_url(self, page_id: int, staff_id: str) -> str:
        return f"{self._webhook}?{urlencode({'page': page_id, 'staff': staff_id})}"

    async def send(self, msg: OutboundMessage) -> SendResult:
        page_id, staff_id = msg.extra.get("page_id"), msg.extra.get("staff")
        if page_id is None or staff_id is None:
            raise SendFailed("a voice call needs a page and a person", retryable=False)
        return await self._twilio.call(msg.to, self.twiml_url(int(str(page_id)), str(staff_id)))

    async def find_sent(self, msg: OutboundMessage, since: datetime) -> str | None:
        # Calls to one person are coalesced (one per window), so a call to that number since
        # the row was made is this one.
        return await self._twilio.find_call(msg.to, since)


def page_call_twiml(text: str, action_url: str) -> str:
    """Read the page and wait for a key; no key, read it once more, then hang up."""
    response = VoiceResponse()
    for _ in range(2):
        gather = Gather(num_digits=1, action=action_url, method="POST", timeout=8)
        gather.say(f"{text} Press {ACK_DIGIT} to acknowledge.")
        response.append(gather)
    response.say("Not acknowledged. Goodbye.")
    return str(response)


def said_twiml(text: str) -> str:
    response = VoiceResponse()
    response.say(text)
    response.hangup()
    return str(response)
