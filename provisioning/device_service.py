"""The device side of provisioning: what a Teams Android device asks, by what it knows.

A device knows its MAC, the code a technician types in, and after provisioning its own
bearer token; it never knows its tenant up front. `DeviceService` provisions it, shows it
its state, answers its RFC 8628 token polls and takes its factory reset. As on the admin
side (`service.py`), each change is one `commit` carrying the new devices and their audit
events, and every check-then-commit has no await in between.

Device tokens are `base64url(tenant_id).MAC.secret`; only the secret's hash is stored,
and the tenant and MAC in clear make look-up direct. Access tokens (the signed-in
session's) have the same form, and only their hash is stored too, on the device's
session: a sign-out, an account change or a factory reset ends the session and with it
the access token.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from . import devices as lifecycle
from ._common import audit_event, new_grant, tenant_name
from .attempts import AttemptCounter, MemoryAttemptCounter
from .audit import Actor
from .codes import generate_secret, hash_secret, secret_matches, verification_codes_match
from .devices import Device, DeviceState, SignInGrant
from .errors import (
    AccessDenied,
    AlreadySignedIn,
    AuthorizationPending,
    CodeExpired,
    DeviceLocked,
    ExpiredToken,
    FirmwareRejected,
    InvalidCode,
    InvalidDeviceToken,
    InvalidGrant,
    InvalidMac,
    InvalidRequest,
    InvalidVersion,
    SignInPending,
    SignInTooSoon,
    SlowDown,
)
from .firmware import Catalog, FirmwareStatus, FirmwareVerdict
from .mac import parse_mac
from .outbox import DeviceEvent, EventKind, notice_records
from .polls import MemoryPollTracker, PollTracker
from .repository import retry_on_conflict

if TYPE_CHECKING:
    from .clock import Clock
    from .repository import Repository

REQUIRED_PROVISION_FIELDS = ("mac", "verification_code", "model", "firmware_version")
DEVICE_FIELD_MAX_LENGTH = 128  # model, manufacturer, firmware version from a device
ACCESS_TOKEN_TTL = 3600  # seconds; the simulated sign-in's access token lifetime
LOCKOUT_RETRY_AFTER = 900  # seconds a locked device is told to wait before asking again
SIGN_IN_REQUEST_SPACING = 60  # seconds between two grants a device may ask for ("Refresh code")

_INVALID_CODE = (
    "That verification code is not valid for this device. Check the code your admin "
    "issued for this MAC ID and enter it again."
)
_NOT_PROVISIONED = (
    "This device token is not valid: the device was factory reset, removed, or never "
    "provisioned. Provision the device again with a new verification code."
)
_SESSION_ENDED = (
    "This access token's session has ended: the device was signed out, moved to another "
    "account or factory reset. Show the sign-in screen and wait for your admin to sign the device in."
)


@dataclass(frozen=True)
class ProvisionRequest:
    """A provisioning request whose fields passed `DeviceService.parse_request`: the MAC in
    canonical form, fields trimmed, and the catalog's verdict on the model and firmware."""

    mac: str
    code: str = field(repr=False)  # as typed: a secret, never logged (kept out of repr too)
    model: str
    firmware: str
    manufacturer: str | None
    verdict: FirmwareVerdict


@dataclass(frozen=True)
class ProvisionResult:
    tenant_id: str
    tenant_name: str
    device: Device
    device_token: str  # shown to the device once; only its hash is stored


@dataclass(frozen=True)
class TokenGrant:
    """A successful RFC 8628 token response; `device` is the now signed-in device."""

    access_token: str
    expires_in: int
    account: str
    device: Device
    token_type: str = "Bearer"


@dataclass(frozen=True)
class DeviceView:
    """What `GET /api/devices/me` shows: the device, its tenant's name, a live grant."""

    device: Device
    tenant_name: str
    sign_in: SignInGrant | None  # live (not cancelled, not expired) grant, else None
    sign_in_expires_in: int | None  # whole seconds left on `sign_in`


