"""The admin side of provisioning: every step an IT admin takes, applied through the repository.

Calls take the tenant and the acting admin. Each change is one `commit` carrying the new
devices and the audit events that describe them, so a change and its audit land together
or not at all. Every check-then-commit reads and commits with no await in between: the
repository applies a commit before its first await, so no other request interleaves.
What a device itself asks (provision, token polls, factory reset) is `device_service.py`.
"""
from __future__ import annotations

import asyncio
import heapq
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any

from . import devices as lifecycle
from ._common import TENANT_NAME_RECORD, audit_event, new_grant, tenant_name
from .audit import Actor
from .codes import generate_secret, generate_verification_code
from .devices import Device, DeviceState, VerificationCode, parse_account
from .errors import (
    DeviceNotFound,
    DeviceStateChanged,
    DuplicateDevice,
    InvalidLocation,
    InvalidMac,
    InvalidRequest,
)
from .mac import parse_mac
from .outbox import DeviceEvent, EventKind, notice_records
from .progress import PROGRESS_STEP, Progress
from .repository import retry_on_conflict

if TYPE_CHECKING:
    from .attempts import AttemptCounter
    from .clock import Clock
    from .repository import Repository, TenantRepository

LOCATION_MAX_LENGTH = 128
CONVERSATION_RECORD = "conversation"  # where to tell the admin about a device (by MAC, or "latest")
TENANT_NAME_MAX_LENGTH = 256
SORT_CHUNK = 5_000  # devices per chunk of a sort off the loop (see `_by_location`)
SORT_ON_LOOP_MAX = 2_000  # up to this many devices sort on the loop (~2 ms); more in a worker thread


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
class AsShown:
    """How an admin's card showed a device, for a change that applies only if it still is so.

    A card can be clicked twice, or after another admin acted: the change is refused
    (`DeviceStateChanged`) unless the device is still in `state` and, when
    `code_issued_at` is given, its current code was issued at that instant (ISO text, as
    the card carried it; "" for a device that had no code).
    """

    state: DeviceState
    code_issued_at: str | None = None  # None: the code is not compared


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


