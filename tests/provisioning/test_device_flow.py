"""DeviceService, with ProvisioningService for the admin steps: the whole seed flow, every
refusal in issue 6's order, brute-force lockout, RFC 8628 polling, device tokens, and an
audit without secrets."""
from __future__ import annotations

import asyncio
import json

import pytest

from provisioning.attempts import MemoryAttemptCounter
from provisioning.clock import FakeClock
from provisioning.device_service import DeviceService, ProvisionResult
from provisioning.devices import DeviceState
from provisioning.errors import (
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
    InvalidRequest,
    SlowDown,
    TransitionRefused,
)
from provisioning.polls import MemoryPollTracker
from provisioning.service import ProvisioningService

from .conftest import (
    ADMIN,
    GOOD_FIRMWARE,
    MAC,
    MODEL,
    OLD_FIRMWARE,
    OTHER_ADMIN,
    OTHER_TENANT,
    TENANT,
    RecordingRepository,
    provision_with,
)

ACCOUNT = "room101@contoso.com"


async def added_with_code(service: ProvisioningService, mac: str = MAC, tenant: str = TENANT) -> str:
    await service.add_device(tenant, ADMIN, mac, "Room 101")
    device = await service.issue_code(tenant, ADMIN, mac)
    assert device.code is not None
    return device.code.value


async def provisioned(service: ProvisioningService, devices: DeviceService) -> ProvisionResult:
    return await provision_with(devices, MAC, await added_with_code(service), MODEL, GOOD_FIRMWARE, "Yealink")


async def signing_in(service: ProvisioningService, devices: DeviceService) -> tuple[str, str]:
    """A provisioned device with a pending grant: (device token, device code)."""
    token = (await provisioned(service, devices)).device_token
    device = await service.start_sign_in(TENANT, ADMIN, MAC)
    assert device.sign_in is not None
    return token, device.sign_in.device_code


async def test_the_whole_flow_and_back_through_a_factory_reset(
    service: ProvisioningService, devices: DeviceService, recorder: RecordingRepository, clock: FakeClock
) -> None:
    code = await added_with_code(service)
    result = await provision_with(
        devices, MAC.replace("-", ""), f" {code[:4]}-{code[4:8]}-{code[8:]} ", MODEL, GOOD_FIRMWARE
    )
    assert (result.tenant_id, result.tenant_name) == (TENANT, "Contoso")
    assert result.device.state is DeviceState.WAITING_FOR_SIGN_IN
    assert (result.device.model, result.device.firmware) == (MODEL, GOOD_FIRMWARE)
    token = result.device_token
    assert devices.device_for_token(token) == service.get_device(TENANT, MAC)
    assert devices.device_view(token).sign_in is None

    started = await service.start_sign_in(TENANT, ADMIN, MAC)
    assert started.state is DeviceState.SIGNING_IN and started.sign_in is not None
    view = devices.device_view(token)
    assert view.sign_in == started.sign_in and view.sign_in_expires_in == 900
    assert len(view.sign_in.user_code) == 8

    with pytest.raises(AuthorizationPending) as pending:
        await devices.poll_token(token, started.sign_in.device_code)
    assert pending.value.error == "authorization_pending"

    approved = await service.approve_sign_in(TENANT, OTHER_ADMIN, MAC, ACCOUNT)
    assert approved.state is DeviceState.SIGNING_IN  # until the device collects its token
    clock.advance(seconds=5)
    grant = await devices.poll_token(token, started.sign_in.device_code)
    assert (grant.token_type, grant.account, grant.expires_in) == ("Bearer", ACCOUNT, 3600)
    assert grant.access_token
    device = service.get_device(TENANT, MAC)
    assert device.state is DeviceState.SIGNED_IN and device.account == ACCOUNT
    assert grant.device == device

    with pytest.raises(AlreadySignedIn) as refused:
        await provision_with(devices, MAC, code, MODEL, GOOD_FIRMWARE)
    assert refused.value.error == "already_signed_in" and "Factory reset" in refused.value.message
    with pytest.raises(TransitionRefused, match="Factory reset"):
        await service.issue_code(TENANT, ADMIN, MAC)

    reset = await devices.factory_reset(token)
    assert reset.state is DeviceState.WAITING_ON_ACTIVATION and reset.location == "Room 101"
    with pytest.raises(InvalidDeviceToken):
        devices.device_for_token(token)

    again = await service.issue_code(TENANT, ADMIN, MAC)
    assert again.code is not None
    second = await provision_with(devices, MAC, again.code.value, MODEL, GOOD_FIRMWARE)
    assert second.device.state is DeviceState.WAITING_FOR_SIGN_IN
    assert second.device_token != token

    assert recorder.actions() == [
        "device.added", "device.code_issued", "device.provisioned", "device.sign_in_started",
        "device.sign_in_approved", "device.signed_in", "device.factory_reset",
        "device.code_issued", "device.provisioned",
    ]
    sources = {e.action: e.actor.source for e in recorder.events}
    assert sources["device.provisioned"] == "device_api" and sources["device.added"] == "chat"
    approval = next(e for e in recorder.events if e.action == "device.sign_in_approved")
    assert approval.actor == OTHER_ADMIN and approval.detail["account"] == ACCOUNT


