"""The provisioning service: every admin and device step, applied through the repository.

Admin-side calls take the tenant and the acting admin; device-side calls take what a
device knows (its MAC, a code, its token). Each change is one `commit` carrying the new
devices and the audit events that describe them, so a change and its audit land together
or not at all. Every check-then-commit reads and commits with no await in between: the
repository applies a commit before its first await, so no other request interleaves.

Device tokens are `base64url(tenant_id).MAC.secret`; only the secret's hash is stored,
and the tenant and MAC in clear make look-up direct.
"""
from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

from . import devices as lifecycle
from .audit import Actor, AuditEvent
from .codes import (
    generate_secret,
    generate_user_code,
    generate_verification_code,
    hash_secret,
    secret_matches,
    verification_codes_match,
)
from .devices import Device, DeviceState, SignInGrant, VerificationCode, parse_account
from .errors import (
    AccessDenied,
    AlreadySignedIn,
    AuthorizationPending,
    CodeExpired,
    DeviceLocked,
    DeviceNotFound,
    DeviceStateChanged,
    DuplicateDevice,
    ExpiredToken,
    FirmwareRejected,
    InvalidCode,
    InvalidDeviceToken,
    InvalidGrant,
    InvalidLocation,
    InvalidMac,
    InvalidRequest,
    InvalidVersion,
    SlowDown,
)
from .firmware import Catalog, FirmwareStatus
from .mac import parse_mac

if TYPE_CHECKING:
    from .clock import Clock
    from .repository import Repository, TenantRepository

LOCATION_MAX_LENGTH = 128
TENANT_NAME_MAX_LENGTH = 256
DEVICE_FIELD_MAX_LENGTH = 128  # model, manufacturer, firmware version from a device
ACCESS_TOKEN_TTL = 3600  # seconds; the simulated sign-in's access token lifetime
SLOW_DOWN_STEP = 5  # RFC 8628 section 3.5: add 5 s to the interval on slow_down
LOCKOUT_RETRY_AFTER = 900  # seconds a locked device is told to wait before asking again

_INVALID_CODE = (
    "That verification code is not valid for this device. Check the code your admin "
    "issued for this MAC ID and enter it again."
)
_NOT_PROVISIONED = (
    "This device token is not valid: the device was factory reset, removed, or never "
    "provisioned. Provision the device again with a new verification code."
)


class RejectionKind(str, Enum):
    """Why a row of a bulk add was not added (the upload report groups by it)."""

    INVALID_MAC = "invalid_mac"
    DUPLICATE_IN_INPUT = "duplicate_in_input"
    ALREADY_PRESENT = "already_present"
    INVALID_LOCATION = "invalid_location"


@dataclass(frozen=True)
class RejectedRow:
    index: int  # position in the rows given (0-based); the caller maps it to a line number
    mac_text: str
    location: str
    kind: RejectionKind
    reason: str


@dataclass(frozen=True)
class BulkAddResult:
    added: list[Device]
    rejected: list[RejectedRow]

    @property
    def already_present(self) -> list[RejectedRow]:
        return [r for r in self.rejected if r.kind is RejectionKind.ALREADY_PRESENT]

    @property
    def invalid(self) -> list[RejectedRow]:
        return [r for r in self.rejected if r.kind is not RejectionKind.ALREADY_PRESENT]


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


