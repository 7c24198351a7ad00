"""A card submission (`Action.Submit`), read like typed input.

A submit arrives as a message with `value` = the action's data merged with the card's
inputs. Anything in it may be forged: the action name, a missing or non-string field, a
MAC from another tenant, a card id never issued or already used. Each handler reads its
fields through `Submission`, which refuses bad ones with a message the admin can act on.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.chat.interactions import Refused
from bot.chat.paging import page_number
from provisioning.devices import DeviceState
from provisioning.mac import parse_mac

MAX_FIELD_LENGTH = 512


class BadSubmission(Refused):
    """A submitted field that is missing, malformed or out of range."""


@dataclass(frozen=True)
class Submission:
    action: str
    card_id: str
    data: dict[str, Any]

    @property
    def mac(self) -> str:
        """The device the card is about, in canonical form (InvalidMac if it is not one)."""
        return parse_mac(self.text("mac", max_length=64))

    def text(self, key: str, *, required: bool = True, max_length: int = MAX_FIELD_LENGTH) -> str:
        value = self.data.get(key, "")
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise BadSubmission(f"The card sent `{key}` in a form I can't read. Type `help` for a fresh card.")
        value = value.strip()
        if required and not value:
            raise BadSubmission(f"The card is missing `{key}`. Type `help` for a fresh card.")
        if len(value) > max_length:
            raise BadSubmission(f"`{key}` is too long (at most {max_length} characters).")
        return value

    def choice(self, key: str, options: tuple[str, ...]) -> str:
        value = self.text(key)
        if value not in options:
            raise BadSubmission(f"The card sent an unknown `{key}`. Type `help` for a fresh card.")
        return value

    def page(self, key: str = "page") -> int:
        """A page number (1 when the card sent none)."""
        number = page_number(self.data.get(key, 1))
        if number is None:
            raise BadSubmission(f"The card sent an invalid `{key}`. Type `help` for a fresh card.")
        return number

    def state(self, key: str = "expected_state") -> DeviceState:
        value = self.choice(key, tuple(s.value for s in DeviceState))
        return DeviceState(value)
