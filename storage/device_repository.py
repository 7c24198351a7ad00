"""The `TenantRepository` port on a tenant's documents: devices and records.

The core store is generic (table, key -> JSON object); this thin adapter maps a
`Device` to its document (`provisioning.documents`), audit events to their lines, and
records to a second table of the same file. Decoded `Device` objects are cached per
MAC, so `get` is one dict look-up and `devices()` does not re-decode the inventory.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import operator
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import orjson

from provisioning.audit import AuditEvent
from provisioning.devices import Device
from provisioning.documents import device_from_doc, device_to_doc
from provisioning.outbox import OUTBOX_RECORD, DeviceEvent, OutboxEntry
from provisioning.repository import PreparedSave
from storage.errors import InvalidCommit
from storage.release import release_later
from storage.tables import Change, Doc, Key, Run, TableSpec, json_copy

if TYPE_CHECKING:
    from storage.tenants import TenantDocuments

log = logging.getLogger(__name__)

WARM_STEP = 5_000  # devices installed per synchronous step of `warm`
DEVICES = "devices"
RECORDS = "records"


def _record_key(doc: Doc) -> tuple[str, str]:
    return (doc["kind"], doc["key"])


TABLES = (
    # A device document that does not decode stops the start-up (see `TenantTables.load`).
    TableSpec(DEVICES, key_of=lambda doc: doc["mac"], check=device_from_doc),
    TableSpec(RECORDS, key_of=_record_key),
)


class DeviceRepository:
    """One tenant's devices, records and audit events (implements `TenantRepository`)."""

    def __init__(self, file: TenantDocuments) -> None:
        if file.tenant_id is None:
            raise ValueError("a tenant file must know its tenant before it is wrapped")
        self.tenant_id: str = file.tenant_id
        self._file = file
        self._decoded: dict[Key, Device] = {}  # mac -> Device of the doc stored now
        # The outbox, decoded and oldest first, kept in step with the records table, so the
        # notice sender never scans (or re-decodes) every record of the tenant.
        self._outbox: dict[str, DeviceEvent] = {}
        records = cast(list[tuple[tuple[str, str], Doc]], list(file.items(RECORDS)))
        for (kind, key), doc in sorted(records, key=lambda item: item[0]):
            if kind == OUTBOX_RECORD:
                self._track_outbox(key, doc)
        file.add_listener(self._forget)

    def _forget(self, table: str, keys: list[Key], old: list[Doc | None], new_docs: list[Doc | None]) -> None:
        # Any change (a save, a remove, a rollback) invalidates the decoded object; a save
        # puts the saved Device back right after staging.
        if table == DEVICES:
            if old.count(None) == len(old):
                return  # only new MACs (a bulk add): nothing of them was decoded
            pop = self._decoded.pop
            # Devices now stale: freed off the loop (50,000 after a bulk code issue).
            release_later([pop(key, None) for key in keys])
        elif table == RECORDS:
            for key, new in zip(keys, new_docs, strict=True):
                if isinstance(key, tuple) and key[0] == OUTBOX_RECORD:
                    self._outbox.pop(key[1], None)
                    if new is not None:
                        self._track_outbox(key[1], new)

    def _track_outbox(self, key: str, doc: Doc) -> None:
        try:
            self._outbox[key] = DeviceEvent.from_doc(doc["value"])
        except (KeyError, TypeError, ValueError) as exc:
            log.error("tenant %s: outbox entry %s is not a device event (%r); it is never sent", self.tenant_id, key,
                      exc)

    @property
    def has_notices(self) -> bool:
        return bool(self._outbox)

    def get(self, mac: str) -> Device | None:
        device = self._decoded.get(mac)
        if device is not None:
            return device
        doc = self._file.get(DEVICES, mac)
        if doc is None:
            return None
        device = self._decoded[mac] = device_from_doc(doc)
        return device

    def devices(self) -> list[Device]:
        if self.undecoded:
            for mac, doc in self._file.items(DEVICES):
                if mac not in self._decoded:
                    self._decoded[mac] = device_from_doc(doc)
        return list(self._decoded.values())

    @property
    def undecoded(self) -> int:
        """How many device documents a full read (`devices()`) would decode now."""
        return self._file.count(DEVICES) - len(self._decoded)

    async def warm(self) -> int:
        """Decode, in a worker thread, every device document not decoded yet (after a start,
        or another instance's bulk change), so the next full read (`devices()`: list, export,
        code all) doesn't decode 50,000 documents on the event loop. A document changed
        meanwhile is left to be decoded when read. Returns how many were decoded."""
        decoded = self._decoded
        if not self.undecoded:
            return 0

        def decode() -> list[tuple[Key, Doc, Device]]:
            # Worker thread: `items` is a snapshot taken in one step; documents are never
            # changed in place and devices are immutable; `decoded` is only read.
            return [(mac, doc, device_from_doc(doc)) for mac, doc in self._file.items(DEVICES) if mac not in decoded]

        fresh = 0
        made = await asyncio.to_thread(decode)
        for start in range(0, len(made), WARM_STEP):
            # Each device kept only if its document is still the one decoded; in steps, with
            # the loop let in between (each step stands alone).
            for mac, doc, device in made[start:start + WARM_STEP]:
                if mac not in decoded and self._file.get(DEVICES, mac) is doc:
                    decoded[mac] = device
                    fresh += 1
            await asyncio.sleep(0)
        release_later(made)
        return fresh

    def unchanged(self, devices: Sequence[Device]) -> list[Device]:
        # Any change of a device's document drops its decoded object (`_forget`), and a
        # read returns the decoded object: the same object means the same document.
        # In C steps (50,000 devices in a few ms): devices[i] kept if decoded[mac_i] is devices[i].
        found = map(self._decoded.get, map(operator.attrgetter("mac"), devices))
        return list(itertools.compress(devices, map(operator.is_, found, devices)))

    def held(self, macs: Sequence[str]) -> list[str]:
        return self._file.held(DEVICES, macs)

    def get_record(self, kind: str, key: str) -> dict[str, Any] | None:
        doc = self._file.get(RECORDS, (kind, key))
        # A private copy: stored documents are shared with the writer and never edited.
        return None if doc is None else orjson.loads(orjson.dumps(doc["value"]))

    def record_keys(self, kind: str) -> list[str]:
        # The records table's key is (kind, key), as its TableSpec says.
        keys = cast(list[tuple[str, str]], self._file.keys(RECORDS))
        return [key for record_kind, key in keys if record_kind == kind]

    def pending_notices(self, limit: int) -> list[OutboxEntry]:
        # Kept in commit order (sorted at open), which is key order but for a clock step back.
        return [OutboxEntry(key, event) for key, event in itertools.islice(self._outbox.items(), limit)]

    async def prepare_save(self, devices: Sequence[Device]) -> PreparedSave:
        """Each device's document, built and checked in a worker thread (see `commit`)."""
        if not devices:
            return PreparedSave(devices)
        return await asyncio.to_thread(self._encode, list(devices))

    def _encode(self, devices: list[Device]) -> PreparedSave:
        """Worker thread: touches only `devices` (immutable) and the docs it makes."""
        self._check_tenant(devices)
        macs: list[Key] = [device.mac for device in devices]
        if len(set(macs)) < len(macs):
            return PreparedSave(devices)  # a MAC twice (the last one counts): encoded at commit
        docs: list[Doc | None] = [device_to_doc(device) for device in devices]
        return PreparedSave(devices, self, self._file.check_off_loop((DEVICES, macs, docs)))

    def _check_tenant(self, devices: Sequence[Device]) -> None:
        for device in devices:
            if device.tenant_id != self.tenant_id:
                raise InvalidCommit(
                    f"Device {device.mac} belongs to tenant {device.tenant_id!r}, not "
                    f"{self.tenant_id!r}; the change was not made."
                )

    async def commit(
        self,
        save: Sequence[Device] = (),
        remove: Sequence[str] = (),
        audit: Sequence[AuditEvent] = (),
        records: Mapping[tuple[str, str], dict[str, Any] | None] = {},
    ) -> None:
        """Stage everything now (visible at once), return when durable; see `TenantFile`.

        As in the reference repository, a MAC saved twice keeps the last device, and a
        MAC both saved and removed is removed.
        """
        future = self._stage(save, remove, audit, records)
        # Shielded: a cancelled request must not cancel the batch others wait on.
        await asyncio.shield(future)

    def _stage(
        self,
        save: Sequence[Device],
        remove: Sequence[str],
        audit: Sequence[AuditEvent],
        records: Mapping[tuple[str, str], dict[str, Any] | None],
    ) -> asyncio.Future[None]:
        removed = set(remove)
        # Devices this repository prepared were checked (tenant, distinct MACs, encodable)
        # and encoded off the loop: staged as one bulk run, only applied here
        # (`TenantTables.prepare`). Any other device is checked and encoded now.
        bulk: Run | None = None
        if isinstance(save, PreparedSave) and save.owner is self and save.forms and not removed:
            bulk = (DEVICES, [device.mac for device in save], save.forms)
        saved: dict[str, Device] = {}
        if bulk is None:
            self._check_tenant(save)
            saved = {device.mac: device for device in save}
        changes: list[Change] = [(DEVICES, mac, device_to_doc(d)) for mac, d in saved.items() if mac not in removed]
        changes += [(DEVICES, mac, None) for mac in removed]
        for (kind, key), value in records.items():
            if not isinstance(kind, str) or not isinstance(key, str):
                raise InvalidCommit(f"A record is named by two strings, not {(kind, key)!r}; the change was not made.")
            # Copied: unlike device_to_doc() output, the caller still holds the value.
            doc = None if value is None else {"kind": kind, "key": key, "value": json_copy(value)}
            changes.append((RECORDS, (kind, key), doc))
        # Docs fresh from device_to_doc() are handed over, not copied: nothing else holds them.
        future = self._file.stage(changes, [event.to_doc() for event in audit], owned=True, bulk=bulk)
        if bulk is not None:
            self._decoded.update(zip(bulk[1], save, strict=True))
        for mac, device in saved.items():
            if mac not in removed:
                self._decoded[mac] = device
        return future
