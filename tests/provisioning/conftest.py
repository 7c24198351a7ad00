"""Fixtures for the provisioning service tests: a repository per implementation, a
recorder that sees every commit, and both services (admin side, device side) wired to
the fake clock and sharing one recorder.

To run every service test against another `Repository`, append an async context manager
factory (taking the test's tmp_path) to `REPOSITORY_FACTORIES`.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from provisioning.attempts import AttemptCounter, MemoryAttemptCounter
from provisioning.audit import Actor, AuditEvent
from provisioning.clock import FakeClock
from provisioning.device_service import DeviceService, ProvisionResult
from provisioning.devices import Device
from provisioning.firmware import Catalog
from provisioning.memory import MemoryRepository
from provisioning.outbox import OutboxEntry
from provisioning.repository import PreparedSave, Repository, TenantRepository
from provisioning.service import ProvisioningService


@asynccontextmanager
async def memory_repository(tmp_path: Path) -> AsyncIterator[Repository]:
    yield MemoryRepository()


@asynccontextmanager
async def yielding_memory_repository(tmp_path: Path) -> AsyncIterator[Repository]:
    # Commits give the loop away like a flushing store, so interleavings really happen.
    yield MemoryRepository(yields=3)


@asynccontextmanager
async def tinydb_store(tmp_path: Path) -> AsyncIterator[Repository]:
    from storage.store import open_store

    store = await open_store(tmp_path / "data")
    try:
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def postgres_store(tmp_path: Path) -> AsyncIterator[Repository]:
    from storage.postgres import open_postgres_store
    from tests.pg import fresh_schema

    async with fresh_schema() as url:
        store = await open_postgres_store(url)
        try:
            yield store
        finally:
            await store.close()


RepositoryFactory = Callable[[Path], AbstractAsyncContextManager[Repository]]
REPOSITORY_FACTORIES: list[Any] = [
    pytest.param(memory_repository, id="memory"),
    pytest.param(yielding_memory_repository, id="memory-yielding"),
    pytest.param(tinydb_store, id="tinydb"),
    pytest.param(postgres_store, id="postgres"),
]

TENANT = "tenant-a"
OTHER_TENANT = "tenant-b"
ADMIN = Actor(id="aad-admin-1", name="Ada Admin", source="chat")
OTHER_ADMIN = Actor(id="aad-admin-2", name="Bob Admin", source="chat")
MAC = "00-15-65-AA-BB-01"  # Yealink OUI, unicast
MODEL = "Yealink MP56"
GOOD_FIRMWARE = "122.15.0.36"
OLD_FIRMWARE = "122.15.0.35"


@pytest.fixture(params=REPOSITORY_FACTORIES)
async def repository(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Repository]:
    factory: RepositoryFactory = request.param
    async with factory(tmp_path) as repo:
        yield repo


class RecordingRepository:
    """Wraps any Repository and remembers what each commit carried (for assertions)."""

    def __init__(self, inner: Repository) -> None:
        self.inner = inner
        self.events: list[AuditEvent] = []
        self.commits: list[dict[str, Any]] = []

    def tenant(self, tenant_id: str) -> TenantRepository:
        return _RecordingTenant(self.inner.tenant(tenant_id), self)

    def tenants_with_mac(self, mac: str) -> list[str]:
        return self.inner.tenants_with_mac(mac)

    def tenants_with_notices(self) -> list[str]:
        return self.inner.tenants_with_notices()

    async def claim_notices(self, tenant_id: str, keys: Sequence[str]) -> list[str]:
        return await self.inner.claim_notices(tenant_id, keys)

    def actions(self) -> list[str]:
        return [e.action for e in self.events]


class _RecordingTenant:
    def __init__(self, inner: TenantRepository, recorder: RecordingRepository) -> None:
        self._inner = inner
        self._recorder = recorder
        self.tenant_id = inner.tenant_id

    def get(self, mac: str) -> Device | None:
        return self._inner.get(mac)

    def devices(self) -> list[Device]:
        return self._inner.devices()

    def unchanged(self, devices: Sequence[Device]) -> list[Device]:
        return self._inner.unchanged(devices)

    def held(self, macs: Sequence[str]) -> list[str]:
        return self._inner.held(macs)

    def get_record(self, kind: str, key: str) -> dict[str, Any] | None:
        return self._inner.get_record(kind, key)

    def record_keys(self, kind: str) -> list[str]:
        return self._inner.record_keys(kind)

    def pending_notices(self, limit: int) -> list[OutboxEntry]:
        return self._inner.pending_notices(limit)

    async def warm(self) -> int:
        return await self._inner.warm()

    async def prepare_save(self, devices: Sequence[Device]) -> PreparedSave:
        return await self._inner.prepare_save(devices)

    async def commit(
        self,
        save: Sequence[Device] = (),
        remove: Sequence[str] = (),
        audit: Sequence[AuditEvent] = (),
        records: Mapping[tuple[str, str], dict[str, Any] | None] = {},
    ) -> None:
        await self._inner.commit(save=save, remove=remove, audit=audit, records=records)
        self._recorder.events.extend(audit)
        self._recorder.commits.append(
            {"tenant": self.tenant_id, "save": list(save), "remove": list(remove),
             "audit": list(audit), "records": dict(records)}
        )


@pytest.fixture
def recorder(repository: Repository) -> RecordingRepository:
    return RecordingRepository(repository)


@pytest.fixture
def catalog() -> Catalog:
    return Catalog.default()


@pytest.fixture
def attempts(repository: Repository) -> AttemptCounter:
    """The wrong-code counter both services share, as the app wires them: in the database
    for the PostgreSQL store, else in memory."""
    from storage.postgres import PostgresStore

    if isinstance(repository, PostgresStore):
        return repository.code_failures()
    return MemoryAttemptCounter()


@pytest.fixture
def service(recorder: RecordingRepository, clock: FakeClock, attempts: AttemptCounter) -> ProvisioningService:
    return ProvisioningService(recorder, clock, tenant_name_default="Contoso", attempts=attempts)


@pytest.fixture
def devices(
    recorder: RecordingRepository, catalog: Catalog, clock: FakeClock, attempts: AttemptCounter
) -> DeviceService:
    return DeviceService(recorder, catalog, clock, tenant_name_default="Contoso", attempts=attempts)


async def provision_with(
    devices: DeviceService, mac: object, code: object, model: object, firmware: object, manufacturer: object = None
) -> ProvisionResult:
    """Provision as the device API does: parse the request's fields, then provision."""
    body = {"mac": mac, "verification_code": code, "model": model, "firmware_version": firmware,
            "manufacturer": manufacturer}
    return await devices.provision(devices.parse_request(body))
