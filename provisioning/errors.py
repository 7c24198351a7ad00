"""Errors the provisioning rules raise, named for what went wrong.

Every error carries `message`: one or two sentences an admin or technician can act on
(what was wrong, what to do). Surfaces show it as is; they never show a traceback.

Every error also says how the device API answers it, so one handler there maps them all:
`status` (the HTTP status), `error` (the stable code in the JSON body), and
`response_fields()` / `response_headers()` for what a few add (`minimum_version`,
`interval`, `Retry-After`, `WWW-Authenticate`). The device-facing errors below set their
own; the admin-side ones keep the default, 400 `invalid_request`, should one ever reach
the device API. None of them carries a code or a token in what it answers.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for annotations: devices and firmware import this module
    from .devices import Device
    from .firmware import FirmwareVerdict


class ProvisioningError(Exception):
    """Base of every refusal the rules make."""

    error: str = "invalid_request"  # the code the device API answers with
    status: int = 400  # the HTTP status the device API answers with

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def response_fields(self) -> dict[str, object]:
        """JSON fields the device API answers with besides `error` and `message`."""
        return {}

    def response_headers(self) -> dict[str, str]:
        """HTTP headers the device API answers with (beyond its no-store ones)."""
        return {}


class InvalidMac(ProvisioningError):
    """Text that is not a usable device MAC address."""


class InvalidLocation(ProvisioningError):
    """A location that is empty where one is required, too long, or not printable."""


class DeviceNotFound(ProvisioningError):
    """No device with that MAC in this tenant."""


class DuplicateDevice(ProvisioningError):
    """The MAC is already in this tenant (the message says in which tab)."""


class TransitionRefused(ProvisioningError):
    """The device's state does not allow this step (the message says what to do)."""


class InvalidVersion(ProvisioningError):
    """A firmware version that is not dotted integers (for example `58.15.0.124`)."""


class CatalogError(ProvisioningError):
    """A firmware catalog file that cannot be used (the message names the file and why)."""


# --- device lifecycle, service and device API ----------------------------------------
# Errors a device sees set their own `error` code and `status` (see the module docstring).


class DeviceStateChanged(TransitionRefused):
    """The device is no longer in the state the admin saw (a stale card or command)."""


class InvalidAccount(ProvisioningError):
    """An account to sign in that is not a UPN such as `room101@contoso.com`."""


class InvalidRequest(ProvisioningError):
    """A device request that is malformed: bad MAC, empty or oversized fields."""

    error = "invalid_request"
    status = 400


class DeviceLocked(ProvisioningError):
    """Too many wrong codes for this MAC: locked until an admin issues a new code.

    `retry_after` (seconds) is how soon asking again is worth it; the lock itself only
    ends when an admin issues a new code. Answered with a `Retry-After` header.
    """

    error = "too_many_attempts"
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def response_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class AlreadySignedIn(ProvisioningError):
    """A device with this MAC is signed in; it must be factory reset before provisioning."""

    error = "already_signed_in"
    status = 409


class SignInPending(ProvisioningError):
    """The device asked for a new sign-in while one is still open (one open grant per device)."""

    error = "sign_in_pending"
    status = 409


class SignInTooSoon(ProvisioningError):
    """The device asked for a new sign-in less than a minute after its last one started;
    `retry_after` (seconds) is when it may ask again. Answered with a `Retry-After` header."""

    error = "too_many_requests"
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def response_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class InvalidCode(ProvisioningError):
    """A wrong code, or no code for this MAC: deliberately the same answer for both.

    `locked_out` lists devices this very attempt locked (for the bot to tell the admin);
    it is never shown to the device.
    """

    error = "invalid_code"
    status = 401

    def __init__(self, message: str, locked_out: tuple[Device, ...] = ()) -> None:
        super().__init__(message)
        self.locked_out = locked_out


class CodeExpired(ProvisioningError):
    """The right code, but past its expiry: the admin must issue a new one."""

    error = "code_expired"
    status = 410


class FirmwareRejected(ProvisioningError):
    """The model is not supported or its firmware is too old; `verdict` says which, and
    is the `error` code (`unsupported_device`, `firmware_too_old`). A too-old firmware
    is answered with the `minimum_version` to update to."""

    status = 422

    def __init__(self, message: str, verdict: FirmwareVerdict) -> None:
        super().__init__(message)
        self.verdict = verdict
        self.error = verdict.status.value
        self.minimum_version = verdict.minimum_version

    def response_fields(self) -> dict[str, object]:
        return {"minimum_version": self.minimum_version} if self.minimum_version else {}


class InvalidDeviceToken(ProvisioningError):
    """A device token that is malformed, unknown, or revoked by a factory reset."""

    error = "invalid_token"
    status = 401

    def response_headers(self) -> dict[str, str]:
        # RFC 6750 section 3: a rejected bearer token names the scheme and the error.
        return {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class DeviceGrantError(ProvisioningError):
    """An RFC 8628 section 3.5 token-endpoint error; `error` is the RFC's code, and every
    one is answered 400 (RFC 6749 section 5.2)."""

    error = "invalid_grant"
    status = 400


class InvalidGrant(DeviceGrantError):
    """The device code is not this device's current grant (RFC 6749 `invalid_grant`)."""

    error = "invalid_grant"


class AuthorizationPending(DeviceGrantError):
    """The admin has not approved yet: keep polling at `interval`."""

    error = "authorization_pending"


class SlowDown(DeviceGrantError):
    """Polled faster than the interval: the interval grew by 5 s for this and later polls,
    and the answer carries the new `interval`."""

    error = "slow_down"

    def __init__(self, message: str, interval: int) -> None:
        super().__init__(message)
        self.interval = interval

    def response_fields(self) -> dict[str, object]:
        return {"interval": self.interval}


class AccessDenied(DeviceGrantError):
    """The admin cancelled the sign-in."""

    error = "access_denied"


class ExpiredToken(DeviceGrantError):
    """The grant expired before it was approved and collected: start a new sign-in."""

    error = "expired_token"
