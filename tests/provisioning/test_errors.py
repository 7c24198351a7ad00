"""What each refusal tells the device API to answer: HTTP status, error code, extra JSON
fields and headers (the device API maps every `ProvisioningError` through these alone)."""
from __future__ import annotations

import pytest

from provisioning.errors import (
    AccessDenied,
    AlreadySignedIn,
    AuthorizationPending,
    CodeExpired,
    DeviceLocked,
    DuplicateDevice,
    ExpiredToken,
    FirmwareRejected,
    InvalidCode,
    InvalidDeviceToken,
    InvalidGrant,
    InvalidRequest,
    ProvisioningError,
    SignInPending,
    SignInTooSoon,
    SlowDown,
)
from provisioning.firmware import Catalog


@pytest.mark.parametrize(
    ("refusal", "status", "error", "fields", "headers"),
    [
        (InvalidRequest("m"), 400, "invalid_request", {}, {}),
        (DeviceLocked("m", retry_after=900), 429, "too_many_attempts", {}, {"Retry-After": "900"}),
        (AlreadySignedIn("m"), 409, "already_signed_in", {}, {}),
        (InvalidCode("m"), 401, "invalid_code", {}, {}),
        (CodeExpired("m"), 410, "code_expired", {}, {}),
        (InvalidDeviceToken("m"), 401, "invalid_token", {}, {"WWW-Authenticate": 'Bearer error="invalid_token"'}),
        (InvalidGrant("m"), 400, "invalid_grant", {}, {}),
        (AuthorizationPending("m"), 400, "authorization_pending", {}, {}),
        (SlowDown("m", interval=10), 400, "slow_down", {"interval": 10}, {}),
        (AccessDenied("m"), 400, "access_denied", {}, {}),
        (ExpiredToken("m"), 400, "expired_token", {}, {}),
        (SignInPending("m"), 409, "sign_in_pending", {}, {}),
        (SignInTooSoon("m", retry_after=42), 429, "too_many_requests", {}, {"Retry-After": "42"}),
        # An admin-side refusal never reaches the device API; if it did, it is a plain 400.
        (DuplicateDevice("m"), 400, "invalid_request", {}, {}),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, ProvisioningError) else None,
)
def test_each_refusal_carries_its_device_api_answer(
    refusal: ProvisioningError, status: int, error: str, fields: dict[str, object], headers: dict[str, str]
) -> None:
    assert (refusal.status, refusal.error, refusal.response_fields(), refusal.response_headers()) == (
        status, error, fields, headers)


def test_firmware_too_old_carries_the_minimum_version() -> None:
    verdict = Catalog.default().check("Yealink T55A", "58.15.0.1")
    refusal = FirmwareRejected(verdict.message, verdict)
    assert (refusal.status, refusal.error) == (422, "firmware_too_old")
    assert refusal.response_fields() == {"minimum_version": "58.15.0.124"}


def test_an_unsupported_device_has_no_minimum_version() -> None:
    verdict = Catalog.default().check("Acme Phone 3000", "1.0")
    refusal = FirmwareRejected(verdict.message, verdict)
    assert (refusal.status, refusal.error, refusal.response_fields()) == (422, "unsupported_device", {})
