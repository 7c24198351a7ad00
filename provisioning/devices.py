"""Devices and their lifecycle: the states a Teams Android device passes through.

waiting on activation -> waiting for sign in -> signing in -> signed in, a sign-out (or an
account change) from signed in back to waiting for sign in, and a factory reset back to
waiting on activation from anywhere. Transitions are pure functions that
return a new `Device` or raise a `TransitionRefused` that says what to do instead.
`documents.py` maps a device to the store's dicts and back.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from .errors import InvalidAccount, TransitionRefused

HISTORY_LIMIT = 50  # entries kept on a device; the audit log keeps everything
ACCOUNT_MAX_LENGTH = 254


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
    session_id: str | None = None  # the session the approval opens, once the device collects it

    def is_expired_at(self, now: datetime) -> bool:
        return now >= self.expires_at

    def is_live_at(self, now: datetime) -> bool:
        """Neither cancelled nor expired: the device should keep polling."""
        return not self.denied and not self.is_expired_at(now)

    @property
    def approved(self) -> bool:
        return self.approved_by is not None


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
    failed_attempts: int = 0  # wrong codes that locked it out (counted in memory until then)
    locked: bool = False  # too many wrong codes: locked until a new code is issued
    device_token_hash: str | None = None  # sha256 hex of the device's bearer secret
    sign_in: SignInGrant | None = None
    account: str | None = None  # signed-in account (UPN)
    signed_in_at: datetime | None = None
    session_id: str | None = None  # the signed-in session (not a secret: names it in cards and audit)
    access_token_hash: str | None = None  # sha256 hex of the session's access token
    history: tuple[HistoryEntry, ...] = field(default_factory=tuple)  # newest last, capped

    def has_usable_code(self, now: datetime) -> bool:
        """A code the device could be provisioned with right now (issued, unexpired, unlocked)."""
        return (
            self.state is DeviceState.WAITING_ON_ACTIVATION
            and self.code is not None
            and self.code.is_valid_at(now)
            and not self.locked
        )


# --- transitions: pure functions, new Device or TransitionRefused ------------------------
#
# `by` is the actor's display name (or id) for the device's own history; the audit log
# records the full actor. Nothing secret ever goes into a history entry.
#
# Sign-in: `approve` leaves the device *Signing in* with an approved grant; it becomes
# *Signed in* only when the device polls and collects its token (`signed_in`), so the
# state never claims a sign-in the device has not completed. `deny` returns the device to
# *Waiting for sign in* but keeps the denied grant, so the device's next poll learns
# `access_denied` instead of a puzzling `invalid_grant`.

_RESET_HINT = (
    "Factory reset the device (Settings > Device administration > Reset) "
    "and it returns to Waiting on activation."
)


_SIGNED_IN_HINT = (
    "To move it to another account, type: signin {mac} followed by the account; to sign it out: signout {mac}."
)


def new_device(tenant_id: str, mac: str, location: str, now: datetime, by: str) -> Device:
    """A device just added by an admin: *Waiting on activation*, no code yet."""
    detail = f"location: {location}" if location else ""
    return Device(
        tenant_id=tenant_id,
        mac=mac,
        location=location,
        state=DeviceState.WAITING_ON_ACTIVATION,
        created_at=now,
        updated_at=now,
        history=(HistoryEntry(at=now, action="added", actor=by, detail=detail),),
    )


def with_code(device: Device, code: VerificationCode, now: datetime, by: str) -> Device:
    """Give a waiting device a new code; the old one is void and any lockout ends."""
    if device.state is DeviceState.SIGNED_IN:
        raise TransitionRefused(
            f"{device.mac} is signed in; a signed-in device can't get a verification code. "
            + _RESET_HINT
        )
    if device.state is not DeviceState.WAITING_ON_ACTIVATION:
        raise TransitionRefused(
            f"{device.mac} is already provisioned ({device.state.label}); it doesn't need a "
            "code. Sign a user in to it, or factory reset the device to provision it again."
        )
    action = "code reissued" if device.code else "code issued"
    return _logged(
        device, now, action, by, f"expires {_when(code.expires_at)}",
        code=code, failed_attempts=0, locked=False,
    )


def locked_out(device: Device, attempts: int, now: datetime) -> Device:
    """`attempts` wrong codes were entered on the device: locked until a new code is issued."""
    return _logged(
        device, now, "locked out", "device", f"{attempts} wrong codes; issue a new code",
        failed_attempts=attempts, locked=True,
    )


def provisioned(
    device: Device,
    *,
    model: str,
    manufacturer: str | None,
    firmware: str,
    device_token_hash: str,
    now: datetime,
    by: str,
) -> Device:
    """The technician entered the device's valid code: spend it, record the hardware.

    The caller has already matched the code (in constant time); this checks everything
    else the move to *Waiting for sign in* needs.
    """
    if device.state is DeviceState.SIGNED_IN:
        raise TransitionRefused(
            f"{device.mac} is signed in; it can't be provisioned again. " + _RESET_HINT
        )
    if device.state is not DeviceState.WAITING_ON_ACTIVATION:
        raise TransitionRefused(
            f"{device.mac} is already provisioned ({device.state.label}). "
            "Factory reset the device to provision it again."
        )
    if device.locked:
        raise TransitionRefused(
            f"{device.mac} is locked after too many wrong codes. Issue a new code to unlock it."
        )
    if device.code is None:
        raise TransitionRefused(f"{device.mac} has no verification code. Issue one first.")
    if not device.code.is_valid_at(now):
        raise TransitionRefused(
            f"{device.mac}'s verification code expired {_when(device.code.expires_at)}. "
            "Issue a new code."
        )
    # Devices often report the vendor inside the model too ("Yealink MP56").
    named = manufacturer and not model.casefold().startswith(manufacturer.casefold())
    hardware = f"{manufacturer} {model}" if named else model
    return _logged(
        device, now, "provisioned", by, f"{hardware}, firmware {firmware}",
        state=DeviceState.WAITING_FOR_SIGN_IN,
        model=model,
        manufacturer=manufacturer,
        firmware=firmware,
        code=None,
        failed_attempts=0,
        device_token_hash=device_token_hash,
    )


def start_sign_in(device: Device, grant: SignInGrant, now: datetime, by: str) -> Device:
    """Start an RFC 8628 grant for a provisioned device (replacing a dead one)."""
    state = device.state
    if state is DeviceState.WAITING_ON_ACTIVATION:
        raise TransitionRefused(
            f"{device.mac} is waiting on activation; it can't sign in until it is provisioned. "
            "Issue a code and enter it on the device (Settings > Provision device)."
        )
    if state is DeviceState.SIGNED_IN:
        raise TransitionRefused(
            f"{device.mac} is already signed in as {device.account}. " + _SIGNED_IN_HINT.format(mac=device.mac)
        )
    current = device.sign_in
    if state is DeviceState.SIGNING_IN and current is not None and current.is_live_at(now):
        if current.approved:
            raise TransitionRefused(
                f"{device.mac}'s sign-in is already approved for {current.account}; "
                "the device signs in on its next poll."
            )
        raise TransitionRefused(
            f"A sign-in for {device.mac} is already pending (expires "
            f"{_when(current.expires_at)}). Approve or cancel it first."
        )
    detail = f"for {grant.account}" if grant.account else ""
    return _logged(
        device, now, "sign-in started", by, detail, state=DeviceState.SIGNING_IN, sign_in=grant
    )


def approve(
    device: Device, account: str, approver: str, now: datetime, by: str, session_id: str | None = None
) -> Device:
    """The admin approves the pending grant for `account` (a UPN already validated). The
    session it opens is named now (`session_id`), so a sign-out confirmed against the
    approval still applies once the device has collected its token."""
    grant = _pending_grant(device, now, "approve")
    if grant.approved:
        raise TransitionRefused(
            f"{device.mac}'s sign-in is already approved for {grant.account}; "
            "the device signs in on its next poll."
        )
    approved = replace(grant, account=account, approved_by=approver, approved_at=now, session_id=session_id)
    return _logged(device, now, "sign-in approved", by, f"for {account}", sign_in=approved)


def deny(device: Device, now: datetime, by: str) -> Device:
    """The admin cancels the grant; the device's next poll gets `access_denied`."""
    grant = device.sign_in
    if device.state is not DeviceState.SIGNING_IN or grant is None or grant.denied:
        raise TransitionRefused(
            f"{device.mac} has no sign-in to cancel ({device.state.label})."
        )
    return _logged(
        device, now, "sign-in cancelled", by,
        state=DeviceState.WAITING_FOR_SIGN_IN, sign_in=replace(grant, denied=True),
    )