async def test_audit_never_holds_a_code_or_token(
    service: ProvisioningService, devices: DeviceService, recorder: RecordingRepository, clock: FakeClock
) -> None:
    secrets: list[str] = []
    code = await added_with_code(service)
    secrets.append(code)
    with pytest.raises(InvalidCode):
        await provision_with(devices, MAC, "111122223333", MODEL, GOOD_FIRMWARE)
    result = await provision_with(devices, MAC, code, MODEL, GOOD_FIRMWARE)
    token = result.device_token
    secrets += [token, token.rsplit(".", 1)[1]]
    device = await service.start_sign_in(TENANT, ADMIN, MAC, ACCOUNT)
    assert device.sign_in is not None
    secrets += [device.sign_in.device_code, device.sign_in.user_code]
    with pytest.raises(AuthorizationPending):
        await devices.poll_token(token, device.sign_in.device_code)
    await service.approve_sign_in(TENANT, ADMIN, MAC, ACCOUNT)
    clock.advance(seconds=5)
    grant = await devices.poll_token(token, device.sign_in.device_code)
    secrets.append(grant.access_token)
    await devices.factory_reset(token)
    fresh = await service.issue_code(TENANT, ADMIN, MAC)
    assert fresh.code is not None
    secrets.append(fresh.code.value)
    for _ in range(5):
        with pytest.raises(InvalidCode):
            await provision_with(devices, MAC, "999988887777", MODEL, GOOD_FIRMWARE)
    secrets.append("999988887777")

    # Wrong codes are counted in memory; only the lockout is an audit event.
    assert len(recorder.events) >= 9 and recorder.actions()[-1] == "device.locked_out"
    for event in recorder.events:
        text = json.dumps(event.to_doc())
        for secret in secrets:
            assert secret not in text, f"{event.action} holds a secret"
            assert f"{secret[:4]}-{secret[4:8]}" not in text


