"""Devices and their lifecycle: the states a Teams Android device passes through.

waiting on activation -> waiting for sign in -> signing in -> signed in, and a factory
reset back to waiting on activation from anywhere. Transitions are pure functions that
return a new `Device` or raise a `TransitionRefused` that says what to do instead.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import Enum
from typing import Any


class DeviceState(str, Enum):
    WAITING_ON_ACTIVATION = "waiting_on_activation"
    WAITING_FOR_SIGN_IN = "waiting_for_sign_in"
    SIGNING_IN = "signing_in"
    SIGNED_IN = "signed_in"

    @property
    def label(self) -> str:
        """The tab name an admin knows from the Teams admin center."""
        return _LABELS[self]


_LABELS = {
    DeviceState.WAITING_ON_ACTIVATION: "Waiting on activation",
    DeviceState.WAITING_FOR_SIGN_IN: "Waiting for sign in",
    DeviceState.SIGNING_IN: "Signing in",
    DeviceState.SIGNED_IN: "Signed in",
}


@dataclass(frozen=True)
class VerificationCode:
    """A one-time code for one device. `value` is the 12 plain digits, no dashes."""

    value: str
    issued_at: datetime
    expires_at: datetime
    issued_by: str  # actor id

    def is_valid_at(self, now: datetime) -> bool:
        return now < self.expires_at


@dataclass(frozen=True)
class SignInGrant:
    """A pending RFC 8628 device authorization grant for one device."""

    device_code: str
    user_code: str  # 8 characters, no dash, RFC 8628 section 6.1 alphabet
    started_at: datetime
    expires_at: datetime
    interval: int  # seconds the device must wait between polls
    started_by: str  # actor id
    account: str | None = None  # UPN the admin means to sign in
    approved_by: str | None = None
    approved_at: datetime | None = None
    denied: bool = False
    last_poll_at: datetime | None = None


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    action: str
    actor: str  # display name or id
    detail: str = ""


@dataclass(frozen=True)
class Device:
    tenant_id: str
    mac: str  # canonical AA-BB-CC-DD-EE-FF
    location: str
    state: DeviceState
    created_at: datetime
    updated_at: datetime
    model: str | None = None
    manufacturer: str | None = None
    firmware: str | None = None
    code: VerificationCode | None = None
    failed_attempts: int = 0  # wrong codes since the current code was issued
    locked: bool = False  # too many wrong codes: locked until a new code is issued
    device_token_hash: str | None = None  # sha256 hex of the device's bearer secret
    sign_in: SignInGrant | None = None
    account: str | None = None  # signed-in account (UPN)
    signed_in_at: datetime | None = None
    history: tuple[HistoryEntry, ...] = field(default_factory=tuple)  # newest last, capped