def with_poll(device: Device, now: datetime, interval: int) -> Device:
    """Remember a token poll (and the interval from now on) for the slow_down rule."""
    grant = device.sign_in
    if grant is None:
        raise TransitionRefused(f"{device.mac} has no sign-in to poll.")
    # Polls are not history: a device polls every few seconds and would push out the rest.
    return replace(device, sign_in=replace(grant, last_poll_at=now, interval=interval))


def signed_in(
    device: Device, now: datetime, by: str, *, session_id: str, access_token_hash: str
) -> Device:
    """The device collected the token of an approved grant: it is *Signed in*, in a new
    session whose access token hashes to `access_token_hash`, named as the approval named
    it (else `session_id`)."""
    grant = device.sign_in
    if (
        device.state is not DeviceState.SIGNING_IN
        or grant is None
        or not grant.approved
        or not grant.is_live_at(now)
    ):
        raise TransitionRefused(f"{device.mac} has no approved sign-in to complete.")
    return _logged(
        device, now, "signed in", by, f"as {grant.account}",
        state=DeviceState.SIGNED_IN, account=grant.account, signed_in_at=now, sign_in=None,
        session_id=grant.session_id or session_id, access_token_hash=access_token_hash,
    )


def session_key(device: Device) -> str:
    """What a sign-out or account-change card is bound to: the signed-in session, or an
    approved grant the device has not collected yet; "" when there is neither."""
    grant = device.sign_in
    if device.state is DeviceState.SIGNED_IN:
        return f"session:{device.session_id or ''}"
    if device.state is DeviceState.SIGNING_IN and grant is not None and grant.approved and not grant.denied:
        # The same key as once collected: confirming against the approval ends the session too.
        return f"session:{grant.session_id}" if grant.session_id else f"grant:{grant.user_code}"
    return ""