class DeviceService:
    """The device-side calls; each finds the tenant from the device's MAC or token."""

    grant_ttl = timedelta(minutes=15)  # a sign-in the device asks for itself, as the admin's
    poll_interval = 5

    def __init__(
        self,
        repository: Repository,
        catalog: Catalog,
        clock: Clock,
        *,
        max_code_attempts: int = 5,
        tenant_name_default: str | None = None,
        attempts: AttemptCounter | None = None,
        polls: PollTracker | None = None,
    ) -> None:
        """`attempts` counts wrong codes per MAC; share it with the `ProvisioningService`,
        whose new codes clear it (a private `MemoryAttemptCounter` if not given). `polls`
        keeps the token polls' bookkeeping (a `MemoryPollTracker` if not given)."""
        self._repository = repository
        self._catalog = catalog
        self._clock = clock
        self.max_code_attempts = max_code_attempts
        self.tenant_name_default = tenant_name_default
        self._attempts: AttemptCounter = attempts if attempts is not None else MemoryAttemptCounter()
        self._polls: PollTracker = polls if polls is not None else MemoryPollTracker()

    def parse_request(self, body: Mapping[str, object]) -> ProvisionRequest:
        """A provisioning request (the device's JSON body), checked once and cleaned.

        InvalidRequest names what is wrong: first every required field that is missing,
        empty or not text, then a non-text manufacturer, a bad MAC, an oversized field or
        a firmware version that is not dotted numbers. Nothing is counted or changed, so
        the device API can parse before it counts the request against the rate limit.
        """
        given = {name: body.get(name) for name in REQUIRED_PROVISION_FIELDS}
        texts = {name: value for name, value in given.items() if isinstance(value, str) and value.strip()}
        missing = [name for name in REQUIRED_PROVISION_FIELDS if name not in texts]
        if missing:
            raise InvalidRequest(f"Missing, empty or not text: {', '.join(missing)}.")
        manufacturer = body.get("manufacturer")
        if manufacturer is not None and not isinstance(manufacturer, str):
            raise InvalidRequest("manufacturer must be a string.")
        mac = _device_mac(texts["mac"])
        model = _device_field("model", texts["model"])
        firmware = _device_field("firmware_version", texts["firmware_version"])
        # An empty manufacturer counts as none given; a blank one is refused like any field.
        maker = _device_field("manufacturer", manufacturer) if manufacturer else None
        try:
            # Judged now so a malformed version is a 400, but reported after the code checks.
            verdict = self._catalog.check(model, firmware, maker)
        except InvalidVersion as error:
            raise InvalidRequest(error.message) from None
        return ProvisionRequest(mac, texts["verification_code"], model, firmware, maker, verdict)

    @retry_on_conflict
    async def provision(self, request: ProvisionRequest) -> ProvisionResult:
        """A technician entered a code on the device (`request` from `parse_request`).
        Refusals, in this order: DeviceLocked, AlreadySignedIn, InvalidCode, CodeExpired,
        FirmwareRejected (InvalidRequest came first, from `parse_request`)."""
        mac, code_text, model_, firmware, maker, verdict = (
            request.mac, request.code, request.model, request.firmware, request.manufacturer, request.verdict)
        now = self._clock.now()
        candidates = self._devices_with_mac(mac)
        # Locked if every registration that could take a code is locked (one, normally). A
        # wrong code is answered by the count it makes (below): counted alike for every MAC,
        # registered or not and in any state, so neither the answers nor their timing say
        # which it is. A right code needs no count: only a waiting device's code can be right,
        # and its lockout is on the device as soon as its count reaches the limit.
        waiting = [d for d in candidates if d.state is DeviceState.WAITING_ON_ACTIVATION]
        if waiting and all(d.locked for d in waiting):
            raise _locked()
        # Compare against every open device's code, not stopping at the first match.
        matches = [
            d for d in candidates
            if not d.locked and d.code is not None
            and verification_codes_match(code_text, d.code.value)
        ]
        # A signed-in registration blocks the MAC, unless the code opens a waiting one in
        # another tenant: otherwise any tenant could lock a device out of every other.
        if not matches and any(d.state is DeviceState.SIGNED_IN for d in candidates):
            raise AlreadySignedIn(
                "This device is signed in. Factory reset it (Settings > Device "
                "administration > Reset) before provisioning it again."
            )
        if not matches:
            # Counted in memory: a wrong code is never a durable write. Only the attempt that
            # reaches the limit makes a registered waiting device's lockout durable.
            count = await self._attempts.add_failure(mac)
            if count > self.max_code_attempts:  # others counted the last allowed ones meanwhile
                raise _locked()
            locked_out = await self._lock_out(mac, count, now) if count == self.max_code_attempts else ()
            raise InvalidCode(_INVALID_CODE, locked_out=locked_out)
        device = matches[0]
        assert device.code is not None
        if not device.code.is_valid_at(now):
            raise CodeExpired(
                "This verification code has expired. Ask your admin to issue a new one."
            )
        if verdict.status is not FirmwareStatus.SUPPORTED:
            raise FirmwareRejected(verdict.message, verdict)
        secret = generate_secret()
        actor = _device_actor(mac)
        provisioned = lifecycle.provisioned(
            device, model=model_, manufacturer=maker, firmware=firmware,
            device_token_hash=hash_secret(secret), now=now, by=actor.name,
        )
        event = audit_event(
            now, device.tenant_id, actor, "device.provisioned", mac,
            model=model_, manufacturer=maker, firmware=firmware, location=device.location,
        )
        # The admin's notice is committed with the change (see outbox.py).
        notice = notice_records(DeviceEvent.of(EventKind.PROVISIONED, provisioned, now))
        await self._repository.tenant(device.tenant_id).commit(save=[provisioned], audit=[event], records=notice)
        return ProvisionResult(
            tenant_id=device.tenant_id,
            tenant_name=self._shown_name(device.tenant_id),
            device=provisioned,
            device_token=_device_token(device.tenant_id, mac, secret),
        )

    def device_for_token(self, token: str) -> Device:
        """The device a bearer token belongs to; InvalidDeviceToken if malformed,
        unknown, or revoked (factory reset, removed)."""
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) != 3:
            raise InvalidDeviceToken(_NOT_PROVISIONED)
        tenant_part, mac, secret = parts
        tenant_id = _decode_tenant(tenant_part)
        # Ask the MAC index first, so a forged tenant id never opens a tenant.
        if tenant_id is None or tenant_id not in self._repository.tenants_with_mac(mac):
            raise InvalidDeviceToken(_NOT_PROVISIONED)
        device = self._repository.tenant(tenant_id).get(mac)
        if (
            device is None
            or device.device_token_hash is None
            or not secret_matches(secret, device.device_token_hash)
        ):
            raise InvalidDeviceToken(_NOT_PROVISIONED)
        return device

    def device_view(self, token: str) -> DeviceView:
        """The device's own view of itself (GET /api/devices/me)."""
        device = self.device_for_token(token)
        now = self._clock.now()
        grant = device.sign_in
        live = grant if grant is not None and grant.is_live_at(now) else None
        if live is not None:  # as slowed down by its polls so far
            live = replace(live, interval=self._polls.interval(_grant_key(live), live.interval))
        return DeviceView(
            device=device,
            tenant_name=self._shown_name(device.tenant_id),
            sign_in=live,
            sign_in_expires_in=(
                int((live.expires_at - now).total_seconds()) if live is not None else None
            ),
        )

    @retry_on_conflict
    async def poll_token(self, token: str, device_code: str) -> TokenGrant:
        """RFC 8628 section 3.5 token request. Raises InvalidGrant, AccessDenied,
        ExpiredToken, SlowDown or AuthorizationPending; returns the token once approved."""
        device = self.device_for_token(token)
        now = self._clock.now()
        grant = device.sign_in
        if grant is None or not _same_secret(device_code, grant.device_code):
            raise InvalidGrant(
                "This device_code is not the device's current sign-in; read the current "
                "one from /api/devices/me."
            )
        if grant.denied:
            raise AccessDenied("The admin cancelled this sign-in. Ask them to start a new one.")
        if grant.is_expired_at(now):
            raise ExpiredToken("This sign-in expired. Ask your admin to start a new sign-in.")
        repo = self._repository.tenant(device.tenant_id)
        actor = _device_actor(device.mac)
        if grant.approved:
            signed, access_token = _with_new_session(device, now, actor.name)
            event = audit_event(
                now, device.tenant_id, actor, "device.signed_in", device.mac,
                account=signed.account, approved_by=grant.approved_by,
            )
            notice = notice_records(DeviceEvent.of(EventKind.SIGNED_IN, signed, now))
            await repo.commit(save=[signed], audit=[event], records=notice)
            self._polls.forget(_grant_key(grant))
            assert signed.account is not None
            return TokenGrant(
                access_token=access_token,
                expires_in=ACCESS_TOKEN_TTL,
                account=signed.account,
                device=signed,
            )
        # Poll bookkeeping is kept in memory, never written: a device polls every few seconds.
        slowed = self._polls.poll(_grant_key(grant), now, grant.interval)
        if slowed is not None:
            raise SlowDown(
                f"Polling too fast: wait at least {slowed} seconds between requests.",
                interval=slowed,
            )
        raise AuthorizationPending("Waiting for the admin to approve the sign-in.")

    @retry_on_conflict
    async def factory_reset(self, token: str) -> Device:
        """The device was reset: back to *Waiting on activation*, its token revoked."""
        device = self.device_for_token(token)
        now = self._clock.now()
        actor = _device_actor(device.mac)
        reset = lifecycle.factory_reset(device, now, actor.name)
        event = audit_event(
            now, device.tenant_id, actor, "device.factory_reset", device.mac,
            previous_state=device.state.value, location=device.location,
        )
        notice = notice_records(DeviceEvent.of(EventKind.RESET, reset, now))
        await self._repository.tenant(device.tenant_id).commit(save=[reset], audit=[event], records=notice)
        return reset

    def session(self, access_token: str) -> Device:
        """The signed-in device an access token's session belongs to (GET /api/devices/session);
        InvalidDeviceToken once that session ended (signed out, account changed, reset)."""
        found = self._device_and_secret(access_token)
        device = found[0] if found is not None else None
        if (
            found is None
            or device is None
            or device.state is not DeviceState.SIGNED_IN
            or device.access_token_hash is None
            or not secret_matches(found[1], device.access_token_hash)
        ):
            raise InvalidDeviceToken(_SESSION_ENDED)
        return device

    @retry_on_conflict
    async def request_sign_in(self, token: str) -> Device:
        """The device asks for a new sign-in code itself ("Refresh code"), while it waits for
        sign in and has no open grant. At most one new grant a minute per device."""
        device = self.device_for_token(token)
        now = self._clock.now()
        if device.state is DeviceState.SIGNED_IN:
            raise AlreadySignedIn(
                f"This device is signed in as {device.account}; it needs no sign-in code."
            )
        last = device.sign_in
        if last is not None and last.is_live_at(now):
            left = int((last.expires_at - now).total_seconds())
            raise SignInPending(
                f"This device's sign-in code is still valid for {max(left // 60, 1)} min; read it "
                "from /api/devices/me and show it."
            )
        if last is not None and now < last.started_at + timedelta(seconds=SIGN_IN_REQUEST_SPACING):
            wait = max(math.ceil((last.started_at - now).total_seconds()) + SIGN_IN_REQUEST_SPACING, 1)
            raise SignInTooSoon(
                f"A new sign-in code can be asked for once a minute. Try again in {wait} s.",
                retry_after=wait,
            )
        actor = _device_actor(device.mac)
        account = last.account if last is not None else None  # what the admin meant to sign in
        grant = new_grant(now, self.grant_ttl, self.poll_interval, actor.id, account)
        started = lifecycle.start_sign_in(device, grant, now, actor.name)
        event = audit_event(
            now, device.tenant_id, actor, "device.sign_in_requested", device.mac,
            account=grant.account, expires_at=grant.expires_at.isoformat(),
        )
        await self._repository.tenant(device.tenant_id).commit(save=[started], audit=[event])
        return started

    # --- internals ---------------------------------------------------------------------

    def _device_and_secret(self, token: str) -> tuple[Device | None, str] | None:
        """The device a `tenant.MAC.secret` token names (None if none) and its secret; None if
        the token is malformed or names a tenant that does not hold the MAC."""
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) != 3:
            return None
        tenant_part, mac, secret = parts
        tenant_id = _decode_tenant(tenant_part)
        if tenant_id is None or tenant_id not in self._repository.tenants_with_mac(mac):
            return None
        return self._repository.tenant(tenant_id).get(mac), secret

    def _shown_name(self, tenant_id: str) -> str:
        """The tenant's display name, else its id: a device always shows something."""
        return tenant_name(self._repository.tenant(tenant_id), self.tenant_name_default) or tenant_id

    def _devices_with_mac(self, mac: str) -> list[Device]:
        found = (self._repository.tenant(t).get(mac) for t in self._repository.tenants_with_mac(mac))
        return [d for d in found if d is not None]

    async def _lock_out(self, mac: str, attempts: int, now: datetime) -> tuple[Device, ...]:
        """Lock every unlocked device waiting on activation with this MAC after `attempts`
        wrong codes; return them (for the admin's notice). Each tenant is re-read right
        before its own commit."""
        locked_out: list[Device] = []
        actor = _device_actor(mac)
        for tenant_id in self._repository.tenants_with_mac(mac):
            repo = self._repository.tenant(tenant_id)
            device = repo.get(mac)
            if device is None or device.locked or device.state is not DeviceState.WAITING_ON_ACTIVATION:
                continue
            locked = lifecycle.locked_out(device, attempts, now)
            event = audit_event(
                now, tenant_id, actor, "device.locked_out", mac,
                attempts=attempts, max_attempts=self.max_code_attempts, location=locked.location,
            )
            locked_out.append(locked)
            notice = notice_records(DeviceEvent.of(EventKind.LOCKED, locked, now))
            await repo.commit(save=[locked], audit=[event], records=notice)
        return tuple(locked_out)


