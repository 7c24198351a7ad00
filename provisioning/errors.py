"""Errors the provisioning rules raise, named for what went wrong.

Every error carries `message`: one or two sentences an admin or technician can act on
(what was wrong, what to do). Surfaces show it as is; they never show a traceback.
"""
from __future__ import annotations


class ProvisioningError(Exception):
    """Base of every refusal the rules make."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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
# Errors a device sees carry `error`: the stable code the device API answers with.


class DeviceStateChanged(TransitionRefused):
    """The device is no longer in the state the admin saw (a stale card or command)."""


class InvalidAccount(ProvisioningError):
    """An account to sign in that is not a UPN such as `room101@contoso.com`."""


class InvalidRequest(ProvisioningError):
    """A device request that is malformed: bad MAC, empty or oversized fields."""

    error = "invalid_request"


class DeviceLocked(ProvisioningError):
    """Too many wrong codes for this MAC: locked until an admin issues a new code.

    `retry_after` (seconds) is how soon asking again is worth it; the lock itself only
    ends when an admin issues a new code.
    """

    error = "too_many_attempts"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AlreadySignedIn(ProvisioningError):
    """A device with this MAC is signed in; it must be factory reset before provisioning."""

    error = "already_signed_in"


class InvalidCode(ProvisioningError):
    """A wrong code, or no code for this MAC: deliberately the same answer for both.

    `locked_out` lists devices this very attempt locked (for the bot to tell the admin);
    it is never shown to the device.
    """

    error = "invalid_code"

    def __init__(self, message: str, locked_out: tuple = ()) -> None:  # tuple[Device, ...]
        super().__init__(message)
        self.locked_out = locked_out


class CodeExpired(ProvisioningError):
    """The right code, but past its expiry: the admin must issue a new one."""

    error = "code_expired"


class FirmwareRejected(ProvisioningError):
    """The model is not supported or its firmware is too old; `verdict` says which."""

    def __init__(self, message: str, verdict: object) -> None:  # firmware.FirmwareVerdict
        super().__init__(message)
        self.verdict = verdict
        self.error: str = verdict.status.value  # type: ignore[attr-defined]
        self.minimum_version: str | None = getattr(verdict, "minimum_version", None)


class InvalidDeviceToken(ProvisioningError):
    """A device token that is malformed, unknown, or revoked by a factory reset."""

    error = "invalid_token"


class DeviceGrantError(ProvisioningError):
    """An RFC 8628 section 3.5 token-endpoint error; `error` is the RFC's code."""

    error = "invalid_grant"


class InvalidGrant(DeviceGrantError):
    """The device code is not this device's current grant (RFC 6749 `invalid_grant`)."""

    error = "invalid_grant"


class AuthorizationPending(DeviceGrantError):
    """The admin has not approved yet: keep polling at `interval`."""

    error = "authorization_pending"


class SlowDown(DeviceGrantError):
    """Polled faster than the interval: the interval grew by 5 s for this and later polls."""

    error = "slow_down"

    def __init__(self, message: str, interval: int) -> None:
        super().__init__(message)
        self.interval = interval


class AccessDenied(DeviceGrantError):
    """The admin cancelled the sign-in."""

    error = "access_denied"


class ExpiredToken(DeviceGrantError):
    """The grant expired before it was approved and collected: start a new sign-in."""

    error = "expired_token"
