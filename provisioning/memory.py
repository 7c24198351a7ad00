"""An in-memory `Repository`: the reference semantics of the port, for tests and demos.

It behaves as `repository.py` promises: per-tenant isolation, `commit` applies every
change at once before its first await (it has none), and a record value of None deletes
the record. Devices pass through their documents (`documents.py`) and audit events through JSON on the
way in, so anything a durable store could not hold fails here too. With `yields`, a
commit hands the event loop over that many times after applying its changes, as a
durable store does while it flushes, so tests can catch a check-then-commit that races.
"""
from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

from .audit import AuditEvent
from .devices import Device
from .documents import device_from_doc, device_to_doc
from .outbox import OUTBOX_RECORD, OutboxEntry, sorted_entries
from .repository import PreparedSave


class MemoryTenantRepository:
    """One tenant's devices, records and audit log, in dicts and a list."""

    def __init__(self, tenant_id: str, yields: int = 0) -> None:
        self.tenant_id = tenant_id
        self._yields = yields
        self._devices: dict[str, Device] = {}
        self._records: dict[tuple[str, str], dict[str, Any]] = {}
        self.audit: list[AuditEvent] = []  # every event committed, oldest first
        self.commits = 0

    def get(self, mac: str) -> Device | None:
        return self._devices.get(mac)

    def devices(self) -> list[Device]:
        return list(self._devices.values())

    def unchanged(self, devices: Sequence[Device]) -> list[Device]:
        current = self._devices
        return [device for device in devices if current.get(device.mac) is device]

    def held(self, macs: Sequence[str]) -> list[str]:
        return [mac for mac in macs if mac in self._devices]

    def get_record(self, kind: str, key: str) -> dict[str, Any] | None:
        record = self._records.get((kind, key))
        return copy.deepcopy(record) if record is not None else None

    def record_keys(self, kind: str) -> list[str]:
        return [key for record_kind, key in self._records if record_kind == kind]

    def pending_notices(self, limit: int) -> list[OutboxEntry]:
        docs = ((key, value) for (kind, key), value in self._records.items() if kind == OUTBOX_RECORD)
        return list(sorted_entries(docs, limit))

    async def warm(self) -> int:
        """Nothing to decode: devices are kept as they are."""
        return 0

    async def prepare_save(self, devices: Sequence[Device]) -> PreparedSave:
        """Nothing to prepare: a commit here converts each device as it goes."""
        return PreparedSave(devices)

    async def commit(
        self,
        save: Sequence[Device] = (),
        remove: Sequence[str] = (),
        audit: Sequence[AuditEvent] = (),
        records: Mapping[tuple[str, str], dict[str, Any] | None] = {},
    ) -> None:
        # Convert everything first, so a change that cannot be stored changes nothing.
        devices = [self._checked(device) for device in save]
        events = [AuditEvent.from_doc(json.loads(json.dumps(e.to_doc()))) for e in audit]
        values = {key: copy.deepcopy(value) for key, value in records.items()}
        for value in values.values():
            json.dumps(value)
        for device in devices:
            self._devices[device.mac] = device
        for mac in remove:
            self._devices.pop(mac, None)
        for key, value in values.items():
            if value is None:
                self._records.pop(key, None)
            else:
                self._records[key] = value
        self.audit.extend(events)
        self.commits += 1
        for _ in range(self._yields):
            await asyncio.sleep(0)

    def _checked(self, device: Device) -> Device:
        if device.tenant_id != self.tenant_id:
            raise ValueError(
                f"device {device.mac} belongs to tenant {device.tenant_id!r}, "
                f"not {self.tenant_id!r}"
            )
        return device_from_doc(json.loads(json.dumps(device_to_doc(device))))


class MemoryRepository:
    """All tenants, created on first use."""

    def __init__(self, yields: int = 0) -> None:
        self._tenants: dict[str, MemoryTenantRepository] = {}
        self._yields = yields

    def tenant(self, tenant_id: str) -> MemoryTenantRepository:
        repo = self._tenants.get(tenant_id)
        if repo is None:
            repo = self._tenants[tenant_id] = MemoryTenantRepository(tenant_id, self._yields)
        return repo

    def tenants_with_mac(self, mac: str) -> list[str]:
        return [tid for tid, repo in self._tenants.items() if repo.get(mac) is not None]

    def tenants_with_notices(self) -> list[str]:
        return [tid for tid, repo in self._tenants.items() if repo.record_keys(OUTBOX_RECORD)]

    async def claim_notices(self, tenant_id: str, keys: Sequence[str]) -> list[str]:
        return list(keys)