class ProvisioningService:
    """The admin-side calls; each names its tenant and, for a change, the acting admin."""

    def __init__(
        self,
        repository: Repository,
        clock: Clock,
        *,
        code_ttl: timedelta = timedelta(hours=24),
        grant_ttl: timedelta = timedelta(minutes=15),
        poll_interval: int = 5,
        tenant_name_default: str | None = None,
        attempts: AttemptCounter | None = None,
    ) -> None:
        """`attempts` is the `DeviceService`'s wrong-code counter: a new code clears its MAC."""
        self._repository = repository
        self._clock = clock
        self.code_ttl = code_ttl
        self.grant_ttl = grant_ttl
        self.poll_interval = poll_interval
        self.tenant_name_default = tenant_name_default
        self._attempts = attempts

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

    async def sorted_devices(self, tenant_id: str, states: Collection[DeviceState] | None = None) -> list[Device]:
        """`list_devices` for the chat: the devices of these states (or all), sorted by
        location then MAC, the sort in a worker thread when the inventory is large (sorting
        50,000 devices takes ~0.1 s, too long to hold the event loop per request)."""
        repo = self._tenant(tenant_id)
        await repo.warm()  # right after a start, the devices are decoded off the loop
        found = repo.devices()
        if states is not None:
            wanted = frozenset(states)
            found = [d for d in found if d.state in wanted]
        return await _sorted(found)

    async def sorted_valid_codes(self, tenant_id: str) -> list[Device]:
        """`valid_codes`, sorted off the event loop when there are many."""
        now = self._clock.now()
        repo = self._tenant(tenant_id)
        await repo.warm()
        return await _sorted([d for d in repo.devices() if d.has_usable_code(now)])

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
        return tenant_name(self._tenant(tenant_id), self.tenant_name_default)

    def conversation(self, tenant_id: str, key: str) -> dict[str, Any] | None:
        """A conversation reference saved with `save_conversation`, or None."""
        return self._tenant(tenant_id).get_record(CONVERSATION_RECORD, key)

    # --- admin side: changes -----------------------------------------------------------

    @retry_on_conflict
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
        event = audit_event(now, tenant_id, actor, "device.added", mac, location=place)
        await repo.commit(save=[device], audit=[event])
        return device

    @retry_on_conflict
    async def add_devices(
        self, tenant_id: str, actor: Actor, rows: Sequence[tuple[str, str]], progress: Progress | None = None
    ) -> BulkAddResult:
        """Validate every row; add all valid ones in one commit and report the rest.

        Never holds the event loop for long, whatever the size (50,000 rows): reading the
        rows (MACs, repeats, locations) and building the devices and their documents runs
        in worker threads, and reads nothing that can change. Only the last step is
        synchronous, with no await between it and the commit: which of those MACs the
        tenant holds *now* (so two concurrent uploads never add a device twice; a MAC
        added meanwhile is reported already present) and staging the rest, all or nothing.
        `progress` counts rows read (set from the worker thread).
        """
        now = self._clock.now()
        repo = self._tenant(tenant_id)
        plan = await asyncio.to_thread(_read_rows, tenant_id, actor.name, rows, now, progress)
        prepared = await repo.prepare_save(plan.devices)
        await repo.warm()  # the devices already there, decoded off the loop for the report
        # -- from here to the commit, no await: checked against the state committed to --
        present = {mac: repo.get(mac) for mac in repo.held([mac for _, mac in plan.indexes])}
        located = {mac: repo.get(mac) for mac in repo.held([mac for _, mac in plan.bad_locations])}
        added = prepared.only(lambda d: d.mac not in present) if present else prepared
        if added:
            event = audit_event(
                now, tenant_id, actor, "devices.added", None,
                count=len(added), macs=[d.mac for d in added],
            )
            await repo.commit(save=added, audit=[event])
        # The report, from the devices as they were at the check (thousands of rows: a thread).
        rejected = (await asyncio.to_thread(_report, plan, present | located)
                    if present or plan.rejected or plan.bad_locations else [])
        return BulkAddResult(added=list(added), rejected=rejected)

    @retry_on_conflict
    async def issue_code(
        self, tenant_id: str, actor: Actor, mac_text: str, as_shown: AsShown | None = None
    ) -> Device:
        """Issue (or reissue, voiding the old) the device's code; ends a lockout. With
        `as_shown`, only if the device is still as the admin's card showed it, so a second
        click on the same card can't void the code the first one issued."""
        mac = parse_mac(mac_text)
        now = self._clock.now()
        repo = self._tenant(tenant_id)
        before = self._existing(repo, mac)
        if as_shown is not None:
            _check_as_shown(before, as_shown)
        device = lifecycle.with_code(before, self._new_code(now, actor), now, actor.name)
        event = audit_event(
            now, tenant_id, actor, "device.code_issued", mac,
            expires_at=_iso(device.code), reissued=before.code is not None,
            unlocked=before.locked,
        )
        await repo.commit(save=[device], audit=[event])
        await self._clear_attempts([mac])
        return device

    @retry_on_conflict
    async def issue_codes_for_all(self, tenant_id: str, actor: Actor, progress: Progress | None = None
                                  ) -> list[Device]:
        """One commit: a new code for every waiting device without a usable one
        (no code, expired, or locked out). Returns those devices, sorted.

        Never holds the event loop for long (50,000 devices): choosing the devices due,
        making their codes and documents, and sorting run in worker threads over a copy
        of the inventory taken at the start. The one synchronous step, right before the
        commit, keeps a device only if it is still exactly the one read then (same
        object: unchanged, not removed); one that changed meanwhile (removed, coded by
        `code <MAC>`, provisioned) gets no code from this run and is not returned.
        `progress` counts devices coded (set from the worker thread).
        """
        now = self._clock.now()
        repo = self._tenant(tenant_id)
        await repo.warm()  # then reading them all is a copy of a list, not 50,000 decodes
        inventory = repo.devices()  # a new list of immutable devices: safe to hand to a thread
        due, issued = await asyncio.to_thread(self._codes_for, inventory, now, actor, progress)
        if not due:
            return []
        prepared = await repo.prepare_save(issued)
        # -- from here to the commit, no await: checked against the state committed to --
        still = repo.unchanged(due)
        if len(still) < len(due):
            unchanged = {d.mac for d in still}
            prepared = prepared.only(lambda d: d.mac in unchanged)
            if not prepared:
                return []
        event = audit_event(
            now, tenant_id, actor, "devices.codes_issued", None,
            count=len(prepared), macs=[d.mac for d in prepared],
            expires_at=(now + self.code_ttl).isoformat(),
        )
        await repo.commit(save=prepared, audit=[event])
        await self._clear_attempts([d.mac for d in prepared])
        return await _sorted(prepared)

    def _codes_for(self, inventory: Sequence[Device], now: datetime, actor: Actor, progress: Progress | None
                   ) -> tuple[list[Device], list[Device]]:
        """Worker thread: the devices due a code, and each with its new code."""
        due = [
            d for d in inventory
            if d.state is DeviceState.WAITING_ON_ACTIVATION and not d.has_usable_code(now)
        ]
        if progress is not None:
            progress.total = len(due)
        issued: list[Device] = []
        for start in range(0, len(due), PROGRESS_STEP):
            issued += [lifecycle.with_code(d, self._new_code(now, actor), now, actor.name)
                       for d in due[start:start + PROGRESS_STEP]]
            if progress is not None:
                progress.done = len(issued)
        return due, issued

    @retry_on_conflict
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
        event = audit_event(
            now, tenant_id, actor, "device.removed", mac,
            state=device.state.value, location=device.location,
        )
        # Its conversation reference goes too: nothing will be said about a removed device.
        await repo.commit(remove=[mac], audit=[event], records={(CONVERSATION_RECORD, mac): None})
        return device

    @retry_on_conflict
    async def start_sign_in(
        self, tenant_id: str, actor: Actor, mac_text: str, account: str | None = None
    ) -> Device:
        """Start an RFC 8628 grant at once; the device shows its user code."""
        mac = parse_mac(mac_text)
        upn = parse_account(account) if account is not None and account.strip() else None
        now = self._clock.now()
        repo = self._tenant(tenant_id)
        grant = new_grant(now, self.grant_ttl, self.poll_interval, actor.id, upn)
        device = lifecycle.start_sign_in(self._existing(repo, mac), grant, now, actor.name)
        event = audit_event(
            now, tenant_id, actor, "device.sign_in_started", mac,
            account=upn, expires_at=grant.expires_at.isoformat(),
        )
        await repo.commit(save=[device], audit=[event])
        return device

    @retry_on_conflict
    async def approve_sign_in(
        self, tenant_id: str, actor: Actor, mac_text: str, account: str
    ) -> Device:
        """Approve the pending grant for `account`; the device's next poll gets its token."""
        mac = parse_mac(mac_text)
        upn = parse_account(account)
        now = self._clock.now()
        repo = self._tenant(tenant_id)
        device = lifecycle.approve(self._existing(repo, mac), upn, actor.id, now, actor.name,
                                   session_id=generate_secret(9))
        event = audit_event(now, tenant_id, actor, "device.sign_in_approved", mac, account=upn)
        await repo.commit(save=[device], audit=[event])
        return device

    @retry_on_conflict
    async def deny_sign_in(self, tenant_id: str, actor: Actor, mac_text: str) -> Device:
        """Cancel the grant: the device's next poll gets `access_denied`."""
        mac = parse_mac(mac_text)
        now = self._clock.now()
        repo = self._tenant(tenant_id)
        device = lifecycle.deny(self._existing(repo, mac), now, actor.name)
        event = audit_event(now, tenant_id, actor, "device.sign_in_denied", mac)
        await repo.commit(save=[device], audit=[event])
        return device

    @retry_on_conflict
    async def sign_out(
        self, tenant_id: str, actor: Actor, mac_text: str, session: str | None = None
    ) -> tuple[Device, Device]:
        """End the device's session at once (or an approved sign-in it has not collected yet):
        it waits for sign in again, still provisioned. With `session` (the `session_key` a
        card showed), only if the device is still in that session. Returns (before, after)."""
        mac = parse_mac(mac_text)
        now = self._clock.now()
        repo = self._tenant(tenant_id)
        before = self._existing(repo, mac)
        if session is not None:
            _check_session(before, session)
        after = lifecycle.signed_out(before, now, actor.name)
        event = audit_event(
            now, tenant_id, actor, "device.signed_out", mac,
            from_account=_account_of(before), to_account=None, previous_state=before.state.value,
            session_id=before.session_id, location=before.location,
        )
        notice = notice_records(DeviceEvent.of(EventKind.SIGNED_OUT, after, now, previous_account=_account_of(before),
                                               by=actor.name))
        await repo.commit(save=[after], audit=[event], records=notice)
        return before, after

    @retry_on_conflict
    async def switch_account(
        self, tenant_id: str, actor: Actor, mac_text: str, account: str, session: str | None = None
    ) -> tuple[Device, Device]:
        """Sign a signed-in device out and start a sign-in for `account` in one commit (the
        admin then checks the user code and approves, as for any sign-in). With `session`,
        only if the device is still in that session. Returns (before, after)."""
        mac = parse_mac(mac_text)
        upn = parse_account(account)
        now = self._clock.now()
        repo = self._tenant(tenant_id)
        before = self._existing(repo, mac)
        if session is not None:
            _check_session(before, session)
        grant = new_grant(now, self.grant_ttl, self.poll_interval, actor.id, upn)
        after = lifecycle.switch_account(before, grant, now, actor.name)
        event = audit_event(
            now, tenant_id, actor, "device.account_changed", mac,
            from_account=before.account, to_account=upn, session_id=before.session_id,
            expires_at=grant.expires_at.isoformat(),
        )
        # Told where the old account's sign-in was done: the new sign-in's conversation may
        # take the device over right after.
        notice = notice_records(DeviceEvent.of(EventKind.ACCOUNT_CHANGED, after, now, account=upn,
                                               previous_account=before.account, by=actor.name,
                                               told_in=repo.get_record(CONVERSATION_RECORD, mac)))
        await repo.commit(save=[after], audit=[event], records=notice)
        return before, after

    @retry_on_conflict
    async def set_tenant_name(self, tenant_id: str, actor: Actor, name: str) -> None:
        """Set the name devices show after provisioning (a no-op if unchanged)."""
        cleaned = name.strip() if isinstance(name, str) else ""
        if not cleaned or len(cleaned) > TENANT_NAME_MAX_LENGTH or not cleaned.isprintable():
            raise InvalidRequest(
                f"A tenant name is 1 to {TENANT_NAME_MAX_LENGTH} printable characters."
            )
        repo = self._tenant(tenant_id)
        current = repo.get_record(*TENANT_NAME_RECORD)
        if current is not None and current.get("name") == cleaned:
            return
        now = self._clock.now()
        event = audit_event(now, tenant_id, actor, "tenant.renamed", None, name=cleaned)
        await repo.commit(records={TENANT_NAME_RECORD: {"name": cleaned}}, audit=[event])

    @retry_on_conflict
    async def save_conversation(
        self, tenant_id: str, key: str | Sequence[str], reference_doc: dict[str, Any]
    ) -> None:
        """Remember where to send proactive notices, under one key or several at once
        (bookkeeping, so not audited)."""
        keys = [key] if isinstance(key, str) else list(key)
        await self._tenant(tenant_id).commit(records={(CONVERSATION_RECORD, k): reference_doc for k in keys})

    # --- internals ---------------------------------------------------------------------

    def _tenant(self, tenant_id: str) -> TenantRepository:
        return self._repository.tenant(tenant_id)

    def _existing(self, repo: TenantRepository, mac: str) -> Device:
        device = repo.get(mac)
        if device is None:
            raise DeviceNotFound(f"{mac} is not one of this tenant's devices. Add it first.")
        return device

    async def _clear_attempts(self, macs: Sequence[str]) -> None:
        """A new code ends a lockout: the wrong codes counted against these MACs are forgotten."""
        if self._attempts is not None:
            await self._attempts.clear(macs)

    def _new_code(self, now: datetime, actor: Actor) -> VerificationCode:
        return VerificationCode(
            value=generate_verification_code(),
            issued_at=now,
            expires_at=now + self.code_ttl,
            issued_by=actor.id,
        )


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