def signed_out(device: Device, now: datetime, by: str) -> Device:
    """The admin ends the device's session: back to *Waiting for sign in* with no account.

    Provisioning stays (device token, tenant, model, firmware): no factory reset, no new
    code. A grant that is approved but not collected yet is ended too (denied), so the
    device's next poll gets `access_denied` instead of a token for an ended sign-in."""
    grant = device.sign_in
    if device.state is DeviceState.SIGNED_IN:
        return _logged(
            device, now, "signed out", by, f"was {device.account}",
            state=DeviceState.WAITING_FOR_SIGN_IN, **_NO_SESSION,
        )
    if session_key(device) and grant is not None:
        if grant.is_expired_at(now):
            raise TransitionRefused(
                f"{device.mac} is not signed in: its approved sign-in for {grant.account} expired "
                f"{_when(grant.expires_at)} before the device collected it. There is nothing to sign out."
            )
        return _logged(
            device, now, "signed out", by, f"approved sign-in for {grant.account} ended before the device collected it",
            state=DeviceState.WAITING_FOR_SIGN_IN, sign_in=replace(grant, denied=True),
        )
    if device.state is DeviceState.SIGNING_IN and grant is not None and grant.is_live_at(now):
        raise TransitionRefused(
            f"{device.mac} is not signed in: its sign-in is still waiting for approval. "
            "Cancel it on the sign-in card instead."
        )
    raise TransitionRefused(
        f"{device.mac} is not signed in ({device.state.label}), so there is nothing to sign out."
    )