class ProvisioningService:
    def __init__(
        self,
        repository: Repository,
        catalog: Catalog,
        clock: Clock,
        *,
        code_ttl: timedelta = timedelta(hours=24),
        max_code_attempts: int = 5,
        grant_ttl: timedelta = timedelta(minutes=15),
        poll_interval: int = 5,
        tenant_name_default: str | None = None,
    ) -> None:
        self._repository = repository
        self._catalog = catalog
        self._clock = clock
        self.code_ttl = code_ttl
        self.max_code_attempts = max_code_attempts
        self.grant_ttl = grant_ttl
        self.poll_interval = poll_interval
        self.tenant_name_default = tenant_name_default

    # --- admin side: reads -------------------------------------------------------------

    def get_device(self, tenant_id: str, mac_text: str) -> Device:
        """The tenant's device with this MAC (any accepted form); DeviceNotFound if none."""
        return self._existing(self._tenant(tenant_id), parse_mac(mac_text))

    def list_devices(self, tenant_id: str, state: DeviceState | None = None) -> list[Device]:
        """The tenant's devices (of one state, or all), sorted by location then MAC."""
        found = self._tenant(tenant_id).devices()
        if state is not None:
            found = [d for d in found if d.state is state]
        return _by_location(found)

    def counts(self, tenant_id: str) -> dict[DeviceState, int]:
        """How many devices are in each state (every state present, zeros included)."""
        totals = dict.fromkeys(DeviceState, 0)
        for device in self._tenant(tenant_id).devices():
            totals[device.state] += 1
        return totals

    def valid_codes(self, tenant_id: str) -> list[Device]:
        """Devices holding a code that works right now, sorted by location then MAC."""
        now = self._clock.now()
        return _by_location(d for d in self._tenant(tenant_id).devices() if d.has_usable_code(now))

    def tenant_name(self, tenant_id: str) -> str | None:
        """The name devices show: the one an admin set, else the configured default."""
        record = self._tenant(tenant_id).get_record("tenant", "name")
        if record is not None:
            return str(record["name"])
        return self.tenant_name_default

    def conversation(self, tenant_id: str, key: str) -> dict[str, Any] | None:
        """A conversation reference saved with `save_conversation`, or None."""
        return self._tenant(tenant_id).get_record("conversation", key)

    # --- admin side: changes -----------------------------------------------------------

    async def add_device(self, tenant_id: str, actor: Actor, mac_text: str, location: str = "") -> Device:
        """Add one device to *Waiting on activation*."""
        mac = parse_mac(mac_text)
        place = clean_location(location)
        now = self._clock.now()
        repo = self._tenant(tenant_id)
        existing = repo.get(mac)
        if existing is not None:
            raise DuplicateDevice(_already_there(existing))
        device = lifecycle.new_device(tenant_id, mac, place, now, actor.name)
        event = self._event(now, tenant_id, actor, "device.added", mac, location=place)
        await repo.commit(save=[device], audit=[event])
        return device

    async def add_devices(
        self, tenant_id: str, actor: Actor, rows: Sequence[tuple[str, str]]
    ) -> BulkAddResult:
        """Validate every row; add all valid ones in one commit and report the rest."""
        now = self._clock.now()
        repo = self._tenant(tenant_id)
        first_row: dict[str, int] = {}
        added: list[Device] = []
        rejected: list[RejectedRow] = []
        for index, (mac_text, location_text) in enumerate(rows):
            mac_text = mac_text if isinstance(mac_text, str) else ""
            location_text = location_text if isinstance(location_text, str) else ""

            def reject(kind: RejectionKind, reason: str) -> None:
                rejected.append(RejectedRow(index, mac_text, location_text, kind, reason))

            try:
                mac = parse_mac(mac_text)
            except InvalidMac as error:
                reject(RejectionKind.INVALID_MAC, error.message)
                continue
            if mac in first_row:
                reject(
                    RejectionKind.DUPLICATE_IN_INPUT,
                    f"{mac} is repeated: it already appears at row index {first_row[mac]}; "
                    "only that row counts.",
                )
                continue
            first_row[mac] = index
            existing = repo.get(mac)
            if existing is not None:
                reject(RejectionKind.ALREADY_PRESENT, _already_there(existing))
                continue
            try:
                place = clean_location(location_text)
            except InvalidLocation as error:
                reject(RejectionKind.INVALID_LOCATION, error.message)
                continue
            added.append(lifecycle.new_device(tenant_id, mac, place, now, actor.name))
        if added:
            event = self._event(
                now, tenant_id, actor, "devices.added", None,
                count=len(added), macs=[d.mac for d in added],
            )
            await repo.commit(save=added, audit=[event])
        return BulkAddResult(added=added, rejected=rejected)

    async def issue_code(self, tenant_id: str, actor: Actor, mac_text: str) -> Device:
        """Issue (or reissue, voiding the old) the device's code; ends a lockout."""
        mac = parse_mac(mac_text)
        now = self._clock.now()
        repo = self._tenant(tenant_id)
        before = self._existing(repo, mac)
        device = lifecycle.with_code(before, self._new_code(now, actor), now, actor.name)
        event = self._event(
            now, tenant_id, actor, "device.code_issued", mac,
            expires_at=_iso(device.code), reissued=before.code is not None,
            unlocked=before.locked,
        )
        await repo.commit(save=[device], audit=[event])
        return device

    async def issue_codes_for_all(self, tenant_id: str, actor: Actor) -> list[Device]:
        """One commit: a new code for every waiting device without a usable one
        (no code, expired, or locked out). Returns those devices, sorted."""
        now = self._clock.now()
        repo = self._tenant(tenant_id)
        due = [
            d for d in repo.devices()
            if d.state is DeviceState.WAITING_ON_ACTIVATION and not d.has_usable_code(now)
        ]
        if not due:
            return []
        issued = [lifecycle.with_code(d, self._new_code(now, actor), now, actor.name) for d in due]
        event = self._event(
            now, tenant_id, actor, "devices.codes_issued", None,
            count=len(issued), macs=[d.mac for d in issued],
            expires_at=(now + self.code_ttl).isoformat(),
        )
        await repo.commit(save=issued, audit=[event])
        return _by_location(issued)

    async def remove_device(
        self,
        tenant_id: str,
        actor: Actor,
        mac_text: str,
        expected_state: DeviceState | None = None,
    ) -> Device:
        """Remove a device; with `expected_state`, only if it is still in that state."""
        mac = parse_mac(mac_text)
        now = self._clock.now()
        repo = self._tenant(tenant_id)
        device = self._existing(repo, mac)
        if expected_state is not None and device.state is not expected_state:
            raise DeviceStateChanged(
                f"{mac} is now {device.state.label}, no longer {expected_state.label}; "
                "nothing was removed. Look at the device again before removing it."
            )
        event = self._event(
            now, tenant_id, actor, "device.removed", mac,
            state=device.state.value, location=device.location,
        )
        await repo.commit(remove=[mac], audit=[event])
        return device

    async def start_sign_in(
        self, tenant_id: str, actor: Actor, mac_text: str, account: str | None = None
    ) -> Device:
        """Start an RFC 8628 grant at once; the device shows its user code."""
        mac = parse_mac(mac_text)
        upn = parse_account(account) if account is not None and account.strip() else None
        now = self._clock.now()
        repo = self._tenant(tenant_id)
        grant = SignInGrant(
            device_code=generate_secret(),
            user_code=generate_user_code(),
            started_at=now,
            expires_at=now + self.grant_ttl,
            interval=self.poll_interval,
            started_by=actor.id,
            account=upn,
        )
        device = lifecycle.start_sign_in(self._existing(repo, mac), grant, now, actor.name)
        event = self._event(
            now, tenant_id, actor, "device.sign_in_started", mac,
            account=upn, expires_at=grant.expires_at.isoformat(),
        )
        await repo.commit(save=[device], audit=[event])
        return device

    async def approve_sign_in(
        self, tenant_id: str, actor: Actor, mac_text: str, account: str
    ) -> Device:
        """Approve the pending grant for `account`; the device's next poll gets its token."""
        mac = parse_mac(mac_text)
        upn = parse_account(account)
        now = self._clock.now()
        repo = self._tenant(tenant_id)
        device = lifecycle.approve(self._existing(repo, mac), upn, actor.id, now, actor.name)
        event = self._event(now, tenant_id, actor, "device.sign_in_approved", mac, account=upn)
        await repo.commit(save=[device], audit=[event])
        return device

    async def deny_sign_in(self, tenant_id: str, actor: Actor, mac_text: str) -> Device:
        """Cancel the grant: the device's next poll gets `access_denied`."""
        mac = parse_mac(mac_text)
        now = self._clock.now()
        repo = self._tenant(tenant_id)
        device = lifecycle.deny(self._existing(repo, mac), now, actor.name)
        event = self._event(now, tenant_id, actor, "device.sign_in_denied", mac)
        await repo.commit(save=[device], audit=[event])
        return device

    async def set_tenant_name(self, tenant_id: str, actor: Actor, name: str) -> None:
        """Set the name devices show after provisioning (a no-op if unchanged)."""
        cleaned = name.strip() if isinstance(name, str) else ""
        if not cleaned or len(cleaned) > TENANT_NAME_MAX_LENGTH or not cleaned.isprintable():
            raise InvalidRequest(
                f"A tenant name is 1 to {TENANT_NAME_MAX_LENGTH} printable characters."
            )
        repo = self._tenant(tenant_id)
        current = repo.get_record("tenant", "name")
        if current is not None and current.get("name") == cleaned:
            return
        now = self._clock.now()
        event = self._event(now, tenant_id, actor, "tenant.renamed", None, name=cleaned)
        await repo.commit(records={("tenant", "name"): {"name": cleaned}}, audit=[event])

    async def save_conversation(
        self, tenant_id: str, key: str, reference_doc: dict[str, Any]
    ) -> None:
        """Remember where to send proactive notices (bookkeeping, so not audited)."""
        await self._tenant(tenant_id).commit(records={("conversation", key): reference_doc})

    # --- device side -------------------------------------------------------------------

    async def provision(
        self,
        mac_text: str,
        code_text: str,
        model: str,
        firmware_version: str,
        manufacturer: str | None = None,
    ) -> ProvisionResult:
        """A technician entered a code on the device. Refusals, in this order:
        InvalidRequest, DeviceLocked, AlreadySignedIn, InvalidCode, CodeExpired,
        FirmwareRejected."""
        mac = _device_mac(mac_text)
        model_ = _device_field("model", model)
        firmware = _device_field("firmware_version", firmware_version)
        maker = _device_field("manufacturer", manufacturer) if manufacturer else None
        if not isinstance(code_text, str) or not code_text.strip():
            raise InvalidRequest("verification_code is required.")
        try:
            # Judged now so a malformed version is a 400, but reported after the code checks.
            verdict = self._catalog.check(model_, firmware, maker)
        except InvalidVersion as error:
            raise InvalidRequest(error.message) from None
        now = self._clock.now()
        candidates = self._devices_with_mac(mac)
        # Locked if every registration that could take a code is locked (one, normally).
        waiting = [d for d in candidates if d.state is DeviceState.WAITING_ON_ACTIVATION]
        if waiting and all(d.locked for d in waiting):
            raise DeviceLocked(
                "Too many wrong codes were entered on this device, so it is locked. Ask "
                "your admin to issue a new verification code, then enter that one.",
                retry_after=LOCKOUT_RETRY_AFTER,
            )
        if any(d.state is DeviceState.SIGNED_IN for d in candidates):
            raise AlreadySignedIn(
                "This device is signed in. Factory reset it (Settings > Device "
                "administration > Reset) before provisioning it again."
            )
        # Compare against every open device's code, not stopping at the first match.
        matches = [
            d for d in candidates
            if not d.locked and d.code is not None
            and verification_codes_match(code_text, d.code.value)
        ]
        if not matches:
            locked_out = await self._count_wrong_code(mac, now)
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
        event = self._event(
            now, device.tenant_id, actor, "device.provisioned", mac,
            model=model_, manufacturer=maker, firmware=firmware, location=device.location,
        )
        await self._tenant(device.tenant_id).commit(save=[provisioned], audit=[event])
        return ProvisionResult(
            tenant_id=device.tenant_id,
            tenant_name=self.tenant_name(device.tenant_id) or device.tenant_id,
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
        device = self._tenant(tenant_id).get(mac)
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
        return DeviceView(
            device=device,
            tenant_name=self.tenant_name(device.tenant_id) or device.tenant_id,
            sign_in=live,
            sign_in_expires_in=(
                int((live.expires_at - now).total_seconds()) if live is not None else None
            ),
        )

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
        repo = self._tenant(device.tenant_id)
        actor = _device_actor(device.mac)
        if grant.approved:
            signed = lifecycle.signed_in(device, now, actor.name)
            event = self._event(
                now, device.tenant_id, actor, "device.signed_in", device.mac,
                account=signed.account, approved_by=grant.approved_by,
            )
            await repo.commit(save=[signed], audit=[event])
            assert signed.account is not None
            return TokenGrant(
                access_token=generate_secret(),
                expires_in=ACCESS_TOKEN_TTL,
                account=signed.account,
                device=signed,
            )
        too_soon = grant.last_poll_at is not None and now < grant.last_poll_at + timedelta(
            seconds=grant.interval
        )
        interval = grant.interval + SLOW_DOWN_STEP if too_soon else grant.interval
        # Poll bookkeeping is not audited: a device polls every few seconds.
        await repo.commit(save=[lifecycle.with_poll(device, now, interval)])
        if too_soon:
            raise SlowDown(
                f"Polling too fast: wait at least {interval} seconds between requests.",
                interval=interval,
            )
        raise AuthorizationPending("Waiting for the admin to approve the sign-in.")

    async def factory_reset(self, token: str) -> Device:
        """The device was reset: back to *Waiting on activation*, its token revoked."""
        device = self.device_for_token(token)
        now = self._clock.now()
        actor = _device_actor(device.mac)
        reset = lifecycle.factory_reset(device, now, actor.name)
        event = self._event(
            now, device.tenant_id, actor, "device.factory_reset", device.mac,
            previous_state=device.state.value, location=device.location,
        )
        await self._tenant(device.tenant_id).commit(save=[reset], audit=[event])
        return reset

    # --- internals ---------------------------------------------------------------------

    def _tenant(self, tenant_id: str) -> TenantRepository:
        return self._repository.tenant(tenant_id)

    def _existing(self, repo: TenantRepository, mac: str) -> Device:
        device = repo.get(mac)
        if device is None:
            raise DeviceNotFound(f"{mac} is not one of this tenant's devices. Add it first.")
        return device

    def _devices_with_mac(self, mac: str) -> list[Device]:
        found = (self._tenant(t).get(mac) for t in self._repository.tenants_with_mac(mac))
        return [d for d in found if d is not None]

    async def _count_wrong_code(self, mac: str, now: datetime) -> tuple[Device, ...]:
        """Count a wrong code against every waiting device with this MAC; return those
        this attempt locked. Each tenant is re-read right before its own commit."""
        locked_out: list[Device] = []
        actor = _device_actor(mac)
        for tenant_id in self._repository.tenants_with_mac(mac):
            repo = self._tenant(tenant_id)
            device = repo.get(mac)
            if device is None or device.locked or device.state is not DeviceState.WAITING_ON_ACTIVATION:
                continue
            counted = lifecycle.with_failed_attempt(device, self.max_code_attempts, now)
            events = [
                self._event(
                    now, tenant_id, actor, "device.code_rejected", mac,
                    attempts=counted.failed_attempts, max_attempts=self.max_code_attempts,
                )
            ]
            if counted.locked:
                events.append(
                    self._event(
                        now, tenant_id, actor, "device.locked_out", mac,
                        attempts=counted.failed_attempts, location=counted.location,
                    )
                )
                locked_out.append(counted)
            await repo.commit(save=[counted], audit=events)
        return tuple(locked_out)

    def _new_code(self, now: datetime, actor: Actor) -> VerificationCode:
        return VerificationCode(
            value=generate_verification_code(),
            issued_at=now,
            expires_at=now + self.code_ttl,
            issued_by=actor.id,
        )

    @staticmethod
    def _event(
        now: datetime, tenant_id: str, actor: Actor, action: str, mac: str | None, **detail: Any
    ) -> AuditEvent:
        return AuditEvent(at=now, tenant_id=tenant_id, actor=actor, action=action, mac=mac, detail=detail)


def clean_location(text: str) -> str:
    """A location trimmed, at most 128 printable characters (may be empty)."""
    location = text.strip() if isinstance(text, str) else ""
    if len(location) > LOCATION_MAX_LENGTH:
        raise InvalidLocation(
            f"The location is {len(location)} characters long; the limit is "
            f"{LOCATION_MAX_LENGTH}. Shorten it."
        )
    if not location.isprintable():
        raise InvalidLocation(
            "The location contains control characters (tabs, line breaks...). "
            "Use plain text on one line."
        )
    return location


def _already_there(device: Device) -> str:
    where = f" (location: {device.location})" if device.location else ""
    return f"{device.mac} is already in {device.state.label}{where}."


def _by_location(devices: Any) -> list[Device]:
    return sorted(devices, key=lambda d: (d.location.casefold(), d.location, d.mac))


def _iso(code: VerificationCode | None) -> str | None:
    return code.expires_at.isoformat() if code is not None else None


def _device_mac(mac_text: object) -> str:
    if not isinstance(mac_text, str):
        raise InvalidRequest("mac is required, for example AA-BB-CC-DD-EE-FF.")
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


def _device_token(tenant_id: str, mac: str, secret: str) -> str:
    tenant_part = base64.urlsafe_b64encode(tenant_id.encode("utf-8")).decode("ascii").rstrip("=")
    return f"{tenant_part}.{mac}.{secret}"


def _decode_tenant(part: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        return raw.decode("utf-8") or None
    except (binascii.Error, ValueError):
        return None


def _same_secret(given: object, expected: str) -> bool:
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