def _check_as_shown(device: Device, shown: AsShown) -> None:
    if device.state is not shown.state:
        raise DeviceStateChanged(
            f"{device.mac} is now in *{device.state.label}*, not *{shown.state.label}* as when this card "
            f"was sent, so nothing was changed. Type `status {device.mac}` to see it."
        )
    current_code_issued_at = device.code.issued_at.isoformat() if device.code is not None else ""
    if shown.code_issued_at is not None and shown.code_issued_at != current_code_issued_at:
        raise DeviceStateChanged(
            f"{device.mac}'s code changed since this card was sent (another click or another admin), "
            f"so nothing was changed. Type `status {device.mac}` to see it, or `code {device.mac}` "
            "for a new code."
        )


def _check_session(device: Device, shown: str) -> None:
    if lifecycle.session_key(device) != shown:
        raise DeviceStateChanged(
            f"{device.mac} is not in the session this card was for any more (it was signed out, signed in "
            f"again or reset since), so nothing was changed. Type status {device.mac} to see it now."
        )


def _account_of(device: Device) -> str | None:
    """The account signed in, or about to be (an approved grant not collected yet)."""
    if device.account is not None:
        return device.account
    return device.sign_in.account if device.sign_in is not None else None


def _already_there(device: Device) -> str:
    where = f" (location: {device.location})" if device.location else ""
    return f"{device.mac} is already in {device.state.label}{where}."


