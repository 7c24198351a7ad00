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
