"""Issue 10: a device event and its notice are one commit; the outbox is read and settled
through its port, in order, and survives a reopen of the store."""
from __future__ import annotations

import contextlib
from pathlib import Path

from provisioning.clock import FakeClock
from provisioning.device_service import DeviceService
from provisioning.errors import InvalidCode
from provisioning.outbox import OUTBOX_RECORD, DeviceEvent, EventKind, Outbox, notice_records
from provisioning.repository import Repository
from provisioning.service import ProvisioningService
from storage.store import open_store

from .conftest import ADMIN, GOOD_FIRMWARE, MAC, MODEL, TENANT, RecordingRepository, provision_with


async def coded(service: ProvisioningService, mac: str = MAC) -> str:
    await service.add_device(TENANT, ADMIN, mac, "Room 101")
    device = await service.issue_code(TENANT, ADMIN, mac)
    assert device.code is not None
    return device.code.value


async def test_provisioning_commits_its_notice_with_the_state_change(
        service: ProvisioningService, devices: DeviceService, recorder: RecordingRepository) -> None:
    result = await provision_with(devices, MAC, await coded(service), MODEL, GOOD_FIRMWARE, "Yealink")
    last = recorder.commits[-1]
    assert [d.mac for d in last["save"]] == [MAC]
    outbox = [value for (kind, _), value in last["records"].items() if kind == OUTBOX_RECORD]
    assert len(outbox) == 1, "the notice travels in the same commit as the provisioned device"
    event = DeviceEvent.from_doc(outbox[0])
    assert (event.kind, event.mac, event.tenant_id) == (EventKind.PROVISIONED, MAC, TENANT)
    assert (event.location, event.model, event.firmware) == ("Room 101", result.device.model, GOOD_FIRMWARE)
    assert recorder.tenants_with_notices() == [TENANT]
    assert [e.event for e in Outbox(recorder).pending(TENANT, 10)] == [event]


async def test_a_lockout_and_a_reset_are_events_too(
        service: ProvisioningService, devices: DeviceService, repository: Repository) -> None:
    await coded(service)
    for _ in range(devices.max_code_attempts):
        with contextlib.suppress(InvalidCode):
            await provision_with(devices, MAC, "000000000000", MODEL, GOOD_FIRMWARE)
    kinds = [e.event.kind for e in Outbox(repository).pending(TENANT, 100)]
    assert kinds == [EventKind.LOCKED], "wrong codes that do not lock tell nobody; the lockout does"
    token = (await provision_with(devices, MAC, await _new_code(service), MODEL, GOOD_FIRMWARE)).device_token
    await devices.factory_reset(token)
    kinds = [e.event.kind for e in Outbox(repository).pending(TENANT, 100)]
    assert kinds == [EventKind.LOCKED, EventKind.PROVISIONED, EventKind.RESET]


async def _new_code(service: ProvisioningService) -> str:
    device = await service.issue_code(TENANT, ADMIN, MAC)
    assert device.code is not None
    return device.code.value


async def test_pending_is_oldest_first_limited_and_settle_deletes(repository: Repository, clock: FakeClock) -> None:
    repo = repository.tenant(TENANT)
    events = [DeviceEvent(EventKind.PROVISIONED, TENANT, f"00-15-65-AA-BB-{n:02X}", clock.now()) for n in range(5)]
    for event in events:
        await repo.commit(records=notice_records(event))
    outbox = Outbox(repository)
    first = outbox.pending(TENANT, 3)
    assert [e.event.mac for e in first] == [e.mac for e in events[:3]]
    await outbox.settle(TENANT, [e.key for e in first])
    assert [e.event.mac for e in outbox.pending(TENANT, 10)] == [e.mac for e in events[3:]]
    await outbox.settle(TENANT, [e.key for e in outbox.pending(TENANT, 10)])
    assert outbox.pending(TENANT, 10) == [] and outbox.tenants() == []


async def test_the_outbox_survives_a_reopen_in_order(tmp_path: Path, clock: FakeClock) -> None:
    store = await open_store(tmp_path / "data")
    events = [DeviceEvent(EventKind.SIGNED_IN, TENANT, f"00-15-65-AA-BB-{n:02X}", clock.now(), account=f"u{n}@x.com")
              for n in range(20)]
    for event in events:
        await store.tenant(TENANT).commit(records=notice_records(event))
    await Outbox(store).settle(TENANT, [e.key for e in Outbox(store).pending(TENANT, 5)])
    await store.close()
    store = await open_store(tmp_path / "data")
    try:
        assert store.tenants_with_notices() == [TENANT]
        assert [e.event for e in Outbox(store).pending(TENANT, 100)] == events[5:]
    finally:
        await store.close()