def _location_key(device: Device) -> tuple[str, str, str]:
    return (device.location.casefold(), device.location, device.mac)


def _by_location(devices: Any) -> list[Device]:
    """Sorted by location, then MAC. Many are sorted in chunks and merged: `sorted`'s
    comparisons run in one C call that holds the GIL (~30 ms for 50,000 devices, even in a
    worker thread); chunks and a Python-level merge let the event loop in between."""
    devices = list(devices)
    if len(devices) <= SORT_CHUNK:
        return sorted(devices, key=_location_key)
    chunks = [sorted(devices[start:start + SORT_CHUNK], key=_location_key)
              for start in range(0, len(devices), SORT_CHUNK)]
    return list(heapq.merge(*chunks, key=_location_key))


async def _sorted(devices: Sequence[Device]) -> list[Device]:
    """`_by_location`, in a worker thread once there are enough devices for it to matter."""
    if len(devices) <= SORT_ON_LOOP_MAX:
        return _by_location(devices)
    return await asyncio.to_thread(_by_location, list(devices))


@dataclass
class _RowsRead:
    """What `_read_rows` makes of an upload, before the tenant's devices are looked at."""

    texts: list[tuple[str, str]]  # every row's (MAC text, location text), strings
    devices: list[Device]  # one per new, valid row
    indexes: list[tuple[int, str]]  # (row index, MAC) of each of `devices`, in order
    rejected: list[RejectedRow]  # invalid MACs and repeats
    bad_locations: list[tuple[RejectedRow, str]]  # rejected for their location, unless the MAC is present


