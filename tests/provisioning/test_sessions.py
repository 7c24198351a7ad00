"""Issue 13 in the services: a signed-in device's session, its remote sign-out, the account
change, the device asking for a new code itself, and a sign-out racing the token poll.
Run over every repository implementation (see conftest)."""
from __future__ import annotations

import asyncio
import json

import pytest

from provisioning.clock import FakeClock
from provisioning.device_service import DeviceService, TokenGrant
from provisioning.devices import DeviceState, session_key
from provisioning.errors import (
    AccessDenied,
    AlreadySignedIn,
    AuthorizationPending,
    DeviceNotFound,
    DeviceStateChanged,
    InvalidAccount,
    InvalidDeviceToken,
    SignInPending,
    SignInTooSoon,
    TransitionRefused,
)
from provisioning.service import ProvisioningService

from .conftest import ADMIN, MAC, OTHER_ADMIN, OTHER_TENANT, TENANT, RecordingRepository
from .test_device_flow import provisioned, signing_in

ACCOUNT_A = "room101@contoso.com"
ACCOUNT_B = "room102@contoso.com"


async def signed_in_as(service: ProvisioningService, devices: DeviceService, clock: FakeClock,
                       account: str = ACCOUNT_A) -> tuple[str, TokenGrant]:
    """A signed-in device: (device token, the token response it collected)."""
    token, device_code = await signing_in(service, devices)
    await service.approve_sign_in(TENANT, ADMIN, MAC, account)
    clock.advance(seconds=5)
    return token, await devices.poll_token(token, device_code)


async def collect(service: ProvisioningService, devices: DeviceService, clock: FakeClock, token: str,
                  account: str) -> TokenGrant:
    """Approve the device's current grant for `account` and let the device poll it."""
    device_code = devices.device_view(token).sign_in.device_code
    await service.approve_sign_in(TENANT, ADMIN, MAC, account)
    clock.advance(seconds=5)
    return await devices.poll_token(token, device_code)


async def test_the_session_holds_until_the_sign_out_which_keeps_the_provisioning(
    service: ProvisioningService, devices: DeviceService, recorder: RecordingRepository, clock: FakeClock
) -> None:
    token, grant = await signed_in_as(service, devices, clock)
    session = devices.session(grant.access_token)
    assert (session.mac, session.account, session.signed_in_at) == (MAC, ACCOUNT_A, clock.now())
    assert grant.access_token.split(".")[1] == MAC, "the token names its device, like the device token"

    clock.advance(minutes=10)
    before, after = await service.sign_out(TENANT, OTHER_ADMIN, MAC)
    assert before.account == ACCOUNT_A
    assert after.state is DeviceState.WAITING_FOR_SIGN_IN and after.account is None and after.sign_in is None
    with pytest.raises(InvalidDeviceToken) as ended:
        devices.session(grant.access_token)
    assert ended.value.status == 401 and "signed out" in ended.value.message
    view = devices.device_view(token)  # the device token still works: no factory reset
    assert view.device.state is DeviceState.WAITING_FOR_SIGN_IN and view.device.account is None
    assert (view.device.model, view.device.firmware, view.device.code) == (after.model, after.firmware, None)
    assert service.get_device(TENANT, MAC).history[-1].action == "signed out"
    event = recorder.events[-1]
    assert event.action == "device.signed_out" and event.actor == OTHER_ADMIN
    assert (event.detail["from_account"], event.detail["to_account"]) == (ACCOUNT_A, None)

    again = await service.start_sign_in(TENANT, ADMIN, MAC)  # signing in again needs no technician
    assert again.state is DeviceState.SIGNING_IN
    second = await collect(service, devices, clock, token, ACCOUNT_B)
    assert devices.session(second.access_token).account == ACCOUNT_B
    with pytest.raises(InvalidDeviceToken):
        devices.session(grant.access_token)


async def test_an_account_change_ends_the_session_and_starts_a_grant_for_the_new_account(
    service: ProvisioningService, devices: DeviceService, recorder: RecordingRepository, clock: FakeClock
) -> None:
    token, grant = await signed_in_as(service, devices, clock)
    shown = session_key(service.get_device(TENANT, MAC))
    before, after = await service.switch_account(TENANT, ADMIN, MAC, f" {ACCOUNT_B} ", session=shown)
    assert before.account == ACCOUNT_A
    assert after.state is DeviceState.SIGNING_IN and after.sign_in is not None
    assert after.sign_in.account == ACCOUNT_B and not after.sign_in.approved, "the user code is still checked"
    with pytest.raises(InvalidDeviceToken):
        devices.session(grant.access_token)
    assert devices.device_view(token).sign_in == after.sign_in
    with pytest.raises(AuthorizationPending):
        await devices.poll_token(token, after.sign_in.device_code)
    event = recorder.events[-1]
    assert event.action == "device.account_changed"
    assert (event.detail["from_account"], event.detail["to_account"]) == (ACCOUNT_A, ACCOUNT_B)
    clock.advance(seconds=5)
    new = await collect(service, devices, clock, token, ACCOUNT_B)
    assert devices.session(new.access_token).account == ACCOUNT_B


