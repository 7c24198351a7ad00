"""Device documents: the JSON-safe dicts the store keeps for a `Device` (ISO datetimes,
enum values), written by `device_to_doc` and read back exactly by `device_from_doc`.

The dependency is one way: this module knows `devices`, `devices` knows nothing of it.
The key order and value forms here are the on-disk format; changing them changes files.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from .devices import Device, DeviceState, HistoryEntry, SignInGrant, VerificationCode


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _code_to_doc(code: VerificationCode) -> dict[str, Any]:
    return {
        "value": code.value,
        "issued_at": code.issued_at.isoformat(),
        "expires_at": code.expires_at.isoformat(),
        "issued_by": code.issued_by,
    }


def _code_from_doc(doc: object) -> VerificationCode:
    doc = _object(doc, "code")
    return VerificationCode(
        value=_text(doc, "value", "code"),
        issued_at=_time(doc, "issued_at", "code"),
        expires_at=_time(doc, "expires_at", "code"),
        issued_by=_text(doc, "issued_by", "code"),
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


def _grant_from_doc(doc: object) -> SignInGrant:
    doc = _object(doc, "sign_in")
    return SignInGrant(
        device_code=_text(doc, "device_code", "sign_in"),
        user_code=_text(doc, "user_code", "sign_in"),
        started_at=_time(doc, "started_at", "sign_in"),
        expires_at=_time(doc, "expires_at", "sign_in"),
        interval=_int(doc, "interval", "sign_in"),
        started_by=_text(doc, "started_by", "sign_in"),
        account=_optional_text(doc, "account", "sign_in"),
        approved_by=_optional_text(doc, "approved_by", "sign_in"),
        approved_at=_optional_time(doc, "approved_at", "sign_in"),
        denied=_bool(doc, "denied", "sign_in"),
        last_poll_at=_optional_time(doc, "last_poll_at", "sign_in"),
        session_id=_optional_text(doc, "session_id", "sign_in"),
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
    """The device a `device_to_doc` dict describes.

    Raises `InvalidDocument` naming the field when the dict describes no device: a field
    missing or of the wrong type, a state that is not a `DeviceState`, a MAC that is not
    canonical, a time that is not an ISO 8601 time with its offset. Values are not quoted
    in the message (a code or a device code may be among them), except the state and MAC.
    """
    # Optional keys may be absent, so documents written before a field existed still load.
    doc = _object(doc, "the device document")
    code = doc.get("code")
    grant = doc.get("sign_in")
    history = doc.get("history", [])
    if not isinstance(history, list):
        raise InvalidDocument(f"history is {_kind(history)}, not a list")
    return Device(
        tenant_id=_text(doc, "tenant_id"),
        mac=_mac(doc),
        location=_text(doc, "location"),
        state=_state(doc),
        created_at=_time(doc, "created_at"),
        updated_at=_time(doc, "updated_at"),
        model=_optional_text(doc, "model"),
        manufacturer=_optional_text(doc, "manufacturer"),
        firmware=_optional_text(doc, "firmware"),
        code=None if code is None else _code_from_doc(code),
        failed_attempts=_int(doc, "failed_attempts", default=0),
        locked=_bool(doc, "locked"),
        device_token_hash=_optional_text(doc, "device_token_hash"),
        sign_in=None if grant is None else _grant_from_doc(grant),
        account=_optional_text(doc, "account"),
        signed_in_at=_optional_time(doc, "signed_in_at"),
        session_id=_optional_text(doc, "session_id"),
        access_token_hash=_optional_text(doc, "access_token_hash"),
        history=tuple(_history_entry(h) for h in history),
    )


class InvalidDocument(ValueError):
    """A stored dict that describes no device; the message says which field and why."""


_STATES = {state.value: state for state in DeviceState}
_MISSING = object()
_CANONICAL_MAC = re.compile(r"[0-9A-F]{2}(?:-[0-9A-F]{2}){5}")  # as `mac.parse_mac` writes it


def _history_entry(doc: object) -> HistoryEntry:
    entry = _object(doc, "a history entry")
    detail = entry.get("detail", "")
    if not isinstance(detail, str):
        raise InvalidDocument(f"history.detail is {_kind(detail)}, not text")
    return HistoryEntry(
        at=_time(entry, "at", "history"),
        action=_text(entry, "action", "history"),
        actor=_text(entry, "actor", "history"),
        detail=detail,
    )


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidDocument(f"{what} is {_kind(value)}, not an object")
    return value


def _field(doc: dict[str, Any], name: str, within: str) -> object:
    value = doc.get(name, _MISSING)
    if value is _MISSING:
        raise InvalidDocument(f"{_named(name, within)} is missing")
    return value


def _text(doc: dict[str, Any], name: str, within: str = "") -> str:
    value = _field(doc, name, within)
    if not isinstance(value, str):
        raise InvalidDocument(f"{_named(name, within)} is {_kind(value)}, not text")
    return value


def _optional_text(doc: dict[str, Any], name: str, within: str = "") -> str | None:
    value = doc.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidDocument(f"{_named(name, within)} is {_kind(value)}, not text or null")
    return value


def _int(doc: dict[str, Any], name: str, within: str = "", default: int | None = None) -> int:
    value = doc.get(name, default) if default is not None else _field(doc, name, within)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidDocument(f"{_named(name, within)} is {_kind(value)}, not a whole number of at least 0")
    return value


def _bool(doc: dict[str, Any], name: str, within: str = "") -> bool:
    value = doc.get(name, False)
    if not isinstance(value, bool):
        raise InvalidDocument(f"{_named(name, within)} is {_kind(value)}, not true or false")
    return value


def _time(doc: dict[str, Any], name: str, within: str = "") -> datetime:
    moment = _optional_time(doc, name, within) if _field(doc, name, within) is not None else None
    if moment is None:
        raise InvalidDocument(f"{_named(name, within)} is null, not a time")
    return moment


def _optional_time(doc: dict[str, Any], name: str, within: str = "") -> datetime | None:
    value = doc.get(name)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InvalidDocument(f"{_named(name, within)} is not an ISO 8601 time with its UTC offset")
    return moment


def _state(doc: dict[str, Any]) -> DeviceState:
    value = _field(doc, "state", "")
    state = _STATES.get(value) if isinstance(value, str) else None
    if state is None:
        shown = _shown(value)
        raise InvalidDocument(f"state {shown} is not one of {', '.join(_STATES)}")
    return state


def _mac(doc: dict[str, Any]) -> str:
    value = _text(doc, "mac")
    if not _CANONICAL_MAC.fullmatch(value):
        raise InvalidDocument(f"mac {_shown(value)} is not a MAC ID in the stored form AA-BB-CC-DD-EE-FF")
    return value


def _named(name: str, within: str) -> str:
    return f"{within}.{name}" if within else name


def _kind(value: object) -> str:
    return "null" if value is None else f"a JSON {_JSON_KINDS.get(type(value), type(value).__name__)}"


_JSON_KINDS = {str: "string", int: "number", float: "number", bool: "boolean", list: "array", dict: "object"}


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