def switch_account(device: Device, grant: SignInGrant, now: datetime, by: str) -> Device:
    """Move a signed-in device to another account in one step: the session ends and a
    grant for `grant.account` starts (the admin still checks its user code and approves)."""
    if device.state is not DeviceState.SIGNED_IN:
        raise TransitionRefused(
            f"{device.mac} is not signed in ({device.state.label}), so there is no account to change. "
            f"Sign an account in with: signin {device.mac}"
        )
    if grant.account is None:
        raise ValueError("an account change needs the new account on its grant")
    if device.account is not None and grant.account.casefold() == device.account.casefold():
        raise TransitionRefused(
            f"{device.mac} is already signed in as {device.account}; nothing to change. "
            f"To end its session, type: signout {device.mac}"
        )
    return _logged(
        device, now, "account change", by, f"from {device.account} to {grant.account}; sign-in started",
        **{**_NO_SESSION, "state": DeviceState.SIGNING_IN, "sign_in": grant},
    )


# What a device without a session holds (a sign-out also drops any finished grant).
_NO_SESSION: dict[str, Any] = {
    "account": None, "signed_in_at": None, "session_id": None, "access_token_hash": None, "sign_in": None,
}


def factory_reset(device: Device, now: datetime, by: str) -> Device:
    """Back to *Waiting on activation* from any state: keeps MAC, location, creation time
    and history (the admin's record); forgets code, hardware, token, grant, account and
    session (so the session's access token stops working too)."""
    entry = HistoryEntry(at=now, action="factory reset", actor=by, detail=f"was {device.state.label}")
    return Device(
        tenant_id=device.tenant_id,
        mac=device.mac,
        location=device.location,
        state=DeviceState.WAITING_ON_ACTIVATION,
        created_at=device.created_at,
        updated_at=now,
        history=(*device.history, entry)[-HISTORY_LIMIT:],
    )


def parse_account(text: str) -> str:
    """Return a trimmed UPN like `room101@contoso.com`, or raise `InvalidAccount`."""
    account = text.strip() if isinstance(text, str) else ""
    if not account:
        raise InvalidAccount("Give the account to sign in, for example room101@contoso.com.")
    if len(account) > ACCOUNT_MAX_LENGTH or not _UPN.fullmatch(account):
        shown = account if len(account) <= 60 else account[:57] + "..."
        raise InvalidAccount(
            f"'{shown}' is not an account name: use the user principal name "
            "(name@domain.tld), for example room101@contoso.com."
        )
    return account


_UPN = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)


def _pending_grant(device: Device, now: datetime, verb: str) -> SignInGrant:
    grant = device.sign_in
    if device.state is DeviceState.SIGNED_IN:
        raise TransitionRefused(
            f"{device.mac} is already signed in as {device.account}; there is nothing to "
            f"{verb}. " + _SIGNED_IN_HINT.format(mac=device.mac)
        )
    if device.state is not DeviceState.SIGNING_IN or grant is None:
        if grant is not None and grant.denied:
            raise TransitionRefused(
                f"{device.mac}'s sign-in was cancelled. Start a new sign-in."
            )
        raise TransitionRefused(
            f"{device.mac} has no sign-in pending ({device.state.label}). Start a sign-in first."
        )
    if grant.is_expired_at(now):
        raise TransitionRefused(
            f"{device.mac}'s sign-in code expired {_when(grant.expires_at)}. "
            "Start a new sign-in."
        )
    return grant


def _logged(
    device: Device, now: datetime, action: str, by: str, detail: str = "", **changes: Any
) -> Device:
    """`device` with `changes`, `updated_at` and a history entry, in one copy.

    Bulk operations run this for every device: building from `__dict__` costs less than
    half of `dataclasses.replace`, which was most of a 10,000-device bulk issue.
    """
    history = (*device.history, HistoryEntry(at=now, action=action, actor=by, detail=detail))
    fields = {**device.__dict__, **changes, "updated_at": now, "history": history[-HISTORY_LIMIT:]}
    return Device(**fields)


def _when(moment: datetime) -> str:
    # isoformat, not strftime: several times faster, and bulk code issue formats 10,000.
    return f"at {moment.astimezone(UTC).isoformat(' ', 'minutes')[:16]} UTC"
