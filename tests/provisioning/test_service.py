"""ProvisioningService, admin side: adding, listing, codes, removal, tenants, records."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from provisioning.clock import FakeClock
from provisioning.device_service import DeviceService, ProvisionResult
from provisioning.devices import DeviceState
from provisioning.errors import (
    CodeExpired,
    DeviceNotFound,
    DeviceStateChanged,
    DuplicateDevice,
    InvalidAccount,
    InvalidCode,
    InvalidLocation,
    InvalidMac,
    InvalidRequest,
    TransitionRefused,
)
from provisioning.service import AsShown, ProvisioningService, RejectionKind

from .conftest import ADMIN, GOOD_FIRMWARE, MAC, MODEL, OTHER_TENANT, TENANT, RecordingRepository, provision_with

MAC2 = "00-15-65-AA-BB-02"
MAC3 = "00-15-65-AA-BB-03"


async def provision(devices: DeviceService, code: str, mac: str = MAC) -> ProvisionResult:
    return await provision_with(devices, mac, code, MODEL, GOOD_FIRMWARE)


async def test_add_device_normalizes_mac_and_trims_location(
    service: ProvisioningService, recorder: RecordingRepository, clock: FakeClock
) -> None:
    device = await service.add_device(TENANT, ADMIN, "0015.65aa.bb01", "  Room 101  ")
    assert (device.mac, device.location, device.state) == (MAC, "Room 101", DeviceState.WAITING_ON_ACTIVATION)
    assert service.get_device(TENANT, "00:15:65:aa:bb:01") == device
    [event] = recorder.events
    assert (event.action, event.mac, event.actor, event.at) == ("device.added", MAC, ADMIN, clock.now())


async def test_add_device_refuses_a_duplicate_naming_its_tab(
    service: ProvisioningService, devices: DeviceService
) -> None:
    await service.add_device(TENANT, ADMIN, MAC, "Room 101")
    code = (await service.issue_code(TENANT, ADMIN, MAC)).code
    assert code is not None
    await provision(devices, code.value)
    with pytest.raises(DuplicateDevice, match=r"already in Waiting for sign in .location: Room 101"):
        await service.add_device(TENANT, ADMIN, MAC.lower(), "elsewhere")


@pytest.mark.parametrize(
    ("location", "words"), [("x" * 129, "129 characters"), ("Room\n1", "control characters")]
)
async def test_add_device_refuses_a_bad_location(
    service: ProvisioningService, recorder: RecordingRepository, location: str, words: str
) -> None:
    with pytest.raises(InvalidLocation, match=words):
        await service.add_device(TENANT, ADMIN, MAC, location)
    assert service.list_devices(TENANT) == [] and recorder.commits == []


async def test_add_device_accepts_128_characters_and_no_location(service: ProvisioningService) -> None:
    assert (await service.add_device(TENANT, ADMIN, MAC, "x" * 128)).location == "x" * 128
    assert (await service.add_device(TENANT, ADMIN, MAC2)).location == ""


async def test_add_device_refuses_a_bad_mac(service: ProvisioningService) -> None:
    with pytest.raises(InvalidMac, match="AA-BB-CC-DD-EE-FF"):
        await service.add_device(TENANT, ADMIN, "01-00-5E-00-00-01", "multicast")


async def test_add_devices_adds_valid_rows_in_one_commit_and_reports_the_rest(
    service: ProvisioningService, recorder: RecordingRepository
) -> None:
    await service.add_device(TENANT, ADMIN, MAC3, "Lobby")
    recorder.commits.clear()
    result = await service.add_devices(
        TENANT, ADMIN,
        [
            (MAC, "Room 1"),
            ("not a mac", "Room 2"),
            (MAC.replace("-", ":"), "Room 1 again"),
            (MAC3, "Lobby"),
            (MAC2, "y" * 200),
            ("00-15-65-AA-BB-04", " Room 4 "),
        ],
    )
    assert [d.mac for d in result.added] == [MAC, "00-15-65-AA-BB-04"]
    assert [(r.index, r.kind) for r in result.rejected] == [
        (1, RejectionKind.INVALID_MAC),
        (2, RejectionKind.DUPLICATE_IN_INPUT),
        (3, RejectionKind.ALREADY_PRESENT),
        (4, RejectionKind.INVALID_LOCATION),
    ]
    assert "Waiting on activation" in result.rejected[2].reason
    assert [r.index for r in result.already_present] == [3]
    assert [r.index for r in result.invalid] == [1, 2, 4]
    assert len(recorder.commits) == 1 and len(recorder.commits[0]["save"]) == 2
    assert recorder.events[-1].detail["count"] == 2
    assert service.get_device(TENANT, "00-15-65-AA-BB-04").location == "Room 4"


async def test_add_devices_with_nothing_valid_commits_nothing(
    service: ProvisioningService, recorder: RecordingRepository
) -> None:
    result = await service.add_devices(TENANT, ADMIN, [("zz", ""), ("00-00-00-00-00-00", "")])
    assert result.added == [] and len(result.rejected) == 2 and recorder.commits == []


async def test_list_devices_sorted_by_location_then_mac_and_counts(
    service: ProvisioningService, devices: DeviceService
) -> None:
    await service.add_device(TENANT, ADMIN, MAC3, "b room")
    await service.add_device(TENANT, ADMIN, MAC2, "A room")
    await service.add_device(TENANT, ADMIN, MAC, "b room")
    await service.issue_code(TENANT, ADMIN, MAC2)
    await provision(devices, service.get_device(TENANT, MAC2).code.value, MAC2)
    assert [d.mac for d in service.list_devices(TENANT)] == [MAC2, MAC, MAC3]
    assert [d.mac for d in service.list_devices(TENANT, DeviceState.WAITING_ON_ACTIVATION)] == [MAC, MAC3]
    counts = service.counts(TENANT)
    assert counts == {
        DeviceState.WAITING_ON_ACTIVATION: 2,
        DeviceState.WAITING_FOR_SIGN_IN: 1,
        DeviceState.SIGNING_IN: 0,
        DeviceState.SIGNED_IN: 0,
    }


async def test_many_devices_sort_by_location_then_mac_in_chunks_alike(service: ProvisioningService) -> None:
    # More than one sort chunk, locations in no order, case mixed: one order throughout.
    rows = [(f"02-00-00-{i >> 16 & 0xFF:02X}-{i >> 8 & 0xFF:02X}-{i & 0xFF:02X}",
             f"{'Room' if i % 2 else 'room'} {(i * 7919) % 97}") for i in range(12_000)]
    await service.add_devices(TENANT, ADMIN, rows)
    found = await service.sorted_devices(TENANT)
    assert len(found) == 12_000
    keys = [(d.location.casefold(), d.location, d.mac) for d in found]
    assert keys == sorted(keys)


async def test_issue_code_gives_12_digits_valid_24_hours(service: ProvisioningService, clock: FakeClock) -> None:
    await service.add_device(TENANT, ADMIN, MAC, "Room")
    device = await service.issue_code(TENANT, ADMIN, MAC)
    assert device.code is not None
    assert len(device.code.value) == 12 and device.code.value.isdigit()
    assert device.code.expires_at == clock.now() + timedelta(hours=24)
    assert device.code.issued_by == ADMIN.id


async def test_reissue_voids_the_old_code(
    service: ProvisioningService, devices: DeviceService, recorder: RecordingRepository
) -> None:
    await service.add_device(TENANT, ADMIN, MAC, "Room")
    old = (await service.issue_code(TENANT, ADMIN, MAC)).code
    new = (await service.issue_code(TENANT, ADMIN, MAC)).code
    assert old is not None and new is not None and old.value != new.value
    assert recorder.events[-1].detail["reissued"] is True
    with pytest.raises(InvalidCode):
        await provision(devices, old.value)
    assert (await provision(devices, new.value)).device.state is DeviceState.WAITING_FOR_SIGN_IN


async def test_code_expires_after_24_hours(
    service: ProvisioningService, devices: DeviceService, clock: FakeClock
) -> None:
    await service.add_device(TENANT, ADMIN, MAC, "Room")
    code = (await service.issue_code(TENANT, ADMIN, MAC)).code
    assert code is not None
    clock.advance(hours=24)
    assert service.valid_codes(TENANT) == []
    with pytest.raises(CodeExpired):
        await provision(devices, code.value)


async def test_code_still_works_a_second_before_expiry(
    service: ProvisioningService, devices: DeviceService, clock: FakeClock
) -> None:
    await service.add_device(TENANT, ADMIN, MAC, "Room")
    code = (await service.issue_code(TENANT, ADMIN, MAC)).code
    assert code is not None
    clock.advance(hours=24, seconds=-1)
    assert (await provision(devices, format_code(code.value))).device.code is None


def format_code(digits: str) -> str:
    return f"{digits[:4]}-{digits[4:8]} {digits[8:]}"


async def test_code_ttl_is_configurable(recorder: RecordingRepository, catalog, clock: FakeClock) -> None:
    service = ProvisioningService(recorder, clock, code_ttl=timedelta(hours=2))
    await service.add_device(TENANT, ADMIN, MAC, "Room")
    device = await service.issue_code(TENANT, ADMIN, MAC)
    assert device.code is not None and device.code.expires_at == clock.now() + timedelta(hours=2)


async def test_issue_code_for_unknown_device(service: ProvisioningService) -> None:
    with pytest.raises(DeviceNotFound, match=MAC):
        await service.issue_code(TENANT, ADMIN, MAC)


async def test_issue_code_refused_for_a_provisioned_device(
    service: ProvisioningService, devices: DeviceService, recorder
) -> None:
    await service.add_device(TENANT, ADMIN, MAC, "Room")
    await provision(devices, (await service.issue_code(TENANT, ADMIN, MAC)).code.value)
    before = len(recorder.commits)
    with pytest.raises(TransitionRefused, match="already provisioned"):
        await service.issue_code(TENANT, ADMIN, MAC)
    assert len(recorder.commits) == before


async def test_issue_code_as_shown_issues_when_the_device_is_as_the_card_showed_it(
    service: ProvisioningService, clock: FakeClock
) -> None:
    await service.add_device(TENANT, ADMIN, MAC, "Room")
    first = await service.issue_code(TENANT, ADMIN, MAC, AsShown(DeviceState.WAITING_ON_ACTIVATION, ""))
    assert first.code is not None
    clock.advance(minutes=1)
    shown = AsShown(DeviceState.WAITING_ON_ACTIVATION, first.code.issued_at.isoformat())
    second = await service.issue_code(TENANT, ADMIN, MAC, shown)
    assert second.code is not None and second.code.value != first.code.value
    assert service.get_device(TENANT, MAC).code == second.code


async def test_issue_code_as_shown_refuses_a_device_in_another_state(
    service: ProvisioningService, devices: DeviceService, recorder: RecordingRepository
) -> None:
    await service.add_device(TENANT, ADMIN, MAC, "Room")
    await provision(devices, (await service.issue_code(TENANT, ADMIN, MAC)).code.value)
    before = len(recorder.commits)
    with pytest.raises(DeviceStateChanged,
                       match=r"now in \*Waiting for sign in\*, not \*Waiting on activation\* as when this card"):
        await service.issue_code(TENANT, ADMIN, MAC, AsShown(DeviceState.WAITING_ON_ACTIVATION))
    assert len(recorder.commits) == before


@pytest.mark.parametrize("shown_issued_at", ["", "2026-11-27T08:00:00+00:00"])
async def test_issue_code_as_shown_refuses_when_the_code_changed_since_the_card(
    service: ProvisioningService, recorder: RecordingRepository, shown_issued_at: str
) -> None:
    await service.add_device(TENANT, ADMIN, MAC, "Room")
    current = (await service.issue_code(TENANT, ADMIN, MAC)).code
    before = len(recorder.commits)
    with pytest.raises(DeviceStateChanged, match="code changed since this card was sent"):
        await service.issue_code(TENANT, ADMIN, MAC, AsShown(DeviceState.WAITING_ON_ACTIVATION, shown_issued_at))
    assert len(recorder.commits) == before
    assert service.get_device(TENANT, MAC).code == current


async def test_issue_code_as_shown_without_a_code_time_compares_the_state_only(service: ProvisioningService) -> None:
    await service.add_device(TENANT, ADMIN, MAC, "Room")
    first = (await service.issue_code(TENANT, ADMIN, MAC)).code
    again = await service.issue_code(TENANT, ADMIN, MAC, AsShown(DeviceState.WAITING_ON_ACTIVATION))
    assert again.code is not None and again.code != first


async def test_two_clicks_on_one_card_issue_one_code(service: ProvisioningService) -> None:
    # Both clicks carry what the card showed; checked and committed with no await between,
    # the second sees the first's code and is refused, even when commits yield.
    await service.add_device(TENANT, ADMIN, MAC, "Room")
    shown = AsShown(DeviceState.WAITING_ON_ACTIVATION, "")
    results = await asyncio.gather(*(service.issue_code(TENANT, ADMIN, MAC, shown) for _ in range(2)),
                                   return_exceptions=True)
    issued = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, DeviceStateChanged)]
    assert len(issued) == 1 and len(refused) == 1
    assert service.get_device(TENANT, MAC).code == issued[0].code


async def test_issue_codes_for_all_covers_only_devices_without_a_usable_code(
    service: ProvisioningService, devices: DeviceService, recorder: RecordingRepository, clock: FakeClock
) -> None:
    for mac, place in [(MAC, "1"), (MAC2, "2"), (MAC3, "3"), ("00-15-65-AA-BB-04", "4")]:
        await service.add_device(TENANT, ADMIN, mac, place)
    expiring = (await service.issue_code(TENANT, ADMIN, MAC)).code  # will expire
    clock.advance(hours=23)
    kept = (await service.issue_code(TENANT, ADMIN, MAC2)).code  # still valid later
    await provision(devices, (await service.issue_code(TENANT, ADMIN, MAC3)).code.value, MAC3)
    clock.advance(hours=2)
    recorder.commits.clear()
    issued = await service.issue_codes_for_all(TENANT, ADMIN)
    assert [d.mac for d in issued] == [MAC, "00-15-65-AA-BB-04"]
    assert issued[0].code != expiring
    assert service.get_device(TENANT, MAC2).code == kept
    assert len(recorder.commits) == 1 and recorder.events[-1].action == "devices.codes_issued"
    assert [d.mac for d in service.valid_codes(TENANT)] == [MAC, MAC2, "00-15-65-AA-BB-04"]
    assert await service.issue_codes_for_all(TENANT, ADMIN) == []
    assert len(recorder.commits) == 1


async def test_issue_codes_for_all_includes_locked_devices(
    service: ProvisioningService, devices: DeviceService
) -> None:
    await service.add_device(TENANT, ADMIN, MAC, "Room")
    await service.issue_code(TENANT, ADMIN, MAC)
    for _ in range(5):
        with pytest.raises(InvalidCode):
            await provision(devices, "000000000000")
    assert service.valid_codes(TENANT) == []
    [device] = await service.issue_codes_for_all(TENANT, ADMIN)
    assert not device.locked and service.valid_codes(TENANT) == [device]


async def test_remove_device(service: ProvisioningService, recorder: RecordingRepository) -> None:
    await service.add_device(TENANT, ADMIN, MAC, "Room")
    removed = await service.remove_device(TENANT, ADMIN, MAC.lower(), DeviceState.WAITING_ON_ACTIVATION)
    assert removed.mac == MAC and service.list_devices(TENANT) == []
    assert recorder.events[-1].action == "device.removed"
    with pytest.raises(DeviceNotFound):
        service.get_device(TENANT, MAC)
    with pytest.raises(DeviceNotFound):
        await service.remove_device(TENANT, ADMIN, MAC)


async def test_remove_device_refuses_when_the_state_changed(
    service: ProvisioningService, devices: DeviceService
) -> None:
    await service.add_device(TENANT, ADMIN, MAC, "Room")
    await provision(devices, (await service.issue_code(TENANT, ADMIN, MAC)).code.value)
    with pytest.raises(DeviceStateChanged, match="now Waiting for sign in, no longer Waiting on activation"):
        await service.remove_device(TENANT, ADMIN, MAC, DeviceState.WAITING_ON_ACTIVATION)
    assert service.get_device(TENANT, MAC).state is DeviceState.WAITING_FOR_SIGN_IN


async def test_another_tenant_never_sees_the_device(service: ProvisioningService, devices: DeviceService) -> None:
    await service.add_device(TENANT, ADMIN, MAC, "Room")
    code = (await service.issue_code(TENANT, ADMIN, MAC)).code
    assert code is not None
    assert service.list_devices(OTHER_TENANT) == []
    assert sum(service.counts(OTHER_TENANT).values()) == 0
    assert service.valid_codes(OTHER_TENANT) == []
    with pytest.raises(DeviceNotFound):
        service.get_device(OTHER_TENANT, MAC)
    for call in (
        service.issue_code(OTHER_TENANT, ADMIN, MAC),
        service.remove_device(OTHER_TENANT, ADMIN, MAC),
        service.start_sign_in(OTHER_TENANT, ADMIN, MAC),
        service.deny_sign_in(OTHER_TENANT, ADMIN, MAC),
    ):
        with pytest.raises(DeviceNotFound):
            await call
    assert service.get_device(TENANT, MAC).code == code
    assert (await provision(devices, code.value)).tenant_id == TENANT


async def test_same_mac_in_two_tenants_provisions_into_the_tenant_whose_code_it_is(
    service: ProvisioningService, devices: DeviceService,
) -> None:
    await service.add_device(TENANT, ADMIN, MAC, "A's room")
    await service.add_device(OTHER_TENANT, ADMIN, MAC, "B's room")
    await service.issue_code(TENANT, ADMIN, MAC)
    b_code = (await service.issue_code(OTHER_TENANT, ADMIN, MAC)).code
    assert b_code is not None
    result = await provision(devices, b_code.value)
    assert result.tenant_id == OTHER_TENANT and result.device.location == "B's room"
    assert service.get_device(TENANT, MAC).state is DeviceState.WAITING_ON_ACTIVATION
    assert service.get_device(TENANT, MAC).failed_attempts == 0


async def test_tenant_name_default_then_set(
    service: ProvisioningService, devices: DeviceService, recorder: RecordingRepository
) -> None:
    assert service.tenant_name(TENANT) == "Contoso"
    await service.set_tenant_name(TENANT, ADMIN, "  Fabrikam Ltd ")
    assert service.tenant_name(TENANT) == "Fabrikam Ltd"
    assert service.tenant_name(OTHER_TENANT) == "Contoso"
    assert recorder.events[-1].action == "tenant.renamed"
    commits = len(recorder.commits)
    await service.set_tenant_name(TENANT, ADMIN, "Fabrikam Ltd")
    assert len(recorder.commits) == commits
    await service.add_device(TENANT, ADMIN, MAC, "Room")
    result = await provision(devices, (await service.issue_code(TENANT, ADMIN, MAC)).code.value)
    assert result.tenant_name == "Fabrikam Ltd"
    with pytest.raises(InvalidRequest):
        await service.set_tenant_name(TENANT, ADMIN, "  ")


async def test_tenant_name_falls_back_to_the_tenant_id(recorder: RecordingRepository, catalog, clock) -> None:
    service = ProvisioningService(recorder, clock)
    devices = DeviceService(recorder, catalog, clock)
    assert service.tenant_name(TENANT) is None
    await service.add_device(TENANT, ADMIN, MAC, "Room")
    result = await provision(devices, (await service.issue_code(TENANT, ADMIN, MAC)).code.value)
    assert result.tenant_name == TENANT


async def test_conversations_are_kept_per_tenant(service: ProvisioningService) -> None:
    reference = {"conversation": {"id": "a:1"}, "serviceUrl": "https://smba.example/"}
    await service.save_conversation(TENANT, "aad-admin-1", reference)
    assert service.conversation(TENANT, "aad-admin-1") == reference
    assert service.conversation(OTHER_TENANT, "aad-admin-1") is None
    assert service.conversation(TENANT, "someone-else") is None


async def test_sign_in_refuses_a_bad_account_and_changes_nothing(
    service: ProvisioningService, devices: DeviceService, recorder: RecordingRepository
) -> None:
    await service.add_device(TENANT, ADMIN, MAC, "Room")
    await provision(devices, (await service.issue_code(TENANT, ADMIN, MAC)).code.value)
    commits = len(recorder.commits)
    with pytest.raises(InvalidAccount):
        await service.start_sign_in(TENANT, ADMIN, MAC, "not an account")
    device = await service.start_sign_in(TENANT, ADMIN, MAC, "")
    assert device.sign_in is not None and device.sign_in.account is None
    with pytest.raises(InvalidAccount, match=r"name@domain\.tld"):
        await service.approve_sign_in(TENANT, ADMIN, MAC, "room1@contoso")
    assert len(recorder.commits) == commits + 1
    assert service.get_device(TENANT, MAC).sign_in == device.sign_in


async def test_start_sign_in_records_the_intended_account(service: ProvisioningService, devices: DeviceService) -> None:
    await service.add_device(TENANT, ADMIN, MAC, "Room")
    await provision(devices, (await service.issue_code(TENANT, ADMIN, MAC)).code.value)
    device = await service.start_sign_in(TENANT, ADMIN, MAC, " room1@contoso.com ")
    assert device.sign_in is not None and device.sign_in.account == "room1@contoso.com"
    assert device.sign_in.interval == 5
    assert device.sign_in.expires_at - device.sign_in.started_at == timedelta(minutes=15)


async def test_removing_a_device_forgets_where_to_tell_about_it(service: ProvisioningService) -> None:
    await service.add_device("t1", ADMIN, "02-00-00-00-00-01", "Lobby")
    await service.save_conversation("t1", "02-00-00-00-00-01", {"conversation": {"id": "c"}})
    await service.remove_device("t1", ADMIN, "02-00-00-00-00-01")
    assert service.conversation("t1", "02-00-00-00-00-01") is None