async def test_a_factory_reset_ends_the_session(
    service: ProvisioningService, devices: DeviceService, clock: FakeClock
) -> None:
    token, grant = await signed_in_as(service, devices, clock)
    await devices.factory_reset(token)
    with pytest.raises(InvalidDeviceToken):
        devices.session(grant.access_token)


async def test_the_session_check_refuses_every_other_token(
    service: ProvisioningService, devices: DeviceService, clock: FakeClock
) -> None:
    token, grant = await signed_in_as(service, devices, clock)
    tenant_part, mac, secret = grant.access_token.split(".")
    for bad in (token, "", "a.b", f"{tenant_part}.{mac}.{secret[:-2]}xx", f"dGVuYW50LWI.{mac}.{secret}",
                f"{tenant_part}.00-15-65-AA-BB-02.{secret}", f"{tenant_part}.{mac}.{secret}\u00e9"):
        with pytest.raises(InvalidDeviceToken):
            devices.session(bad)
    with pytest.raises(InvalidDeviceToken):
        devices.device_for_token(grant.access_token)  # an access token is not a device token


@pytest.mark.parametrize("step", ["nothing", "provisioned", "pending"])
async def test_sign_out_of_a_device_that_is_not_signed_in_changes_nothing(
    service: ProvisioningService, devices: DeviceService, recorder: RecordingRepository, step: str
) -> None:
    if step == "nothing":
        await service.add_device(TENANT, ADMIN, MAC, "Room 101")
    elif step == "provisioned":
        await provisioned(service, devices)
    else:
        await signing_in(service, devices)
    before = service.get_device(TENANT, MAC)
    commits = len(recorder.commits)
    with pytest.raises(TransitionRefused, match="not signed in"):
        await service.sign_out(TENANT, ADMIN, MAC)
    assert service.get_device(TENANT, MAC) == before and len(recorder.commits) == commits


async def test_sign_out_and_account_change_refuse_a_stale_session_another_tenant_and_a_bad_account(
    service: ProvisioningService, devices: DeviceService, recorder: RecordingRepository, clock: FakeClock
) -> None:
    token, _ = await signed_in_as(service, devices, clock)
    old_session = session_key(service.get_device(TENANT, MAC))
    await service.sign_out(TENANT, ADMIN, MAC)
    await collect_after_start(service, devices, clock, token)
    before = service.get_device(TENANT, MAC)
    commits = len(recorder.commits)
    with pytest.raises(DeviceStateChanged, match="nothing was changed"):
        await service.sign_out(TENANT, ADMIN, MAC, session=old_session)
    with pytest.raises(DeviceStateChanged):
        await service.switch_account(TENANT, ADMIN, MAC, ACCOUNT_B, session=old_session)
    with pytest.raises(DeviceNotFound):
        await service.sign_out(OTHER_TENANT, ADMIN, MAC)
    with pytest.raises(InvalidAccount):
        await service.switch_account(TENANT, ADMIN, MAC, "not an account")
    with pytest.raises(TransitionRefused, match="already signed in as"):
        await service.switch_account(TENANT, ADMIN, MAC, ACCOUNT_A.upper())
    assert service.get_device(TENANT, MAC) == before and len(recorder.commits) == commits


async def collect_after_start(service: ProvisioningService, devices: DeviceService, clock: FakeClock,
                              token: str) -> TokenGrant:
    await service.start_sign_in(TENANT, ADMIN, MAC)
    clock.advance(seconds=5)
    return await collect(service, devices, clock, token, ACCOUNT_A)


async def test_signing_out_an_approved_grant_not_yet_collected_cancels_it(
    service: ProvisioningService, devices: DeviceService, clock: FakeClock
) -> None:
    token, device_code = await signing_in(service, devices)
    await service.approve_sign_in(TENANT, ADMIN, MAC, ACCOUNT_A)
    _, after = await service.sign_out(TENANT, ADMIN, MAC, session=session_key(service.get_device(TENANT, MAC)))
    assert after.state is DeviceState.WAITING_FOR_SIGN_IN
    clock.advance(seconds=5)
    with pytest.raises(AccessDenied):
        await devices.poll_token(token, device_code)
    assert service.get_device(TENANT, MAC).state is DeviceState.WAITING_FOR_SIGN_IN