def _locked() -> DeviceLocked:
    return DeviceLocked(
        "Too many wrong codes were entered on this device, so it is locked. Ask "
        "your admin to issue a new verification code, then enter that one.",
        retry_after=LOCKOUT_RETRY_AFTER,
    )


def _device_mac(mac_text: str) -> str:
    try:
        return parse_mac(mac_text)
    except InvalidMac as error:
        raise InvalidRequest(error.message) from None


def _device_field(name: str, value: object) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidRequest(f"{name} is required.")
    if len(text) > DEVICE_FIELD_MAX_LENGTH or not text.isprintable():
        raise InvalidRequest(
            f"{name} must be at most {DEVICE_FIELD_MAX_LENGTH} printable characters."
        )
    return text


def _device_actor(mac: str) -> Actor:
    return Actor(id=mac, name=f"device {mac}", source="device_api")


def _with_new_session(device: Device, now: datetime, by: str) -> tuple[Device, str]:
    """`device` signed in (its approved grant collected) in a new session, and that session's
    access token: shown once, only its hash is kept."""
    secret = generate_secret()
    signed = lifecycle.signed_in(
        device, now, by, session_id=generate_secret(9), access_token_hash=hash_secret(secret)
    )
    return signed, _device_token(device.tenant_id, device.mac, secret)


def _device_token(tenant_id: str, mac: str, secret: str) -> str:
    tenant_part = base64.urlsafe_b64encode(tenant_id.encode("utf-8")).decode("ascii").rstrip("=")
    return f"{tenant_part}.{mac}.{secret}"


def _decode_tenant(part: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        return raw.decode("utf-8") or None
    except (binascii.Error, ValueError):
        return None


def _grant_key(grant: SignInGrant) -> str:
    """Names one grant to the poll tracker without handing it the device code itself."""
    return hash_secret(grant.device_code)


def _same_secret(given: object, expected: str) -> bool:
    if not isinstance(given, str) or not given.isascii():
        return False  # the secrets we issue are ASCII; this also keeps undecodable bytes out of encode()
    return hmac.compare_digest(given.encode("ascii"), expected.encode("ascii"))