@pytest.mark.parametrize(
    ("mac", "code", "model", "firmware"),
    [
        ("not-a-mac", "123412341234", MODEL, GOOD_FIRMWARE),
        (None, "123412341234", MODEL, GOOD_FIRMWARE),
        (MAC, "", MODEL, GOOD_FIRMWARE),
        (MAC, "123412341234", " ", GOOD_FIRMWARE),
        (MAC, "123412341234", MODEL, ""),
        (MAC, "123412341234", MODEL, "v1.beta"),
        (MAC, "123412341234", "x" * 200, GOOD_FIRMWARE),
    ],
    ids=["bad_mac", "no_mac", "no_code", "no_model", "no_firmware", "bad_version", "long_model"],
)
async def test_invalid_request_comes_first(
    service: ProvisioningService, devices: DeviceService, recorder: RecordingRepository, mac, code, model, firmware
) -> None:
    await added_with_code(service)
    commits = len(recorder.commits)
    with pytest.raises(InvalidRequest) as refused:
        await provision_with(devices, mac, code, model, firmware)
    assert refused.value.error == "invalid_request"
    assert len(recorder.commits) == commits
    assert service.get_device(TENANT, MAC).failed_attempts == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Missing, empty or not text: mac, verification_code, model, firmware_version."),
        ({"mac": 42, "verification_code": " ", "model": MODEL, "firmware_version": GOOD_FIRMWARE},
         "Missing, empty or not text: mac, verification_code."),
        ({"mac": MAC, "verification_code": "123412341234", "model": [MODEL], "firmware_version": None},
         "Missing, empty or not text: model, firmware_version."),
        ({"mac": MAC, "verification_code": "123412341234", "model": MODEL, "firmware_version": GOOD_FIRMWARE,
          "manufacturer": 7}, "manufacturer must be a string."),
    ],
    ids=["empty", "not_text_and_blank", "list_and_null", "manufacturer_not_text"],
)
def test_parse_request_names_every_missing_field(devices: DeviceService, body: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        devices.parse_request(body)
    assert refused.value.message == message


def test_parse_request_cleans_the_fields_and_keeps_the_code_out_of_its_repr(devices: DeviceService) -> None:
    request = devices.parse_request({"mac": "0015.65aa.bb01", "verification_code": "1234-5678-9012",
                                     "model": f" {MODEL} ", "firmware_version": GOOD_FIRMWARE, "manufacturer": ""})
    assert (request.mac, request.code, request.model, request.manufacturer) == (MAC, "1234-5678-9012", MODEL, None)
    assert request.verdict.status.value == "supported"
    assert "1234-5678-9012" not in repr(request)


async def test_wrong_code_and_unknown_mac_get_the_same_answer(
    service: ProvisioningService, devices: DeviceService
) -> None:
    await added_with_code(service)
    with pytest.raises(InvalidCode) as wrong:
        await provision_with(devices, MAC, "000011112222", MODEL, GOOD_FIRMWARE)
    with pytest.raises(InvalidCode) as unknown:
        await provision_with(devices, "00-15-65-00-00-99", "000011112222", MODEL, GOOD_FIRMWARE)
    await service.add_device(TENANT, ADMIN, "00-15-65-00-00-98", "")
    with pytest.raises(InvalidCode) as no_code:
        await provision_with(devices, "00-15-65-00-00-98", "000011112222", MODEL, GOOD_FIRMWARE)
    assert wrong.value.message == unknown.value.message == no_code.value.message
    assert wrong.value.error == "invalid_code"


async def test_a_code_is_single_use(service: ProvisioningService, devices: DeviceService) -> None:
    code = await added_with_code(service)
    await provision_with(devices, MAC, code, MODEL, GOOD_FIRMWARE)
    with pytest.raises(InvalidCode):
        await provision_with(devices, MAC, code, MODEL, GOOD_FIRMWARE)


async def test_two_devices_racing_with_one_code_provision_once(
    service: ProvisioningService, devices: DeviceService
) -> None:
    code = await added_with_code(service)
    outcomes = await asyncio.gather(
        *(provision_with(devices, MAC, code, MODEL, GOOD_FIRMWARE) for _ in range(4)),
        return_exceptions=True,
    )
    assert sum(isinstance(o, ProvisionResult) for o in outcomes) == 1
    assert sum(isinstance(o, InvalidCode) for o in outcomes) == 3


async def test_expired_code_is_checked_after_the_code(
    service: ProvisioningService, devices: DeviceService, clock: FakeClock
) -> None:
    code = await added_with_code(service)
    clock.advance(hours=25)
    with pytest.raises(InvalidCode):
        await provision_with(devices, MAC, "000011112222", MODEL, GOOD_FIRMWARE)
    with pytest.raises(CodeExpired) as expired:
        await provision_with(devices, MAC, code, MODEL, OLD_FIRMWARE)
    assert expired.value.error == "code_expired"


async def test_firmware_too_old_keeps_the_code_for_after_the_update(
    service: ProvisioningService, devices: DeviceService, recorder: RecordingRepository
) -> None:
    code = await added_with_code(service)
    commits = len(recorder.commits)
    with pytest.raises(FirmwareRejected) as old:
        await provision_with(devices, MAC, code, MODEL, OLD_FIRMWARE)
    assert (old.value.error, old.value.minimum_version) == ("firmware_too_old", GOOD_FIRMWARE)
    assert len(recorder.commits) == commits
    with pytest.raises(FirmwareRejected) as unknown:
        await provision_with(devices, MAC, code, "Acme Phone 3000", "1.0")
    assert unknown.value.error == "unsupported_device"
    assert (await provision_with(devices, MAC, code, MODEL, GOOD_FIRMWARE)).device.firmware == GOOD_FIRMWARE


async def test_five_wrong_codes_lock_until_a_new_code(
    service: ProvisioningService, devices: DeviceService, recorder: RecordingRepository
) -> None:
    code = await added_with_code(service)
    for attempt in range(1, 5):
        with pytest.raises(InvalidCode) as wrong:
            await provision_with(devices, MAC, f"{attempt:012d}", MODEL, GOOD_FIRMWARE)
        assert wrong.value.locked_out == ()
    with pytest.raises(InvalidCode) as fifth:
        await provision_with(devices, MAC, "000000000005", MODEL, GOOD_FIRMWARE)
    [locked] = fifth.value.locked_out
    assert locked.locked and locked.tenant_id == TENANT
    lockouts = [e for e in recorder.events if e.action == "device.locked_out"]
    assert len(lockouts) == 1 and lockouts[0].mac == MAC
    with pytest.raises(DeviceLocked) as refused:
        await provision_with(devices, MAC, code, MODEL, GOOD_FIRMWARE)  # even the right code
    assert refused.value.error == "too_many_attempts" and refused.value.retry_after > 0
    assert "new verification code" in refused.value.message

    fresh = await service.issue_code(TENANT, ADMIN, MAC)
    assert fresh.code is not None and not fresh.locked
    assert (await provision_with(devices, MAC, fresh.code.value, MODEL, GOOD_FIRMWARE)).device.failed_attempts == 0


async def test_max_code_attempts_is_configurable(recorder: RecordingRepository, catalog, clock) -> None:
    service = ProvisioningService(recorder, clock)
    devices = DeviceService(recorder, catalog, clock, max_code_attempts=2)
    await added_with_code(service)
    for _ in range(2):
        with pytest.raises(InvalidCode):
            await provision_with(devices, MAC, "000000000001", MODEL, GOOD_FIRMWARE)
    with pytest.raises(DeviceLocked):
        await provision_with(devices, MAC, "000000000001", MODEL, GOOD_FIRMWARE)


async def test_wrong_codes_count_in_every_tenant_holding_the_mac(
    service: ProvisioningService, devices: DeviceService
) -> None:
    code_a = await added_with_code(service)
    await added_with_code(service, tenant=OTHER_TENANT)
    for _ in range(4):
        with pytest.raises(InvalidCode):
            await provision_with(devices, MAC, "000000000001", MODEL, GOOD_FIRMWARE)
    with pytest.raises(InvalidCode) as fifth:
        await provision_with(devices, MAC, "000000000001", MODEL, GOOD_FIRMWARE)
    assert sorted(d.tenant_id for d in fifth.value.locked_out) == [TENANT, OTHER_TENANT]
    with pytest.raises(DeviceLocked):
        await provision_with(devices, MAC, code_a, MODEL, GOOD_FIRMWARE)
    fresh = (await service.issue_code(TENANT, ADMIN, MAC)).code
    assert fresh is not None
    assert (await provision_with(devices, MAC, fresh.value, MODEL, GOOD_FIRMWARE)).tenant_id == TENANT
    assert service.get_device(OTHER_TENANT, MAC).locked


async def test_signed_in_is_answered_before_the_code(
    service: ProvisioningService, devices: DeviceService, clock: FakeClock
) -> None:
    token, device_code = await signing_in(service, devices)
    await service.approve_sign_in(TENANT, ADMIN, MAC, ACCOUNT)
    await devices.poll_token(token, device_code)
    with pytest.raises(AlreadySignedIn):
        await provision_with(devices, MAC, "garbage", MODEL, "1.0")
    assert service.get_device(TENANT, MAC).failed_attempts == 0


async def test_polling_too_fast_slows_down_by_five_seconds(
    service: ProvisioningService, devices: DeviceService, clock: FakeClock
) -> None:
    token, device_code = await signing_in(service, devices)
    with pytest.raises(AuthorizationPending):
        await devices.poll_token(token, device_code)
    clock.advance(seconds=4)
    with pytest.raises(SlowDown) as slow:
        await devices.poll_token(token, device_code)
    assert (slow.value.error, slow.value.interval) == ("slow_down", 10)
    assert devices.device_view(token).sign_in.interval == 10
    clock.advance(seconds=9)
    with pytest.raises(SlowDown) as slower:
        await devices.poll_token(token, device_code)
    assert slower.value.interval == 15
    clock.advance(seconds=15)
    with pytest.raises(AuthorizationPending):
        await devices.poll_token(token, device_code)
    clock.advance(seconds=15)
    with pytest.raises(AuthorizationPending):
        await devices.poll_token(token, device_code)


async def test_expired_grant(service: ProvisioningService, devices: DeviceService, clock: FakeClock) -> None:
    token, device_code = await signing_in(service, devices)
    clock.advance(minutes=15)
    with pytest.raises(ExpiredToken) as expired:
        await devices.poll_token(token, device_code)
    assert expired.value.error == "expired_token"
    assert devices.device_view(token).sign_in is None
    with pytest.raises(TransitionRefused, match="expired"):
        await service.approve_sign_in(TENANT, ADMIN, MAC, ACCOUNT)
    renewed = await service.start_sign_in(TENANT, ADMIN, MAC)
    assert renewed.sign_in is not None and renewed.sign_in.device_code != device_code
    with pytest.raises(InvalidGrant):
        await devices.poll_token(token, device_code)
    with pytest.raises(AuthorizationPending):
        await devices.poll_token(token, renewed.sign_in.device_code)


async def test_an_approved_grant_not_collected_in_time_expires(
    service: ProvisioningService, devices: DeviceService, clock: FakeClock
) -> None:
    token, device_code = await signing_in(service, devices)
    await service.approve_sign_in(TENANT, ADMIN, MAC, ACCOUNT)
    clock.advance(minutes=15)
    with pytest.raises(ExpiredToken):
        await devices.poll_token(token, device_code)
    assert service.get_device(TENANT, MAC).state is DeviceState.SIGNING_IN


async def test_deny_answers_access_denied(
    service: ProvisioningService, devices: DeviceService, recorder: RecordingRepository
) -> None:
    token, device_code = await signing_in(service, devices)
    denied = await service.deny_sign_in(TENANT, ADMIN, MAC)
    assert denied.state is DeviceState.WAITING_FOR_SIGN_IN
    assert recorder.events[-1].action == "device.sign_in_denied"
    with pytest.raises(AccessDenied) as refused:
        await devices.poll_token(token, device_code)
    assert refused.value.error == "access_denied"
    with pytest.raises(TransitionRefused, match="cancelled"):
        await service.approve_sign_in(TENANT, ADMIN, MAC, ACCOUNT)
    assert (await service.start_sign_in(TENANT, ADMIN, MAC)).state is DeviceState.SIGNING_IN


async def test_start_sign_in_refused_while_one_is_pending(service: ProvisioningService, devices: DeviceService) -> None:
    await signing_in(service, devices)
    with pytest.raises(TransitionRefused, match="already pending"):
        await service.start_sign_in(TENANT, ADMIN, MAC)


async def test_signed_in_device_cannot_start_another_sign_in(
    service: ProvisioningService, devices: DeviceService
) -> None:
    token, device_code = await signing_in(service, devices)
    await service.approve_sign_in(TENANT, ADMIN, MAC, ACCOUNT)
    await devices.poll_token(token, device_code)
    with pytest.raises(TransitionRefused, match=f"signout {MAC}"):
        await service.start_sign_in(TENANT, ADMIN, MAC)
    with pytest.raises(InvalidGrant):
        await devices.poll_token(token, device_code)


async def test_poll_with_a_wrong_device_code(service: ProvisioningService, devices: DeviceService) -> None:
    token, device_code = await signing_in(service, devices)
    for wrong in ("nope", device_code[:-1], "é" * 10, None):
        with pytest.raises(InvalidGrant) as refused:
            await devices.poll_token(token, wrong)  # type: ignore[arg-type]
        assert refused.value.error == "invalid_grant"


async def test_stolen_forged_and_revoked_tokens_are_refused(
    service: ProvisioningService, devices: DeviceService
) -> None:
    token = (await provisioned(service, devices)).device_token
    tenant_part, mac, secret = token.split(".")
    forged = [
        "", "garbage", "a.b", "a.b.c.d",
        f"{tenant_part}.{mac}.{secret[:-2]}xx",  # guessed secret
        f"{tenant_part}.00-15-65-AA-BB-02.{secret}",  # another MAC
        f"dGVuYW50LWI.{mac}.{secret}",  # tenant-b
        f"!!!.{mac}.{secret}",
        f"{tenant_part}.{mac.lower()}.{secret}",
    ]
    for bad in forged:
        with pytest.raises(InvalidDeviceToken) as refused:
            devices.device_for_token(bad)
        assert refused.value.error == "invalid_token"
    assert devices.device_for_token(token).mac == MAC

    await devices.factory_reset(token)
    for call in (
        lambda: devices.device_for_token(token),
        lambda: devices.device_view(token),
    ):
        with pytest.raises(InvalidDeviceToken):
            call()
    with pytest.raises(InvalidDeviceToken):
        await devices.factory_reset(token)
    with pytest.raises(InvalidDeviceToken):
        await devices.poll_token(token, "x")


async def test_removing_a_device_revokes_its_token(service: ProvisioningService, devices: DeviceService) -> None:
    token = (await provisioned(service, devices)).device_token
    await service.remove_device(TENANT, ADMIN, MAC)
    with pytest.raises(InvalidDeviceToken):
        devices.device_for_token(token)


async def test_another_tenants_token_for_the_same_mac_does_not_cross(
    service: ProvisioningService, devices: DeviceService
) -> None:
    token_a = (await provisioned(service, devices)).device_token
    code_b = await added_with_code(service, tenant=OTHER_TENANT)
    token_b = (await provision_with(devices, MAC, code_b, MODEL, GOOD_FIRMWARE)).device_token
    assert devices.device_for_token(token_a).tenant_id == TENANT
    assert devices.device_for_token(token_b).tenant_id == OTHER_TENANT
    secret_b = token_b.rsplit(".", 1)[1]
    with pytest.raises(InvalidDeviceToken):
        devices.device_for_token(token_a.rsplit(".", 1)[0] + "." + secret_b)


async def test_factory_reset_from_waiting_for_sign_in_allows_provisioning_again(
    service: ProvisioningService, devices: DeviceService, recorder: RecordingRepository
) -> None:
    token = (await provisioned(service, devices)).device_token
    reset = await devices.factory_reset(token)
    assert reset.model is None and reset.device_token_hash is None
    event = recorder.events[-1]
    assert event.action == "device.factory_reset" and event.detail["previous_state"] == "waiting_for_sign_in"
    code = (await service.issue_code(TENANT, ADMIN, MAC)).code
    assert code is not None
    assert (
        await provision_with(devices, MAC, code.value, MODEL, GOOD_FIRMWARE)
    ).device.state is DeviceState.WAITING_FOR_SIGN_IN


async def test_concurrent_wrong_codes_are_each_counted_and_lock_once(
    service: ProvisioningService, devices: DeviceService, recorder: RecordingRepository
) -> None:
    await added_with_code(service)
    outcomes = await asyncio.gather(
        *(provision_with(devices, MAC, f"{i:012d}", MODEL, GOOD_FIRMWARE) for i in range(1, 9)),
        return_exceptions=True,
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["DeviceLocked"] * 3 + ["InvalidCode"] * 5
    device = service.get_device(TENANT, MAC)
    assert (device.failed_attempts, device.locked) == (5, True)
    assert recorder.actions().count("device.locked_out") == 1


async def test_wrong_codes_are_counted_alike_for_every_mac_and_only_a_lockout_is_written(
    service: ProvisioningService, devices: DeviceService, recorder: RecordingRepository
) -> None:
    await added_with_code(service)  # waiting on activation
    token = (await provision_with(devices, "00-15-65-AA-BB-02", await added_with_code(service, "00-15-65-AA-BB-02"),
                                  MODEL, GOOD_FIRMWARE)).device_token
    assert devices.device_for_token(token).state is DeviceState.WAITING_FOR_SIGN_IN
    answers: dict[str, list[str]] = {}
    writes: dict[str, int] = {}
    for mac in (MAC, "00-15-65-AA-BB-02", "00-15-65-AA-BB-03"):  # waiting, provisioned, unknown
        commits = len(recorder.commits)
        answers[mac] = []
        for _ in range(6):
            try:
                await provision_with(devices, mac, "000011112222", MODEL, GOOD_FIRMWARE)
            except (InvalidCode, DeviceLocked) as refused:
                answers[mac].append(refused.error)
        writes[mac] = len(recorder.commits) - commits
    assert list(answers.values()) == [["invalid_code"] * 5 + ["too_many_attempts"]] * 3
    # The waiting device's lockout is made durable once (for its admin); no wrong code is.
    assert writes == {MAC: 1, "00-15-65-AA-BB-02": 0, "00-15-65-AA-BB-03": 0}
    assert recorder.commits[-1]["audit"][0].action == "device.locked_out"


async def test_a_new_code_clears_the_count_of_wrong_codes(
    service: ProvisioningService, devices: DeviceService
) -> None:
    await added_with_code(service)
    for _ in range(4):
        with pytest.raises(InvalidCode):
            await provision_with(devices, MAC, "000011112222", MODEL, GOOD_FIRMWARE)
    await service.issue_code(TENANT, ADMIN, MAC)
    for _ in range(4):
        with pytest.raises(InvalidCode) as wrong:
            await provision_with(devices, MAC, "000011112222", MODEL, GOOD_FIRMWARE)
        assert wrong.value.locked_out == ()

    unknown = "00-15-65-AA-BB-09"  # locked before anyone added it; adding and a code open it
    for _ in range(5):
        with pytest.raises(InvalidCode):
            await provision_with(devices, unknown, "000011112222", MODEL, GOOD_FIRMWARE)
    with pytest.raises(DeviceLocked):
        await provision_with(devices, unknown, "000011112222", MODEL, GOOD_FIRMWARE)
    code = await added_with_code(service, unknown)
    assert (await provision_with(devices, unknown, code, MODEL, GOOD_FIRMWARE)).device.mac == unknown


async def test_the_memory_counter_is_bounded_forgetting_the_longest_quiet_mac() -> None:
    counter = MemoryAttemptCounter(max_tracked=3)
    for mac in ("a", "b", "c", "a", "d"):
        await counter.add_failure(mac)
    assert len(counter) == 3 and await counter.failures("b") == 0
    assert (await counter.failures("a"), await counter.failures("c"), await counter.failures("d")) == (2, 1, 1)
    await counter.clear(["a"])
    assert await counter.failures("a") == 0


def test_the_poll_tracker_is_bounded_and_slows_down_by_five_seconds_a_poll() -> None:
    tracker = MemoryPollTracker(max_tracked=2)
    start = FakeClock().now()
    assert tracker.poll("g1", start, 5) is None
    assert [tracker.poll("g1", start, 5) for _ in range(3)] == [10, 15, 20]
    assert tracker.interval("g1", 5) == 20
    tracker.poll("g2", start, 5)
    tracker.poll("g3", start, 5)
    assert tracker.interval("g1", 5) == 5 and len(tracker) == 2, "the longest-quiet grant was forgotten"
    tracker.forget("g2")
    assert len(tracker) == 1