@pytest.mark.parametrize("first", ["poll", "sign_out"])
async def test_a_sign_out_racing_the_token_poll_never_leaves_a_live_token(
    service: ProvisioningService, devices: DeviceService, clock: FakeClock, first: str
) -> None:
    """Both are check-then-commit; whichever goes first, the device ends signed out and any
    token the poll hands out belongs to an ended session (the yielding repository hands the
    loop over inside each commit, so the other request runs in between). The confirmation
    made against the approval still holds once the device collected it: same session."""
    token, device_code = await signing_in(service, devices)
    await service.approve_sign_in(TENANT, ADMIN, MAC, ACCOUNT_A)
    shown = session_key(service.get_device(TENANT, MAC))  # what the admin's confirmation card is bound to
    clock.advance(seconds=5)
    poll = devices.poll_token(token, device_code)
    sign_out = service.sign_out(TENANT, ADMIN, MAC, session=shown)
    outcomes = await asyncio.gather(*((poll, sign_out) if first == "poll" else (sign_out, poll)),
                                    return_exceptions=True)
    polled = outcomes[0 if first == "poll" else 1]
    signed_out = outcomes[1 if first == "poll" else 0]
    assert not isinstance(signed_out, BaseException), signed_out
    device = service.get_device(TENANT, MAC)
    assert device.state is DeviceState.WAITING_FOR_SIGN_IN and device.access_token_hash is None
    if isinstance(polled, TokenGrant):
        with pytest.raises(InvalidDeviceToken):
            devices.session(polled.access_token)
    else:
        assert isinstance(polled, AccessDenied), polled


async def test_the_device_asks_for_a_new_code_when_its_grant_expired_or_was_denied(
    service: ProvisioningService, devices: DeviceService, recorder: RecordingRepository, clock: FakeClock
) -> None:
    token, _ = await signing_in(service, devices)
    first = service.get_device(TENANT, MAC).sign_in
    with pytest.raises(SignInPending) as pending:
        await devices.request_sign_in(token)
    assert pending.value.status == 409

    clock.advance(minutes=15)  # expired
    renewed = await devices.request_sign_in(token)
    assert renewed.state is DeviceState.SIGNING_IN and renewed.sign_in is not None
    assert renewed.sign_in.device_code != first.device_code and renewed.sign_in.user_code != first.user_code
    assert devices.device_view(token).sign_in == renewed.sign_in
    event = recorder.events[-1]
    assert event.action == "device.sign_in_requested" and event.actor.source == "device_api"
    assert renewed.history[-1].actor == f"device {MAC}"

    await service.deny_sign_in(TENANT, ADMIN, MAC)
    clock.advance(seconds=30)
    commits = len(recorder.commits)
    with pytest.raises(SignInTooSoon) as too_soon:
        await devices.request_sign_in(token)
    assert too_soon.value.status == 429 and too_soon.value.response_headers() == {"Retry-After": "30"}
    assert len(recorder.commits) == commits
    clock.advance(seconds=30)
    again = await devices.request_sign_in(token)
    assert again.sign_in is not None and again.sign_in.is_live_at(clock.now())


async def test_the_device_asks_for_a_code_after_a_sign_out_but_not_while_signed_in(
    service: ProvisioningService, devices: DeviceService, clock: FakeClock
) -> None:
    token, _ = await signed_in_as(service, devices, clock)
    with pytest.raises(AlreadySignedIn):
        await devices.request_sign_in(token)
    await service.sign_out(TENANT, ADMIN, MAC)
    device = await devices.request_sign_in(token)
    assert device.state is DeviceState.SIGNING_IN and device.sign_in is not None
    with pytest.raises(InvalidDeviceToken):
        await devices.request_sign_in("forged.token.here")


async def test_no_session_secret_reaches_the_audit_or_the_history(
    service: ProvisioningService, devices: DeviceService, recorder: RecordingRepository, clock: FakeClock
) -> None:
    token, grant = await signed_in_as(service, devices, clock)
    await service.switch_account(TENANT, ADMIN, MAC, ACCOUNT_B)
    second = await collect(service, devices, clock, token, ACCOUNT_B)
    await service.sign_out(TENANT, ADMIN, MAC)
    device = service.get_device(TENANT, MAC)
    text = json.dumps([e.to_doc() for e in recorder.events]) + repr(device.history)
    for access_token in (grant.access_token, second.access_token):
        assert access_token.rsplit(".", 1)[1] not in text
