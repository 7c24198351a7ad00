"""Device documents: the JSON-safe dicts the store keeps for a `Device` (ISO datetimes,
enum values), written by `device_to_doc` and read back exactly by `device_from_doc`.

The dependency is one way: this module knows `devices`, `devices` knows nothing of it.
The key order and value forms here are the on-disk format; changing them changes files.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from .devices import Device, DeviceState, HistoryEntry, SignInGrant, VerificationCode


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
        "session_id": grant.session_id,
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
        session_id=doc.get("session_id"),
    )


def device_to_doc(device: Device) -> dict[str, Any]:
    """A JSON-safe dict (ISO datetimes, enum values) that `device_from_doc` reads back exactly."""
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
        "session_id": device.session_id,
        "access_token_hash": device.access_token_hash,
        "history": [
            {"at": h.at.isoformat(), "action": h.action, "actor": h.actor, "detail": h.detail}
            for h in device.history
        ],
    }


def device_from_doc(doc: dict[str, Any]) -> Device:
    """The device a `device_to_doc` dict describes."""
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
        session_id=doc.get("session_id"),
        access_token_hash=doc.get("access_token_hash"),
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