def _report(plan: _RowsRead, present: dict[str, Device | None]) -> list[RejectedRow]:
    """Worker thread: every rejected row in row order, those already present included."""
    rejected = list(plan.rejected)
    for index, mac in plan.indexes:
        existing = present.get(mac)
        if existing is not None:
            mac_text, location_text = plan.texts[index]
            rejected.append(RejectedRow(index, mac_text, location_text, RejectionKind.ALREADY_PRESENT,
                                        _already_there(existing)))
    for row, mac in plan.bad_locations:
        existing = present.get(mac)
        if existing is not None:
            row = RejectedRow(row.index, row.mac_text, row.location, RejectionKind.ALREADY_PRESENT,
                              _already_there(existing))
        rejected.append(row)
    rejected.sort(key=lambda r: r.index)
    return rejected


def _read_rows(tenant_id: str, by: str, rows: Sequence[tuple[str, str]], now: datetime,
               progress: Progress | None) -> _RowsRead:
    """Worker thread: every check of a bulk add that needs no look-up in the tenant."""
    if progress is not None:
        progress.total = len(rows)
    read = _RowsRead([], [], [], [], [])
    first_row: dict[str, int] = {}
    for index, (mac_text, location_text) in enumerate(rows):
        if progress is not None and index % PROGRESS_STEP == 0:
            progress.done = index
        mac_text = mac_text if isinstance(mac_text, str) else ""
        location_text = location_text if isinstance(location_text, str) else ""
        read.texts.append((mac_text, location_text))
        try:
            mac = parse_mac(mac_text)
        except InvalidMac as error:
            read.rejected.append(RejectedRow(index, mac_text, location_text, RejectionKind.INVALID_MAC,
                                             error.message))
            continue
        if mac in first_row:
            read.rejected.append(RejectedRow(
                index, mac_text, location_text, RejectionKind.DUPLICATE_IN_INPUT,
                f"{mac} is repeated: it already appears at row index {first_row[mac]}; only that row counts.",
            ))
            continue
        first_row[mac] = index
        try:
            place = clean_location(location_text)
        except InvalidLocation as error:
            row = RejectedRow(index, mac_text, location_text, RejectionKind.INVALID_LOCATION, error.message)
            read.bad_locations.append((row, mac))
            continue
        read.devices.append(lifecycle.new_device(tenant_id, mac, place, now, by))
        read.indexes.append((index, mac))
    if progress is not None:
        progress.done = len(rows)
    return read


def _iso(code: VerificationCode | None) -> str | None:
    return code.expires_at.isoformat() if code is not None else None
