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

    def to_doc(self) -> dict[str, Any]:
        """A JSON-safe dict (ISO datetimes, enum values) that `from_doc` reads back exactly."""
        return _device_to_doc(self)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Device:
        """The device a `to_doc` dict describes."""
        return _device_from_doc(doc)


# --- documents: JSON-safe dicts for the store (ISO datetimes, enum values) ---------------


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _code_to_doc(code: VerificationCode) -> dict[str, Any]:
    return {
        "value": code.value,
        "issued_at": code.issued_at.isoformat(),
        "expires_at": code.expires_at.isoformat(),
        "issued_by": code.issued_by,
    }


def _code_from_doc(doc: dict[str, Any]) -> VerificationCode:
    return VerificationCode(
        value=doc["value"],
        issued_at=datetime.fromisoformat(doc["issued_at"]),
        expires_at=datetime.fromisoformat(doc["expires_at"]),
        issued_by=doc["issued_by"],
    )


def _grant_to_doc(grant: SignInGrant) -> dict[str, Any]:
    return {
        "device_code": grant.device_code,
        "user_code": grant.user_code,
        "started_at": grant.started_at.isoformat(),
        "expires_at": grant.expires_at.isoformat(),
        "interval": grant.interval,
        "started_by": grant.started_by,
        "account": grant.account,
        "approved_by": grant.approved_by,
        "approved_at": _iso(grant.approved_at),
        "denied": grant.denied,
        "last_poll_at": _iso(grant.last_poll_at),
    }


def _grant_from_doc(doc: dict[str, Any]) -> SignInGrant:
    return SignInGrant(
        device_code=doc["device_code"],
        user_code=doc["user_code"],
        started_at=datetime.fromisoformat(doc["started_at"]),
        expires_at=datetime.fromisoformat(doc["expires_at"]),
        interval=int(doc["interval"]),
        started_by=doc["started_by"],
        account=doc.get("account"),
        approved_by=doc.get("approved_by"),
        approved_at=_dt(doc.get("approved_at")),
        denied=bool(doc.get("denied", False)),
        last_poll_at=_dt(doc.get("last_poll_at")),
    )


def _device_to_doc(device: Device) -> dict[str, Any]:
    return {
        "tenant_id": device.tenant_id,
        "mac": device.mac,
        "location": device.location,
        "state": device.state.value,
        "created_at": device.created_at.isoformat(),
        "updated_at": device.updated_at.isoformat(),
        "model": device.model,
        "manufacturer": device.manufacturer,
        "firmware": device.firmware,
        "code": None if device.code is None else _code_to_doc(device.code),
        "failed_attempts": device.failed_attempts,
        "locked": device.locked,
        "device_token_hash": device.device_token_hash,
        "sign_in": None if device.sign_in is None else _grant_to_doc(device.sign_in),
        "account": device.account,
        "signed_in_at": _iso(device.signed_in_at),
        "history": [
            {"at": h.at.isoformat(), "action": h.action, "actor": h.actor, "detail": h.detail}
            for h in device.history
        ],
    }


def _device_from_doc(doc: dict[str, Any]) -> Device:
    # Optional keys use .get so documents written before a field existed still load.
    code = doc.get("code")
    grant = doc.get("sign_in")
    return Device(
        tenant_id=doc["tenant_id"],
        mac=doc["mac"],
        location=doc["location"],
        state=DeviceState(doc["state"]),
        created_at=datetime.fromisoformat(doc["created_at"]),
        updated_at=datetime.fromisoformat(doc["updated_at"]),
        model=doc.get("model"),
        manufacturer=doc.get("manufacturer"),
        firmware=doc.get("firmware"),
        code=None if code is None else _code_from_doc(code),
        failed_attempts=int(doc.get("failed_attempts", 0)),
        locked=bool(doc.get("locked", False)),
        device_token_hash=doc.get("device_token_hash"),
        sign_in=None if grant is None else _grant_from_doc(grant),
        account=doc.get("account"),
        signed_in_at=_dt(doc.get("signed_in_at")),
        history=tuple(
            HistoryEntry(
                at=datetime.fromisoformat(h["at"]),
                action=h["action"],
                actor=h["actor"],
                detail=h.get("detail", ""),
            )
            for h in doc.get("history", ())
        ),
    )
