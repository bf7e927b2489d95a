"""The channels notify delivers on, as plug-ins: each names its wire enum, what kind of address it
takes, and so how the address is checked, masked and rate-limited. A new channel is an entry here
and a provider module (`providers.py`, `whatsapp.py`); the engine (`verifications`, `delivery`,
the Lua state machine) only ever asks this table.

- Rule 1: a phone channel (SMS, WhatsApp) takes an E.164 number (``08…`` → ``+628…``, allowed
  countries only) and shows it masked ``+62812****0001``; an email channel an address, masked
  ``b***@example.id``.
- Rule 2: a code's lifetime is the SMS one (300 s) on phone channels, the email one (600 s) by
  email; only SMS counts against the hourly SMS budget and the number-prefix cap (the pumping
  defences are about what operators bill).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from jkn.common.v1 import common_pb2
from services.kit.masking import mask_email, mask_phone


@dataclass(frozen=True)
class Channel:
    name: str  # "sms" | "email" | "whatsapp": the word in settings, Redis and metric labels
    wire: common_pb2.Channel.ValueType
    address: Literal["phone", "email"]

    def mask(self, address: str) -> str:
        """Rule 1."""
        return mask_phone(address) if self.address == "phone" else mask_email(address)

    @property
    def billed_as_sms(self) -> bool:
        """Rule 2."""
        return self.name == "sms"


SMS = Channel("sms", common_pb2.CHANNEL_SMS, "phone")
EMAIL = Channel("email", common_pb2.CHANNEL_EMAIL, "email")
WHATSAPP = Channel("whatsapp", common_pb2.CHANNEL_WHATSAPP, "phone")
ALL = (SMS, EMAIL, WHATSAPP)
BY_NAME = {c.name: c for c in ALL}
BY_WIRE = {c.wire: c for c in ALL}
